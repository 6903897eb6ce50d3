/*
 * session: one claimed event as a state machine on the worker's event loop:
 * load the job and computer, render each task, push it to the agent over TLS
 * (one control connection for all tasks of the event), read 2500, 2501 and the
 * result, decide what comes next, retry an unreachable agent with backoff.
 * Every status is queued on the worker's record; the session ends by queueing
 * the event's end and calling env->on_end, after which the owner frees it.
 */
#ifndef PGFLEET_SESSION_H
#define PGFLEET_SESSION_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "common/ipc.h"
#include "worker/render.h"

struct event_base;
struct db;
struct record;
struct conf_scheduler;
struct transfer_keys;
struct session;

struct session_env {
	struct event_base *base;
	struct db *db;
	struct record *rec;
	const struct conf_scheduler *conf;
	const char *owner;
	SSL_CTX *client_ctx;
	struct transfer_keys *keys;
	int transfer_port;
	struct render_policy policy;
	/* recorded: 1 when the event's end was queued on rec, 0 when the event
	 * was not ours any more and nothing was written */
	void (*on_end)(struct session *s, int recorded, void *arg);
	void *arg;
};

/* Start an event; NULL only when out of memory (the event is then ended failed). */
struct session *session_start(struct session_env *env, const struct ipc_event *ev);
/* Operator cancel: Request=Cancel to the agent, or end at once when nothing runs. */
void session_cancel(struct session *s);
/*
 * NEXT_TASK_SEQ of the event is written (with the previous task's result): push that
 * task. Ignored unless the session waits for exactly this.
 */
void session_advanced(struct session *s, int next_task_seq);
/*
 * The event's lease moved on (another attempt or scheduler): close the agent
 * connection, write nothing more, and call env->on_end with recorded 0.
 */
void session_abandon(struct session *s);
int64_t session_event_id(const struct session *s);
/* The attempt this session runs the event under. */
int session_attempt(const struct session *s);
void session_free(struct session *s);

#endif
