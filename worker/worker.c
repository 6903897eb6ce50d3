/*
 * worker: a forked worker process. Its own database connections (opened here,
 * after the fork, asynchronous: common/dbq.c), its own transfer listener on a
 * port of transfer.port_range, the agents' connections it accepted on the
 * scheduler's agent listener (worker/link.c), and one libevent loop carrying
 * every session. Nothing in the loop waits for the database: loads, custom
 * tokens and status writes are units answered from the loop, and a lost
 * connection is re-opened with back-off while the agents' messages keep
 * flowing and the writes wait in record's bounded queue. Status writes are
 * batched by record and sent on a short timer, one transaction at a time; an
 * event's end reaches the parent only after the transaction that wrote it
 * committed. The parent decides who a connecting agent is and which events
 * run here: each event arrives with the connection of its computer.
 */
#include "worker/worker.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/db.h"
#include "common/dbq.h"
#include "common/idmap.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/status.h"
#include "common/tls.h"
#include "transfer/keys.h"
#include "worker/pushq.h"
#include "transfer/serve.h"
#include "common/wire.h"
#include "worker/facts_db.h"
#include "worker/link.h"
#include "worker/record.h"
#include "worker/session.h"
#include "worker/session_db.h"
#include "worker/wakesend.h"

#define FLUSH_MS 20
/* A worker with this many sessions writes at most once per FLUSH_BUSY_GAP_MS: when ends
 * come quicker than that, the ends and status rows of more events go in each transaction
 * (the database's cost is mostly per statement; bench/workers.sh, 50 real agents: the
 * backends' CPU per event a quarter lower than with 128); with fewer, as one computer's
 * events or a handful have, each write goes at once, and a write after a quiet spell
 * goes at once either way. So does a write that holds an advance: a job's next task is
 * pushed only once its step is written (10 agents running jobs of 5 tasks took twice as
 * long when their steps waited too). */
#define FLUSH_BUSY_SESSIONS 8
#define FLUSH_BUSY_GAP_MS 40
#define FLUSH_RETRY_MS 1000
#define PRUNE_MS 10000
#define STOP_FLUSH_MS 5000   /* stopping: the last writes get this long */
#define DB_INFLIGHT 16       /* units answered at once on the worker's connection */

struct worker {
	const struct conf_scheduler *conf;
	char procname[32];
	struct event_base *base;
	struct bufferevent *ipc;
	struct dbq *db;        /* loads and status writes */
	struct dbq *db_tokens; /* custom tokens: a slow one holds up no other session */
	struct session_db *sdb;
	struct record *rec;
	SSL_CTX *server_ctx;
	struct transfer_keys *keys;
	struct transfer_serve *serve;
	struct links *links;
	struct facts_db *facts;     /* agents' facts, written in batches */
	struct event *seen_timer;   /* persistent: agents.presence_interval */
	int slot;
	struct session_env env;
	struct idmap *sessions;     /* by event id: one session per event at a time */
	struct event *flush_timer;  /* persistent: writes what is queued every FLUSH_MS */
	struct event *flush_kick;   /* made active by worker_flush_now: the same, at once */
	long long flush_sent_ms;    /* when the last write went out */
	struct event *stop_timer;   /* stopping: leave even if the last writes did not go */
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

/*
 * Write at once (an event ended), instead of at the next tick. Through an event of its
 * own: libevent reschedules a persistent timer that was made active by hand one period
 * after its pending time, so each call on flush_timer itself pushed the tick a further
 * FLUSH_MS away; after a few hundred ends the next tick was seconds off, and rows queued
 * behind a write in flight waited for it (events seen done in the log stayed running in
 * the database for 5-8 s at the end of bench/workers.sh runs).
 */
static void
worker_flush_now(struct worker *w)
{
	event_active(w->flush_kick, EV_TIMEOUT, 0);
}

/* A status row on an idle record: written now rather than at the next tick. */
static void
on_record_idle(void *arg)
{
	worker_flush_now(arg);
}

static int
worker_nsessions(const struct worker *w)
{
	return (int)idmap_count(w->sessions);
}

/* The session of an event in that attempt, or NULL. */
static struct session *
worker_session(const struct worker *w, int64_t event_id, int attempt)
{
	struct session *s = event_id > 0 ? idmap_get(w->sessions, event_id) : NULL;
	return s != NULL && session_attempt(s) == attempt ? s : NULL;
}

/* Sessions riding on the connection l. */
static int
worker_link_sessions(const struct worker *w, const struct link *l)
{
	int n = 0;
	size_t pos = 0;
	int64_t id;
	void *v;
	while (idmap_next(w->sessions, &pos, &id, &v))
		n += session_link(v) == l;
	return n;
}

/* Draining: a connection no session needs is closed (its agent goes to a live worker). */
static void
worker_close_idle_links(struct worker *w)
{
	struct link *l = links_first(w->links);
	while (l != NULL) {
		struct link *next = link_next(l);
		if (link_ready(l) && worker_link_sessions(w, l) == 0)
			link_close(l, 0, "worker draining");
		l = next;
	}
}

/* Draining ends with the last session, stopping at once; both once everything is written. */
static void
worker_maybe_exit(struct worker *w)
{
	if (record_pending(w->rec) == 0 && (w->stopping || (w->draining && worker_nsessions(w) == 0)))
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
	if (idmap_get(w->sessions, session_event_id(s)) == s)
		idmap_del(w->sessions, session_event_id(s));
	struct link *l = session_link(s);
	if ((w->draining || w->stopping) && l != NULL && link_ready(l) && worker_link_sessions(w, l) == 0)
		link_close(l, 0, "worker draining");
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

/* A hand-back is written: the event is pending again, the parent forgets it. */
static void
on_requeued(int64_t event_id, int attempt, int applied, void *arg)
{
	struct worker *w = arg;
	(void)applied;
	struct ipc_done d = {.event_id = event_id, .attempt = attempt, .requeued = 1};
	worker_send(w, IPC_DONE, &d, sizeof(d));
}

/* A session's next task may start: its previous result is written under our lease
 * (not while stopping: the event is released, whoever runs it next pushes that task). */
static void
on_advanced(int64_t event_id, int attempt, int next_task_seq, void *arg)
{
	struct worker *w = arg;
	if (w->stopping)
		return;
	struct session *s = worker_session(w, event_id, attempt);
	if (s != NULL)
		session_advanced(s, next_task_seq);
}

/* Writes of this attempt were dropped: the lease moved on, so its session stops here
 * rather than push the next task or end an event that is not ours. */
static void
on_lost(int64_t event_id, int attempt, void *arg)
{
	struct worker *w = arg;
	struct session *s = worker_session(w, event_id, attempt);
	if (s != NULL)
		session_abandon(s);
}

/* What is queued goes out (one transaction at a time; a failed one is tried again
 * after FLUSH_RETRY_MS, nothing the agents told us is lost meanwhile). */
static void
worker_flush(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	long long now = clock_mono_ms();
	long long wait = w->flush_sent_ms + FLUSH_BUSY_GAP_MS - now;
	if (wait > 0 && !w->stopping && !w->draining &&
	    worker_nsessions(w) >= FLUSH_BUSY_SESSIONS && record_advances_waiting(w->rec) == 0) {
		if (!evtimer_pending(w->flush_kick, NULL)) {
			struct timeval tv = clock_tv(wait);
			evtimer_add(w->flush_kick, &tv);
		}
		return;
	}
	if (record_flush(w->rec, now, FLUSH_RETRY_MS) == 1)
		w->flush_sent_ms = now;
	worker_maybe_exit(w);
}

/* Stopping took too long (the database away): what is not written is lost with us. */
static void
worker_stop_late(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	log_warnx("database: %d changes not written after %d s; lost with this worker",
	    record_pending(w->rec), STOP_FLUSH_MS / 1000);
	event_base_loopexit(w->base, NULL);
}

/* Stop: a last write of everything held, then leave (the parent releases the unfinished). */
static void
worker_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	struct timeval tv = {STOP_FLUSH_MS / 1000, (STOP_FLUSH_MS % 1000) * 1000};
	w->stop_timer = evtimer_new(w->base, worker_stop_late, w);
	if (w->stop_timer == NULL)
		fatalx("out of memory");
	evtimer_add(w->stop_timer, &tv);
	worker_flush_now(w);
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
	struct session *old = ev->event_id > 0 ? idmap_get(w->sessions, ev->event_id) : NULL;
	if (old != NULL) {
		if (session_attempt(old) == ev->attempt)
			return; /* already ours */
		/* claimed again (its lease ran out meanwhile): the new attempt replaces the old,
		 * whose writes the database would refuse; the parent holds the new one only */
		log_event(LL_WARNING, ev->event_id, "attempt %d replaces attempt %d",
		    (int)ev->attempt, session_attempt(old));
		idmap_del(w->sessions, ev->event_id);
		session_free(old);
	}
	/* the computer's connection, as the parent knew it; gone since: the event goes back */
	struct link *l = links_find(w->links, ev->link_id);
	if (l != NULL && (!link_ready(l) || link_computer(l) != ev->computer_id))
		l = NULL;
	struct session *s = session_start(&w->env, ev, l);
	void *replaced = NULL;
	if (s == NULL || idmap_put(w->sessions, ev->event_id, s, &replaced) == -1)
		fatalx("out of memory");
}

/* The parent's word on a connection: accepted, refused, or replaced by a newer one. */
static void
worker_agent_verdict(struct worker *w, uint32_t type, const struct ipc_msg *msg)
{
	struct ipc_agent_verdict v;
	struct ipc_agent_ref ref;
	if (type == IPC_AGENT_DROP) {
		if (ipc_get(msg, &ref, sizeof(ref)) == -1)
			fatalx("ipc: malformed drop message");
		struct link *l = links_find(w->links, ref.link_id);
		if (l != NULL)
			link_close(l, 0, "replaced by a newer connection of the computer");
		return;
	}
	if (ipc_get(msg, &v, sizeof(v)) == -1)
		fatalx("ipc: malformed agent verdict");
	struct link *l = links_find(w->links, v.link_id);
	if (l == NULL) {
		/* closed while the parent looked: it must not stay connected in its books */
		if (type == IPC_AGENT_ACCEPT) {
			struct ipc_agent_ref gone = {.link_id = v.link_id, .computer_id = v.computer_id};
			worker_send(w, IPC_AGENT_GONE, &gone, sizeof(gone));
		}
		return;
	}
	v.why[sizeof(v.why) - 1] = '\0';
	if (type == IPC_AGENT_ACCEPT && !w->draining && !w->stopping)
		link_accept(l, v.computer_id, v.want_facts);
	else
		link_refuse(l, type == IPC_AGENT_ACCEPT ? "scheduler stopping" : v.why);
	if (type == IPC_AGENT_ACCEPT && (w->draining || w->stopping)) {
		struct ipc_agent_ref gone = {.link_id = v.link_id, .computer_id = v.computer_id};
		worker_send(w, IPC_AGENT_GONE, &gone, sizeof(gone));
	}
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
		struct ipc_wake wk;
		switch (msg.type) {
		case IPC_EVENT:
			if (ipc_get(&msg, &ev, sizeof(ev)) == -1)
				fatalx("ipc: malformed event message");
			worker_event(w, &ev);
			break;
		case IPC_CANCEL:
			if (ipc_get(&msg, &ref, sizeof(ref)) == -1)
				fatalx("ipc: malformed cancel message");
			if (ref.event_id > 0 && idmap_get(w->sessions, ref.event_id) != NULL)
				session_cancel(idmap_get(w->sessions, ref.event_id));
			break;
		case IPC_DRAIN:
			log_info("draining: %d sessions in flight, %d agents connected", worker_nsessions(w),
			    links_ready(w->links));
			w->draining = 1;
			links_stop_accepting(w->links);
			worker_close_idle_links(w);
			worker_maybe_exit(w);
			break;
		case IPC_AGENT_ACCEPT:
		case IPC_AGENT_REFUSE:
		case IPC_AGENT_DROP:
			worker_agent_verdict(w, msg.type, &msg);
			break;
		case IPC_WAKE:
			if (ipc_get(&msg, &wk, sizeof(wk)) == -1)
				fatalx("ipc: malformed wake message");
			wakesend_relay(w->links, &wk);
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
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	worker_stop(w);
}

static void
worker_sigterm(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	worker_stop(w);
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

/* A connection said who it is: the parent knows the computers. */
static void
on_link_hello(struct link *l, void *arg)
{
	struct worker *w = arg;
	struct ipc_agent_hello h;
	memset(&h, 0, sizeof(h));
	h.link_id = link_id(l);
	snprintf(h.name, sizeof(h.name), "%s", link_name(l));
	snprintf(h.peer, sizeof(h.peer), "%s", link_peer(l));
	snprintf(h.version, sizeof(h.version), "%s", link_version(l));
	snprintf(h.serial, sizeof(h.serial), "%s", link_serial(l));
	snprintf(h.facts_hash, sizeof(h.facts_hash), "%s", link_facts_hash(l));
	worker_send(w, IPC_AGENT_HELLO, &h, sizeof(h));
}

/* Request=Facts: the document goes to the database with the next batch (worker/facts_db.c). */
static void
on_link_facts(struct link *l, struct wire_msg *m, void *arg)
{
	struct worker *w = arg;
	char err[300];
	if (facts_db_add(w->facts, link_computer(l), wire_get(m, "Facts-Hash"), m->body, m->body_len, err,
	    sizeof(err)) == -1)
		log_warnx("agents: computer %s: facts refused: %s", link_name(l), err);
}

/* A connection closes: its sessions hand their events back (or fail the task in flight). */
static void
on_link_gone(struct link *l, int accepted, int code, const char *why, void *arg)
{
	struct worker *w = arg;
	/* collected first: a session told may end, and leave the map (its memory stays until
	 * the next loop turn) */
	int n = worker_link_sessions(w, l), k = 0;
	struct session **on = n > 0 ? calloc((size_t)n, sizeof(*on)) : NULL;
	if (n > 0 && on == NULL)
		fatalx("out of memory");
	size_t pos = 0;
	int64_t id;
	void *v;
	while (k < n && idmap_next(w->sessions, &pos, &id, &v))
		if (session_link(v) == l)
			on[k++] = v;
	for (int i = 0; i < k; i++)
		session_link_gone(on[i], code, why);
	free(on);
	if (accepted) {
		struct ipc_agent_ref ref = {.link_id = link_id(l), .computer_id = link_computer(l)};
		worker_send(w, IPC_AGENT_GONE, &ref, sizeof(ref));
	}
	worker_flush_now(w);
}

static int
msg_num(const struct wire_msg *m, const char *key, long long max, long long *out)
{
	const char *v = wire_get(m, key);
	char *end;
	if (v == NULL || *v == '\0')
		return -1;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < 0 || x > max)
		return -1;
	*out = x;
	return 0;
}

/* A reply about a task: to the session pushing exactly that task on that connection. */
static void
on_link_message(struct link *l, struct wire_msg *m, void *arg)
{
	struct worker *w = arg;
	long long ev, seq, attempt = -1;
	const char *reply = wire_get(m, "Reply");
	if (wire_get(m, "Attempt") != NULL && msg_num(m, "Attempt", INT_MAX, &attempt) == -1)
		attempt = -2; /* not a number: matches no session */
	if (msg_num(m, "Event-ID", LLONG_MAX, &ev) == -1 ||
	    msg_num(m, "Task-Sequence-ID", INT_MAX, &seq) == -1) {
		char why[300];
		const char *e = wire_get(m, "Error");
		snprintf(why, sizeof(why), "Reply=%.32s without Event-ID and Task-Sequence-ID%s%.200s",
		    reply, e != NULL ? ": " : "", e != NULL ? e : "");
		log_warnx("agents: computer %s: %s; connection closed", link_name(l), why);
		link_close(l, STATUS_PROTOCOL, why);
		return;
	}
	struct session *s = ev > 0 ? idmap_get(w->sessions, ev) : NULL;
	if (s != NULL && session_matches(s, l, ev, (int)seq, attempt)) {
		session_reply(s, m);
		return;
	}
	log_debug("agents: computer %s: Reply=%s for event %lld task %lld (attempt %lld) matches no "
	    "session here, dropped", link_name(l), reply, ev, seq, attempt);
}

/* Every agents.presence_interval: the computers heard from, for agent_presence. */
static void
worker_seen(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	struct ipc_agent_seen seen;
	memset(&seen, 0, sizeof(seen));
	while ((seen.n = links_take_seen(w->links, seen.ids, IPC_SEEN_MAX)) > 0)
		worker_send(w, IPC_AGENT_SEEN, &seen, sizeof(seen));
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

/* Our own database connections, opened after the fork, from the loop (the tokens' one with
 * the first custom token); the sessions' loader and the status writer on them. */
static void
worker_open_db(struct worker *w, const char *owner)
{
	w->db = dbq_new(w->base, w->conf->database, "database", DB_INFLIGHT);
	w->db_tokens = dbq_new(w->base, w->conf->database, "database (tokens)", 1);
	if (w->db == NULL || w->db_tokens == NULL)
		fatalx("out of memory");
	dbq_connect(w->db);
	w->sdb = session_db_new(w->base, w->db, w->db_tokens, owner);
	const struct record_hooks hooks = {.finished = on_recorded, .lost = on_lost,
	    .advanced = on_advanced, .requeued = on_requeued, .idle = on_record_idle};
	w->rec = record_new(w->db, owner, &hooks, w);
	if (w->rec == NULL || w->sdb == NULL)
		fatalx("out of memory");
}

/* TLS for the computers, the transfer server and the agents' connections on listen_fd. */
static void
worker_open_net(struct worker *w, int listen_fd)
{
	const struct conf_scheduler *conf = w->conf;
	char err[512];
	w->server_ctx = tls_server_ctx(conf->tls_ca, conf->tls_cert, conf->tls_key, err, sizeof(err));
	if (w->server_ctx == NULL)
		fatalx("tls: %s", err);
	/* the peers are computers: a scheduler's certificate never poses as one */
	if (tls_ctx_require_peer_role(w->server_ctx, TLS_ROLE_AGENT, err, sizeof(err)) == -1)
		fatalx("tls: %s", err);
	/* the transfer port's sessions: about one per computer connected here (the newest ticket
	 * of each, the older ones going first); the agents' connections get none (link.c) */
	long keep = conf->agents_max_connections;
	tls_ctx_keep_sessions(w->server_ctx, keep > 1024 ? keep : 1024);
	w->keys = transfer_keys_new(conf->transfer_key_ttl_ms);
	if (w->keys == NULL)
		fatalx("out of memory");
	w->serve = transfer_serve_new(w->base, w->server_ctx, conf->transfer_ports.lo,
	    conf->transfer_ports.hi, conf->transfer_advertise, w->keys, err, sizeof(err));
	if (w->serve == NULL)
		fatalx("transfer: %s", err);
	transfer_serve_set_timeouts(w->serve, conf->transfer_request_timeout_ms,
	    conf->transfer_idle_timeout_ms);
	transfer_serve_set_callback(w->serve, on_transfer, w);
	const struct links_hooks lh = {.hello = on_link_hello, .gone = on_link_gone,
	    .message = on_link_message, .facts = on_link_facts, .arg = w};
	if ((w->facts = facts_db_new(w->base, w->db)) == NULL)
		fatalx("out of memory");
	w->links = links_new(w->base, w->server_ctx, listen_fd, w->slot, conf, &lh, err, sizeof(err));
	if (w->links == NULL)
		fatalx("%s", err);
}

/* What every session of this worker shares. */
static void
worker_session_env(struct worker *w, const char *owner)
{
	w->env.base = w->base;
	w->env.sdb = w->sdb;
	w->env.rec = w->rec;
	w->env.conf = w->conf;
	w->env.owner = owner;
	w->env.keys = w->keys;
	if ((w->env.pushq = pushq_new(w->base, session_dequeued)) == NULL)
		fatalx("out of memory");
	w->env.transfer_port = transfer_serve_port(w->serve);
	w->env.on_end = on_session_end;
	w->env.arg = w;
	worker_policy(w);
}

/* The periodic writes, prunes and presence reports; SIGTERM. */
static void
worker_timers(struct worker *w)
{
	w->flush_timer = event_new(w->base, -1, EV_PERSIST, worker_flush, w);
	w->flush_kick = event_new(w->base, -1, 0, worker_flush, w);
	if (w->flush_timer == NULL || w->flush_kick == NULL)
		fatalx("out of memory");
	struct timeval flush = {0, FLUSH_MS * 1000};
	event_add(w->flush_timer, &flush);
	w->prune_timer = event_new(w->base, -1, EV_PERSIST, worker_prune, w);
	struct timeval prune = {PRUNE_MS / 1000, 0};
	event_add(w->prune_timer, &prune);
	w->seen_timer = event_new(w->base, -1, EV_PERSIST, worker_seen, w);
	struct timeval seen = {w->conf->agents_presence_interval_ms / 1000,
	    (w->conf->agents_presence_interval_ms % 1000) * 1000};
	event_add(w->seen_timer, &seen);
	w->sig_term = evsignal_new(w->base, SIGTERM, worker_sigterm, w);
	evsignal_add(w->sig_term, NULL);
}

void
worker_main(const struct conf_scheduler *conf, const char *owner, int slot, int fd, int listen_fd)
{
	struct worker w = {.conf = conf, .slot = slot};
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

	if ((w.sessions = idmap_new()) == NULL)
		fatalx("out of memory");
	worker_open_db(&w, owner);
	worker_open_net(&w, listen_fd);
	worker_session_env(&w, owner);
	worker_timers(&w);

	log_info("ready: transfer port %d, up to %d sessions, %d pushes awaiting their fetch",
	    w.env.transfer_port, conf->sessions_per_worker, conf->transfer_max_pending);
	worker_send(&w, IPC_READY, NULL, 0);
	event_base_dispatch(w.base);

	log_info("stopping with %d sessions in flight", worker_nsessions(&w));
	facts_db_flush(w.facts);
	_exit(0);
}
