/*
 * pgfleet status SCHEDULE_ID [--watch] [--format F] and pgfleet output EVENT_ID [--seq N]:
 * where a schedule stands, event by event, and what each task printed.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/follow.h"
#include "cli/opts.h"
#include "common/db.h"
#include "common/units.h"

struct status_args {
	int watch;
	enum reportfmt_format fmt;
};

static const struct opts_spec status_specs[] = {
	OPTS_ROW_FLAG("--watch", offsetof(struct status_args, watch), "follow it first until no event is pending or\n"
	    "running: a progress bar on a terminal (not with\nTERM=dumb), one line per change otherwise; then\n"
	    "exit 1 when any event failed or was cancelled"),
	CMDUTIL_FORMAT_OPTS(offsetof(struct status_args, fmt), "table (default); csv: the events alone (RFC\n"
	    "4180); json: one document (schedule, counts,\nevents); --json is json. With --watch and csv\n"
	    "or json, the progress goes to stderr", 0),
};

static const struct opts_cmd status_cmd = {.cmd = "status", OPTS_TABLE(status_specs), .maxpos = 1,
    .about = "usage: pgfleet status SCHEDULE_ID [--watch] [--format table|csv|json]\n\n"
		   "A schedule's job, version and state, its events counted by state (done, failed,\n"
		   "running, pending, cancelled), and one line per event: computer, state, status\n"
		   "code and its name (EXIT_n for a script's exit code n; docs/status-codes.md),\n"
		   "task, attempt, retries so far, when it ended, and when a pending event waiting\n"
		   "for a retry's backoff (or its next window) runs next.\n\n"};

/* --seq N, -1 when not given */
static const struct opts_spec output_specs[] = {
	OPTS_ROW_INT("--seq", 0, "N", 0, 1000000, "only task N (0 is the first), its output alone,\nwithout header"),
};

static const struct opts_cmd output_cmd = {.cmd = "output", OPTS_TABLE(output_specs), .maxpos = 1,
    .about = "usage: pgfleet output EVENT_ID [--seq N]\n\n"
		   "What each task of an event printed: the final status_log row of each task (its\n"
		   "last attempt), under a header line with the task, its code and result: the\n"
		   "result pgfleet decided (success_codes, on_code, return_codes), followed by\n"
		   "\"(agent said Failed)\" when the agent's own result differs.\n\n"};

/* The events of a schedule: the table of print_status, and its CSV. */
static const char events_sql[] =
    "SELECT e.event_id AS \"EVENT\", e.computer AS \"COMPUTER\", e.state AS \"STATE\","
    " coalesce(e.status_code::text, '-') AS \"CODE\", coalesce(e.status_name, '-') AS \"NAME\","
    " e.next_task_seq AS \"TASK\", e.attempt AS \"ATTEMPT\", e.retried AS \"RETRIES\", e.wave + 1 AS \"WAVE\","
    " coalesce(to_char(e.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '-') AS \"FINISHED\","
    " CASE WHEN e.state = 'pending' AND e.due_at = 'infinity' THEN 'its wave'"
    "  WHEN e.state = 'pending' AND e.due_at > now()"
    "  THEN to_char(e.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') ELSE '-' END AS \"NEXT\""
    " FROM pgfleet.event_list e"
    " WHERE e.schedule_id = $1 ORDER BY e.computer";

/* The schedule it came after (after:), and its rollout in waves, when it has them. */
static void
print_chain_and_rollout(const struct db_result *r, const char *id)
{
	if (!db_isnull(r, 0, 16))
		printf("after schedule %s (%s)\n", db_value(r, 0, 16), db_value(r, 0, 17));
	if (db_isnull(r, 0, 9))
		return;
	char pause[32];
	units_format_duration(atoll(db_value(r, 0, 12)), pause, sizeof(pause));
	printf("rollout: wave %s of %s (waves %s, pause %s)", db_value(r, 0, 10), db_value(r, 0, 11),
	    db_value(r, 0, 9), pause);
	if (!db_isnull(r, 0, 15))
		printf(", opens %s UTC", db_value(r, 0, 15));
	if (strcmp(db_value(r, 0, 2), "halted") == 0)
		printf("; HALTED: %s failures past max_failures %s: pgfleet resume %s | pgfleet abort %s",
		    db_value(r, 0, 13), db_value(r, 0, 14), id, id);
	printf("\n");
}

static int
print_status(struct db *db, const char *id, enum reportfmt_format fmt)
{
	char err[1024];
	struct db_result *r;
	const char *p[1] = {id};
	if (fmt == REPORTFMT_CSV)
		return cmdutil_print_csv(db, "status", events_sql, 1, p);
	if (fmt == REPORTFMT_JSON)
		return cmdutil_print_json(db, "status",
		    "SELECT json_build_object('schedule', to_jsonb(s),"
		    " 'counts', (SELECT json_build_object('total', count(*),"
		    "   'done', count(*) FILTER (WHERE state = 'done'),"
		    "   'failed', count(*) FILTER (WHERE state = 'failed'),"
		    "   'running', count(*) FILTER (WHERE state = 'running'),"
		    "   'pending', count(*) FILTER (WHERE state = 'pending'),"
		    "   'cancelled', count(*) FILTER (WHERE state = 'cancelled'))"
		    "   FROM pgfleet.event_list WHERE schedule_id = s.schedule_id),"
		    " 'events', (SELECT coalesce(json_agg(json_build_object('event_id', e.event_id,"
		    "   'computer', e.computer, 'state', e.state, 'status_code', e.status_code,"
		    "   'status_name', e.status_name, 'next_task_seq', e.next_task_seq,"
		    "   'attempt', e.attempt, 'retried', e.retried, 'task_retries', e.task_retries, 'wave', e.wave,"
		    "   'due_at', e.due_at, 'started_at', e.started_at, 'finished_at', e.finished_at)"
		    "   ORDER BY e.computer), '[]')"
		    "   FROM pgfleet.event_list e WHERE e.schedule_id = s.schedule_id))"
		    " FROM pgfleet.schedule_list s WHERE s.schedule_id = $1",
		    1, p);
	if (db_exec(db, &r,
		"SELECT s.job, s.job_version, s.state,"
		" to_char(s.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC',"
		" coalesce(s.created_by, '-'), s.targets::text,"
		" coalesce(s.repeat_cron, (extract(epoch FROM s.repeat_every) * 1000)::bigint::text),"
		" s.repeat_cron IS NOT NULL, s.timezone, array_to_string(s.rollout_waves, ', '), s.wave + 1,"
		" s.waves, coalesce((extract(epoch FROM s.rollout_pause) * 1000)::bigint, 0),"
		" s.failures - s.halt_base, coalesce(s.max_failures::text, s.max_failures_pct || '%'),"
		" (SELECT to_char(min(e.due_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM pgfleet.event_list e"
		"  WHERE e.schedule_id = s.schedule_id AND e.wave = s.wave AND e.state = 'pending'"
		"  AND e.due_at > now() AND e.due_at < 'infinity'),"
		" s.after_schedule_id, (SELECT p.job || ' ' || p.state FROM pgfleet.schedule_list p"
		"  WHERE p.schedule_id = s.after_schedule_id)"
		" FROM pgfleet.schedule_list s WHERE s.schedule_id = $1",
		1, p, err, sizeof(err)) == -1)
		goto fail;
	printf("schedule %s  job %s  version %s  state %s\n", id, db_value(r, 0, 0),
	    db_value(r, 0, 1), db_value(r, 0, 2));
	printf("due %s  by %s  targets %s", db_value(r, 0, 3), db_value(r, 0, 4), db_value(r, 0, 5));
	if (!db_isnull(r, 0, 6)) {
		char every[32];
		if (strcmp(db_value(r, 0, 7), "t") == 0)
			snprintf(every, sizeof(every), "cron \"%s\"", db_value(r, 0, 6));
		else
			units_format_duration(atoll(db_value(r, 0, 6)), every, sizeof(every));
		printf("  repeats %s%s", strcmp(db_value(r, 0, 7), "t") == 0 ? "" : "every ", every);
		if (!db_isnull(r, 0, 8) && strcmp(db_value(r, 0, 7), "t") == 0)
			printf(" in %s", db_value(r, 0, 8));
	}
	printf("\n");
	print_chain_and_rollout(r, id);
	db_result_free(r);

	struct progress_counts c;
	char line[256];
	if (follow_counts(db, id, &c, err, sizeof(err)) == -1)
		goto fail;
	progress_line(&c, line, sizeof(line));
	printf("%s\n", line);
	if (db_exec(db, &r, events_sql, 1, p, err, sizeof(err)) == -1)
		goto fail;
	if (db_ntuples(r) > 0)
		cmdutil_table(r, stdout);
	db_result_free(r);
	return CLI_OK;
fail:
	fprintf(stderr, "pgfleet status: %s\n", err);
	return CLI_ERROR;
}

int
cmd_status(int argc, char **argv)
{
	const char *id = NULL;
	struct status_args sa = {0, REPORTFMT_TABLE};
	int rc = cmdutil_id_arg(&status_cmd, argc, argv, &sa, "schedule", &id);
	if (rc != 0)
		return opts_exit(rc);
	struct db *db = cmdutil_open("status");
	if (db == NULL)
		return CLI_ERROR;
	rc = cmdutil_exists(db, "status", "SELECT 1 FROM pgfleet.schedule_list WHERE schedule_id = $1", id,
	    "schedule %s does not exist");
	if (rc == CLI_OK) {
		int wrc = CLI_OK;
		/* a failed event or a database error: print what we can either way; the
		 * progress goes to stderr when stdout is for a document */
		FILE *progress = sa.fmt == REPORTFMT_TABLE ? stdout : stderr;
		if (sa.watch)
			wrc = follow_schedule(db, "status", id, progress, cli_live(progress));
		rc = print_status(db, id, sa.fmt);
		if (rc == CLI_OK)
			rc = wrc;
	}
	db_close(db);
	return rc;
}

/* The output of each task in r, under a header line unless seq (only one task's asked). */
static void
print_output(const struct db_result *r, int seq)
{
	for (int i = 0; i < db_ntuples(r); i++) {
		const char *out = db_value(r, i, 5);
		size_t len = strlen(out);
		if (!seq) {
			char name[256] = "";
			if (!db_isnull(r, i, 8))
				snprintf(name, sizeof(name), " \"%s\"", db_value(r, i, 8));
			/* pgfleet's verdict, and the agent's when it differs */
			char agent[64] = "";
			if (*db_value(r, i, 10))
				snprintf(agent, sizeof(agent), " (agent said %s)", db_value(r, i, 10));
			printf("--- task %s%s (attempt %s): code %s %s%s%s%s ---\n",
			    db_isnull(r, i, 0) ? "-" : db_value(r, i, 0), name, db_value(r, i, 1),
			    db_value(r, i, 2), db_value(r, i, 3), *db_value(r, i, 4) ? " " : "",
			    db_value(r, i, 4), agent);
			if (*db_value(r, i, 9))
				printf("message: %s\n", db_value(r, i, 9));
		}
		fwrite(out, 1, len, stdout);
		if (!seq && len > 0 && out[len - 1] != '\n')
			putchar('\n');
		if (!db_isnull(r, i, 6) && atoll(db_value(r, i, 6)) > atoll(db_value(r, i, 7)))
			fprintf(!seq ? stdout : stderr, "[output cut: %s of %s bytes kept]\n", db_value(r, i, 7),
			    db_value(r, i, 6));
	}
}

/* The last row of each task of event id (of task seq alone unless NULL), printed. */
static int
output_query(struct db *db, const char *id, const char *seq)
{
	char err[1024];
	struct db_result *r;
	const char *p[2] = {id, seq};
	if (db_exec(db, &r,
		"SELECT DISTINCT ON (l.task_seq) l.task_seq, l.attempt, l.status_code,"
		" coalesce(l.status_name, ''), coalesce(l.outcome, l.result, ''), l.output,"
		" l.output_size, octet_length(l.output), l.task_name, coalesce(l.message, ''),"
		" CASE WHEN l.outcome IS DISTINCT FROM l.result AND l.outcome IS NOT NULL"
		"  THEN coalesce(l.result, 'nothing') ELSE '' END"
		" FROM pgfleet.task_output l"
		" WHERE l.event_id = $1 AND ($2::int IS NULL OR l.task_seq = $2::int)"
		" AND l.status_code NOT IN (2500, 2501)"
		" ORDER BY l.task_seq, l.attempt DESC, l.finished_at DESC, l.status_id DESC",
		2, p, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet output: %s\n", err);
		return CLI_ERROR;
	}
	int rc = CLI_OK;
	if (db_ntuples(r) == 0 && seq != NULL) {
		fprintf(stderr, "pgfleet output: event %s: task %s has not finished (no output yet)\n", id, seq);
		rc = CLI_USAGE;
	} else if (db_ntuples(r) == 0) {
		fprintf(stderr, "pgfleet output: event %s: no task has finished yet\n", id);
	}
	print_output(r, seq != NULL);
	db_result_free(r);
	return rc;
}

int
cmd_output(int argc, char **argv)
{
	const char *id = NULL;
	long long seq = -1;
	char seqs[24];
	int rc = cmdutil_id_arg(&output_cmd, argc, argv, &seq, "event", &id);
	if (rc != 0)
		return opts_exit(rc);
	snprintf(seqs, sizeof(seqs), "%lld", seq);
	struct db *db = cmdutil_open("output");
	if (db == NULL)
		return CLI_ERROR;
	rc = cmdutil_exists(db, "output", "SELECT 1 FROM pgfleet.event_list WHERE event_id = $1", id,
	    "event %s does not exist");
	if (rc == CLI_OK)
		rc = output_query(db, id, seq >= 0 ? seqs : NULL);
	db_close(db);
	return rc;
}
