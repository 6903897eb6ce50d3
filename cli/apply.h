/*
 * apply: write a validated job batch (cli/batch.h) to the database in one transaction,
 * through pgfleet.submit (docs/sql-api.md): maintenance windows, groups, computers and
 * memberships, jobs with versioned tasks, their windows and chains, and their schedules. Nothing here allocates what the caller frees; a
 * report of each change goes to out.
 */
#ifndef PGFLEET_APPLY_H
#define PGFLEET_APPLY_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct db;
struct batch;
struct batch_job;
struct yt_errors;

struct apply_opts {
	int dry_run;         /* check and report, write nothing (a READ ONLY transaction) */
	int inventory_only;  /* computers and groups only: `pgfleet computer import` */
};

struct apply_stats {
	int computers_added, computers_changed;
	int groups_added, groups_changed;
	int jobs_added, jobs_changed;
	int schedules_created, schedules_superseded;
	long long events;
	char sqlstate[6];    /* of pgfleet.submit's failure, when apply_batch returned -1 */
};

/*
 * Apply b. Returns 0 (committed, or rolled back after a dry run); 1 when a target computer,
 * a window or a job run after is neither in the file nor in the database, a time zone is
 * not PostgreSQL's, or a job would run after itself: every such error in errs, nothing written;
 * -1 when the database failed or pgfleet.submit refused the batch (db_sqlstate tells),
 * with the reason in err, nothing written.
 */
int apply_batch(struct db *db, const struct batch *b, const struct apply_opts *o,
    struct apply_stats *st, struct yt_errors *errs, FILE *out, char *err, size_t errlen);

/*
 * The job j (name, description, tasks; no plan) as `pgfleet run --script` makes it, through
 * pgfleet.submit (tasks_only) in the caller's transaction, serialised with submits: added
 * at version 1, or given a new version when its tasks differ from its current ones (the
 * same script twice reuses the version). Its plan, windows, chains and schedules are left
 * alone. 0, or -1 with err (db_sqlstate tells a refusal).
 */
int apply_job_tasks(struct db *db, const struct batch_job *j, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * When a new schedule of the job first runs, as of now: the schedule's at (or now),
 * moved to the first occurrence at or after now for every; for cron, the first
 * occurrence at or after a future at, else the first one strictly after now. Returns 0, or -1 when
 * no run starts before until (nothing to schedule).
 */
int apply_first_due(const struct batch_job *j, time_t now, time_t *due);
/*
 * 1 when the new schedule is due at the database's now() itself (at: now, or no at, and
 * no cron); 0 when it is due at apply_first_due's time, which a cron schedule always is:
 * its first run is its first occurrence, never the moment of the submit.
 */
int apply_due_now(const struct batch_job *j);

#endif
