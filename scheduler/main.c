/*
 * pgfleet-scheduler: the parent. Checks the whole config, opens the agent
 * listener (agents.listen: every worker accepts on it), connects, forks the
 * workers (each closes the parent's database socket and opens its own
 * connection), then loops: decide who connecting agents are and keep
 * agent_presence (scheduler/presence.c), claim due events of the computers
 * connected here (on LISTEN pgfleet_wakeup and every poll_interval), hand
 * each to the worker holding its computer's connection, extend leases, take
 * back expired ones, expire offline events, create recurring occurrences,
 * pass cancels on. SIGTERM drains, SIGHUP reloads; signals reach the loop as
 * events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/db.h"
#include "common/evloop.h"
#include "common/fsutil.h"
#include "common/gate.h"
#include "common/listen.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/schema.h"
#include "common/sdnotify.h"
#include "common/version.h"
#include "scheduler/claim.h"
#include "scheduler/enrol.h"
#include "scheduler/notify.h"
#include "scheduler/instance.h"
#include "scheduler/observe.h"
#include "scheduler/pool.h"
#include "scheduler/presence.h"
#include "worker/worker.h"

#define MAX_CLAIM 1000
/* The most computers connected here whose ids go with a claim (claim_events). */
#define CLAIM_HINT_MAX 1024
#define DEFAULT_CONFIG "/etc/pgfleet/scheduler.yaml"
#define JANITOR_INTERVAL_S 600
#define NOTIFY_POLL_S 1 /* notifications due again after a backoff are looked for this often */
#define JANITOR_BATCH 1000
#define HELLO_BATCH_MS 10        /* Hellos wait this long to be written together */
#define EXPIRE_BATCH 1000
#define WAKE_BATCH 100
#define WAKE_RESEND_MS (5 * 60 * 1000) /* an event's computer is woken again this often */

struct sched {
	struct conf_scheduler *conf;
	const char *conf_path;
	char owner[160];
	struct event_base *base;
	struct pool *pool;
	struct db *db;
	int db_fd;
	unsigned db_gen;             /* db_reconnects when ev_db was made for db_fd */
	struct event *ev_db;
	struct event *ev_noted;      /* a statement brought notifications: db_readable from the loop */
	struct event *ev_tick;
	struct event *ev_heartbeat;
	struct event *ev_drain_deadline;
	struct event *ev_janitor;
	struct event *ev_watchdog;
	struct observe *observe;	/* /metrics, /healthz; NULL when off */
	char metrics_addr[300];		/* HOST:PORT for the heartbeat row */
	long long started_wall_ms;
	long long last_claim_ms;	/* monotonic: the last claim pass that reached the database */
	long long last_claim_wall_ms;
	long long last_db_ok_ms;	/* monotonic: the last statement that worked */
	char db_error[256];		/* the last database error, "" after a success */
	int beat_failing;		/* the heartbeat row could not be written: said once */
	struct event *ev_presence;   /* last_message_at every presence_interval, offline expiry */
	struct event *ev_hello;      /* Hellos and closes, a moment after the first one */
	int listen_fd;               /* agents.listen, accepted on by the workers */
	int enrol_fd;                /* enrol.listen, -1: no enrolment service */
	pid_t enrol_pid;             /* the service's process, 0 while it is not running */
	struct event *ev_enrol;      /* starts it again a moment after it died */
	struct gate *refusals;       /* unknown computers, logged per address */
	struct presence *presence;
	struct notify *notify;       /* the outbox's sender; NULL when notify: is not set */
	struct event *ev_notify;     /* notifications due again after a backoff */
	int notify_wake;             /* NOTIFY pgfleet_outbox heard */
	struct event *sigev[4];
	int draining;
	int stopping;
	int exit_code;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet-scheduler [-c FILE] [-n] [-d] [-h] [--version]\n"
		   "  -c FILE    configuration file (default " DEFAULT_CONFIG "; see docs/config.md)\n"
		   "  -n         check the configuration, print \"configuration OK\" or every error, exit\n"
		   "  -d         stay in the foreground and log to stderr (the journal under systemd)\n"
		   "  -h, --help this help\n"
		   "  --version  print the version and exit\n");
}

static void sched_tick_now(struct sched *s);
static void sched_dispatch(struct sched *s, struct ipc_event *ev);
static void db_readable(evutil_socket_t fd, short what, void *arg);
static int db_watch(struct sched *s);

static void
worker_entry(int slot, int fd, void *arg)
{
	struct sched *s = arg;
	metrics_add(MC_WORKER_STARTS, 1);
	worker_main(s->conf, s->owner, slot, fd, s->listen_fd);
}

/* A statement of the parent worked (err NULL) or failed: what /healthz reports. */
static void
db_result_note(struct sched *s, const char *err)
{
	if (err == NULL) {
		s->last_db_ok_ms = clock_mono_ms();
		s->db_error[0] = '\0';
	} else {
		snprintf(s->db_error, sizeof(s->db_error), "%.*s", (int)sizeof(s->db_error) - 1, err);
	}
}

static void
observe_state(void *arg, struct observe_state *st)
{
	struct sched *s = arg;
	st->workers = s->conf->workers;
	st->workers_alive = pool_live(s->pool);
	st->inflight = pool_inflight(s->pool);
	st->draining = s->draining;
	st->poll_interval_ms = s->conf->poll_interval_ms;
	st->last_claim_ms = s->last_claim_ms;
	st->last_db_ok_ms = s->last_db_ok_ms;
	st->started_wall_ms = s->started_wall_ms;
	st->db_error = s->db_error[0] != '\0' ? s->db_error : NULL;
}

/* This scheduler's row in pgfleet.scheduler_instance (`pgfleet schedulers`). */
static void
sched_beat(struct sched *s, int start)
{
	char err[512];
	struct instance_beat b = {.owner = s->owner, .name = s->conf->name, .pid = (long)getpid(),
	    .heartbeat_ms = s->conf->heartbeat_ms, .workers = s->conf->workers,
	    .workers_alive = pool_live(s->pool), .inflight = pool_inflight(s->pool),
	    .last_claim_ms = s->last_claim_wall_ms,
	    .metrics = s->metrics_addr[0] != '\0' ? s->metrics_addr : NULL};
	long long t0 = clock_mono_ms();
	int rc = start ? instance_start(s->db, &b, err, sizeof(err)) : instance_beat(s->db, &b, err,
	    sizeof(err));
	if (rc == 0) {
		metrics_observe(MH_DB_ROUNDTRIP, (double)(clock_mono_ms() - t0) / 1000.0);
		db_result_note(s, NULL);
		if (s->beat_failing)
			log_notice("heartbeat row: written again");
		s->beat_failing = 0;
		return;
	}
	if (!s->beat_failing)
		log_warnx("heartbeat row: %s (said once until it works again)", err);
	s->beat_failing = 1;
}

static void
on_done(const struct ipc_done *d, void *arg)
{
	struct sched *s = arg;
	if (d->requeued)
		log_event(LL_DEBUG, d->event_id, "handed back pending");
	else
		log_event(LL_DEBUG, d->event_id, "ended with code %d", d->status_code);
	if (!d->requeued)
		metrics_event_finished(d->failed, d->status_code);
	if (!s->draining)
		sched_tick_now(s);
	else if (pool_inflight(s->pool) == 0)
		event_base_loopbreak(s->base);
}

static void
on_released(int64_t event_id, void *arg)
{
	struct sched *s = arg;
	char err[512];
	if (claim_release(s->db, s->owner, event_id, err, sizeof(err)) == -1)
		log_event(LL_WARNING, event_id, "release: %s", err);
}

/* A worker died and none took its events over: their leases end now and they
 * go back as another attempt (or LEASE_LOST after max_attempts), at once
 * rather than when the lease would have run out. Should the database be
 * unreachable, the heartbeat no longer renews them, so they expire anyway. */
static void
on_abandoned(int slot, const int64_t *ids, int n, void *arg)
{
	struct sched *s = arg;
	char err[512];
	int ended = claim_abandon(s->db, s->owner, ids, n, err, sizeof(err));
	if (ended == -1) {
		log_warnx("worker %d: %d events: ending their leases: %s; they expire within %lld ms",
		    slot, n, err, s->conf->lease_ms);
		return;
	}
	for (int i = 0; i < n; i++)
		log_event(LL_NOTICE, ids[i], "its worker %d is gone, lease ended", slot);
	if (claim_reclaim(s->db, s->conf->max_attempts, err, sizeof(err)) == -1)
		log_warnx("reclaim: %s", err);
	db_watch(s);
	if (!s->draining)
		sched_tick_now(s);
}

static void
on_give_up(int slot, void *arg)
{
	struct sched *s = arg;
	int live = pool_live(s->pool);
	log_error("worker %d is not restarted for now; %d of %d workers left", slot, live,
	    s->conf->workers);
	if (live == 0 && !s->stopping && !s->draining) {
		/* nothing can run here: say so and let the service manager restart us */
		log_error("no live worker left: exiting with code 1");
		s->stopping = 1;
		s->exit_code = 1;
		event_base_loopbreak(s->base);
	}
}

/* The answer to a Hello goes to the worker holding that connection. */
static void
on_verdict(const struct presence_verdict *v, void *arg)
{
	struct sched *s = arg;
	struct ipc_agent_verdict m;
	memset(&m, 0, sizeof(m));
	m.link_id = v->link_id;
	m.computer_id = v->computer_id;
	m.want_facts = v->want_facts;
	if (v->computer_id == 0) {
		snprintf(m.why, sizeof(m.why), "%s", v->why);
		(void)pool_send(s->pool, v->pid, IPC_AGENT_REFUSE, &m, sizeof(m));
		return;
	}
	if (v->old_pid != 0) {
		struct ipc_agent_ref ref = {.link_id = v->old_link, .computer_id = v->computer_id};
		(void)pool_send(s->pool, v->old_pid, IPC_AGENT_DROP, &ref, sizeof(ref));
	}
	if (pool_send(s->pool, v->pid, IPC_AGENT_ACCEPT, &m, sizeof(m)) == -1)
		presence_gone(s->presence, v->pid, v->link_id, v->computer_id); /* its worker died */
}

/* Closes and new connections now (before a claim, or a moment after a Hello). */
static void
presence_write(struct sched *s, int seen)
{
	char err[512];
	if (!presence_dirty(s->presence, seen))
		return;
	if (presence_flush(s->presence, s->db, seen, on_verdict, s, err, sizeof(err)) == -1)
		log_warnx("presence: %s; kept for the next try", err);
	db_watch(s);
}

static void
sched_hello_batch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	presence_write(arg, 0);
}

/* Wake-on-LAN for waiting events of computers connected nowhere (offline: {wake: true}):
 * each goes to the worker holding its relay's connection. A relay gone meanwhile: the
 * event is looked at again WAKE_RESEND_MS later. */
static void
sched_wake(struct sched *s, long long stale)
{
	static struct ipc_wake wk[WAKE_BATCH];
	char err[512];
	int n = claim_wake_offline(s->db, s->owner, WAKE_RESEND_MS, stale, wk, WAKE_BATCH, err,
	    sizeof(err));
	if (n == -1)
		log_warnx("wake-on-LAN: %s", err);
	for (int i = 0; i < n; i++) {
		pid_t pid;
		if (presence_route(s->presence, wk[i].relay_id, &pid, &wk[i].link_id) == -1 ||
		    pool_send(s->pool, pid, IPC_WAKE, &wk[i], sizeof(wk[i])) == -1)
			log_event(LL_NOTICE, wk[i].event_id, "wake-on-LAN for %s not sent: its relay, computer %"
			    PRId64 ", is no longer connected here", wk[i].mac, wk[i].relay_id);
	}
}

/* Every agents.presence_interval: last_message_at, then events of offline computers expire. */
static void
sched_presence(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char err[512];
	(void)fd;
	(void)what;
	presence_write(s, 1);
	if (s->draining)
		return;
	long long stale = s->conf->agents_idle_timeout_ms + 2 * s->conf->agents_presence_interval_ms;
	/* the waits count from this scheduler's start too: after an outage of every scheduler,
	 * agents coming back must not find their events failed at once */
	if (claim_expire_offline(s->db, s->conf->offline_expire_ms, stale, s->started_wall_ms,
		EXPIRE_BATCH, err, sizeof(err)) == -1)
		log_warnx("offline expiry: %s", err);
	sched_wake(s, stale);
	db_watch(s);
}

static void
on_agent(int slot, pid_t pid, const struct ipc_msg *msg, void *arg)
{
	struct sched *s = arg;
	struct ipc_agent_hello h;
	struct ipc_agent_ref ref;
	static struct ipc_agent_seen seen;
	switch (msg->type) {
	case IPC_AGENT_HELLO:
		if (ipc_get(msg, &h, sizeof(h)) == -1)
			fatalx("ipc: worker %d sent a malformed hello", slot);
		if (presence_hello(s->presence, slot, pid, &h) == -1)
			fatalx("out of memory");
		if (!evtimer_pending(s->ev_hello, NULL)) {
			struct timeval tv = {0, HELLO_BATCH_MS * 1000};
			evtimer_add(s->ev_hello, &tv);
		}
		break;
	case IPC_AGENT_GONE:
		if (ipc_get(msg, &ref, sizeof(ref)) == -1)
			fatalx("ipc: worker %d sent a malformed gone message", slot);
		presence_gone(s->presence, pid, ref.link_id, ref.computer_id);
		break;
	case IPC_AGENT_SEEN:
		if (ipc_get(msg, &seen, sizeof(seen)) == -1 || seen.n < 0 || seen.n > IPC_SEEN_MAX)
			fatalx("ipc: worker %d sent a malformed seen message", slot);
		presence_seen(s->presence, seen.ids, seen.n);
		break;
	}
}

static void
on_worker_exit(int slot, pid_t pid, void *arg)
{
	struct sched *s = arg;
	(void)slot;
	presence_worker_gone(s->presence, pid);
	if (s->ev_hello != NULL && !evtimer_pending(s->ev_hello, NULL)) {
		struct timeval tv = {0, HELLO_BATCH_MS * 1000};
		evtimer_add(s->ev_hello, &tv);
	}
}

/*
 * Watch the connection's socket. A re-opened connection has a new socket, often under the
 * old number, which the old watch does not see (epoll dropped the closed one): watched
 * anew when the number or db_reconnects changed. 1 when a re-opened connection was
 * watched anew, else 0.
 */
static int
db_watch(struct sched *s)
{
	int fd = db_socket(s->db);
	unsigned gen = db_reconnects(s->db);
	if (fd == s->db_fd && gen == s->db_gen)
		return 0;
	int reopened = gen != s->db_gen;
	if (s->ev_db != NULL) {
		event_free(s->ev_db);
		s->ev_db = NULL;
	}
	s->db_fd = fd;
	s->db_gen = gen;
	if (fd == -1)
		return 0;
	s->ev_db = event_new(s->base, fd, EV_READ | EV_PERSIST, db_readable, s);
	if (s->ev_db == NULL || event_add(s->ev_db, NULL) == -1)
		fatalx("database: cannot watch the connection's socket");
	return reopened;
}

/* pgfleet_outbox: notifications to send; pgfleet_revoke: a computer was revoked, its
 * connection here, if any, is closed. */
static void
on_notify(const char *channel, const char *payload, void *arg)
{
	struct sched *s = arg;
	log_debug("notify %s %s", channel, payload);
	if (s == NULL)
		return;
	if (strcmp(channel, "pgfleet_outbox") == 0) {
		s->notify_wake = 1;
		return;
	}
	if (strcmp(channel, "pgfleet_revoke") != 0)
		return;
	struct ipc_agent_ref ref = {.computer_id = strtoll(payload, NULL, 10)};
	pid_t pid;
	if (ref.computer_id > 0 && presence_route(s->presence, ref.computer_id, &pid, &ref.link_id) == 0) {
		log_notice("agents: computer %lld revoked, its connection closed", (long long)ref.computer_id);
		(void)pool_send(s->pool, pid, IPC_AGENT_DROP, &ref, sizeof(ref));
	}
}

/* Notifications due: sent while there is room (timer, NOTIFY pgfleet_outbox, a delivery
 * that ended). */
static void
sched_notify(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char err[512];
	(void)fd;
	(void)what;
	s->notify_wake = 0;
	if (s->notify == NULL || s->stopping)
		return;
	if (notify_kick(s->notify, err, sizeof(err)) == -1)
		log_warnx("notifications: %s", err);
	db_watch(s);
}

static int
on_child(pid_t pid, int status, void *arg)
{
	struct sched *s = arg;
	return notify_child(s->notify, pid, status);
}

static void
db_readable(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char err[512];
	(void)fd;
	(void)what;
	int n = db_consume_notifies(s->db, on_notify, s, err, sizeof(err));
	if (n == -1)
		log_warnx("database: %s", err);
	/* re-opened: what was notified meanwhile is lost, so claim now rather than at the poll */
	int reopened = db_watch(s);
	if (s->notify_wake)
		sched_notify(-1, 0, s);
	if ((n > 0 || reopened) && !s->draining)
		sched_tick_now(s);
}

/* One pass: take back expired leases, recurring occurrences, cancels, claims. */
static void
sched_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char err[512];
	(void)fd;
	(void)what;
	if (s->draining)
		return;
	int db_ok = 1;
	if (claim_reclaim(s->db, s->conf->max_attempts, err, sizeof(err)) == -1) {
		log_warnx("reclaim: %s", err);
		db_result_note(s, err);
		db_ok = 0;
	}
	if (claim_recur(s->db, err, sizeof(err)) == -1)
		log_warnx("recurring schedules: %s", err);
	int64_t cancel[256];
	int nc = claim_cancelled(s->db, s->owner, cancel, 256, err, sizeof(err));
	if (nc == -1)
		log_warnx("cancelled schedules: %s", err);
	for (int i = 0; i < nc; i++)
		pool_cancel(s->pool, cancel[i]);

	int room = pool_free_capacity(s->pool);
	int limit = room < s->conf->claim_batch ? room : s->conf->claim_batch;
	if (limit > MAX_CLAIM)
		limit = MAX_CLAIM;
	int full = 0;
	if (limit > 0) {
		static struct ipc_event evs[MAX_CLAIM];
		int n = 0;
		/* who is connected here, as up to date as it gets before the claim reads it */
		presence_write(s, 0);
		/* a fleet connected here no larger than the search the function would make of
		 * the due events (8 x limit): passed by id, the claim looks at those alone */
		static int64_t cids[CLAIM_HINT_MAX];
		int hint = limit * 8 < CLAIM_HINT_MAX ? limit * 8 : CLAIM_HINT_MAX;
		int ncids = presence_list(s->presence, cids, hint);
		long long t0 = clock_mono_ms();
		if (claim_events(s->db, s->owner, limit, s->conf->lease_ms, cids, ncids, evs, &n, err,
			sizeof(err)) == -1) {
			log_warnx("claim: %s", err);
			metrics_add(MC_CLAIM_ERRORS, 1);
			db_result_note(s, err);
			db_ok = 0;
		} else {
			metrics_observe(MH_CLAIM, (double)(clock_mono_ms() - t0) / 1000.0);
			if (n > 0) {
				metrics_add(MC_EVENTS_CLAIMED, (unsigned long long)n);
				metrics_observe(MH_CLAIM_BATCH, n);
			}
			for (int i = 0; i < n; i++)
				sched_dispatch(s, &evs[i]);
			full = n == limit;
		}
	}
	if (db_ok) {
		db_result_note(s, NULL);
		s->last_claim_ms = clock_mono_ms();
		s->last_claim_wall_ms = clock_wall_ms();
	}
	/* A notification that came in while a statement above ran waits in libpq's queue and
	 * the socket will not tell of it: a revocation would wait for the next notification,
	 * and new events (NOTIFY on submit) for the next poll: the claim runs again at once,
	 * as the socket's notifications make it (db_readable), and due messages go out. */
	int heard = db_consume_notifies(s->db, on_notify, s, err, sizeof(err));
	if (heard == -1)
		log_warnx("database: %s", err);
	db_watch(s);
	if (s->notify_wake)
		sched_notify(-1, 0, s);
	struct timeval tv = {0, 0};
	if (!full && heard <= 0) {
		tv.tv_sec = s->conf->poll_interval_ms / 1000;
		tv.tv_usec = (s->conf->poll_interval_ms % 1000) * 1000;
	}
	evtimer_add(s->ev_tick, &tv);
}

/* To the worker holding the computer's connection; gone meanwhile: pending again. */
static void
sched_dispatch(struct sched *s, struct ipc_event *ev)
{
	char err[512];
	pid_t pid;
	if (presence_route(s->presence, ev->computer_id, &pid, &ev->link_id) == 0 &&
	    pool_dispatch_to(s->pool, pid, ev) == 0)
		return;
	log_event(LL_INFO, ev->event_id, "computer %" PRId64 " is no longer connected to a live "
	    "worker here, released", ev->computer_id);
	if (claim_release(s->db, s->owner, ev->event_id, err, sizeof(err)) == -1)
		log_event(LL_WARNING, ev->event_id, "release: %s", err);
}

static void
sched_tick_now(struct sched *s)
{
	struct timeval zero = {0, 0};
	evtimer_add(s->ev_tick, &zero);
}

static void
sched_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char err[512];
	(void)fd;
	(void)what;
	sched_beat(s, 0);
	int held = pool_inflight(s->pool);
	if (held == 0) {
		db_watch(s);
		return;
	}
	int64_t *ids = malloc((size_t)held * sizeof(*ids));
	if (ids == NULL)
		fatalx("out of memory");
	int n = pool_live_events(s->pool, ids, held);
	if (n > 0 && claim_heartbeat(s->db, s->owner, s->conf->lease_ms, ids, n, err,
	    sizeof(err)) == -1)
		log_warnx("heartbeat: %s", err);
	free(ids);
	db_watch(s);
}

/* The janitor: partitions ahead of time, history past retention removed in
 * small batches, one per turn of the loop so claims are never held up. */
static void
sched_janitor(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char err[512];
	(void)fd;
	(void)what;
	if (s->draining)
		return;
	int more = claim_maintain(s->db, s->conf->retention_ms, JANITOR_BATCH, err, sizeof(err));
	if (more == -1)
		log_warnx("janitor: %s", err);
	if (claim_windows(s->db, err, sizeof(err)) == -1)
		log_warnx("janitor: maintenance windows: %s", err);
	if (claim_outbox_prune(s->db, s->conf->retention_ms, err, sizeof(err)) == -1)
		log_warnx("janitor: notifications: %s", err);
	db_watch(s);
	struct timeval tv = {more == 1 ? 0 : JANITOR_INTERVAL_S, more == 1 ? 100000 : 0};
	evtimer_add(s->ev_janitor, &tv);
}

static void
sched_enrol_start(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	(void)fd;
	(void)what;
	if (s->enrol_fd == -1 || s->enrol_pid > 0 || s->stopping || s->draining)
		return;
	s->enrol_pid = enrol_spawn(s->conf, s->enrol_fd);
	if (s->enrol_pid == -1) {
		s->enrol_pid = 0;
		struct timeval tv = {1, 0};
		evtimer_add(s->ev_enrol, &tv);
	}
}

/* The enrolment service died: started again a second later. */
static void
on_other_exit(pid_t pid, int status, void *arg)
{
	struct sched *s = arg;
	(void)status;
	if (pid != s->enrol_pid)
		return;
	s->enrol_pid = 0;
	if (!s->stopping && !s->draining) {
		struct timeval tv = {1, 0};
		evtimer_add(s->ev_enrol, &tv);
	}
}

static void
sched_enrol_stop(struct sched *s)
{
	if (s->enrol_pid <= 0)
		return;
	pid_t pid = s->enrol_pid;
	int status;
	kill(pid, SIGTERM);
	for (int tries = 0; tries < 100; tries++) {
		if (waitpid(pid, &status, WNOHANG) != 0)
			break;
		usleep(20000);
		if (tries == 99) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
		}
	}
	s->enrol_pid = 0;
}

static void
sched_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	(void)fd;
	(void)what;
	log_notice("drain grace over with %d events in flight", pool_inflight(s->pool));
	event_base_loopbreak(s->base);
}

/* systemd's watchdog: the loop turns, so the process is alive (a database outage
 * is not a reason for systemd to restart us: /healthz says it instead) */
static void
sched_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sdnotify("WATCHDOG=1");
}

static void
sched_drain(struct sched *s)
{
	if (s->draining)
		return;
	s->draining = 1;
	sdnotify("STOPPING=1\nSTATUS=draining: %d events in flight", pool_inflight(s->pool));
	evtimer_del(s->ev_tick);
	log_notice("draining: %d events in flight, grace %lld ms", pool_inflight(s->pool),
	    s->conf->drain_grace_ms);
	pool_broadcast(s->pool, IPC_DRAIN);
	if (pool_inflight(s->pool) == 0) {
		event_base_loopbreak(s->base);
		return;
	}
	struct timeval tv = {s->conf->drain_grace_ms / 1000, (s->conf->drain_grace_ms % 1000) * 1000};
	s->ev_drain_deadline = evtimer_new(s->base, sched_drain_deadline, s);
	evtimer_add(s->ev_drain_deadline, &tv);
}

static void
sched_reload(struct sched *s)
{
	struct conf_scheduler *fresh = NULL;
	struct conf_errors errs = {0};
	sdnotify("RELOADING=1");
	if (log_reopen() == -1)
		log_warn("log: reopen");
	pool_broadcast(s->pool, IPC_REOPEN);
	if (s->enrol_pid > 0)
		kill(s->enrol_pid, SIGHUP);
	if (conf_load_scheduler(s->conf_path, &fresh, &errs) == -1) {
		log_warnx("reload: %s has errors, keeping the running configuration", s->conf_path);
		for (size_t i = 0; i < errs.n; i++)
			log_warnx("%s", errs.msg[i]);
		conf_errors_free(&errs);
		sdnotify("READY=1");
		return;
	}
	conf_reload_scheduler(s->conf, fresh, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_warnx("reload: %s", errs.msg[i]);
	conf_errors_free(&errs);
	log_apply(fresh->log_level, fresh->log_format, fresh->log_syslog, "pgfleet-scheduler");
	int changed = conf_changed_scheduler(s->conf, fresh);
	if (pool_set_restart_limit(s->pool, fresh->restart_limit_count,
	    fresh->restart_limit_window_ms) == -1)
		log_warnx("reload: out of memory for restart_limit, keeping the running one");
	struct timeval pi = {fresh->agents_presence_interval_ms / 1000,
	    (fresh->agents_presence_interval_ms % 1000) * 1000};
	event_add(s->ev_presence, &pi);
	/* the pool's forks read s->conf: keep it valid until the swap */
	struct conf_scheduler *old = s->conf;
	s->conf = fresh;
	conf_free_scheduler(old);
	/* a worker keeps the config it was forked with: roll them, each running
	 * one finishing its sessions while a new one takes new events */
	if (changed > 0 && !s->draining) {
		int rolled = pool_roll(s->pool);
		log_notice("reload: configuration reread, %d keys changed; %d workers rolled onto it",
		    changed, rolled);
	} else {
		log_notice("reload: configuration reread, %d keys changed", changed);
	}
	sdnotify("READY=1");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct sched *s = arg;
	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (s->draining) {
			log_notice("second stop signal: stopping now");
			event_base_loopbreak(s->base);
		} else {
			sched_drain(s);
		}
		break;
	case SIGHUP:
		sched_reload(s);
		break;
	case SIGCHLD:
		pool_reap(s->pool);
		if (s->draining && pool_inflight(s->pool) == 0)
			event_base_loopbreak(s->base);
		break;
	}
}

static void
sched_stop(struct sched *s)
{
	char err[512];
	int64_t ids[4096];
	int n = pool_held_events(s->pool, ids, 4096);
	s->stopping = 1;
	sched_enrol_stop(s);
	pool_shutdown(s->pool, 0);
	for (int tries = 0; pool_procs(s->pool) > 0 && tries < 100; tries++) {
		usleep(50000);
		pool_reap(s->pool);
	}
	if (pool_procs(s->pool) > 0) {
		pool_shutdown(s->pool, 1);
		while (pool_procs(s->pool) > 0) {
			usleep(20000);
			pool_reap(s->pool);
		}
	}
	/* workers are gone: what they still held goes back to pending */
	int released = 0;
	for (int i = 0; i < n; i++)
		if (claim_release(s->db, s->owner, ids[i], err, sizeof(err)) == 0)
			released++;
		else
			log_event(LL_WARNING, ids[i], "release: %s", err);
	/* and no computer is connected here any more */
	if (presence_clear(s->db, s->conf->name, NULL, err, sizeof(err)) == -1)
		log_warnx("presence: %s", err);
	if (instance_stop(s->db, s->owner, err, sizeof(err)) == -1)
		log_warnx("heartbeat row: %s", err);
	log_notice("stopped; %d unfinished events released", released);
}

/* Written atomically, so a reader never sees half of it. */
static int
write_port_file(const char *path, int port)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		return -1;
	return 0;
}

/* Every agent connection is a descriptor: up to the hard limit, and say when that is short. */
static void
raise_nofile(const struct conf_scheduler *c)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	/* each agent connection, and per session a transfer and a spool file */
	unsigned long long want = (unsigned long long)c->agents_max_connections +
	    (unsigned long long)c->sessions_per_worker * 2 + 256;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warnx("open files limit %llu is below agents.max_connections + 2 x "
		    "sessions_per_worker + 256 (%llu) per worker: raise it (LimitNOFILE= under systemd, "
		    "ulimit -n) or lower agents.max_connections", (unsigned long long)rl.rlim_cur, want);
}

static int
check_config(const char *path, struct conf_scheduler **out)
{
	struct conf_errors errs = {0};
	char err[512];
	if (conf_load_scheduler(path, out, &errs) == -1) {
		conf_errors_print(&errs, stderr);
		conf_errors_free(&errs);
		return -1;
	}
	conf_errors_free(&errs);
	if ((*out)->log_file != NULL && log_check_file((*out)->log_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: log.file: %s\n", path, err);
		conf_free_scheduler(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* The agent listener, before any fork: every worker accepts on it. Returns its port. */
static int
sched_listen(struct sched *s)
{
	char err[512];
	raise_nofile(s->conf);
	int port;
	if ((s->listen_fd = listen_tcp(&s->conf->agents_listen, "agents.listen", 4096, &port, err,
	    sizeof(err))) == -1)
		fatalx("%s", err);
	if (s->conf->agents_port_file != NULL && write_port_file(s->conf->agents_port_file, port) == -1)
		fatal("agents.port_file %s", s->conf->agents_port_file);
	if (s->conf->enrol_listen.host != NULL) {
		int eport;
		if ((s->enrol_fd = listen_tcp(&s->conf->enrol_listen, "enrol.listen", 1024, &eport, err,
		    sizeof(err))) == -1)
			fatalx("%s", err);
		if (s->conf->enrol_port_file != NULL && write_port_file(s->conf->enrol_port_file, eport) == -1)
			fatal("enrol.port_file %s", s->conf->enrol_port_file);
		log_notice("enrolment service on %s:%d", s->conf->enrol_listen.host, eport);
	}
	return port;
}

/* The loop's machinery: the pool, presence, signals. */
static void
sched_setup(struct sched *s)
{
	s->base = event_base_new();
	if (s->base == NULL)
		fatalx("event_base_new failed");
	struct pool_callbacks cb = {.worker_main = worker_entry, .on_done = on_done,
	    .on_released = on_released, .on_abandoned = on_abandoned, .on_give_up = on_give_up,
	    .on_agent = on_agent, .on_exit = on_worker_exit, .on_other_exit = on_other_exit,
	    .on_child = on_child, .arg = s};
	s->pool = pool_new(s->base, s->conf->workers, s->conf->sessions_per_worker,
	    s->conf->restart_limit_count, s->conf->restart_limit_window_ms, &cb);
	if (s->pool == NULL)
		fatalx("out of memory");
	pool_keep_fd(s->pool, s->listen_fd);
	s->refusals = gate_new(s->base, "agents", 1, 1);
	s->presence = s->refusals != NULL ? presence_new(s->owner, s->refusals) : NULL;
	s->ev_hello = evtimer_new(s->base, sched_hello_batch, s);
	if (s->presence == NULL || s->ev_hello == NULL)
		fatalx("out of memory");
	/* signals first, so a worker that dies at once is reaped */
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	for (int i = 0; i < 4; i++) {
		s->sigev[i] = evsignal_new(s->base, sigs[i], on_signal, s);
		evsignal_add(s->sigev[i], NULL);
	}
}

/* The database (said at once when the conninfo is wrong; workers close this socket
 * right after fork and open their own, pool.c), then the workers. */
static void
sched_connect(struct sched *s)
{
	char err[512];
	s->db = db_open(s->conf->database, err, sizeof(err));
	if (s->db == NULL)
		fatalx("%s", err);
	/* the claim and the ticks' statements, parsed and planned once per connection */
	if (db_prepare_statements(s->db, 64) == -1)
		fatalx("database: out of memory");
	/* an unmigrated or older schema would fail later as "relation does not exist" */
	char msg[512];
	switch (schema_check(s->db, msg, sizeof(msg))) {
	case SCHEMA_OK:
		break;
	case SCHEMA_NEWER:
		log_warnx("%s", msg);
		break;
	case -1:
		fatalx("database: %s", msg);
	default:
		fatalx("refusing to start: %s", msg);
	}
	/* rows of an earlier process of ours (killed) no longer stand for connections */
	int stale = presence_clear(s->db, s->conf->name, s->owner, err, sizeof(err));
	if (stale == -1)
		fatalx("presence: %s", err);
	if (stale > 0)
		log_notice("presence: %d connections of an earlier %s forgotten", stale,
		    s->conf->name);
	if (db_listen(s->db, "pgfleet_wakeup", err, sizeof(err)) == -1 ||
	    db_listen(s->db, "pgfleet_revoke", err, sizeof(err)) == -1)
		fatalx("listen: %s", err);
	int nfail;
	s->notify = notify_new(s->base, s->db, s->owner, s->conf, &nfail, err, sizeof(err));
	if (nfail)
		fatalx("%s", err);
	if (s->notify != NULL && db_listen(s->db, "pgfleet_outbox", err, sizeof(err)) == -1)
		fatalx("listen: %s", err);
	int released = s->notify != NULL ? notify_release(s->notify, s->conf->name, err, sizeof(err)) : 0;
	if (released == -1)
		log_warnx("notifications: %s", err);
	else if (released > 0)
		log_notice("notifications: %d claims of an earlier %s released", released, s->conf->name);
	/* shared counters before the first fork, so every worker adds to them */
	if (s->conf->metrics_listen.host != NULL && metrics_init() == -1)
		fatal("metrics: shared memory");
	if (pool_start(s->pool) == -1)
		fatalx("no worker could be started");
	if ((s->ev_enrol = evtimer_new(s->base, sched_enrol_start, s)) == NULL)
		fatalx("out of memory");
	sched_enrol_start(-1, 0, s);
	s->started_wall_ms = clock_wall_ms();
}

/* /metrics and /healthz when metrics.listen is set, and the heartbeat row. */
static void
sched_observe(struct sched *s)
{
	char err[512];
	if (s->conf->metrics_listen.host != NULL) {
		const struct conf_listen *ml = &s->conf->metrics_listen;
		s->observe = observe_new(s->base, ml->host, ml->port, observe_state, s, err, sizeof(err));
		if (s->observe == NULL)
			fatalx("%s", err);
		snprintf(s->metrics_addr, sizeof(s->metrics_addr), strchr(ml->host, ':') != NULL ?
		    "[%s]:%d" : "%s:%d", ml->host, observe_port(s->observe));
		log_notice("metrics and health on http://%s/metrics and /healthz", s->metrics_addr);
	}
	sched_beat(s, 1);
}

/*
 * Notifications libpq read with a statement's result (a NOTIFY on submit while the
 * parent wrote presence or renewed leases) wake no socket event: from the loop, as
 * if the socket had said so. Before, such a submit waited for the next poll.
 */
static void
on_db_noted(void *arg)
{
	struct sched *s = arg;
	event_active(s->ev_noted, EV_READ, 0);
}

static void
sched_timers(struct sched *s)
{
	s->ev_noted = event_new(s->base, -1, 0, db_readable, s);
	if (s->ev_noted == NULL)
		fatalx("out of memory");
	db_set_notify_hook(s->db, on_db_noted, s);
	s->ev_tick = evtimer_new(s->base, sched_tick, s);
	s->ev_heartbeat = event_new(s->base, -1, EV_PERSIST, sched_heartbeat, s);
	struct timeval hb = clock_tv(s->conf->heartbeat_ms);
	event_add(s->ev_heartbeat, &hb);
	db_watch(s);
	sched_tick_now(s);
	s->ev_presence = event_new(s->base, -1, EV_PERSIST, sched_presence, s);
	struct timeval pi = clock_tv(s->conf->agents_presence_interval_ms);
	event_add(s->ev_presence, &pi);
	s->ev_janitor = evtimer_new(s->base, sched_janitor, s);
	struct timeval soon = {1, 0};
	evtimer_add(s->ev_janitor, &soon);
	if (s->notify != NULL) {
		s->ev_notify = event_new(s->base, -1, EV_PERSIST, sched_notify, s);
		struct timeval every = {NOTIFY_POLL_S, 0};
		if (s->ev_notify == NULL || event_add(s->ev_notify, &every) == -1)
			fatalx("notify: out of memory");
		sched_notify(-1, 0, s);
	}
	long long wd = sdnotify_watchdog_ms();
	if (wd > 0) {
		s->ev_watchdog = event_new(s->base, -1, EV_PERSIST, sched_watchdog, s);
		struct timeval half = clock_tv(wd / 2);
		if (s->ev_watchdog == NULL || event_add(s->ev_watchdog, &half) == -1)
			fatalx("watchdog: out of memory");
	}
}

static void
sched_free(struct sched *s)
{
	for (int i = 0; i < 4; i++)
		event_free(s->sigev[i]);
	evloop_event_free(s->ev_db);
	if (s->db != NULL)
		db_set_notify_hook(s->db, NULL, NULL); /* statements below must not reach ev_noted */
	evloop_event_free(s->ev_noted);
	evloop_event_free(s->ev_drain_deadline);
	event_free(s->ev_tick);
	event_free(s->ev_janitor);
	event_free(s->ev_presence);
	event_free(s->ev_hello);
	evloop_event_free(s->ev_enrol);
	if (s->enrol_fd != -1)
		close(s->enrol_fd);
	presence_free(s->presence);
	gate_free(s->refusals);
	close(s->listen_fd);
	event_free(s->ev_heartbeat);
	evloop_event_free(s->ev_watchdog);
	evloop_event_free(s->ev_notify);
	/* deliveries under way are dropped: their rows are due again when the claim lapses */
	notify_free(s->notify);
	db_close(s->db);
	observe_free(s->observe);
	pool_free(s->pool);
	metrics_free();
	event_base_free(s->base);
	conf_free_scheduler(s->conf);
}

/* -c, -n, -d, -h, --version: 0 to run, else the exit code. */
static int
sched_options(int argc, char **argv, const char **path, int *check_only, int *foreground)
{
	int c;
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	while ((c = getopt_long(argc, argv, "c:ndhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': *path = optarg; break;
		case 'n': *check_only = 1; break;
		case 'd': *foreground = 1; break;
		case 'h': usage(stdout); return -1;
		case 'V': version_print(stdout, "pgfleet-scheduler"); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pgfleet-scheduler: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	int check_only = 0, foreground = 0;
	int rc = sched_options(argc, argv, &path, &check_only, &foreground);
	if (rc != 0)
		return rc == -1 ? 0 : rc;
	sdnotify_init();
	struct sched s = {.conf_path = path, .db_fd = -1, .listen_fd = -1, .enrol_fd = -1};
	if (check_config(path, &s.conf) == -1)
		return 2;
	if (check_only) {
		printf("configuration OK\n");
		conf_free_scheduler(s.conf);
		return 0;
	}
	char err[512];
	if (log_start(s.conf->log_level, s.conf->log_file, s.conf->log_format, s.conf->log_syslog,
	    "pgfleet-scheduler", foreground, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-scheduler: %s\n", err);
		return 2;
	}
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");
	if (fsutil_mkdirs(s.conf->spool, 0700) == -1)
		fatal("spool %s", s.conf->spool);
	snprintf(s.owner, sizeof(s.owner), "%s:%ld", s.conf->name, (long)getpid());
	signal(SIGPIPE, SIG_IGN);
	int agents_port = sched_listen(&s);
	db_application_name("pgfleet-scheduler");
	sched_setup(&s);
	sched_connect(&s);
	sched_observe(&s);
	log_notice("scheduler %s started: %d workers, %d sessions each, poll %lld ms, "
	    "agents connect to %s:%d", s.owner, s.conf->workers, s.conf->sessions_per_worker,
	    s.conf->poll_interval_ms, s.conf->agents_listen.host, agents_port);
	sdnotify("READY=1\nSTATUS=%d workers, %d sessions each, agents on port %d\nMAINPID=%ld",
	    s.conf->workers, s.conf->sessions_per_worker, agents_port, (long)getpid());
	sched_timers(&s);
	event_base_dispatch(s.base);
	sched_stop(&s);
	sched_free(&s);
	log_close();
	return s.exit_code;
}
