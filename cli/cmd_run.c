/*
 * pgfleet run JOB --on TARGETS [--at TIME] [--wait], pgfleet retry SCHEDULE_ID --failed
 * [--wait], pgfleet cancel SCHEDULE_ID: make or end schedules by hand. A new schedule is
 * expanded into its events and the schedulers are woken (NOTIFY pgfleet_wakeup) in
 * the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/follow.h"
#include "common/db.h"

static void
usage_run(FILE *f)
{
	fprintf(f, "usage: pgfleet run JOB --on TARGETS [--at TIME] [--max-concurrent N]\n"
		   "                   [--max-failures N|N%%] [--wait]\n\n"
		   "Run a job (its current version) once on some computers: creates a schedule,\n"
		   "one event per enabled computer the targets match, and wakes the schedulers.\n"
		   "The job's rollout limits (as last submitted) apply unless overridden below.\n"
		   "Prints the schedule id on stdout.\n\n"
		   "Options:\n"
		   "  --on TARGETS  comma-separated: NAME (a computer), group:NAME, label:KEY=VALUE;\n"
		   "                a computer matches any NAME or group, or all the labels given\n"
		   "  --at TIME     when: now (default), +DURATION (+10m, +2h) or RFC 3339\n"
		   "                (2026-12-01T02:00:00Z)\n"
		   "  --max-concurrent N\n"
		   "                at most N events of this run at once (1-1000000), or none\n"
		   "  --max-failures N|N%%\n"
		   "                after more than N failed events (0-1000000), or N%% of them\n"
		   "                (0%%-100%%), the pending ones are cancelled (code -14), or none\n"
		   "  --wait        follow the schedule to its end (progress bar on a terminal, one\n"
		   "                line per change otherwise); exit 1 when any event failed or was\n"
		   "                cancelled\n"
		   "  -h, --help    this help\n");
}

static void
usage_retry(FILE *f)
{
	fprintf(f, "usage: pgfleet retry SCHEDULE_ID --failed [--wait]\n\n"
		   "Run the schedule's job again, at its current version and with the same rollout\n"
		   "limits, on the computers whose events failed. Prints the new schedule id.\n\n"
		   "Options:\n"
		   "  --failed    retry the failed events (required: the only kind for now)\n"
		   "  --wait      follow the new schedule to its end, as run --wait\n"
		   "  -h, --help  this help\n");
}

static void
usage_cancel(FILE *f)
{
	fprintf(f, "usage: pgfleet cancel SCHEDULE_ID\n\n"
		   "Cancel a schedule: its pending events end at once as cancelled (code -8); running\n"
		   "ones are stopped by the scheduler holding them. A recurring schedule stops recurring.\n\n"
		   "  -h, --help  this help\n");
}

/*
 * Insert the schedule, expand it, wake the schedulers (pgfleet.new_schedule, which the web
 * console's actions use too); in the caller's transaction. p: job_id, version, targets,
 * due (NULL: now), client_user, max_concurrent, max_failures, max_failures_pct.
 * created_by is the database's session_user.
 */
static int
make_schedule(struct db *db, const char *const p[8], char *id, size_t idlen, long long *events,
    char *err, size_t errlen)
{
	struct db_result *r;
	if (db_exec(db, &r,
		"SELECT new_schedule_id, events FROM pgfleet.new_schedule($1, $2, $3::jsonb,"
		" to_timestamp($4::float8), $5, $6::int, $7::int, $8::numeric)",
		8, p, err, errlen) == -1)
		return -1;
	snprintf(id, idlen, "%s", db_value(r, 0, 0));
	*events = atoll(db_value(r, 0, 1));
	db_result_free(r);
	return 0;
}

static int
finish(struct db *db, const char *cmd, const char *id, int wait)
{
	printf("%s\n", id);
	fflush(stdout);
	if (!wait)
		return CLI_OK;
	int rc = follow_schedule(db, cmd, id, stdout, cli_live(stdout));
	if (rc == CLI_FAILED)
		follow_print_failures(db, cmd, id, stdout);
	return rc;
}

/* A rollout flag's value: "none", else checked and copied into buf; *out NULL for none. */
static int
limit_arg(const char *flag, const char *v, char *buf, size_t buflen, const char **out, int *pct,
    char *err, size_t errlen)
{
	int n;
	*pct = 0;
	if (strcmp(v, "none") == 0) {
		*out = NULL;
		return 0;
	}
	if (strcmp(flag, "--max-concurrent") == 0 ? args_max_concurrent(flag, v, &n, err, errlen)
						  : args_max_failures(flag, v, &n, pct, err, errlen))
		return -1;
	snprintf(buf, buflen, "%d", n);
	*out = buf;
	return 0;
}

int
cmd_run(int argc, char **argv)
{
	const char *job = NULL, *on = NULL, *at = NULL, *maxc_arg = NULL, *maxf_arg = NULL;
	int wait = 0;
	char err[1024];
	for (int i = 1; i < argc; i++) {
		if (cmdutil_is_help(argv[i])) {
			usage_run(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--wait") == 0) {
			wait = 1;
		} else if (strcmp(argv[i], "--on") == 0 || strcmp(argv[i], "--at") == 0 ||
		    strcmp(argv[i], "--max-concurrent") == 0 || strcmp(argv[i], "--max-failures") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "pgfleet run: %s needs a value\n", argv[i]);
				return CLI_USAGE;
			}
			const char **dst = strcmp(argv[i], "--on") == 0 ? &on
			    : strcmp(argv[i], "--at") == 0		 ? &at
			    : strcmp(argv[i], "--max-concurrent") == 0 ? &maxc_arg
								   : &maxf_arg;
			*dst = argv[i + 1];
			i++;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "pgfleet run: %s: unknown option\n", argv[i]);
			usage_run(stderr);
			return CLI_USAGE;
		} else if (job != NULL) {
			fprintf(stderr, "pgfleet run: %s: unexpected argument (one job at a time)\n", argv[i]);
			return CLI_USAGE;
		} else {
			job = argv[i];
		}
	}
	if (job == NULL || on == NULL) {
		fprintf(stderr, "pgfleet run: %s\n", job == NULL ? "which job? (pgfleet run JOB --on TARGETS)"
							      : "--on TARGETS is required");
		return CLI_USAGE;
	}
	struct args_targets t;
	time_t when = 0, now = 0;
	if (args_name("job", job, err, sizeof(err)) == -1 || args_now(&now, err, sizeof(err)) == -1 ||
	    (at != NULL && args_time(at, now, &when, err, sizeof(err)) == -1)) {
		fprintf(stderr, "pgfleet run: %s%s\n", at != NULL && strncmp(err, "time", 4) == 0 ? "--at: " : "", err);
		return CLI_USAGE;
	}
	char maxc_buf[32], maxf_buf[32];
	const char *maxc = NULL, *maxf = NULL;
	int maxf_pct = 0, unused_pct;
	if ((maxc_arg != NULL && limit_arg("--max-concurrent", maxc_arg, maxc_buf, sizeof(maxc_buf),
				     &maxc, &unused_pct, err, sizeof(err)) == -1) ||
	    (maxf_arg != NULL && limit_arg("--max-failures", maxf_arg, maxf_buf, sizeof(maxf_buf),
				     &maxf, &maxf_pct, err, sizeof(err)) == -1)) {
		fprintf(stderr, "pgfleet run: %s\n", err);
		return CLI_USAGE;
	}
	if (args_targets_parse(on, &t, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet run: --on: %s\n", err);
		return CLI_USAGE;
	}
	char *targets = args_targets_json(&t);
	args_targets_free(&t);
	if (targets == NULL) {
		fprintf(stderr, "pgfleet run: out of memory\n");
		return CLI_ERROR;
	}

	int rc = CLI_ERROR;
	struct db_result *r = NULL;
	struct db *db = cmdutil_open("run");
	if (db == NULL)
		goto out;
	const char *pj[2] = {job, targets};
	if (db_begin(db, err, sizeof(err)) == -1 ||
	    db_exec(db, &r,
		"SELECT job_id, version,"
		" (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text($2::jsonb->'computers') x"
		"  WHERE x NOT IN (SELECT name FROM pgfleet.computer)),"
		" (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text($2::jsonb->'groups') x"
		"  WHERE x NOT IN (SELECT name FROM pgfleet.computer_group)),"
		" rollout_max_concurrent, rollout_max_failures, rollout_max_failures_pct"
		" FROM (SELECT 1) one LEFT JOIN pgfleet.job ON name = $1",
		2, pj, err, sizeof(err)) == -1)
		goto dberr;
	if (db_isnull(r, 0, 0) || !db_isnull(r, 0, 2) || !db_isnull(r, 0, 3)) {
		if (db_isnull(r, 0, 0))
			fprintf(stderr, "pgfleet run: job \"%s\" does not exist (pgfleet job list)\n", job);
		if (!db_isnull(r, 0, 2))
			fprintf(stderr, "pgfleet run: --on: no such computer: %s\n", db_value(r, 0, 2));
		if (!db_isnull(r, 0, 3))
			fprintf(stderr, "pgfleet run: --on: no such group: %s\n", db_value(r, 0, 3));
		rc = CLI_USAGE;
		goto rollback;
	}
	char job_id[32], version[32], due[32], id[32];
	long long events;
	snprintf(job_id, sizeof(job_id), "%s", db_value(r, 0, 0));
	snprintf(version, sizeof(version), "%s", db_value(r, 0, 1));
	snprintf(due, sizeof(due), "%lld", (long long)when);
	/* the job's rollout limits, unless a flag says otherwise */
	char job_maxc[32], job_maxf[32], job_maxf_pct[32];
	snprintf(job_maxc, sizeof(job_maxc), "%s", db_value(r, 0, 4));
	snprintf(job_maxf, sizeof(job_maxf), "%s", db_value(r, 0, 5));
	snprintf(job_maxf_pct, sizeof(job_maxf_pct), "%s", db_value(r, 0, 6));
	const char *p[8] = {job_id, version, targets, at != NULL ? due : NULL, cmdutil_user(),
	    maxc_arg != NULL ? maxc : db_isnull(r, 0, 4) ? NULL : job_maxc,
	    maxf_arg != NULL ? (maxf_pct ? NULL : maxf) : db_isnull(r, 0, 5) ? NULL : job_maxf,
	    maxf_arg != NULL ? (maxf_pct ? maxf : NULL) : db_isnull(r, 0, 6) ? NULL : job_maxf_pct};
	if (make_schedule(db, p, id, sizeof(id), &events, err, sizeof(err)) == -1)
		goto dberr;
	if (events == 0) {
		fprintf(stderr, "pgfleet run: --on %s: matches no enabled computer; nothing scheduled\n", on);
		rc = CLI_USAGE;
		goto rollback;
	}
	if (db_commit(db, err, sizeof(err)) == -1)
		goto dberr;
	fprintf(stderr, "pgfleet run: schedule %s: job %s version %s, %lld event(s), due %s", id,
	    job, version, events, at != NULL ? at : "now");
	if (p[5] != NULL)
		fprintf(stderr, ", max_concurrent %s", p[5]);
	if (p[6] != NULL || p[7] != NULL)
		fprintf(stderr, ", max_failures %s%s", p[6] != NULL ? p[6] : p[7], p[6] != NULL ? "" : "%");
	fputc('\n', stderr);
	rc = finish(db, "run", id, wait);
	goto out;
dberr:
	fprintf(stderr, "pgfleet run: %s\n", err);
rollback:
	(void)db_rollback(db, err, sizeof(err));
out:
	db_result_free(r);
	db_close(db);
	free(targets);
	return rc;
}

int
cmd_retry(int argc, char **argv)
{
	const char *sid = NULL;
	int failed = 0, wait = 0;
	long long n;
	char err[1024];
	for (int i = 1; i < argc; i++) {
		if (cmdutil_is_help(argv[i])) {
			usage_retry(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--failed") == 0) {
			failed = 1;
		} else if (strcmp(argv[i], "--wait") == 0) {
			wait = 1;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "pgfleet retry: %s: unknown option\n", argv[i]);
			usage_retry(stderr);
			return CLI_USAGE;
		} else if (sid != NULL) {
			fprintf(stderr, "pgfleet retry: %s: unexpected argument\n", argv[i]);
			return CLI_USAGE;
		} else {
			sid = argv[i];
		}
	}
	if (sid == NULL || !failed) {
		fprintf(stderr, "pgfleet retry: %s\n", sid == NULL ? "which schedule? (pgfleet retry SCHEDULE_ID --failed)"
								: "say what to retry: --failed");
		return CLI_USAGE;
	}
	if (args_id("schedule", sid, &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet retry: %s\n", err);
		return CLI_USAGE;
	}
	int rc = CLI_ERROR;
	struct db_result *r = NULL;
	struct db *db = cmdutil_open("retry");
	if (db == NULL)
		return CLI_ERROR;
	/* one statement: pgfleet.op_retry_failed, as the web console's "retry failed" */
	const char *ps[2] = {sid, cmdutil_user()};
	if (db_exec(db, &r,
		"SELECT job, version, new_schedule_id, events FROM pgfleet.op_retry_failed($1, $2)",
		2, ps, err, sizeof(err)) == -1)
		goto dberr;
	if (db_isnull(r, 0, 0)) {
		fprintf(stderr, "pgfleet retry: schedule %s does not exist\n", sid);
		rc = CLI_USAGE;
		goto out;
	}
	if (db_isnull(r, 0, 2)) {
		fprintf(stderr, "pgfleet retry: schedule %s has no failed event: nothing to retry\n", sid);
		rc = CLI_OK;
		goto out;
	}
	char id[32];
	snprintf(id, sizeof(id), "%s", db_value(r, 0, 2));
	fprintf(stderr, "pgfleet retry: schedule %s: job %s version %s, %s event(s) of schedule %s's "
			"failed ones\n",
	    id, db_value(r, 0, 0), db_value(r, 0, 1), db_value(r, 0, 3), sid);
	db_result_free(r);
	r = NULL;
	rc = finish(db, "retry", id, wait);
	goto out;
dberr:
	fprintf(stderr, "pgfleet retry: %s\n", err);
out:
	db_result_free(r);
	db_close(db);
	return rc;
}

int
cmd_cancel(int argc, char **argv)
{
	char err[1024];
	long long n;
	if (argc == 2 && cmdutil_is_help(argv[1])) {
		usage_cancel(stdout);
		return CLI_OK;
	}
	if (argc != 2) {
		fprintf(stderr, "pgfleet cancel: %s\n", argc < 2 ? "which schedule? (pgfleet cancel SCHEDULE_ID)"
							      : "one schedule at a time");
		return CLI_USAGE;
	}
	if (args_id("schedule", argv[1], &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet cancel: %s\n", err);
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open("cancel");
	if (db == NULL)
		return CLI_ERROR;
	struct db_result *r = NULL;
	int rc = CLI_ERROR;
	/* one statement: pgfleet.op_cancel, as the web console's "cancel" */
	const char *p[1] = {argv[1]};
	if (db_exec(db, &r, "SELECT state, cancelled, running FROM pgfleet.op_cancel($1)", 1, p, err,
		sizeof(err)) == -1)
		goto dberr;
	if (db_isnull(r, 0, 0)) {
		fprintf(stderr, "pgfleet cancel: schedule %s does not exist\n", argv[1]);
		rc = CLI_USAGE;
		goto out;
	}
	if (db_isnull(r, 0, 1)) {
		printf("schedule %s already ended (%s): nothing to cancel\n", argv[1], db_value(r, 0, 0));
		rc = CLI_OK;
		goto out;
	}
	printf("schedule %s cancelled: %s pending event(s) cancelled", argv[1], db_value(r, 0, 1));
	if (atoll(db_value(r, 0, 2)) > 0)
		printf(", %s running event(s) stop when their scheduler cancels them", db_value(r, 0, 2));
	printf("\n");
	rc = CLI_OK;
	goto out;
dberr:
	fprintf(stderr, "pgfleet cancel: %s\n", err);
out:
	db_result_free(r);
	db_close(db);
	return rc;
}
