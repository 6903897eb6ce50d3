/*
 * pgfleet-scheduler: the parent. Checks the whole config, connects, forks the
 * workers (each closes the parent's socket and opens its own connection), then
 * loops: claim due events
 * (on LISTEN pgfleet_wakeup and every poll_interval), hand them out, extend
 * leases, take back expired ones, create recurring occurrences, pass cancels
 * on. SIGTERM drains, SIGHUP reloads; signals reach the loop as events.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/conf.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/fsutil.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/schema.h"
#include "common/sdnotify.h"
#include "common/version.h"
#include "scheduler/claim.h"
#include "scheduler/instance.h"
#include "scheduler/observe.h"
#include "scheduler/pool.h"
#include "worker/worker.h"

#define MAX_CLAIM 1000
#define DEFAULT_CONFIG "/etc/pgfleet/scheduler.yaml"
#define JANITOR_INTERVAL_S 600
#define JANITOR_BATCH 1000

struct sched {
	struct conf_scheduler *conf;
	const char *conf_path;
	char owner[160];
	struct event_base *base;
	struct pool *pool;
	struct db *db;
	int db_fd;
	struct event *ev_db;
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
static void db_readable(evutil_socket_t fd, short what, void *arg);
static void db_watch(struct sched *s);

static void
worker_entry(int slot, int fd, void *arg)
{
	struct sched *s = arg;
	metrics_add(MC_WORKER_STARTS, 1);
	worker_main(s->conf, s->owner, slot, fd);
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
	log_debug("event %" PRId64 " ended with code %d", d->event_id, d->status_code);
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
		log_warnx("event %" PRId64 ": release: %s", event_id, err);
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
		log_notice("event %" PRId64 ": its worker %d is gone, lease ended", ids[i], slot);
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

static void
db_watch(struct sched *s)
{
	int fd = db_socket(s->db);
	if (fd == s->db_fd)
		return;
	if (s->ev_db != NULL) {
		event_free(s->ev_db);
		s->ev_db = NULL;
	}
	s->db_fd = fd;
	if (fd == -1)
		return;
	s->ev_db = event_new(s->base, fd, EV_READ | EV_PERSIST, db_readable, s);
	event_add(s->ev_db, NULL);
}

static void
on_notify(const char *channel, const char *payload, void *arg)
{
	(void)arg;
	log_debug("notify %s %s", channel, payload);
}

static void
db_readable(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char err[512];
	(void)fd;
	(void)what;
	int n = db_consume_notifies(s->db, on_notify, NULL, err, sizeof(err));
	if (n == -1)
		log_warnx("database: %s", err);
	db_watch(s);
	if (n > 0 && !s->draining)
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
		long long t0 = clock_mono_ms();
		if (claim_events(s->db, s->owner, limit, s->conf->lease_ms, evs, &n, err,
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
			for (int i = 0; i < n; i++) {
				if (pool_dispatch(s->pool, &evs[i]) == -1) {
					log_warnx("event %" PRId64 ": no worker has room, released",
					    evs[i].event_id);
					claim_release(s->db, s->owner, evs[i].event_id, err, sizeof(err));
				}
			}
			full = n == limit;
		}
	}
	if (db_ok) {
		db_result_note(s, NULL);
		s->last_claim_ms = clock_mono_ms();
		s->last_claim_wall_ms = clock_wall_ms();
	}
	db_watch(s);
	struct timeval tv = {0, 0};
	if (!full) {
		tv.tv_sec = s->conf->poll_interval_ms / 1000;
		tv.tv_usec = (s->conf->poll_interval_ms % 1000) * 1000;
	}
	evtimer_add(s->ev_tick, &tv);
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
	db_watch(s);
	struct timeval tv = {more == 1 ? 0 : JANITOR_INTERVAL_S, more == 1 ? 100000 : 0};
	evtimer_add(s->ev_janitor, &tv);
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
			log_warnx("event %" PRId64 ": release: %s", ids[i], err);
	if (instance_stop(s->db, s->owner, err, sizeof(err)) == -1)
		log_warnx("heartbeat row: %s", err);
	log_notice("stopped; %d unfinished events released", released);
}

/*
 * Each worker holds about three descriptors per session (the agent's connection,
 * its transfer, a spool file) besides its own few: raise the soft limit up to the
 * hard one when needed, and say so when even that is short (LimitNOFILE=).
 */
static void
check_nofile(const struct conf_scheduler *c)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)c->sessions_per_worker * 3 + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return;
	rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
	struct rlimit raised = {want, rl.rlim_max};
	if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
		rl.rlim_cur = want;
	if (rl.rlim_cur < need)
		log_warnx("open files: %llu allowed, sessions_per_worker %d needs about %llu; raise "
			  "LimitNOFILE= (systemd) or ulimit -n, or lower sessions_per_worker",
		    (unsigned long long)rl.rlim_cur, c->sessions_per_worker, (unsigned long long)need);
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

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	int check_only = 0, foreground = 0, c;
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	while ((c = getopt_long(argc, argv, "c:ndhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'n': check_only = 1; break;
		case 'd': foreground = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': version_print(stdout, "pgfleet-scheduler"); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pgfleet-scheduler: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	sdnotify_init();
	struct sched s = {.conf_path = path, .db_fd = -1};
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
	check_nofile(s.conf);
	snprintf(s.owner, sizeof(s.owner), "%s:%ld", s.conf->name, (long)getpid());
	signal(SIGPIPE, SIG_IGN);
	db_application_name("pgfleet-scheduler");

	s.base = event_base_new();
	if (s.base == NULL)
		fatalx("event_base_new failed");
	struct pool_callbacks cb = {.worker_main = worker_entry, .on_done = on_done,
	    .on_released = on_released, .on_abandoned = on_abandoned, .on_give_up = on_give_up,
	    .arg = &s};
	s.pool = pool_new(s.base, s.conf->workers, s.conf->sessions_per_worker,
	    s.conf->restart_limit_count, s.conf->restart_limit_window_ms, &cb);
	if (s.pool == NULL)
		fatalx("out of memory");
	/* signals first, so a worker that dies at once is reaped */
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	struct event *sigev[4];
	for (int i = 0; i < 4; i++) {
		sigev[i] = evsignal_new(s.base, sigs[i], on_signal, &s);
		evsignal_add(sigev[i], NULL);
	}
	/* connect first so a wrong conninfo is said at once; workers close this
	 * socket right after fork and open their own (pool.c) */
	s.db = db_open(s.conf->database, err, sizeof(err));
	if (s.db == NULL)
		fatalx("%s", err);
	/* an unmigrated or older schema would fail later as "relation does not exist" */
	char msg[512];
	switch (schema_check(s.db, msg, sizeof(msg))) {
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
	if (db_listen(s.db, "pgfleet_wakeup", err, sizeof(err)) == -1)
		fatalx("listen: %s", err);
	/* shared counters before the first fork, so every worker adds to them */
	if (s.conf->metrics_listen.host != NULL && metrics_init() == -1)
		fatal("metrics: shared memory");
	if (pool_start(s.pool) == -1)
		fatalx("no worker could be started");
	s.started_wall_ms = clock_wall_ms();
	if (s.conf->metrics_listen.host != NULL) {
		const struct conf_listen *ml = &s.conf->metrics_listen;
		s.observe = observe_new(s.base, ml->host, ml->port, observe_state, &s, err, sizeof(err));
		if (s.observe == NULL)
			fatalx("%s", err);
		snprintf(s.metrics_addr, sizeof(s.metrics_addr), strchr(ml->host, ':') != NULL ?
		    "[%s]:%d" : "%s:%d", ml->host, observe_port(s.observe));
		log_notice("metrics and health on http://%s/metrics and /healthz", s.metrics_addr);
	}
	sched_beat(&s, 1);
	log_notice("scheduler %s started: %d workers, %d sessions each, poll %lld ms",
	    s.owner, s.conf->workers, s.conf->sessions_per_worker, s.conf->poll_interval_ms);
	sdnotify("READY=1\nSTATUS=%d workers, %d sessions each\nMAINPID=%ld", s.conf->workers,
	    s.conf->sessions_per_worker, (long)getpid());
	long long wd = sdnotify_watchdog_ms();
	if (wd > 0) {
		s.ev_watchdog = event_new(s.base, -1, EV_PERSIST, sched_watchdog, &s);
		struct timeval half = {wd / 2000, (wd / 2 % 1000) * 1000};
		event_add(s.ev_watchdog, &half);
	}

	s.ev_tick = evtimer_new(s.base, sched_tick, &s);
	s.ev_heartbeat = event_new(s.base, -1, EV_PERSIST, sched_heartbeat, &s);
	struct timeval hb = {s.conf->heartbeat_ms / 1000, (s.conf->heartbeat_ms % 1000) * 1000};
	event_add(s.ev_heartbeat, &hb);
	db_watch(&s);
	sched_tick_now(&s);
	s.ev_janitor = evtimer_new(s.base, sched_janitor, &s);
	struct timeval soon = {1, 0};
	evtimer_add(s.ev_janitor, &soon);

	event_base_dispatch(s.base);

	sched_stop(&s);
	for (int i = 0; i < 4; i++)
		event_free(sigev[i]);
	if (s.ev_db != NULL)
		event_free(s.ev_db);
	if (s.ev_drain_deadline != NULL)
		event_free(s.ev_drain_deadline);
	event_free(s.ev_tick);
	event_free(s.ev_janitor);
	event_free(s.ev_heartbeat);
	if (s.ev_watchdog != NULL)
		event_free(s.ev_watchdog);
	db_close(s.db);
	observe_free(s.observe);
	pool_free(s.pool);
	metrics_free();
	event_base_free(s.base);
	conf_free_scheduler(s.conf);
	log_close();
	return s.exit_code;
}
