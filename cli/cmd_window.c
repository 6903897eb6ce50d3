/*
 * pgfleet window add|list|show|remove|attach|detach|check: maintenance windows and
 * blackouts by hand (a batch's windows: is the other way in), through the SQL API
 * (pgfleet.window_add, window_remove, window_attach, window_detach: docs/sql-api.md),
 * read through the views window_list and window_span_list. A window's spans are computed
 * here (common/windows.c) and written by window_add with it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "common/cron.h"
#include "common/db.h"
#include "common/pgarray.h"
#include "common/tzdb.h"
#include "common/units.h"
#include "common/windows.h"

struct wopts {
	const char *name, *cron, *duration, *tz, *description, *computer, *group, *job, *at, *count;
	int blackout;
	enum reportfmt_format fmt;
};

#define O(f) offsetof(struct wopts, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_STR("--cron", O(cron), "CRON", "when it opens (docs/yaml.md \"Cron expressions\")"),
	OPTS_ROW_STR("--duration", O(duration), "D", "how long it stays open, 1m-366d"),
	OPTS_ROW_STR("--timezone", O(tz), "ZONE", "an IANA zone PostgreSQL knows; default UTC"),
	OPTS_ROW_FLAG("--blackout", O(blackout), "add: a blackout, which stops events"),
	OPTS_ROW_STR("--description", O(description), "TEXT", "add: what it is for"),
	OPTS_ROW_STR("--computer", O(computer), "C", "attach, detach, check: a computer"),
	OPTS_ROW_STR("--group", O(group), "G", "attach, detach: every member of a group"),
	OPTS_ROW_STR("--job", O(job), "J", "attach, detach: a job; check: an event of it"),
	OPTS_ROW_STR("--at", O(at), "TIME", "check: now (default, or PGFLEET_NOW), +DURATION or\nRFC 3339"),
	OPTS_ROW_STR("--count", O(count), "N", "show: how many spans (1-1000, default 5)"),
	CMDUTIL_FORMAT_OPTS(O(fmt), "list: " CMDUTIL_FORMAT_HELP, 0),
};
#undef O

static void
usage(FILE *f)
{
	const struct opts_cmd c = {.cmd = "window", OPTS_TABLE(specs)};
	fprintf(f, "usage: pgfleet window add NAME --cron CRON --duration D [--timezone ZONE]\n"
		   "                          [--blackout] [--description TEXT]\n"
		   "       pgfleet window list [--format table|csv|json]\n"
		   "       pgfleet window show NAME [--count N]\n"
		   "       pgfleet window remove NAME\n"
		   "       pgfleet window attach|detach NAME --computer C | --group G | --job J\n"
		   "       pgfleet window check --computer C [--job J] [--at TIME]\n\n"
		   "  add      create or change a window: it opens at each run of CRON (in ZONE) and\n"
		   "           stays open D; a --blackout stops events instead of allowing them\n"
		   "  list     every window, its kind, whether it is open now and what it is attached to\n"
		   "  show     its next N spans (default 5), in UTC\n"
		   "  remove   delete it and its attachments\n"
		   "  attach   make it apply to a computer, every member of a group, or a job\n"
		   "  detach   undo attach\n"
		   "  check    may an event (of JOB) start on computer C at TIME? exit 0: open;\n"
		   "           1: closed, with when it opens\n\n"
		   "Options:\n");
	opts_help(f, &c);
}

/* The options of window SUB and its NAME into o: as opts_parse. */
static int
wparse(int argc, char **argv, struct wopts *o)
{
	char cmd[48];
	struct opts_pos pos;
	snprintf(cmd, sizeof(cmd), "window %s", argv[1]);
	const struct opts_cmd c = {.cmd = cmd, OPTS_TABLE(specs), .maxpos = 1,
	    .usage = usage, .terse = 1};
	memset(o, 0, sizeof(*o));
	o->fmt = REPORTFMT_TABLE;
	int rc = opts_parse(&c, argc - 1, argv + 1, o, &pos);
	o->name = pos.n > 0 ? pos.v[0] : NULL;
	return rc;
}

static int
fail_db(struct db *db, const char *err)
{
	fprintf(stderr, "pgfleet window: %s\n", err);
	if (db != NULL) {
		if (db_in_transaction(db))
			(void)db_rollback(db, NULL, 0);
		db_close(db);
	}
	return CLI_ERROR;
}

static int
window_add(const struct wopts *o)
{
	char err[1024];
	struct cron c;
	long long ms;
	time_t now;
	if (o->name == NULL || o->cron == NULL || o->duration == NULL) {
		fprintf(stderr, "pgfleet window add: NAME, --cron and --duration are required\n");
		return CLI_USAGE;
	}
	if (args_name("window", o->name, err, sizeof(err)) == -1 ||
	    cron_parse(o->cron, &c, err, sizeof(err)) == -1 ||
	    units_duration_ms(o->duration, &ms, err, sizeof(err)) == -1 ||
	    (o->tz != NULL && units_zone_name(o->tz, err, sizeof(err)) == -1) ||
	    args_now(&now, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet window add: %s\n", err);
		return CLI_USAGE;
	}
	if (ms < 60000 || ms > 366LL * 86400000) {
		fprintf(stderr, "pgfleet window add: --duration: between 1m and 366d\n");
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open("window");
	if (db == NULL)
		return CLI_ERROR;
	int known = o->tz != NULL ? tzdb_known(db, o->tz, err, sizeof(err)) : 1;
	if (known == -1)
		return fail_db(db, err);
	if (known == 0) {
		fprintf(stderr, "pgfleet window add: time zone \"%s\" is not one PostgreSQL knows\n", o->tz);
		db_close(db);
		return CLI_USAGE;
	}
	/* its spans from as far back as one still open now began */
	time_t *spans;
	int n;
	if (windows_spans(db, c.text, o->tz, now - (time_t)(ms / 1000), now + (time_t)WINDOWS_AHEAD_S,
		&spans, &n, err, sizeof(err)) == -1)
		return fail_db(db, err);
	struct pgarray a = {0};
	for (int i = 0; i < n; i++)
		pgarray_int(&a, (long long)spans[i]);
	free(spans);
	char dur[32];
	snprintf(dur, sizeof(dur), "%lld", ms);
	const char *p[7] = {o->name, c.text, dur, o->tz, o->blackout ? "true" : "false", o->description,
	    pgarray_end(&a)};
	struct db_result *r;
	if (p[6] == NULL) {
		free(a.p);
		return fail_db(db, "out of memory");
	}
	int rc = db_exec(db, &r,
	    "SELECT pgfleet.window_add($1, $2, $3::bigint * interval '1 millisecond', $4, $5::boolean, $6,"
	    " ARRAY(SELECT to_timestamp(x) FROM unnest($7::bigint[]) x))",
	    7, p, err, sizeof(err));
	free(a.p);
	if (rc == -1) {
		rc = cmdutil_api_error(db, "window add", err);
		db_close(db);
		return rc;
	}
	db_result_free(r);
	printf("%s %s: %d spans ahead\n", o->blackout ? "blackout" : "window", o->name, n);
	db_close(db);
	return CLI_OK;
}

static const char list_sql[] =
    "SELECT w.name AS \"NAME\", CASE WHEN w.blackout THEN 'blackout' ELSE 'window' END AS \"KIND\","
    " w.cron AS \"CRON\", w.duration::text AS \"DURATION\", coalesce(w.timezone, 'UTC') AS \"TIMEZONE\","
    " CASE WHEN w.open_now THEN 'open' ELSE 'closed' END AS \"NOW\","
    " coalesce(to_char(w.next_opens_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), '-') AS \"NEXT\","
    " cardinality(w.computers) || 'c ' || cardinality(w.groups) || 'g ' || cardinality(w.jobs) || 'j'"
    "  AS \"ATTACHED\""
    " FROM pgfleet.window_list w ORDER BY w.name";

static const char list_json[] =
    "SELECT coalesce(json_agg(json_build_object('name', w.name, 'blackout', w.blackout, 'cron', w.cron,"
    " 'duration_s', extract(epoch FROM w.duration), 'timezone', w.timezone, 'description', w.description,"
    " 'computers', to_json(w.computers), 'groups', to_json(w.groups), 'jobs', to_json(w.jobs))"
    " ORDER BY w.name), '[]')"
    " FROM pgfleet.window_list w";

static const char show_sql[] =
    "SELECT to_char(s.opens_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS \"OPENS\","
    " to_char(s.closes_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS \"CLOSES\""
    " FROM pgfleet.window_span_list s"
    " WHERE s.name = $1 AND s.closes_at > to_timestamp($2::bigint) ORDER BY s.opens_at LIMIT $3::int";

static int
window_attach(const struct wopts *o, int detach)
{
	static const char *const kinds[] = {"computer", "group", "job"};
	const char *owner[] = {o->computer, o->group, o->job};
	int k = -1, given = 0;
	char err[1024];
	for (int i = 0; i < 3; i++)
		if (owner[i] != NULL) {
			k = i;
			given++;
		}
	if (o->name == NULL || given != 1) {
		fprintf(stderr, "pgfleet window %s: NAME and one of --computer, --group, --job\n",
		    detach ? "detach" : "attach");
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open("window");
	if (db == NULL)
		return CLI_ERROR;
	const char *p[3] = {o->name, kinds[k], owner[k]};
	struct db_result *r;
	if (db_exec(db, &r,
		detach ? "SELECT pgfleet.window_detach($1, $2, $3)" : "SELECT pgfleet.window_attach($1, $2, $3)",
		3, p, err, sizeof(err)) == -1) {
		int rc = cmdutil_api_error(db, detach ? "window detach" : "window attach", err);
		db_close(db);
		return rc;
	}
	int changed = db_value(r, 0, 0)[0] == 't';
	db_result_free(r);
	printf("window %s: %s %s %s%s\n", o->name, detach ? "detached from" : "attached to", kinds[k],
	    owner[k], !changed ? detach ? " (was not attached)" : " (already)" : "");
	db_close(db);
	return CLI_OK;
}

static int
window_check(const struct wopts *o)
{
	char err[1024], at[24];
	time_t now, t;
	if (o->computer == NULL) {
		fprintf(stderr, "pgfleet window check: --computer is required\n");
		return CLI_USAGE;
	}
	if (args_now(&now, err, sizeof(err)) == -1 ||
	    args_time(o->at != NULL ? o->at : "now", now, &t, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet window check: %s\n", err);
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open("window");
	if (db == NULL)
		return CLI_ERROR;
	snprintf(at, sizeof(at), "%lld", (long long)t);
	const char *p[3] = {o->computer, o->job, at};
	struct db_result *r;
	if (db_exec(db, &r,
		"SELECT c.computer_id IS NOT NULL, $2::text IS NULL OR j.job_id IS NOT NULL,"
		" pgfleet.window_allows(c.computer_id, j.job_id, to_timestamp($3::bigint)),"
		" to_char(pgfleet.window_next_open(c.computer_id, j.job_id, to_timestamp($3::bigint))"
		"  AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
		" FROM (SELECT 1) one LEFT JOIN pgfleet.computer_list c ON c.name = $1"
		" LEFT JOIN pgfleet.job_list j ON j.name = $2",
		3, p, err, sizeof(err)) == -1)
		return fail_db(db, err);
	int rc;
	if (db_value(r, 0, 0)[0] != 't' || db_value(r, 0, 1)[0] != 't') {
		fprintf(stderr, "pgfleet window check: no such %s\n",
		    db_value(r, 0, 0)[0] != 't' ? "computer" : "job");
		rc = CLI_USAGE;
	} else if (db_value(r, 0, 2)[0] == 't') {
		printf("open\n");
		rc = CLI_OK;
	} else {
		printf("closed; opens %s\n", db_isnull(r, 0, 3) ? "at no time known yet" : db_value(r, 0, 3));
		rc = CLI_FAILED;
	}
	db_result_free(r);
	db_close(db);
	return rc;
}

static int
window_simple(const struct wopts *o, const char *sub)
{
	char err[1024], snow[24], count[16];
	struct db *db;
	if (strcmp(sub, "list") == 0) {
		if ((db = cmdutil_open("window")) == NULL)
			return CLI_ERROR;
		int rc = cmdutil_print_list(db, "window", o->fmt, list_sql, list_json, 0, NULL);
		db_close(db);
		return rc;
	}
	if (o->name == NULL) {
		fprintf(stderr, "pgfleet window %s: which window?\n", sub);
		return CLI_USAGE;
	}
	if (strcmp(sub, "show") == 0) {
		time_t now;
		long long n = 5;
		if (args_now(&now, err, sizeof(err)) == -1 ||
		    (o->count != NULL && units_int(o->count, 1, 1000, &n, err, sizeof(err)) == -1)) {
			fprintf(stderr, "pgfleet window show: %s\n", err);
			return CLI_USAGE;
		}
		snprintf(snow, sizeof(snow), "%lld", (long long)now);
		snprintf(count, sizeof(count), "%lld", n);
		if ((db = cmdutil_open("window")) == NULL)
			return CLI_ERROR;
		const char *p[3] = {o->name, snow, count};
		int rc = cmdutil_print_table(db, "window", show_sql, 3, p);
		db_close(db);
		return rc;
	}
	/* remove */
	if ((db = cmdutil_open("window")) == NULL)
		return CLI_ERROR;
	const char *p[1] = {o->name};
	if (db_exec(db, NULL, "SELECT pgfleet.window_remove($1)", 1, p, err, sizeof(err)) == -1) {
		int rc = cmdutil_api_error(db, "window remove", err);
		db_close(db);
		return rc;
	}
	db_close(db);
	printf("window %s: removed\n", o->name);
	return CLI_OK;
}

int
cmd_window(int argc, char **argv)
{
	struct wopts o;
	if (argc < 2 || cmdutil_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	int rc = wparse(argc, argv, &o);
	if (rc != 0)
		return opts_exit(rc);
	if (strcmp(sub, "add") == 0)
		return window_add(&o);
	if (strcmp(sub, "attach") == 0 || strcmp(sub, "detach") == 0)
		return window_attach(&o, sub[0] == 'd');
	if (strcmp(sub, "check") == 0)
		return window_check(&o);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 || strcmp(sub, "remove") == 0)
		return window_simple(&o, sub);
	fprintf(stderr, "pgfleet window: %s: unknown (add, list, show, remove, attach, detach, check)\n",
	    sub);
	return CLI_USAGE;
}
