/*
 * worker: a forked worker process. Its own database connection (opened here,
 * after the fork), its own transfer listener on a port of transfer.port_range,
 * and one libevent loop carrying every session. Status writes are batched by
 * record and flushed on a short timer; an event's end reaches the parent only
 * after the transaction that wrote it committed.
 */
#include "worker/worker.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/conf.h"
#include "common/db.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/tls.h"
#include "transfer/keys.h"
#include "transfer/serve.h"
#include "worker/record.h"
#include "worker/session.h"

#define FLUSH_MS 20
#define FLUSH_RETRY_MS 1000
#define PRUNE_MS 10000

struct worker {
	const struct conf_scheduler *conf;
	char procname[32];
	struct event_base *base;
	struct bufferevent *ipc;
	struct db *db;
	struct record *rec;
	SSL_CTX *client_ctx, *server_ctx;
	struct transfer_keys *keys;
	struct transfer_serve *serve;
	struct session_env env;
	struct session **sessions;
	int nsessions;
	struct event *flush_timer;  /* persistent: writes what is queued every FLUSH_MS */
	struct timeval retry_at;    /* after a failed flush, not before this */
	struct event *prune_timer;
	struct event *sig_term;
	int draining;
	int stopping;
	struct render_table *tables;
};

static void
worker_send(struct worker *w, uint32_t type, const void *p, size_t len)
{
	if (ipc_compose(bufferevent_get_output(w->ipc), type, p, len) == -1)
		fatalx("ipc: cannot compose message type %u", type);
}

/* Write at once (an event ended), instead of at the next tick. */
static void
worker_flush_now(struct worker *w)
{
	event_active(w->flush_timer, EV_TIMEOUT, 0);
}

static void
worker_maybe_exit(struct worker *w)
{
	if ((w->draining || w->stopping) && w->nsessions == 0 && record_pending(w->rec) == 0)
		event_base_loopexit(w->base, NULL);
}

static void
free_session_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_free(arg);
}

/* A session queued its end; it is freed on the next loop turn (we are inside
 * its own callback) and the parent hears of it once the end is written. */
static void
on_session_end(struct session *s, int recorded, void *arg)
{
	struct worker *w = arg;
	if (!recorded) {
		struct ipc_done d = {.event_id = session_event_id(s), .failed = 1,
		    .attempt = session_attempt(s)};
		worker_send(w, IPC_DONE, &d, sizeof(d));
	}
	for (int i = 0; i < w->nsessions; i++) {
		if (w->sessions[i] == s) {
			w->sessions[i] = w->sessions[--w->nsessions];
			break;
		}
	}
	struct timeval zero = {0, 0};
	if (event_base_once(w->base, -1, EV_TIMEOUT, free_session_cb, s, &zero) == -1)
		fatalx("event_base_once failed");
	worker_flush_now(w);
}

/* The end of an event is durable: tell the parent. */
static void
on_recorded(int64_t event_id, int attempt, int status_code, int failed, int applied, void *arg)
{
	struct worker *w = arg;
	(void)applied;
	struct ipc_done d = {.event_id = event_id, .status_code = status_code, .failed = failed,
	    .attempt = attempt};
	worker_send(w, IPC_DONE, &d, sizeof(d));
}

/* A session's next task may start: its previous result is written under our lease. */
static void
on_advanced(int64_t event_id, int attempt, int next_task_seq, void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->nsessions; i++) {
		struct session *s = w->sessions[i];
		if (session_event_id(s) == event_id && session_attempt(s) == attempt) {
			session_advanced(s, next_task_seq);
			return;
		}
	}
}

/* Writes of this attempt were dropped: the lease moved on, so its session stops here
 * rather than push the next task or end an event that is not ours. */
static void
on_lost(int64_t event_id, int attempt, void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->nsessions; i++) {
		struct session *s = w->sessions[i];
		if (session_event_id(s) == event_id && session_attempt(s) == attempt) {
			session_abandon(s);
			return;
		}
	}
}

static void
worker_flush(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char err[512];
	struct timeval now;
	(void)fd;
	(void)what;
	if (record_pending(w->rec) == 0) {
		worker_maybe_exit(w);
		return;
	}
	evutil_gettimeofday(&now, NULL);
	if (evutil_timercmp(&now, &w->retry_at, <))
		return;
	if (record_flush(w->rec, err, sizeof(err)) == -1) {
		/* kept queued: nothing the agents told us is lost */
		log_warnx("database: %s; %d changes kept for the next try", err, record_pending(w->rec));
		struct timeval delay = {FLUSH_RETRY_MS / 1000, (FLUSH_RETRY_MS % 1000) * 1000};
		evutil_timeradd(&now, &delay, &w->retry_at);
		return;
	}
	worker_maybe_exit(w);
}

static void
worker_prune(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	transfer_keys_prune(w->keys);
}

static void
worker_event(struct worker *w, const struct ipc_event *ev)
{
	if (w->draining || w->stopping) {
		struct ipc_event_ref ref = {ev->event_id};
		worker_send(w, IPC_RELEASED, &ref, sizeof(ref));
		return;
	}
	for (int i = 0; i < w->nsessions; i++) {
		struct session *old = w->sessions[i];
		if (session_event_id(old) != ev->event_id)
			continue;
		if (session_attempt(old) == ev->attempt)
			return; /* already ours */
		/* claimed again (its lease ran out meanwhile): the new attempt replaces the old,
		 * whose writes the database would refuse; the parent holds the new one only */
		log_warnx("event %" PRId64 ": attempt %d replaces attempt %d", ev->event_id,
		    (int)ev->attempt, session_attempt(old));
		w->sessions[i] = w->sessions[--w->nsessions];
		session_free(old);
		break;
	}
	struct session **v = realloc(w->sessions, (size_t)(w->nsessions + 1) * sizeof(*v));
	if (v == NULL)
		fatalx("out of memory");
	w->sessions = v;
	struct session *s = session_start(&w->env, ev);
	if (s == NULL)
		fatalx("out of memory");
	w->sessions[w->nsessions++] = s;
}

static void
worker_ipc_read(struct bufferevent *bev, void *arg)
{
	struct worker *w = arg;
	struct ipc_msg msg;
	char err[128];
	int r;
	while ((r = ipc_take(bufferevent_get_input(bev), &msg, err, sizeof(err))) == 1) {
		struct ipc_event ev;
		struct ipc_event_ref ref;
		switch (msg.type) {
		case IPC_EVENT:
			if (ipc_get(&msg, &ev, sizeof(ev)) == -1)
				fatalx("ipc: malformed event message");
			worker_event(w, &ev);
			break;
		case IPC_CANCEL:
			if (ipc_get(&msg, &ref, sizeof(ref)) == -1)
				fatalx("ipc: malformed cancel message");
			for (int i = 0; i < w->nsessions; i++)
				if (session_event_id(w->sessions[i]) == ref.event_id)
					session_cancel(w->sessions[i]);
			break;
		case IPC_DRAIN:
			log_info("draining: %d sessions in flight", w->nsessions);
			w->draining = 1;
			worker_maybe_exit(w);
			break;
		case IPC_REOPEN:
			if (log_reopen() == -1)
				log_warn("log: reopen");
			break;
		default:
			fatalx("ipc: unexpected message type %u from the parent", msg.type);
		}
	}
	if (r == -1)
		fatalx("%s", err);
}

static void
worker_ipc_event(struct bufferevent *bev, short what, void *arg)
{
	struct worker *w = arg;
	(void)bev;
	(void)what;
	/* the parent is gone: write what we hold and leave; leases expire for the rest */
	log_warnx("parent closed the channel: stopping");
	w->stopping = 1;
	char err[512];
	if (record_pending(w->rec) > 0 && record_flush(w->rec, err, sizeof(err)) == -1)
		log_warnx("database: %s", err);
	event_base_loopexit(w->base, NULL);
}

static void
worker_sigterm(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	w->stopping = 1;
	/* a last write of everything held; the parent releases the unfinished */
	char err[512];
	if (record_pending(w->rec) > 0 && record_flush(w->rec, err, sizeof(err)) == -1)
		log_warnx("database: %s; %d changes lost with this worker", err, record_pending(w->rec));
	event_base_loopexit(w->base, NULL);
}

/* A fetch that failed: the agent reports it with its event; this line says
 * why on our side. Peers that never authenticated only at debug level, so
 * that a flood of them cannot fill the log. */
static void
on_transfer(const struct transfer_result *r, void *arg)
{
	(void)arg;
	if (r->ok)
		return;
	log_msg(r->authorized ? LL_WARNING : LL_DEBUG, "transfer from %s%s%s: %s", r->addr,
	    r->peer[0] != '\0' ? " " : "", r->peer, r->error != NULL ? r->error : "failed");
}

static void
worker_policy(struct worker *w)
{
	const struct conf_token_tables *t = &w->conf->token_tables;
	w->tables = calloc(t->n > 0 ? t->n : 1, sizeof(*w->tables));
	if (w->tables == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < t->n; i++) {
		w->tables[i].name = t->v[i].table;
		w->tables[i].columns = (const char *const *)t->v[i].columns.v;
		w->tables[i].ncolumns = t->v[i].columns.n;
	}
	w->env.policy.tables = w->tables;
	w->env.policy.ntables = t->n;
	w->env.policy.sql_enabled = w->conf->tokens_sql;
}

/* libevent's own messages go to our log; its note that the parent's signal
 * events live on in a forked child is expected and harmless. */
static void
worker_libevent_log(int severity, const char *msg)
{
	log_msg(severity >= EVENT_LOG_WARN && strstr(msg, "Added a signal") == NULL ? LL_WARNING :
	    LL_DEBUG, "libevent: %s", msg);
}

void
worker_main(const struct conf_scheduler *conf, const char *owner, int slot, int fd)
{
	struct worker w = {.conf = conf};
	char err[512];
	snprintf(w.procname, sizeof(w.procname), "worker %d", slot);
	log_procinit(w.procname);
	db_application_name("pgfleet-worker");

	event_set_log_callback(worker_libevent_log);
	w.base = event_base_new();
	if (w.base == NULL)
		fatalx("event_base_new failed");
	evutil_make_socket_nonblocking(fd);
	w.ipc = bufferevent_socket_new(w.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(w.ipc, worker_ipc_read, NULL, worker_ipc_event, &w);
	bufferevent_enable(w.ipc, EV_READ | EV_WRITE);

	/* our own connection, opened after the fork */
	while ((w.db = db_open(conf->database, err, sizeof(err))) == NULL) {
		log_warnx("%s; retrying in 1s", err);
		sleep(1);
	}
	const struct record_hooks hooks = {.finished = on_recorded, .lost = on_lost,
	    .advanced = on_advanced};
	w.rec = record_new(w.db, owner, &hooks, &w);
	w.client_ctx = tls_client_ctx(conf->tls_ca, conf->tls_cert, conf->tls_key, err, sizeof(err));
	if (w.client_ctx == NULL)
		fatalx("tls: %s", err);
	w.server_ctx = tls_server_ctx(conf->tls_ca, conf->tls_cert, conf->tls_key, err, sizeof(err));
	if (w.server_ctx == NULL)
		fatalx("tls: %s", err);
	/* the peers are computers, both ways: a scheduler's certificate never poses as one */
	if (tls_ctx_require_peer_role(w.client_ctx, TLS_ROLE_AGENT, err, sizeof(err)) == -1 ||
	    tls_ctx_require_peer_role(w.server_ctx, TLS_ROLE_AGENT, err, sizeof(err)) == -1)
		fatalx("tls: %s", err);
	w.keys = transfer_keys_new(conf->transfer_key_ttl_ms);
	if (w.keys == NULL || w.rec == NULL)
		fatalx("out of memory");
	w.serve = transfer_serve_new(w.base, w.server_ctx, conf->transfer_ports.lo,
	    conf->transfer_ports.hi, conf->transfer_advertise, w.keys, err, sizeof(err));
	if (w.serve == NULL)
		fatalx("transfer: %s", err);
	transfer_serve_set_timeouts(w.serve, conf->transfer_request_timeout_ms,
	    conf->transfer_idle_timeout_ms);
	transfer_serve_set_callback(w.serve, on_transfer, &w);

	w.env.base = w.base;
	w.env.db = w.db;
	w.env.rec = w.rec;
	w.env.conf = conf;
	w.env.owner = owner;
	w.env.client_ctx = w.client_ctx;
	w.env.keys = w.keys;
	w.env.transfer_port = transfer_serve_port(w.serve);
	w.env.on_end = on_session_end;
	w.env.arg = &w;
	worker_policy(&w);

	w.flush_timer = event_new(w.base, -1, EV_PERSIST, worker_flush, &w);
	struct timeval flush = {0, FLUSH_MS * 1000};
	event_add(w.flush_timer, &flush);
	w.prune_timer = event_new(w.base, -1, EV_PERSIST, worker_prune, &w);
	struct timeval prune = {PRUNE_MS / 1000, 0};
	event_add(w.prune_timer, &prune);
	w.sig_term = evsignal_new(w.base, SIGTERM, worker_sigterm, &w);
	evsignal_add(w.sig_term, NULL);

	log_info("ready: transfer port %d, up to %d sessions", w.env.transfer_port,
	    conf->sessions_per_worker);
	worker_send(&w, IPC_READY, NULL, 0);
	event_base_dispatch(w.base);

	log_info("stopping with %d sessions in flight", w.nsessions);
	_exit(0);
}
