/*
 * jobcache: the worker's job definitions (tasks, on_code maps, success codes,
 * task types with a copy's destination and mode, retry counts)
 * by (job_id, version). A version's tasks never change once a schedule runs
 * them, so a fan-out of one job to N computers loads them once. Entries that
 * no session holds are kept up to a count, least recently used first out, and
 * dropped once unused for a while (a version edited by hand is read again).
 * Pure: no database; "now" is the caller's.
 * Ownership: jobcache_put takes the tasks over; a definition from get or put
 * is held (a reference) until jobcache_release; jobcache_free frees every
 * entry, held or not (the worker frees it last).
 */
#ifndef PGFLEET_JOBCACHE_H
#define PGFLEET_JOBCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/outcome.h"

struct job_task {
	int seq;
	char *script;        /* a copy-file task's bytes may hold NUL: script_len counts them */
	size_t script_len;
	char *interpreter;
	char *run_as;
	long long timeout_ms;
	int *success;
	size_t nsuccess;
	struct outcome_map *on_code;
	size_t non_code;
	int on_failure_continue;
	char *os_required;
	char *boot_env;
	int copy;            /* task.type copy_file: the script is a file sent as it is */
	char *copy_dest;     /* a copy-file task's destination (Destination); NULL: a script */
	int copy_mode;       /* and its mode (Mode) */
	char *copy_owner;    /* and its owner (Owner); NULL: the run-as user */
	int retry_count;     /* retries the database grants the task (0021): for the log only */
};

struct jobdef {
	int64_t job_id;
	int version;
	const struct job_task *tasks; /* by seq */
	int ntasks;
};

struct jobcache;

/* max_unused: entries no session holds that are kept; idle_ms: how long one is. */
struct jobcache *jobcache_new(int max_unused, long long idle_ms);
void jobcache_free(struct jobcache *c);
/* The definition, held, or NULL when not cached (or unused past idle_ms: dropped). */
const struct jobdef *jobcache_get(struct jobcache *c, int64_t job_id, int version, long long now_ms);
/*
 * Store what was loaded (tasks, ntasks taken over) and return it held: it replaces an
 * entry of that key no one holds; one held stays (and tasks are freed). NULL only
 * when out of memory (tasks freed).
 */
const struct jobdef *jobcache_put(struct jobcache *c, int64_t job_id, int version,
    struct job_task *tasks, int ntasks, long long now_ms);
/* Give a definition back; NULL is fine. */
void jobcache_release(struct jobcache *c, const struct jobdef *d, long long now_ms);
/* Entries held in memory, and of them the ones no session holds. */
int jobcache_size(const struct jobcache *c);
int jobcache_unused(const struct jobcache *c);

/* Free what one task holds (for a loader whose tasks never reached the cache). */
void job_task_clear(struct job_task *t);

#endif
