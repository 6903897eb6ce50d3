/*
 * session: one claimed event as a state machine on the worker's event loop,
 * on the connection its computer's agent opened (worker/link.c): load the job
 * and computer (session_db.c, asynchronously), render each task (its custom
 * tokens looked up asynchronously too), push it down the connection
 * (one Request=SendFile built by sendfile.c), take 2500, 2501 and the result
 * as the worker hands them over, decide what comes next. A lost connection
 * hands the event back (pending) for whichever scheduler the computer
 * connects to next. Every status is queued on the worker's record; the
 * session ends by queueing the event's end (or its hand-back) and calling
 * env->on_end, after which the owner frees it.
 */
#ifndef PGFLEET_SESSION_H
#define PGFLEET_SESSION_H

#include <stdint.h>

#include "common/ipc.h"
#include "worker/render.h"

struct event_base;
struct session_db;
struct record;
struct conf_scheduler;
struct transfer_keys;
struct link;
struct pushq;
struct wire_msg;
struct session;

struct session_env {
	struct event_base *base;
	struct session_db *sdb;
	struct record *rec;
	const struct conf_scheduler *conf;
	const char *owner;
	struct transfer_keys *keys;
	struct pushq *pushq;  /* the worker's window of pushes not fetched yet (pushq.h) */
	int transfer_port;
	struct render_policy policy;
	/* recorded: 1 when the event's end (or hand-back) was queued on rec, 0 when the
	 * event was not ours any more and nothing was written */
	void (*on_end)(struct session *s, int recorded, void *arg);
	void *arg;
};

/*
 * Start an event on link (NULL: the computer's connection is gone already: the
 * event is handed back). NULL only when out of memory.
 */
struct session *session_start(struct session_env *env, const struct ipc_event *ev,
    struct link *link);
/* A push that waited for its slot in env->pushq has it: the pushq's go(). */
void session_dequeued(void *owner);
/* Operator cancel: Request=Cancel to the agent, or end at once when nothing runs. */
void session_cancel(struct session *s);
/*
 * NEXT_TASK_SEQ of the event is written (with the previous task's result): push that
 * task. Ignored unless the session waits for exactly this.
 */
void session_advanced(struct session *s, int next_task_seq);
/*
 * The event's lease moved on (another attempt or scheduler): write nothing
 * more, and call env->on_end with recorded 0.
 */
void session_abandon(struct session *s);
/*
 * Whether a reply about (event_id, seq) on link is this session's to take;
 * attempt: the reply's Attempt, -1 when it had none (then any attempt), -2 when invalid.
 */
int session_matches(const struct session *s, const struct link *link, int64_t event_id, int seq,
    long long attempt);
/* A reply session_matches said is ours: Reply=StatusUpdate, SendFile, Cancel or Error. */
void session_reply(struct session *s, const struct wire_msg *m);
/*
 * The session's connection is closing: code 0 when it was lost (the event is
 * handed back; a task in flight costs an attempt), else the status the task in
 * flight fails with (a malformed or too slow message).
 */
void session_link_gone(struct session *s, int code, const char *why);
struct link *session_link(const struct session *s);
int64_t session_event_id(const struct session *s);
/* The attempt this session runs the event under. */
int session_attempt(const struct session *s);
void session_free(struct session *s);

#endif
