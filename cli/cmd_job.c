/*
 * pgfleet job list|show|export: the jobs submitted so far, one job's versions and
 * schedules, and a job as YAML that submits back to the same job.
 */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "common/db.h"

enum { SUB_LIST = 1, SUB_SHOW = 2, SUB_EXPORT = 4 };

static const struct opts_spec specs[] = {
	CMDUTIL_FORMAT_OPTS(0, CMDUTIL_FORMAT_HELP, SUB_LIST | SUB_SHOW),
};

static void
usage(FILE *f)
{
	const struct opts_cmd c = {.cmd = "job", OPTS_TABLE(specs)};
	fprintf(f, "usage: pgfleet job list [--format table|csv|json]\n"
		   "       pgfleet job show NAME [--format table|json]\n"
		   "       pgfleet job export NAME\n\n"
		   "  list    every job: version, tasks, schedules, the last schedule's state\n"
		   "  show    one job: its tasks at the current version and its last 10 schedules\n"
		   "  export  the job as a YAML batch (its groups, the job, its targets, schedule and\n"
		   "          rollout as last submitted): submitting it back changes nothing\n\n"
		   "Options:\n");
	opts_help(f, &c);
}

static int
job_list(struct db *db, enum reportfmt_format fmt)
{
	return cmdutil_print_list(db, "job list", fmt,
	    "SELECT j.name AS \"NAME\", j.version AS \"VERSION\","
	    " (SELECT count(*) FROM pgfleet.task_list t WHERE t.job_id = j.job_id AND t.version = j.version) AS \"TASKS\","
	    " (SELECT count(*) FROM pgfleet.schedule_list s WHERE s.job_id = j.job_id) AS \"SCHEDULES\","
	    " coalesce((SELECT s.schedule_id || ' ' || s.state FROM pgfleet.schedule_list s"
	    "  WHERE s.job_id = j.job_id ORDER BY s.schedule_id DESC LIMIT 1), '-') AS \"LAST\","
	    " coalesce(j.description, '') AS \"DESCRIPTION\""
	    " FROM pgfleet.job_list j ORDER BY j.name",
		    "SELECT coalesce(json_agg(x ORDER BY x.name), '[]') FROM ("
		    " SELECT j.job_id AS id, j.name, j.description, j.version,"
		    "  (SELECT count(*) FROM pgfleet.task_list t WHERE t.job_id = j.job_id AND t.version = j.version) AS tasks,"
		    "  (SELECT count(*) FROM pgfleet.schedule_list s WHERE s.job_id = j.job_id) AS schedules,"
		    "  (SELECT json_build_object('schedule_id', s.schedule_id, 'state', s.state)"
		    "   FROM pgfleet.schedule_list s WHERE s.job_id = j.job_id ORDER BY s.schedule_id DESC LIMIT 1)"
		    "  AS last_schedule, j.updated_at"
		    " FROM pgfleet.job_list j) x",
		    0, NULL);
}

static int
job_show(struct db *db, const char *name, int json)
{
	char err[1024];
	struct db_result *r;
	const char *p[1] = {name};
	if (json)
		return cmdutil_print_json(db, "job show",
		    "SELECT to_jsonb(j) || jsonb_build_object("
		    " 'tasks', (SELECT coalesce(jsonb_agg(to_jsonb(t) - 'job_id' - 'job' ORDER BY t.seq), '[]')"
		    "  FROM pgfleet.task_list t WHERE t.job_id = j.job_id AND t.version = j.version),"
		    " 'schedules', (SELECT coalesce(jsonb_agg(x ORDER BY x.schedule_id DESC), '[]') FROM"
		    "  (SELECT s.schedule_id, s.job_version, s.state, s.due_at, s.targets, s.origin_hash IS NOT NULL"
		    "   AS from_submit FROM pgfleet.schedule_list s WHERE s.job_id = j.job_id"
		    "   ORDER BY s.schedule_id DESC LIMIT 10) x))"
		    " FROM pgfleet.job_list j WHERE j.name = $1",
		    1, p);
	if (db_exec(db, &r,
		"SELECT l.name, l.description, l.version, l.source_hash, l.plan_hash, l.created_at,"
		" l.updated_at, coalesce(d.rollout_max_concurrent::text, 'none') AS max_concurrent,"
		" coalesce(d.rollout_max_failures::text, d.rollout_max_failures_pct || '%', 'none')"
		" AS max_failures, coalesce(array_to_string(d.rollout_waves, ', ')"
		"  || coalesce(', pause ' || d.rollout_pause, ''), 'none') AS waves,"
		" 'wait ' || coalesce(d.offline_wait::text, 'events.offline_expire')"
		"  || CASE WHEN d.offline_wake THEN ', wake-on-LAN' ELSE '' END AS offline,"
		" d.allow_defer"
		" FROM pgfleet.job_list l JOIN pgfleet.job_detail d ON d.job_id = l.job_id"
		" WHERE l.name = $1",
		1, p, err, sizeof(err)) == -1)
		goto fail;
	cmdutil_fields(r, 12, stdout);
	db_result_free(r);
	if (db_exec(db, &r,
		"SELECT t.seq AS \"SEQ\", coalesce(t.name, '-') AS \"NAME\","
		" CASE WHEN t.type = 'copy_file' THEN 'copy to ' || t.copy_dest || ' (mode 0'"
		"  || ((t.copy_mode >> 6) & 7) || ((t.copy_mode >> 3) & 7) || (t.copy_mode & 7)"
		"  || coalesce(', owner ' || t.copy_owner, '') || ')' ELSE t.interpreter END AS \"RUNS\","
		" coalesce(t.run_as, '-') AS \"RUN_AS\", coalesce(t.timeout_ms::text, '-') AS \"TIMEOUT_MS\","
		" array_to_string(t.success_codes, ',') AS \"SUCCESS\", t.on_code::text AS \"ON_CODE\","
		" t.on_failure AS \"ON_FAILURE\""
		" FROM pgfleet.task_list t JOIN pgfleet.job_list j ON j.job_id = t.job_id AND t.version = j.version"
		" WHERE j.name = $1 ORDER BY t.seq",
		1, p, err, sizeof(err)) == -1)
		goto fail;
	printf("\ntasks:\n");
	cmdutil_table(r, stdout);
	db_result_free(r);
	if (db_exec(db, &r,
		"SELECT s.schedule_id AS \"SCHEDULE\", s.job_version AS \"VERSION\", s.state AS \"STATE\","
		" to_char(s.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS \"DUE_UTC\","
		" (SELECT count(*) FILTER (WHERE e.state = 'done') || '/' || count(*) FROM pgfleet.event_list e"
		"  WHERE e.schedule_id = s.schedule_id) AS \"DONE\","
		" CASE WHEN s.origin_hash IS NOT NULL THEN 'submit' ELSE coalesce(s.created_by, '-') END AS \"FROM\""
		" FROM pgfleet.schedule_list s WHERE s.job = $1"
		" ORDER BY s.schedule_id DESC LIMIT 10",
		1, p, err, sizeof(err)) == -1)
		goto fail;
	if (db_ntuples(r) > 0) {
		printf("\nschedules (last 10):\n");
		cmdutil_table(r, stdout);
	}
	db_result_free(r);
	return CLI_OK;
fail:
	fprintf(stderr, "pgfleet job show: %s\n", err);
	return CLI_ERROR;
}

static int
job_export(struct db *db, const char *name)
{
	char err[1024];
	struct db_result *r;
	const char *p[1] = {name};
	if (db_exec(db, &r, "SELECT source FROM pgfleet.job_source WHERE name = $1", 1, p, err,
		sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet job export: %s\n", err);
		return CLI_ERROR;
	}
	int rc = CLI_OK;
	if (db_isnull(r, 0, 0)) {
		fprintf(stderr, "pgfleet job export: job \"%s\" has no stored YAML (not made by submit)\n",
		    name);
		rc = CLI_ERROR;
	} else {
		fputs(db_value(r, 0, 0), stdout);
	}
	db_result_free(r);
	return rc;
}

int
cmd_job(int argc, char **argv)
{
	static const char *const subs[] = {"list", "show", "export"};
	enum reportfmt_format fmt = REPORTFMT_TABLE;
	char err[512], cmd[32];
	struct opts_pos pos;
	if (argc < 2 || cmdutil_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	unsigned k = 0;
	while (k < OPTS_N(subs) && strcmp(sub, subs[k]) != 0)
		k++;
	if (k == OPTS_N(subs)) {
		fprintf(stderr, "pgfleet job: unknown subcommand \"%s\" (list, show, export)\n", sub);
		return CLI_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "job %s", sub);
	const struct opts_cmd c = {.cmd = cmd, OPTS_TABLE(specs), .sub = 1u << k,
	    .maxpos = k == 0 ? 0 : 1, .usage = usage, .terse = 1};
	int rc = opts_parse(&c, argc - 1, argv + 1, &fmt, &pos);
	if (rc != 0)
		return opts_exit(rc);
	const char *name = pos.n > 0 ? pos.v[0] : NULL;
	if (k != 0 && name == NULL) {
		fprintf(stderr, "pgfleet %s: missing NAME\n", cmd);
		return CLI_USAGE;
	}
	if (k != 0 && args_name("job", name, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_USAGE;
	}
	if (k == 1 && fmt == REPORTFMT_CSV) {
		fprintf(stderr, "pgfleet job show: --format csv: show prints one job; use table or json\n");
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	if (k == 0)
		rc = job_list(db, fmt);
	else if ((rc = cmdutil_exists(db, cmd, "SELECT 1 FROM pgfleet.job_list WHERE name = $1", name,
		      "job \"%s\" does not exist (pgfleet job list)")) == CLI_OK)
		rc = k == 1 ? job_show(db, name, fmt == REPORTFMT_JSON) : job_export(db, name);
	db_close(db);
	return rc;
}
