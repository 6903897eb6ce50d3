/*
 * session_db: what one session reads from the database, synchronously on the
 * worker's connection: the event's job, tasks, on_code maps and computer
 * (under our lease and attempt), and the custom tokens of a script. The
 * session's state machine (session.c) never sees SQL. session_db_load fills a
 * struct session_job the caller empties with session_job_clear.
 */
#ifndef PGFLEET_SESSION_DB_H
#define PGFLEET_SESSION_DB_H

#include <stddef.h>
#include <stdint.h>

#include "worker/outcome.h"
#include "worker/render.h"

struct db;

struct session_task {
	int seq;
	char *script;
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
	char *copy_dest;     /* a copy-file task's destination; NULL: a script */
	int copy_mode;
};

struct session_computer {
	char *name, *host, *os, *ip, *mac, *serial, *asset_tag, *domain, *domain_ou, *dept,
	    *contact, *email;
};

struct session_job {
	char *job_name, *job_user;
	struct session_computer comp;
	struct session_task *tasks;
	int ntasks;
	int next_task_seq;  /* the database's NEXT_TASK_SEQ */
	long long due_ms;   /* the event's due_at, ms since the epoch (for the metrics) */
};

/*
 * Load event_id running under owner in attempt. 0, 1 when it no longer runs
 * under our lease in that attempt (err says so), -1 on a database error.
 */
int session_db_load(struct db *db, const char *owner, int64_t event_id, int attempt,
    struct session_job *job, char *err, size_t errlen) __attribute__((warn_unused_result));
void session_job_clear(struct session_job *job);

/* A custom token's lookup for render_script: arg is a struct session_db_lookup. */
struct session_db_lookup {
	struct db *db;
	const char *computer_id;   /* decimal */
	const char *event_id;      /* decimal, for logs */
	long long deadline_ms;     /* monotonic: the task's custom tokens end by then */
	long long timeout_ms;      /* tokens.sql_timeout, for the error text */
};
int session_db_token(void *arg, enum render_lookup kind, const char *table, const char *column,
    const char *sql, char **value, char *err, size_t errlen);

#endif
