/*
 * pgfleet run JOB --on TARGETS [--at TIME] [--wait], pgfleet run --script TEXT|--script-file
 * F --on TARGETS (an ad-hoc run: a one-off version of a job made from the script), pgfleet
 * run --copy SOURCE --dest PATH --on TARGETS (the same with a copy-file task per file),
 * pgfleet retry SCHEDULE_ID --failed [--wait], pgfleet cancel|resume|abort SCHEDULE_ID: make
 * or end schedules by hand, through the SQL API (pgfleet.run, retry, cancel, resume, abort;
 * an ad-hoc run's version through pgfleet.submit: docs/sql-api.md), which checks, writes,
 * expands, wakes the schedulers and records the change in one transaction. What the command
 * checks before (arguments, names that do not exist) it checks only to say so in its own
 * words; the functions check everything again.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/apply.h"
#include "cli/args.h"
#include "cli/batch.h"
#include "cli/batch_copy.h"
#include "cli/batch_value.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/follow.h"
#include "cli/opts.h"
#include "common/arena.h"
#include "common/db.h"
#include "common/field.h"
#include "common/units.h"

/* What `pgfleet run` was asked. */
struct run_args {
	const char *job, *on, *at, *maxc, *maxf, *splay, *waves, *pause, *offline;
	const char *script, *script_file, *name, *interpreter, *run_as, *timeout;
	const char *copy, *dest, *mode, *owner, *checksum; /* an ad-hoc copy-file run */
	int wait;
	int wake; /* --wake: offline_wake in the rollout */
};

#define O(f) offsetof(struct run_args, f)
static const struct opts_spec run_specs[] = {
	OPTS_ROW_STR("--on", O(on), "TARGETS", "comma-separated: NAME (a computer), group:NAME,\n"
	    "label:KEY=VALUE; a computer matches any NAME or\ngroup, or all the labels given"),
	OPTS_ROW_STR("--at", O(at), "TIME", "when: now (default), +DURATION (+10m, +2h) or\n"
	    "RFC 3339 (2026-12-01T02:00:00Z)"),
	OPTS_ROW_STR("--splay", O(splay), "D", "spread the events: each due at a random moment\n"
	    "within D (1s-7d) after the schedule's time"),
	OPTS_ROW_STR("--waves", O(waves), "LIST", "roll out in waves, each the computers reached so\n"
	    "far: 1,10%,100% (a wave opens when the one before\nhas ended); past --max-failures the rollout\n"
	    "halts (pgfleet resume, pgfleet abort)"),
	OPTS_ROW_STR("--pause", O(pause), "D", "the pause between two waves (at most 7d)"),
	OPTS_ROW_STR("--offline-wait", O(offline), "D", "how long an event waits for a computer connected\n"
	    "nowhere before it fails with -24 (default: the\njob's offline: wait, else the scheduler's\n"
	    "events.offline_expire)"),
	OPTS_ROW_FLAG("--wake", O(wake), "wake the computers connected nowhere: an agent on\n"
	    "each one's subnet sends it wake-on-LAN (default:\nthe job's offline: wake)"),
	OPTS_ROW_STR("--script", O(script), "TEXT", "the script of an ad-hoc run"),
	OPTS_ROW_STR("--script-file", O(script_file), "FILE", "the same from a file (UTF-8 text, at most\n16 MiB)"),
	OPTS_ROW_STR("--copy", O(copy), "SOURCE", "an ad-hoc copy: the file (any bytes, at most\n16 MiB) "
	    "or the folder (one copy per file) to\ncopy, read now, as a batch's copy: source"),
	OPTS_ROW_STR("--dest", O(dest), "PATH", "where --copy installs it: an absolute file path\n"
	    "(a folder's files go below it)"),
	OPTS_ROW_STR("--mode", O(mode), "MODE", "the copied files' octal mode (default 0644)"),
	OPTS_ROW_STR("--owner", O(owner), "USER", "the copied files' owner (default: the run-as user)"),
	OPTS_ROW_STR("--checksum", O(checksum), "sha256:HEX", "what the copied file's SHA-256 must be (one\n"
	    "file, not a folder)"),
	OPTS_ROW_STR("--name", O(name), "JOB", "the job an ad-hoc run is a version of (default\nadhoc/LOGIN)"),
	OPTS_ROW_STR("--interpreter", O(interpreter), "P", "as a task's interpreter (docs/yaml.md; not with\n--copy)"),
	OPTS_ROW_STR("--run-as", O(run_as), "USER", "as a task's run_as"),
	OPTS_ROW_STR("--timeout", O(timeout), "D", "as a task's timeout"),
	OPTS_ROW_STR("--max-concurrent", O(maxc), "N", "at most N events of this run at once (1-1000000),\n"
	    "or none"),
	OPTS_ROW_STR("--max-failures", O(maxf), "N|N%", "after more than N failed events (0-1000000), or\n"
	    "N% of them (0%-100%), the pending ones are\ncancelled (code -14), or none"),
	OPTS_ROW_FLAG("--wait", O(wait), "follow the schedule to its end (progress bar on a\n"
	    "terminal, one line per change otherwise); exit 1\nwhen any event failed or was cancelled"),
};
#undef O

static const struct opts_cmd run_cmd = {.cmd = "run", OPTS_TABLE(run_specs), .maxpos = 1,
    .extra = "%s: unexpected argument (one job at a time)",
    .about = "usage: pgfleet run JOB --on TARGETS [--at TIME] [--splay D] [--max-concurrent N]\n"
		   "                   [--max-failures N|N%] [--waves LIST [--pause D]] [--wake] [--wait]\n"
		   "       pgfleet run --script TEXT|--script-file FILE --on TARGETS [--name JOB]\n"
		   "                   [--interpreter P] [--run-as USER] [--timeout D] [OPTIONS above]\n"
		   "       pgfleet run --copy SOURCE --dest PATH [--mode MODE] [--owner USER]\n"
		   "                   [--checksum sha256:HEX] --on TARGETS [--name JOB] [--run-as USER]\n"
		   "                   [--timeout D] [OPTIONS above]\n\n"
		   "Run a job (its current version) once on some computers: creates a schedule,\n"
		   "one event per enabled computer the targets match, and wakes the schedulers.\n"
		   "The job's rollout limits (as last submitted) apply unless overridden below.\n"
		   "With --script or --script-file, an ad-hoc run: the script becomes a version of\n"
		   "the job --name (default adhoc/LOGIN, LOGIN the database's session_user; the same\n"
		   "script again reuses its version), recorded and reported like any job. With\n"
		   "--copy, the same for a copy-file task (docs/yaml.md \"Copy-file tasks\"), one\n"
		   "per file of a folder, read and checked as a batch's copy: (the same copy again\n"
		   "reuses its version). Prints the schedule id on stdout.\n\n"};

/* What `pgfleet retry` was asked. */
struct retry_args {
	int failed, wait;
};

static const struct opts_spec retry_specs[] = {
	OPTS_ROW_FLAG("--failed", offsetof(struct retry_args, failed),
	    "retry the failed events (required: the only kind for now)"),
	OPTS_ROW_FLAG("--wait", offsetof(struct retry_args, wait), "follow the new schedule to its end, as run --wait"),
};

static const struct opts_cmd retry_cmd = {.cmd = "retry", OPTS_TABLE(retry_specs), .maxpos = 1,
    .about = "usage: pgfleet retry SCHEDULE_ID --failed [--wait]\n\n"
		   "Run the schedule's job again, at its current version and with the same rollout\n"
		   "limits, on the computers whose events failed. Prints the new schedule id.\n\n"};

/* cancel, resume and abort: one SCHEDULE_ID, no option */
static const struct opts_cmd cancel_cmd = {.cmd = "cancel", .maxpos = 1,
    .extra = "%s: one schedule at a time",
    .about = "usage: pgfleet cancel SCHEDULE_ID\n\n"
	     "Cancel a schedule: its pending events end at once as cancelled (code -8); running\n"
	     "ones are stopped by the scheduler holding them. A recurring schedule stops recurring.\n\n"};

static const struct opts_cmd resume_cmd = {.cmd = "resume", .maxpos = 1, .extra = "%s: one SCHEDULE_ID",
    .about = "usage: pgfleet resume SCHEDULE_ID\n\n"
	     "Resume a rollout halted by its max_failures: the waiting events of the open\n"
	     "wave run, later waves open as before, and only failures from now on count\n"
	     "toward max_failures.\n\n"};

static const struct opts_cmd abort_cmd = {.cmd = "abort", .maxpos = 1, .extra = "%s: one SCHEDULE_ID",
    .about = "usage: pgfleet abort SCHEDULE_ID\n\n"
	     "End a rollout (halted or not): the events not started end with code -33\n"
	     "(ROLLOUT_ABORTED); running ones are stopped by the scheduler holding them.\n\n"};

/*
 * What a new schedule got: its job, version, rollout limits and number of events, read
 * back through the views. Returns the result (the caller frees), NULL on a failure.
 * Columns: job, job_version, max_concurrent, max_failures, max_failures_pct, events,
 * splay (as given), waves.
 */
static struct db_result *
schedule_made(struct db *db, const char *id, char *err, size_t errlen)
{
	struct db_result *r;
	const char *p[1] = {id};
	if (db_exec(db, &r,
		"SELECT s.job, s.job_version, s.max_concurrent, s.max_failures, s.max_failures_pct,"
		" (SELECT count(*) FROM pgfleet.event_list e WHERE e.schedule_id = s.schedule_id),"
		" s.splay::text, s.rollout_waves::text"
		" FROM pgfleet.schedule_list s WHERE s.schedule_id = $1",
		1, p, err, errlen) == -1)
		return NULL;
	if (db_ntuples(r) == 0) {
		db_result_free(r);
		snprintf(err, errlen, "schedule %s: not visible to this role (a read scope hides its job)", id);
		return NULL;
	}
	return r;
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

/*
 * A rollout flag's value as the JSON value of pgfleet.run's rollout: null for "none", a
 * count, or "N%" for --max-failures N%; checked, written into buf.
 */
static int
limit_arg(const char *flag, const char *v, char *buf, size_t buflen, char *err, size_t errlen)
{
	int n, pct = 0;
	if (strcmp(v, "none") == 0) {
		snprintf(buf, buflen, "null");
		return 0;
	}
	if (strcmp(flag, "--max-concurrent") == 0 ? args_max_concurrent(flag, v, &n, err, errlen)
						  : args_max_failures(flag, v, &n, &pct, err, errlen))
		return -1;
	snprintf(buf, buflen, pct ? "\"%d%%\"" : "%d", n);
	return 0;
}

/* Parse argv into ra: CLI_OK, or an exit code after saying why (help: -1). */
static int
run_parse(int argc, char **argv, struct run_args *ra)
{
	struct opts_pos pos;
	memset(ra, 0, sizeof(*ra));
	int rc = opts_parse(&run_cmd, argc, argv, ra, &pos);
	if (rc != 0)
		return rc == 1 ? -1 : CLI_USAGE;
	ra->job = pos.n > 0 ? pos.v[0] : NULL;
	const char *why = NULL;
	int script = ra->script != NULL || ra->script_file != NULL, copy = ra->copy != NULL;
	int adhoc = script || copy;
	if (ra->script != NULL && ra->script_file != NULL)
		why = "--script and --script-file exclude each other (use one)";
	else if (copy && (script || ra->interpreter != NULL))
		why = "--copy excludes --script, --script-file and --interpreter (a copy-file task runs no script)";
	else if (adhoc && ra->job != NULL)
		why = copy ? "a job or an ad-hoc --copy, not both (name the ad-hoc job with --name)"
			   : "a job or an ad-hoc --script, not both (name the ad-hoc job with --name)";
	else if (!copy && (ra->dest != NULL || ra->mode != NULL || ra->owner != NULL || ra->checksum != NULL))
		why = "--dest, --mode, --owner and --checksum go with --copy";
	else if (!adhoc && (ra->name != NULL || ra->interpreter != NULL || ra->run_as != NULL ||
		     ra->timeout != NULL))
		why = "--name, --interpreter, --run-as and --timeout go with --script or --script-file "
		      "(all but --interpreter with --copy too)";
	else if (copy && ra->dest == NULL)
		why = "--copy needs --dest PATH (where the agents install it)";
	else if (!adhoc && ra->job == NULL)
		why = "which job? (pgfleet run JOB --on TARGETS, pgfleet run --script TEXT --on TARGETS, or "
		      "pgfleet run --copy SOURCE --dest PATH --on TARGETS)";
	else if (ra->on == NULL)
		why = "--on TARGETS is required";
	if (why != NULL) {
		fprintf(stderr, "pgfleet run: %s\n", why);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* The job of an ad-hoc run, every value checked as a batch checks it: one task (the script,
 * or the file to copy), or one copy task per file of a folder. */
struct adhoc {
	struct batch_task task;
	struct batch_job job;
	char name[ARGS_NAME_MAX + 1];
	char *script;        /* malloc'd */
	struct arena *arena; /* a copy's content and tasks */
};

/* --script or --script-file into ad->script. */
static int
adhoc_script(const struct run_args *ra, struct adhoc *ad, char *err, size_t errlen)
{
	char why[512];
	size_t len;
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
	ad->task.script = ad->script;
	return 0;
}

/* --copy SOURCE --dest PATH [--mode] [--owner] [--checksum] into ad->task, read and checked
 * as a batch's copy: (cli/batch_copy.h); a folder's files are copied by adhoc_tasks. */
static int
adhoc_copy(const struct run_args *ra, struct adhoc *ad, char *err, size_t errlen)
{
	char why[600];
	struct batch_task *t = &ad->task;
	t->copy = 1;
	t->copy_source = (char *)ra->copy;
	t->copy_dest = (char *)ra->dest;
	t->copy_mode = 0644;
	if (ra->copy[0] == '\0') {
		snprintf(err, errlen, "--copy: the file name is empty");
		return -1;
	}
	if (batch_copy_source(&ad->arena, t, ra->copy, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "--copy \"%s\": %s", ra->copy, why);
		return -1;
	}
	if (ra->checksum != NULL && batch_copy_checksum(t, ra->checksum, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "--checksum: %s", why);
		return -1;
	}
	if (batch_copy_dest(ra->dest, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "--dest: %s", why);
		return -1;
	}
	if (t->ntree > 0 && batch_copy_tree_dests(t, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "--copy \"%s\": %s", ra->copy, why);
		return -1;
	}
	if (ra->owner != NULL && field_check_as(FIELD_RUN_AS, "--owner", ra->owner, err, errlen) == -1)
		return -1;
	t->copy_owner = (char *)ra->owner;
	if (ra->mode != NULL && batch_copy_mode(ra->mode, &t->copy_mode, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "--mode: %s", why);
		return -1;
	}
	return 0;
}

/* The job's tasks: ad->task, or the copies of a folder's files (each ad->task's values). */
static void
adhoc_tasks(struct adhoc *ad)
{
	const struct batch_task *t = &ad->task;
	ad->job.tasks = &ad->task;
	ad->job.ntasks = 1;
	if (t->ntree == 0)
		return;
	ad->job.tasks = arena_alloc(&ad->arena, t->ntree * sizeof(*ad->job.tasks));
	batch_copy_expand(&ad->arena, t, ad->job.tasks);
	ad->job.ntasks = t->ntree;
}

static void
adhoc_free(struct adhoc *ad)
{
	free(ad->script);
	arena_free(ad->arena);
	ad->script = NULL;
	ad->arena = NULL;
}

static int
adhoc_build(const struct run_args *ra, struct adhoc *ad, char *err, size_t errlen)
{
	char why[512];
	memset(ad, 0, sizeof(*ad));
	struct batch_task *t = &ad->task;
	if ((ra->copy != NULL ? adhoc_copy(ra, ad, err, errlen) : adhoc_script(ra, ad, err, errlen)) == -1)
		return -1;
	/* without --name: adhoc/LOGIN, named once connected (adhoc_name) */
	if (ra->name != NULL)
		snprintf(ad->name, sizeof(ad->name), "%s", ra->name);
	t->interpreter = (char *)(ra->interpreter != NULL ? ra->interpreter : "/bin/sh");
	t->run_as = (char *)ra->run_as;
	t->on_failure = BATCH_STOP;
	ad->job.name = ad->name;
	ad->job.description = (char *)"ad-hoc runs (pgfleet run --script or --copy)";
	if ((ra->name != NULL && args_name("job", ad->name, err, errlen) == -1) ||
	    field_check_as(FIELD_INTERPRETER, "--interpreter", t->interpreter, err, errlen) == -1 ||
	    (t->run_as != NULL && field_check_as(FIELD_RUN_AS, "--run-as", t->run_as, err, errlen) == -1))
		return -1;
	if (ra->timeout != NULL && (units_duration_ms(ra->timeout, &t->timeout_ms, why, sizeof(why)) == -1 ||
		t->timeout_ms < 1)) {
		snprintf(err, errlen, "--timeout: %s", t->timeout_ms < 1 ? "must be positive" : why);
		return -1;
	}
	adhoc_tasks(ad);
	return 0;
}

/* An ad-hoc run without --name is a version of adhoc/LOGIN: the database's session_user
 * (the login, not what the client says its user is). 0, CLI_USAGE, or -1 with err. */
static int
adhoc_name(struct db *db, struct adhoc *ad, char *err, size_t errlen)
{
	struct db_result *r;
	if (ad->name[0] != '\0')
		return 0;
	if (db_exec(db, &r, "SELECT session_user", 0, NULL, err, errlen) == -1)
		return -1;
	snprintf(ad->name, sizeof(ad->name), "adhoc/%.60s", db_value(r, 0, 0));
	db_result_free(r);
	if (args_name("job", ad->name, err, errlen) == -1) {
		fprintf(stderr, "pgfleet run: %s (name the job with --name)\n", err);
		return CLI_USAGE;
	}
	return 0;
}

/* The values of run's options, checked before the database is asked anything: the
 * targets and the rollout argument of pgfleet.run (the limits the flags give; the job's own
 * for the rest). */
struct run_values {
	time_t when;
	char *targets; /* malloc'd */
	char rollout[512];
};

/* ,"key":value of a flag's duration (ms, within [lo, hi]) as pgfleet.run reads it. */
static int
rollout_duration(const char *flag, const char *v, long long lo, const char *range, long long hi,
    const char *key, char *buf, size_t buflen)
{
	char err[512];
	long long ms = 0;
	int parsed = units_duration_ms(v, &ms, err, sizeof(err)) == 0;
	if (!parsed || ms < lo || ms > hi) {
		fprintf(stderr, "pgfleet run: %s: %s\n", flag, parsed ? range : err);
		return -1;
	}
	size_t n = strlen(buf);
	snprintf(buf + n, buflen - n, "%s\"%s\":\"%lld milliseconds\"", n > 1 ? "," : "", key, ms);
	return 0;
}

/* ,"waves":[...] of --waves (checked as a batch's) */
static int
rollout_waves(const char *list, char *buf, size_t buflen)
{
	char err[512];
	int waves[BATCH_MAX_WAVES], pct[BATCH_MAX_WAVES], nwaves;
	if (args_waves("--waves", list, waves, pct, BATCH_MAX_WAVES, &nwaves, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet run: %s\n", err);
		return -1;
	}
	size_t n = strlen(buf);
	n += (size_t)snprintf(buf + n, buflen - n, "%s\"waves\":[", n > 1 ? "," : "");
	for (int i = 0; i < nwaves && n < buflen; i++)
		n += (size_t)snprintf(buf + n, buflen - n, "%s\"%d%s\"", i > 0 ? "," : "", waves[i],
		    pct[i] ? "%" : "");
	if (n < buflen)
		snprintf(buf + n, buflen - n, "]");
	return 0;
}

/* The rollout argument: {} with what the flags give. CLI_OK or CLI_USAGE (said). */
static int
run_rollout(const struct run_args *ra, char *buf, size_t buflen)
{
	char err[1024], maxc[32], maxf[32];
	snprintf(buf, buflen, "{");
	if ((ra->maxc != NULL && limit_arg("--max-concurrent", ra->maxc, maxc, sizeof(maxc), err, sizeof(err)) == -1) ||
	    (ra->maxf != NULL && limit_arg("--max-failures", ra->maxf, maxf, sizeof(maxf), err, sizeof(err)) == -1)) {
		fprintf(stderr, "pgfleet run: %s\n", err);
		return CLI_USAGE;
	}
	if (ra->maxc != NULL)
		snprintf(buf + strlen(buf), buflen - strlen(buf), "\"max_concurrent\":%s", maxc);
	if (ra->maxf != NULL)
		snprintf(buf + strlen(buf), buflen - strlen(buf), "%s\"max_failures\":%s",
		    strlen(buf) > 1 ? "," : "", maxf);
	if (ra->pause != NULL && ra->waves == NULL) {
		fprintf(stderr, "pgfleet run: --pause needs --waves (the pause is between two waves)\n");
		return CLI_USAGE;
	}
	if ((ra->waves != NULL && rollout_waves(ra->waves, buf, buflen) == -1) ||
	    (ra->pause != NULL && rollout_duration("--pause", ra->pause, 0, "at most 7d",
		BATCH_MAX_SPLAY_MS, "pause", buf, buflen) == -1) ||
	    (ra->splay != NULL && rollout_duration("--splay", ra->splay, 1000,
		"give a duration from 1s to 7d", BATCH_MAX_SPLAY_MS, "splay", buf, buflen) == -1) ||
	    (ra->offline != NULL && rollout_duration("--offline-wait", ra->offline, 1000,
		"give a duration from 1s to 3650d", 3650LL * 86400000, "offline_wait", buf, buflen) == -1))
		return CLI_USAGE;
	if (ra->wake)
		snprintf(buf + strlen(buf), buflen - strlen(buf), "%s\"offline_wake\":true",
		    strlen(buf) > 1 ? "," : "");
	snprintf(buf + strlen(buf), buflen - strlen(buf), "}");
	return CLI_OK;
}

static int
run_values(const struct run_args *ra, struct run_values *v)
{
	char err[1024];
	time_t now = 0;
	memset(v, 0, sizeof(*v));
	if ((ra->job != NULL && args_name("job", ra->job, err, sizeof(err)) == -1) ||
	    args_now(&now, err, sizeof(err)) == -1 ||
	    (ra->at != NULL && args_time(ra->at, now, &v->when, err, sizeof(err)) == -1)) {
		fprintf(stderr, "pgfleet run: %s%s\n",
		    ra->at != NULL && strncmp(err, "time", 4) == 0 ? "--at: " : "", err);
		return CLI_USAGE;
	}
	int rc = run_rollout(ra, v->rollout, sizeof(v->rollout));
	if (rc != CLI_OK)
		return rc;
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

/* What the run made, on stderr, as this login may see it (a read scope may hide the job). */
static void
run_said(struct db *db, const char *id, const char *job, const struct run_args *ra)
{
	char err[1024];
	struct db_result *r = schedule_made(db, id, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "pgfleet run: schedule %s: job %s, due %s (%s)\n", id, job,
		    ra->at != NULL ? ra->at : "now", err);
		return;
	}
	fprintf(stderr, "pgfleet run: schedule %s: job %s version %s, %s event(s), due %s", id, job,
	    db_value(r, 0, 1), db_value(r, 0, 5), ra->at != NULL ? ra->at : "now");
	if (ra->splay != NULL)
		fprintf(stderr, " within %s", ra->splay);
	if (!db_isnull(r, 0, 2))
		fprintf(stderr, ", max_concurrent %s", db_value(r, 0, 2));
	if (!db_isnull(r, 0, 3) || !db_isnull(r, 0, 4))
		fprintf(stderr, ", max_failures %s%s", db_isnull(r, 0, 3) ? db_value(r, 0, 4) : db_value(r, 0, 3),
		    db_isnull(r, 0, 3) ? "%" : "");
	if (!db_isnull(r, 0, 7))
		fprintf(stderr, ", waves %s", db_value(r, 0, 7));
	fputc('\n', stderr);
	db_result_free(r);
}

/* The job or a computer or group of --on missing, said in this command's words: 1; 0: none. */
static int
run_refused(struct db *db, const char *job, const char *targets, int adhoc, char *err, size_t errlen)
{
	struct db_result *r;
	const char *pj[2] = {job, targets};
	if (db_exec(db, &r,
		"SELECT EXISTS (SELECT 1 FROM pgfleet.job_list WHERE name = $1),"
		" (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text($2::jsonb->'computers') x"
		"  WHERE x NOT IN (SELECT name FROM pgfleet.computer_list)),"
		" (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text($2::jsonb->'groups') x"
		"  WHERE x NOT IN (SELECT name FROM pgfleet.group_list))",
		2, pj, err, errlen) == -1)
		return -1;
	int bad = (!adhoc && strcmp(db_value(r, 0, 0), "t") != 0) || !db_isnull(r, 0, 1) || !db_isnull(r, 0, 2);
	if (!adhoc && strcmp(db_value(r, 0, 0), "t") != 0)
		fprintf(stderr, "pgfleet run: job \"%s\" does not exist (pgfleet job list)\n", job);
	if (!db_isnull(r, 0, 1))
		fprintf(stderr, "pgfleet run: --on: no such computer: %s\n", db_value(r, 0, 1));
	if (!db_isnull(r, 0, 2))
		fprintf(stderr, "pgfleet run: --on: no such group: %s\n", db_value(r, 0, 2));
	db_result_free(r);
	return bad;
}

/* pgfleet.run, after an ad-hoc run's version (pgfleet.submit), in one transaction: the new
 * schedule's id into id, CLI_OK; or an exit code, said. */
static int
run_call(struct db *db, const struct run_args *ra, const struct run_values *v, struct adhoc *ad,
    char *id, size_t idlen)
{
	char err[1024], due[32];
	struct db_result *r;
	int adhoc = ra->job == NULL, refused;
	if (db_begin(db, err, sizeof(err)) == -1)
		return cmdutil_api_error(db, "run", err);
	int rc = adhoc ? adhoc_name(db, ad, err, sizeof(err)) : 0;
	const char *job = adhoc ? ad->name : ra->job;
	if (rc == 0 && (refused = run_refused(db, job, v->targets, adhoc, err, sizeof(err))) != 0)
		rc = refused == -1 ? -1 : CLI_USAGE;
	if (rc == 0 && adhoc && apply_job_tasks(db, &ad->job, err, sizeof(err)) == -1)
		rc = -1;
	snprintf(due, sizeof(due), "%lld", (long long)v->when);
	const char *p[4] = {job, v->targets, ra->at != NULL ? due : NULL, v->rollout};
	if (rc == 0 && db_exec(db, &r,
		"SELECT pgfleet.run($1, $2::jsonb, coalesce(to_timestamp($3::float8), now()), $4::jsonb)",
		4, p, err, sizeof(err)) == -1) {
		if (strcmp(db_sqlstate(db), "P0002") == 0) {
			fprintf(stderr, "pgfleet run: --on %s: matches no enabled computer; nothing scheduled\n",
			    ra->on);
			rc = CLI_USAGE;
		} else {
			rc = -1;
		}
	}
	if (rc == 0) {
		snprintf(id, idlen, "%s", db_value(r, 0, 0));
		db_result_free(r);
		if (db_commit(db, err, sizeof(err)) == -1)
			rc = -1;
	}
	if (rc == -1)
		rc = cmdutil_api_error(db, "run", err);
	if (rc != 0 && db_in_transaction(db))
		(void)db_rollback(db, err, sizeof(err));
	return rc;
}

int
cmd_run(int argc, char **argv)
{
	struct run_args ra;
	struct run_values v;
	struct adhoc ad;
	char err[1024], id[32];
	int rc = run_parse(argc, argv, &ra);
	if (rc != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	int adhoc = ra.script != NULL || ra.script_file != NULL || ra.copy != NULL;
	memset(&ad, 0, sizeof(ad));
	if (adhoc && adhoc_build(&ra, &ad, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet run: %s\n", err);
		adhoc_free(&ad);
		return CLI_USAGE;
	}
	if ((rc = run_values(&ra, &v)) != CLI_OK) {
		adhoc_free(&ad);
		return rc;
	}
	struct db *db = cmdutil_open("run");
	rc = db == NULL ? CLI_ERROR : run_call(db, &ra, &v, &ad, id, sizeof(id));
	if (rc == CLI_OK) {
		run_said(db, id, adhoc ? ad.name : ra.job, &ra);
		rc = finish(db, "run", id, ra.wait);
	}
	db_close(db);
	free(v.targets);
	adhoc_free(&ad);
	return rc;
}

int
cmd_retry(int argc, char **argv)
{
	const char *sid = NULL;
	struct retry_args ra = {0};
	char err[1024];
	int rc = cmdutil_id_arg(&retry_cmd, argc, argv, &ra, "schedule", &sid);
	if (rc != 0)
		return opts_exit(rc);
	if (!ra.failed) {
		fprintf(stderr, "pgfleet retry: say what to retry: --failed\n");
		return CLI_USAGE;
	}
	rc = CLI_ERROR;
	struct db_result *r = NULL;
	struct db *db = cmdutil_open("retry");
	if (db == NULL)
		return CLI_ERROR;
	const char *ps[1] = {sid};
	if (db_begin(db, err, sizeof(err)) == -1 ||
	    db_exec(db, &r, "SELECT pgfleet.retry($1, true)", 1, ps, err, sizeof(err)) == -1)
		goto dberr;
	if (db_isnull(r, 0, 0)) {
		fprintf(stderr, "pgfleet retry: schedule %s has no failed event: nothing to retry\n", sid);
		rc = CLI_OK;
		goto rollback;
	}
	char id[32];
	snprintf(id, sizeof(id), "%s", db_value(r, 0, 0));
	db_result_free(r);
	r = NULL;
	if (db_commit(db, err, sizeof(err)) == -1)
		goto dberr;
	if ((r = schedule_made(db, id, err, sizeof(err))) == NULL)
		fprintf(stderr, "pgfleet retry: schedule %s: of schedule %s's failed ones (%s)\n", id, sid,
		    err);
	else
		fprintf(stderr, "pgfleet retry: schedule %s: job %s version %s, %s event(s) of schedule "
				"%s's failed ones\n",
		    id, db_value(r, 0, 0), db_value(r, 0, 1), db_value(r, 0, 5), sid);
	db_result_free(r);
	r = NULL;
	rc = finish(db, "retry", id, ra.wait);
	goto out;
dberr:
	rc = cmdutil_api_error(db, "retry", err);
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
	const char *id;
	char err[1024];
	int rc = cmdutil_id_arg(&cancel_cmd, argc, argv, NULL, "schedule", &id);
	if (rc != 0)
		return opts_exit(rc);
	struct db *db = cmdutil_open("cancel");
	if (db == NULL)
		return CLI_ERROR;
	struct db_result *r = NULL;
	rc = CLI_ERROR;
	const char *p[1] = {id};
	if (db_exec(db, &r, "SELECT was, cancelled, still_running FROM pgfleet.cancel($1)", 1, p, err,
		sizeof(err)) == -1) {
		rc = cmdutil_api_error(db, "cancel", err);
		goto out;
	}
	if (strcmp(db_value(r, 0, 0), "pending") != 0 && strcmp(db_value(r, 0, 0), "running") != 0 &&
	    strcmp(db_value(r, 0, 0), "halted") != 0) {
		printf("schedule %s already ended (%s): nothing to cancel\n", id, db_value(r, 0, 0));
		rc = CLI_OK;
		goto out;
	}
	printf("schedule %s cancelled: %s pending event(s) cancelled", id, db_value(r, 0, 1));
	if (atoll(db_value(r, 0, 2)) > 0)
		printf(", %s running event(s) stop when their scheduler cancels them", db_value(r, 0, 2));
	printf("\n");
	rc = CLI_OK;
out:
	db_result_free(r);
	db_close(db);
	return rc;
}

/* pgfleet resume|abort SCHEDULE_ID */
static int
rollout_command(const char *cmd, int argc, char **argv)
{
	const char *id;
	char err[1024];
	int rc = cmdutil_id_arg(strcmp(cmd, "resume") == 0 ? &resume_cmd : &abort_cmd, argc, argv, NULL, "schedule",
	    &id);
	if (rc != 0)
		return opts_exit(rc);
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[1] = {id};
	struct db_result *r;
	rc = CLI_ERROR;
	if (db_exec(db, &r,
		strcmp(cmd, "resume") == 0 ? "SELECT was, resumed::int FROM pgfleet.resume($1)"
					   : "SELECT was, aborted FROM pgfleet.abort($1)",
		1, p, err, sizeof(err)) == -1) {
		rc = cmdutil_api_error(db, cmd, err);
		db_close(db);
		return rc;
	}
	if (strcmp(cmd, "resume") == 0) {
		if (strcmp(db_value(r, 0, 1), "1") == 0) {
			printf("schedule %s resumed\n", id);
			rc = CLI_OK;
		} else {
			fprintf(stderr, "pgfleet resume: schedule %s is %s, not halted: nothing to resume\n",
			    id, db_value(r, 0, 0));
			rc = CLI_USAGE;
		}
	} else if (strcmp(db_value(r, 0, 1), "-1") == 0) {
		printf("schedule %s already ended (%s): nothing to abort\n", id, db_value(r, 0, 0));
		rc = CLI_OK;
	} else {
		printf("schedule %s aborted: %s waiting event(s) ended (-33)\n", id, db_value(r, 0, 1));
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
