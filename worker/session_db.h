/*
 * session_db: what sessions read from the database, never blocking the loop
 * (common/dbq.c). The rows of the events handed over are loaded in one query
 * per turn of the loop (every event that arrived in it); their job
 * definitions come from the job cache (worker/jobcache.c), the ones a batch
 * misses loaded together in one more unit; custom tokens are looked up one
 * after another, each in a read-only transaction with the statement timeout
 * of docs/tokens.md, on a connection of their own, so that a slow token
 * never holds up the loads and status writes of other sessions. The session's
 * state machine (session.c) never sees SQL.
 *
 * Ownership: session_db_new's struct is freed by session_db_free (after the
 * sessions). A load's handle is valid until its callback ran or it was
 * forgotten. The callback's job becomes the session's by moving it (the
 * struct is emptied after the callback); session_job_clear empties one and
 * gives its job definition back. Lookups belong to their session:
 * session_lookups_clear frees them and drops the one in flight.
 */
#ifndef PGFLEET_SESSION_DB_H
#define PGFLEET_SESSION_DB_H

#include <stddef.h>
#include <stdint.h>

#include "worker/jobcache.h"
#include "worker/render.h"

struct event_base;
struct dbq;
struct dbq_unit;
struct session_db;
struct session_load;

struct session_computer {
	char *name, *host, *os, *ip, *mac, *serial, *asset_tag, *domain, *domain_ou, *dept,
	    *contact, *email;
	/* from the agent's facts; nic_macs and nic_ips comma-separated in NIC order */
	char *compname, *nodename, *model, *dns_search, *nic_macs, *nic_ips;
};

struct session_job {
	char *job_name, *job_user;
	struct session_computer comp;
	const struct jobdef *def;      /* held (jobcache) */
	const struct job_task *tasks;  /* def's, by seq */
	int ntasks;
	int next_task_seq;  /* the database's NEXT_TASK_SEQ */
	long long due_ms;   /* the event's due_at, ms since the epoch (for the metrics) */
};

/*
 * main: loads (the worker's connection, shared with its status writes); tokens: custom
 * token lookups; owner: the lease owner (kept by pointer).
 */
struct session_db *session_db_new(struct event_base *base, struct dbq *main, struct dbq *tokens,
    const char *owner);
void session_db_free(struct session_db *sdb);
/* The statement that loads a batch of events ($1 ids, $2 owner, $3 attempts): for the
 * plan tests (tests/tools/sql.c). */
const char *session_db_load_sql(void);

/*
 * rc 0: job is filled (move it to keep it); 1: the event no longer runs under our
 * lease in that attempt; -1: the database refused the load; err says why.
 */
typedef void session_loaded_fn(void *arg, int rc, struct session_job *job, const char *err);

/*
 * Load event_id, running under our lease in attempt. cb runs from the loop, later:
 * never inside this call. NULL only when out of memory.
 */
struct session_load *session_db_load(struct session_db *sdb, int64_t event_id, int attempt,
    session_loaded_fn *cb, void *arg);
/* The session is going away: its callback will not run. */
void session_db_forget(struct session_db *sdb, struct session_load *l);
void session_job_clear(struct session_db *sdb, struct session_job *job);
/* Loads of event rows and of job definitions sent so far (for the log and the tests). */
void session_db_counts(const struct session_db *sdb, long long *event_units, long long *job_units);

/* One custom token to look up. */
struct session_lookup {
	enum render_lookup kind;
	char *table, *column, *sql;
	char *value;
};

/*
 * The custom tokens of one task: render_script collects them with
 * session_lookups_collect (every value missing), session_lookups_start looks them up
 * in order, then render_script runs again with session_lookups_replay, which gives
 * the values (or the first failure, as the error of that token). Zero it to start.
 */
struct session_lookups {
	struct session_lookup *v;
	int n, cap;
	int next;             /* the next to look up */
	int replayed;         /* the next to replay */
	int failed;           /* the one that failed, or -1 */
	char err[600];
	long long deadline_ms;
	long long timeout_ms;
	const char *computer_id; /* decimal, kept by pointer */
	const char *event_id;    /* decimal, for logs */
	struct session_db *sdb;
	struct dbq_unit *unit;   /* in flight */
	void (*done)(void *arg);
	void *arg;
};

/* render_lookup_fn: arg is a struct session_lookups. */
int session_lookups_collect(void *arg, enum render_lookup kind, const char *table,
    const char *column, const char *sql, char **value, char *err, size_t errlen);
int session_lookups_replay(void *arg, enum render_lookup kind, const char *table,
    const char *column, const char *sql, char **value, char *err, size_t errlen);
/*
 * Look up what was collected, within timeout_ms in all (tokens.sql_timeout); done(arg)
 * from the loop once every value is in or one failed (lk->failed).
 */
void session_lookups_start(struct session_db *sdb, struct session_lookups *lk,
    long long timeout_ms, void (*done)(void *arg), void *arg);
/* Free them (a lookup in flight is dropped, its callback never runs); zeroed after. */
void session_lookups_clear(struct session_lookups *lk);

#endif
