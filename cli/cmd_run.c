/*
 * pgfleet run JOB --on TARGETS [--at TIME] [--wait], pgfleet run --script TEXT|--script-file
 * F --on TARGETS (an ad-hoc run: a one-off version of a job made from the script),
 * pgfleet retry SCHEDULE_ID --failed [--wait], pgfleet cancel SCHEDULE_ID: make or end
 * schedules by hand. A new schedule is expanded into its events and the schedulers are
 * woken (NOTIFY pgfleet_wakeup) in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/apply.h"
#include "cli/args.h"
#include "cli/batch.h"
#include "cli/batch_value.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/follow.h"
#include "common/db.h"
#include "common/field.h"
#include "common/units.h"

static void
usage_run(FILE *f)
{
	fprintf(f, "usage: pgfleet run JOB --on TARGETS [--at TIME] [--splay D] [--max-concurrent N]\n"
		   "                   [--max-failures N|N%%] [--waves LIST [--pause D]] [--wait]\n"
		   "       pgfleet run --script TEXT|--script-file FILE --on TARGETS [--name JOB]\n"
		   "                   [--interpreter P] [--run-as USER] [--timeout D] [OPTIONS above]\n\n"
		   "Run a job (its current version) once on some computers: creates a schedule,\n"
		   "one event per enabled computer the targets match, and wakes the schedulers.\n"
		   "The job's rollout limits (as last submitted) apply unless overridden below.\n"
		   "With --script or --script-file, an ad-hoc run: the script becomes a version of\n"
		   "the job --name (default adhoc/$USER; the same script again reuses its version),\n"
		   "recorded and reported like any job. Prints the schedule id on stdout.\n\n"
		   "Options:\n"
		   "  --on TARGETS  comma-separated: NAME (a computer), group:NAME, label:KEY=VALUE;\n"
		   "                a computer matches any NAME or group, or all the labels given\n"
		   "  --at TIME     when: now (default), +DURATION (+10m, +2h) or RFC 3339\n"
		   "                (2026-12-01T02:00:00Z)\n"
		   "  --splay D     spread the events: each due at a random moment within D (1s-7d)\n"
		   "                after the schedule's time\n"
		   "  --waves LIST  roll out in waves, each the computers reached so far: 1,10%%,100%%\n"
		   "                (a wave opens when the one before has ended); --pause D between\n"
		   "                two waves; past --max-failures the rollout halts (pgfleet resume,\n"
		   "                pgfleet abort)\n"
		   "  --offline-wait D\n"
		   "                how long an event waits for a computer connected nowhere before\n"
		   "                it fails with -24 (default: the job's offline: wait, else the\n"
		   "                scheduler's events.offline_expire)\n"
		   "  --script TEXT, --script-file FILE\n"
		   "                the script of an ad-hoc run (a file: UTF-8 text, at most 16 MiB)\n"
		   "  --name JOB    the job an ad-hoc run is a version of (default adhoc/$USER)\n"
		   "  --interpreter P, --run-as USER, --timeout D\n"
		   "                as a task's interpreter, run_as and timeout (docs/yaml.md)\n"
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
 * Insert the schedule, expand it, wake the schedulers; in the caller's transaction.
 * p: job_id, version, targets, due (NULL: now), client_user, max_concurrent,
 * max_failures, max_failures_pct, splay in ms (NULL: none), rollout waves (a text[]
 * literal, NULL: none), the pause between waves in ms, the offline wait in ms (NULL:
 * the scheduler's). created_by is the database's session_user.
 */
static int
make_schedule(struct db *db, const char *const p[12], char *id, size_t idlen, long long *events,
    char *err, size_t errlen)
{
	struct db_result *r;
	if (db_exec(db, &r,
		"INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, created_by,"
		" client_user, max_concurrent, max_failures, max_failures_pct, splay, rollout_waves,"
		" rollout_pause, offline_wait) VALUES ($1, $2, $3::jsonb,"
		" coalesce(to_timestamp($4::float8), now()), session_user, $5, $6::int, $7::int,"
		" $8::numeric, $9::bigint * interval '1 millisecond', $10::text[],"
		" $11::bigint * interval '1 millisecond', $12::bigint * interval '1 millisecond')"
		" RETURNING schedule_id",
		12, p, err, errlen) == -1)
		return -1;
	snprintf(id, idlen, "%s", db_value(r, 0, 0));
	db_result_free(r);
	const char *sp[1] = {id};
	if (db_exec(db, &r, "SELECT pgfleet.expand_schedule($1)", 1, sp, err, errlen) == -1)
		return -1;
	*events = atoll(db_value(r, 0, 0));
	db_result_free(r);
	return db_exec(db, NULL, "SELECT pg_notify('pgfleet_wakeup', '')", 0, NULL, err, errlen);
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

/* What `pgfleet run` was asked. */
struct run_args {
	const char *job, *on, *at, *maxc, *maxf, *splay, *waves, *pause, *offline;
	const char *script, *script_file, *name, *interpreter, *run_as, *timeout;
	int wait;
};

/* The options that take a value, and where each goes. */
static const char **
run_option(struct run_args *ra, const char *o)
{
	static const char *const names[] = {"--on", "--at", "--max-concurrent", "--max-failures",
	    "--splay", "--script", "--script-file", "--name", "--interpreter", "--run-as", "--timeout",
	    "--waves", "--pause", "--offline-wait"};
	const char **dst[] = {&ra->on, &ra->at, &ra->maxc, &ra->maxf, &ra->splay, &ra->script,
	    &ra->script_file, &ra->name, &ra->interpreter, &ra->run_as, &ra->timeout, &ra->waves,
	    &ra->pause, &ra->offline};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(o, names[i]) == 0)
			return dst[i];
	return NULL;
}

/* Parse argv into ra: CLI_OK, or an exit code after saying why (help: -1). */
static int
run_parse(int argc, char **argv, struct run_args *ra)
{
	memset(ra, 0, sizeof(*ra));
	for (int i = 1; i < argc; i++) {
		const char **dst = run_option(ra, argv[i]);
		if (cmdutil_is_help(argv[i])) {
			usage_run(stdout);
			return -1;
		} else if (strcmp(argv[i], "--wait") == 0) {
			ra->wait = 1;
		} else if (dst != NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "pgfleet run: %s needs a value\n", argv[i]);
				return CLI_USAGE;
			}
			*dst = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "pgfleet run: %s: unknown option\n", argv[i]);
			usage_run(stderr);
			return CLI_USAGE;
		} else if (ra->job != NULL) {
			fprintf(stderr, "pgfleet run: %s: unexpected argument (one job at a time)\n", argv[i]);
			return CLI_USAGE;
		} else {
			ra->job = argv[i];
		}
	}
	const char *why = NULL;
	int adhoc = ra->script != NULL || ra->script_file != NULL;
	if (ra->script != NULL && ra->script_file != NULL)
		why = "--script and --script-file exclude each other (use one)";
	else if (adhoc && ra->job != NULL)
		why = "a job or an ad-hoc --script, not both (name the ad-hoc job with --name)";
	else if (!adhoc && (ra->name != NULL || ra->interpreter != NULL || ra->run_as != NULL ||
		     ra->timeout != NULL))
		why = "--name, --interpreter, --run-as and --timeout go with --script or --script-file";
	else if (!adhoc && ra->job == NULL)
		why = "which job? (pgfleet run JOB --on TARGETS, or pgfleet run --script TEXT --on TARGETS)";
	else if (ra->on == NULL)
		why = "--on TARGETS is required";
	if (why != NULL) {
		fprintf(stderr, "pgfleet run: %s\n", why);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* The one-task job of an ad-hoc run, every value checked as a batch checks it. */
struct adhoc {
	struct batch_task task;
	struct batch_job job;
	char name[ARGS_NAME_MAX + 1];
	char *script; /* malloc'd */
};

static int
adhoc_build(const struct run_args *ra, struct adhoc *ad, char *err, size_t errlen)
{
	char why[512];
	size_t len;
	memset(ad, 0, sizeof(*ad));
	if (ra->script_file != NULL) {
		if (batch_script_read(ra->script_file, &ad->script, &len, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "--script-file \"%s\": %s", ra->script_file, why);
			return -1;
		}
	} else if (ra->script[0] == '\0') {
		snprintf(err, errlen, "--script: the script is empty");
		return -1;
	} else if ((ad->script = strdup(ra->script)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (ra->name != NULL)
		snprintf(ad->name, sizeof(ad->name), "%s", ra->name);
	else
		snprintf(ad->name, sizeof(ad->name), "adhoc/%.60s", cmdutil_user());
	struct batch_task *t = &ad->task;
	t->script = ad->script;
	t->interpreter = (char *)(ra->interpreter != NULL ? ra->interpreter : "/bin/sh");
	t->run_as = (char *)ra->run_as;
	t->on_failure = BATCH_STOP;
	ad->job.name = ad->name;
	ad->job.description = (char *)"ad-hoc runs (pgfleet run --script)";
	ad->job.tasks = t;
	ad->job.ntasks = 1;
	if (args_name("job", ad->name, err, errlen) == -1 ||
	    field_check_as(FIELD_INTERPRETER, "--interpreter", t->interpreter, err, errlen) == -1 ||
	    (t->run_as != NULL && field_check_as(FIELD_RUN_AS, "--run-as", t->run_as, err, errlen) == -1))
		return -1;
	if (ra->timeout != NULL && (units_duration_ms(ra->timeout, &t->timeout_ms, why, sizeof(why)) == -1 ||
		t->timeout_ms < 1)) {
		snprintf(err, errlen, "--timeout: %s", t->timeout_ms < 1 ? "must be positive" : why);
		return -1;
	}
	return 0;
}

/* The values of run's options, checked before the database is asked anything. */
struct run_values {
	time_t when;
	char maxc_buf[32], maxf_buf[32], splay[32], waves[APPLY_WAVES_MAX], pause[32], offline[32];
	const char *maxc, *maxf;
	int maxf_pct;
	char *targets; /* malloc'd */
};

static int
run_values(const struct run_args *ra, struct run_values *v)
{
	char err[1024];
	time_t now = 0;
	int unused_pct;
	long long splay_ms = 0;
	memset(v, 0, sizeof(*v));
	if ((ra->job != NULL && args_name("job", ra->job, err, sizeof(err)) == -1) ||
	    args_now(&now, err, sizeof(err)) == -1 ||
	    (ra->at != NULL && args_time(ra->at, now, &v->when, err, sizeof(err)) == -1)) {
		fprintf(stderr, "pgfleet run: %s%s\n",
		    ra->at != NULL && strncmp(err, "time", 4) == 0 ? "--at: " : "", err);
		return CLI_USAGE;
	}
	if ((ra->maxc != NULL && limit_arg("--max-concurrent", ra->maxc, v->maxc_buf,
				     sizeof(v->maxc_buf), &v->maxc, &unused_pct, err, sizeof(err)) == -1) ||
	    (ra->maxf != NULL && limit_arg("--max-failures", ra->maxf, v->maxf_buf, sizeof(v->maxf_buf),
				     &v->maxf, &v->maxf_pct, err, sizeof(err)) == -1)) {
		fprintf(stderr, "pgfleet run: %s\n", err);
		return CLI_USAGE;
	}
	if (ra->splay != NULL) {
		int parsed = units_duration_ms(ra->splay, &splay_ms, err, sizeof(err)) == 0;
		if (!parsed || splay_ms < 1000 || splay_ms > BATCH_MAX_SPLAY_MS) {
			fprintf(stderr, "pgfleet run: --splay: %s\n",
			    parsed ? "give a duration from 1s to 7d" : err);
			return CLI_USAGE;
		}
		snprintf(v->splay, sizeof(v->splay), "%lld", splay_ms);
	}
	if (ra->offline != NULL) {
		long long ms = 0;
		int parsed = units_duration_ms(ra->offline, &ms, err, sizeof(err)) == 0;
		if (!parsed || ms < 1000 || ms > 3650LL * 86400000) {
			fprintf(stderr, "pgfleet run: --offline-wait: %s\n",
			    parsed ? "give a duration from 1s to 3650d" : err);
			return CLI_USAGE;
		}
		snprintf(v->offline, sizeof(v->offline), "%lld", ms);
	}
	if (ra->pause != NULL && ra->waves == NULL) {
		fprintf(stderr, "pgfleet run: --pause needs --waves (the pause is between two waves)\n");
		return CLI_USAGE;
	}
	if (ra->waves != NULL) {
		struct batch_rollout ro = {.pause_ms = 0};
		long long ms = 0;
		if (args_waves("--waves", ra->waves, ro.waves, ro.waves_pct, BATCH_MAX_WAVES, &ro.nwaves,
			err, sizeof(err)) == -1 ||
		    (ra->pause != NULL && units_duration_ms(ra->pause, &ms, err, sizeof(err)) == -1)) {
			fprintf(stderr, "pgfleet run: %s\n", err);
			return CLI_USAGE;
		}
		if (ms > BATCH_MAX_SPLAY_MS) {
			fprintf(stderr, "pgfleet run: --pause: at most 7d\n");
			return CLI_USAGE;
		}
		ro.pause_ms = ms;
		apply_waves_literal(&ro, v->waves, sizeof(v->waves), v->pause, sizeof(v->pause));
	}
	struct args_targets t;
	if (args_targets_parse(ra->on, &t, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet run: --on: %s\n", err);
		return CLI_USAGE;
	}
	v->targets = args_targets_json(&t);
	args_targets_free(&t);
	if (v->targets == NULL) {
		fprintf(stderr, "pgfleet run: out of memory\n");
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* What the run made, on stderr: its schedule, job, events, when, and the limits in force. */
static void
run_said(const char *id, const char *job, long long events, const struct run_args *ra,
    const char *const *p)
{
	fprintf(stderr, "pgfleet run: schedule %s: job %s version %s, %lld event(s), due %s", id,
	    job, p[1], events, ra->at != NULL ? ra->at : "now");
	if (ra->splay != NULL)
		fprintf(stderr, " within %s", ra->splay);
	if (p[5] != NULL)
		fprintf(stderr, ", max_concurrent %s", p[5]);
	if (p[6] != NULL || p[7] != NULL)
		fprintf(stderr, ", max_failures %s%s", p[6] != NULL ? p[6] : p[7], p[6] != NULL ? "" : "%");
	if (p[9] != NULL)
		fprintf(stderr, ", waves %s", p[9]);
	fputc('\n', stderr);
}

/* The job or a computer or group of --on missing: said, 1. */
static int
run_refused(const struct db_result *r, const char *job)
{
	if (!db_isnull(r, 0, 0) && db_isnull(r, 0, 2) && db_isnull(r, 0, 3))
		return 0;
	if (db_isnull(r, 0, 0))
		fprintf(stderr, "pgfleet run: job \"%s\" does not exist (pgfleet job list)\n", job);
	if (!db_isnull(r, 0, 2))
		fprintf(stderr, "pgfleet run: --on: no such computer: %s\n", db_value(r, 0, 2));
	if (!db_isnull(r, 0, 3))
		fprintf(stderr, "pgfleet run: --on: no such group: %s\n", db_value(r, 0, 3));
	return 1;
}

/* The values of a run's schedule: the job's row (job_id, version, its rollout and offline
 * wait as last submitted), overridden by the flags given. */
struct run_row {
	char job_id[32], version[32], due[32], maxc[32], maxf[32], maxf_pct[32];
	char waves[APPLY_WAVES_MAX], pause[32], offline[32];
	const char *p[12];
};

static const char *const *
run_params(struct run_row *w, const struct db_result *r, const struct run_args *ra,
    const struct run_values *v)
{
	char *const col[] = {w->job_id, w->version, NULL, NULL, w->maxc, w->maxf, w->maxf_pct, w->waves,
	    w->pause, w->offline};
	for (int i = 0; i < 10; i++)
		if (col[i] != NULL)
			snprintf(col[i], 32, "%s", db_value(r, 0, i));
	snprintf(w->waves, sizeof(w->waves), "%s", db_value(r, 0, 7));
	snprintf(w->due, sizeof(w->due), "%lld", (long long)v->when);
	const char *p[12] = {w->job_id, w->version, v->targets, ra->at != NULL ? w->due : NULL,
	    cmdutil_user(),
	    ra->maxc != NULL ? v->maxc : db_isnull(r, 0, 4) ? NULL : w->maxc,
	    ra->maxf != NULL ? (v->maxf_pct ? NULL : v->maxf) : db_isnull(r, 0, 5) ? NULL : w->maxf,
	    ra->maxf != NULL ? (v->maxf_pct ? v->maxf : NULL) : db_isnull(r, 0, 6) ? NULL : w->maxf_pct,
	    ra->splay != NULL ? v->splay : NULL,
	    ra->waves != NULL ? v->waves : db_isnull(r, 0, 7) ? NULL : w->waves,
	    ra->waves != NULL ? v->pause : db_isnull(r, 0, 8) ? NULL : w->pause,
	    ra->offline != NULL ? v->offline : db_isnull(r, 0, 9) ? NULL : w->offline};
	memcpy(w->p, p, sizeof(p));
	return w->p;
}

int
cmd_run(int argc, char **argv)
{
	struct run_args ra;
	struct run_values v;
	struct adhoc ad;
	char err[1024];
	int rc = run_parse(argc, argv, &ra);
	if (rc != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	int adhoc = ra.script != NULL || ra.script_file != NULL;
	memset(&ad, 0, sizeof(ad));
	if (adhoc && adhoc_build(&ra, &ad, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet run: %s\n", err);
		free(ad.script);
		return CLI_USAGE;
	}
	if ((rc = run_values(&ra, &v)) != CLI_OK) {
		free(ad.script);
		return rc;
	}
	const char *job = adhoc ? ad.name : ra.job;

	rc = CLI_ERROR;
	struct db_result *r = NULL;
	struct db *db = cmdutil_open("run");
	if (db == NULL)
		goto out;
	const char *pj[2] = {job, v.targets};
	char job_id[32], version[32];
	if (db_begin(db, err, sizeof(err)) == -1 ||
	    (adhoc && apply_job_version(db, &ad.job, job_id, version, err, sizeof(err)) == -1) ||
	    db_exec(db, &r,
		"SELECT job_id, version,"
		" (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text($2::jsonb->'computers') x"
		"  WHERE x NOT IN (SELECT name FROM pgfleet.computer)),"
		" (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text($2::jsonb->'groups') x"
		"  WHERE x NOT IN (SELECT name FROM pgfleet.computer_group)),"
		" rollout_max_concurrent, rollout_max_failures, rollout_max_failures_pct, rollout_waves::text,"
		" (extract(epoch FROM rollout_pause) * 1000)::bigint,"
		" (extract(epoch FROM offline_wait) * 1000)::bigint"
		" FROM (SELECT 1) one LEFT JOIN pgfleet.job ON name = $1",
		2, pj, err, sizeof(err)) == -1)
		goto dberr;
	if (run_refused(r, job)) {
		rc = CLI_USAGE;
		goto rollback;
	}
	char id[32];
	long long events;
	struct run_row row;
	const char *const *p = run_params(&row, r, &ra, &v);
	if (make_schedule(db, p, id, sizeof(id), &events, err, sizeof(err)) == -1)
		goto dberr;
	if (events == 0) {
		fprintf(stderr, "pgfleet run: --on %s: matches no enabled computer; nothing scheduled\n",
		    ra.on);
		rc = CLI_USAGE;
		goto rollback;
	}
	if (db_commit(db, err, sizeof(err)) == -1)
		goto dberr;
	run_said(id, job, events, &ra, p);
	rc = finish(db, "run", id, ra.wait);
	goto out;
dberr:
	fprintf(stderr, "pgfleet run: %s\n", err);
rollback:
	(void)db_rollback(db, err, sizeof(err));
out:
	db_result_free(r);
	db_close(db);
	free(v.targets);
	free(ad.script);
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
	const char *ps[1] = {sid};
	if (db_begin(db, err, sizeof(err)) == -1 ||
	    db_exec(db, &r,
		"SELECT s.job_id, j.version, j.name, s.max_concurrent, s.max_failures, s.max_failures_pct,"
		" (SELECT jsonb_build_object('computers', jsonb_agg(c.name ORDER BY c.name))"
		"  FROM pgfleet.event e JOIN pgfleet.computer c USING (computer_id)"
		"  WHERE e.schedule_id = s.schedule_id AND e.state = 'failed' HAVING count(*) > 0)"
		" FROM pgfleet.schedule s JOIN pgfleet.job j USING (job_id) WHERE s.schedule_id = $1",
		1, ps, err, sizeof(err)) == -1)
		goto dberr;
	if (db_ntuples(r) == 0) {
		fprintf(stderr, "pgfleet retry: schedule %s does not exist\n", sid);
		rc = CLI_USAGE;
		goto rollback;
	}
	if (db_isnull(r, 0, 6)) {
		fprintf(stderr, "pgfleet retry: schedule %s has no failed event: nothing to retry\n", sid);
		rc = CLI_OK;
		goto rollback;
	}
	char id[32], job[256];
	long long events;
	const char *p[12];
	for (int k = 0; k < 12; k++)
		p[k] = NULL;
	p[0] = db_value(r, 0, 0);
	p[1] = db_value(r, 0, 1);
	p[2] = db_value(r, 0, 6);
	p[4] = cmdutil_user();
	for (int k = 3; k < 6; k++)
		p[k + 2] = db_isnull(r, 0, k) ? NULL : db_value(r, 0, k);
	snprintf(job, sizeof(job), "%s", db_value(r, 0, 2));
	if (make_schedule(db, p, id, sizeof(id), &events, err, sizeof(err)) == -1 ||
	    db_commit(db, err, sizeof(err)) == -1)
		goto dberr;
	fprintf(stderr, "pgfleet retry: schedule %s: job %s version %s, %lld event(s) of schedule %s's "
			"failed ones\n",
	    id, job, p[1], events, sid);
	db_result_free(r);
	r = NULL;
	rc = finish(db, "retry", id, wait);
	goto out;
dberr:
	fprintf(stderr, "pgfleet retry: %s\n", err);
rollback:
	(void)db_rollback(db, err, sizeof(err));
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
	const char *p[1] = {argv[1]};
	if (db_begin(db, err, sizeof(err)) == -1 ||
	    db_exec(db, &r, "SELECT state FROM pgfleet.schedule WHERE schedule_id = $1 FOR UPDATE", 1,
		p, err, sizeof(err)) == -1)
		goto dberr;
	if (db_ntuples(r) == 0) {
		fprintf(stderr, "pgfleet cancel: schedule %s does not exist\n", argv[1]);
		rc = CLI_USAGE;
		goto rollback;
	}
	if (strcmp(db_value(r, 0, 0), "pending") != 0 && strcmp(db_value(r, 0, 0), "running") != 0 &&
	    strcmp(db_value(r, 0, 0), "halted") != 0) {
		printf("schedule %s already ended (%s): nothing to cancel\n", argv[1], db_value(r, 0, 0));
		rc = CLI_OK;
		goto rollback;
	}
	db_result_free(r);
	if (db_exec(db, &r,
		"SELECT pgfleet.cancel_schedule($1), (SELECT count(*) FROM pgfleet.event"
		" WHERE schedule_id = $1 AND state = 'running')",
		1, p, err, sizeof(err)) == -1 ||
	    db_commit(db, err, sizeof(err)) == -1)
		goto dberr;
	printf("schedule %s cancelled: %s pending event(s) cancelled", argv[1], db_value(r, 0, 0));
	if (atoll(db_value(r, 0, 1)) > 0)
		printf(", %s running event(s) stop when their scheduler cancels them", db_value(r, 0, 1));
	printf("\n");
	rc = CLI_OK;
	goto out;
dberr:
	fprintf(stderr, "pgfleet cancel: %s\n", err);
rollback:
	(void)db_rollback(db, err, sizeof(err));
out:
	db_result_free(r);
	db_close(db);
	return rc;
}

static void
usage_rollout(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "resume") == 0)
		fprintf(f, "usage: pgfleet resume SCHEDULE_ID\n\n"
			   "Resume a rollout halted by its max_failures: the waiting events of the open\n"
			   "wave run, later waves open as before, and only failures from now on count\n"
			   "toward max_failures.\n\n"
			   "  -h, --help  this help\n");
	else
		fprintf(f, "usage: pgfleet abort SCHEDULE_ID\n\n"
			   "End a rollout (halted or not): the events not started end with code -33\n"
			   "(ROLLOUT_ABORTED); running ones are stopped by the scheduler holding them.\n\n"
			   "  -h, --help  this help\n");
}

/* pgfleet resume|abort SCHEDULE_ID */
static int
rollout_command(const char *cmd, int argc, char **argv)
{
	char err[1024];
	long long n;
	if (argc == 2 && cmdutil_is_help(argv[1])) {
		usage_rollout(stdout, cmd);
		return CLI_OK;
	}
	if (argc != 2 || args_id("schedule", argv[1], &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, argc != 2 ? "one SCHEDULE_ID" : err);
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[1] = {argv[1]};
	struct db_result *r;
	int rc = CLI_ERROR;
	if (db_exec(db, &r,
		strcmp(cmd, "resume") == 0
		    ? "SELECT s.state, pgfleet.resume_schedule(s.schedule_id)::int FROM pgfleet.schedule s"
		      " WHERE s.schedule_id = $1"
		    : "SELECT s.state, pgfleet.abort_schedule(s.schedule_id) FROM pgfleet.schedule s"
		      " WHERE s.schedule_id = $1",
		1, p, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		db_close(db);
		return CLI_ERROR;
	}
	if (db_ntuples(r) == 0) {
		fprintf(stderr, "pgfleet %s: schedule %s does not exist\n", cmd, argv[1]);
		rc = CLI_USAGE;
	} else if (strcmp(cmd, "resume") == 0) {
		if (strcmp(db_value(r, 0, 1), "1") == 0) {
			printf("schedule %s resumed\n", argv[1]);
			rc = CLI_OK;
		} else {
			fprintf(stderr, "pgfleet resume: schedule %s is %s, not halted: nothing to resume\n",
			    argv[1], db_value(r, 0, 0));
			rc = CLI_USAGE;
		}
	} else if (strcmp(db_value(r, 0, 1), "-1") == 0) {
		printf("schedule %s already ended (%s): nothing to abort\n", argv[1], db_value(r, 0, 0));
		rc = CLI_OK;
	} else {
		printf("schedule %s aborted: %s waiting event(s) ended (-33)\n", argv[1], db_value(r, 0, 1));
		rc = CLI_OK;
	}
	db_result_free(r);
	db_close(db);
	return rc;
}

int
cmd_resume(int argc, char **argv)
{
	return rollout_command("resume", argc, argv);
}

int
cmd_abort(int argc, char **argv)
{
	return rollout_command("abort", argc, argv);
}
