/*
 * record: a worker's batched writes to PostgreSQL: status rows, NEXT_TASK_SEQ
 * advances and event ends, applied in the order queued, many per transaction,
 * one transaction at a time, sent without waiting (common/dbq.c): the hooks run
 * from the loop once it committed.
 * Each is written only while its event runs under our lease in the attempt it
 * names; what is not is dropped, logged and reported to the owner (lost). A
 * second final row for one (event, task, attempt) is not written (0011).
 * A failed flush rolls back and keeps everything queued for the next try, so a
 * reply the worker holds is never lost. The queue is bounded: past
 * RECORD_MAX_QUEUED operations or RECORD_MAX_BYTES of text (the database away
 * for long, an agent flooding progress), progress rows (those without an
 * outcome) are dropped and counted; results, advances and ends are always kept. Each flush sends one NOTIFY on
 * pgfleet_progress naming the schedules it touched (for `pgfleet status --watch`).
 * (computer.last_seen is the scheduler parent's, with agent_presence.) The record owns its queue;
 * strings given to it are copied.
 */
#ifndef PGFLEET_RECORD_H
#define PGFLEET_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct dbq;
struct record;

#define RECORD_MAX_QUEUED 50000
#define RECORD_MAX_BYTES (64LL * 1024 * 1024)

struct record_row {
	int64_t event_id;
	int64_t schedule_id;
	int64_t computer_id;
	int task_seq;
	int attempt;
	int status_code;
	const char *result;  /* "Success", "Failed" or NULL: what the agent said */
	const char *outcome; /* "Success", "Failed" or NULL: what pgfleet decided */
	const char *module;  /* Status-Module or NULL */
	const char *message; /* Error text or NULL */
	const char *output;  /* captured output (may hold any bytes) or NULL */
	size_t output_len;
	long long output_size; /* bytes the script wrote before the agent's cap; -1: output_len */
	int replayed;          /* 1: the agent answered from its journal (Replayed=1) */
};

/* What the owner hears after a flush committed (each may be NULL). */
struct record_hooks {
	/* The end of an event; applied is 0 when the lease was no longer ours (another
	 * scheduler or another attempt took the event over). In queue order; nothing may
	 * be queued from inside it. */
	void (*finished)(int64_t event_id, int attempt, int status_code, int failed, int applied,
	    void *arg);
	/* Once per (event, attempt) whose status rows or advance were dropped because the
	 * event no longer runs under our lease in that attempt: whoever runs it must stop. */
	void (*lost)(int64_t event_id, int attempt, void *arg);
	/* NEXT_TASK_SEQ of the event is written under our lease: its next task may start. */
	void (*advanced)(int64_t event_id, int attempt, int next_task_seq, void *arg);
	/* A hand-back (record_requeue) was written: the event is pending again (applied 0:
	 * the lease was not ours any more). In queue order with the ends. */
	void (*requeued)(int64_t event_id, int attempt, int applied, void *arg);
	/* A status row was queued with nothing out and none sent or answered for
	 * RECORD_IDLE_MS: the caller may write it at once (an idle worker's rows then carry
	 * the moment they came, not the next tick's; a busy one's still go together). May
	 * be NULL. */
	void (*idle)(void *arg);
};

#define RECORD_IDLE_MS 20

/* hooks is copied; db and owner are kept by pointer. */
struct record *record_new(struct dbq *db, const char *owner, const struct record_hooks *hooks,
    void *arg);
/* After the dbq (whose units may point here) is freed. */
void record_free(struct record *r);
/* Queue; -1 only when out of memory, 1 when a progress row was dropped (queue full). */
int record_status(struct record *r, const struct record_row *row);
int record_advance(struct record *r, int64_t event_id, int64_t schedule_id, int attempt,
    int next_task_seq);
/* state: "done", "failed" or "cancelled". */
int record_finish(struct record *r, int64_t event_id, int64_t schedule_id, int attempt,
    const char *state, int status_code);
/*
 * Hand a running event back, pending (its agent's connection is gone): the same
 * attempt, or the next one (bump) when a task was in flight. Ordered with the ends.
 */
int record_requeue(struct record *r, int64_t event_id, int64_t schedule_id, int attempt, int bump);
/*
 * Send everything queued as one transaction, unless one is out already, nothing is
 * queued, or the last one failed less than retry_ms ago (now_ms: clock_mono_ms).
 * Returns 1 when a transaction went out. Its outcome reaches the hooks (committed)
 * or the log (failed: everything stays queued).
 */
int record_flush(struct record *r, long long now_ms, long long retry_ms);
/* Operations not yet written (those of the transaction out included). */
int record_pending(const struct record *r);
/* Advances queued and not yet sent: each holds a session's next task back. */
int record_advances_waiting(const struct record *r);
/* 1 while a transaction is out. */
int record_busy(const struct record *r);
/* The queue's bounds (default RECORD_MAX_QUEUED and RECORD_MAX_BYTES). */
void record_set_limits(struct record *r, int max_queued, long long max_bytes);
/* Progress rows dropped because the queue was full, since the start. */
long long record_dropped(const struct record *r);

/* status_log.output_size of a row: output_size, else output_len; at most INT32_MAX (an int column). */
long long record_output_size(const struct record_row *row);

/*
 * The agent's Output-Size header (bytes the script wrote, before the cap) for a body of
 * body_len bytes: the number, or -1 when absent, not a plain decimal, or below body_len.
 */
long long record_parse_output_size(const char *value, size_t body_len);

/* Make bytes safe for a text column: NUL and invalid UTF-8 become U+FFFD. malloc'd. */
char *record_text(const char *s, size_t len);

/* The status rows' statement ($1 ids ... $14 owner): for the plan tests (tests/tools/sql.c). */
const char *record_insert_sql(void);

#endif
