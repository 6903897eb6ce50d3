/*
 * pool: worker supervision for the scheduler parent, in the postmaster's
 * shape: signal handlers only wake the loop (libevent), and the loop reaps,
 * logs every exit with its code or signal, and decides. Each slot has a pid,
 * a socketpair end wrapped in a bufferevent, and the events it holds; when a
 * worker dies its events go to its successor, so nothing claimed is dropped.
 * When the successor cannot be started (restart limit, fork failure) the
 * events are handed back at once (on_abandoned) and the slot waits on a
 * timer; a worker retired by a reload lives on a list of its own until it
 * has drained.
 */
#include "scheduler/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/evloop.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/util.h"

#define SPAWN_RETRY_MS 1000 /* after a failed fork or socketpair */

struct slot {
	struct pool *pool;
	int index;
	pid_t pid;              /* 0 when not running */
	struct bufferevent *bev;
	struct ipc_event *held; /* events handed to this worker and not yet done */
	int nheld;
	long long *starts;      /* the last restart_limit start times, oldest first */
	int nstarts;
	int waiting;            /* not running: restart at retry_at (pool clock) */
	long long retry_at;
	int retiring;           /* rolled out by a reload: drains, then exits */
	struct slot *next;      /* the retiring list */
};

struct pool {
	struct event_base *base;
	struct slot *slots;
	int nslots;
	int capacity;
	int restart_limit;      /* starts allowed ... */
	long long window_ms;    /* ... within this window */
	int shutting_down;
	int draining;           /* IPC_DRAIN was broadcast: tell new workers too */
	struct slot *retiring;
	struct event *retry_timer;
	int keep_fd;            /* open in the workers too; -1 none */
	long long (*now)(void *);
	void *now_arg;
	struct pool_callbacks cb;
};

static int slot_spawn(struct slot *s, int counted);
static void pool_retry_cb(evutil_socket_t fd, short what, void *arg);

static long long
mono_ms(void *arg)
{
	(void)arg;
	return clock_mono_ms();
}

long long
pool_restart_wait(const long long *starts, int n, int limit, long long window_ms, long long now)
{
	if (limit < 1 || n < limit)
		return 0;
	/* limit starts are recent exactly when the limit-th newest one is */
	long long wait = starts[n - limit] + window_ms - now;
	return wait > 0 ? wait : 0;
}

struct pool *
pool_new(struct event_base *base, int nworkers, int capacity, int restarts, long long window_ms,
    const struct pool_callbacks *cb)
{
	struct pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->slots = calloc((size_t)nworkers, sizeof(*p->slots));
	p->retry_timer = evtimer_new(base, pool_retry_cb, p);
	if (p->slots == NULL || p->retry_timer == NULL) {
		evloop_event_free(p->retry_timer);
		free(p->slots);
		free(p);
		return NULL;
	}
	p->base = base;
	p->keep_fd = -1;
	p->nslots = nworkers;
	p->capacity = capacity;
	p->now = mono_ms;
	p->cb = *cb;
	for (int i = 0; i < nworkers; i++) {
		p->slots[i].pool = p;
		p->slots[i].index = i;
		p->slots[i].held = calloc((size_t)capacity, sizeof(struct ipc_event));
		if (p->slots[i].held == NULL) {
			pool_free(p);
			return NULL;
		}
	}
	if (pool_set_restart_limit(p, restarts, window_ms) == -1) {
		pool_free(p);
		return NULL;
	}
	return p;
}

void
pool_set_clock(struct pool *p, long long (*now_ms)(void *), void *arg)
{
	p->now = now_ms != NULL ? now_ms : mono_ms;
	p->now_arg = arg;
}

int
pool_set_restart_limit(struct pool *p, int restarts, long long window_ms)
{
	if (restarts < 1)
		restarts = 1;
	for (int i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		if (restarts > p->restart_limit) {
			long long *v = realloc(s->starts, (size_t)restarts * sizeof(*v));
			if (v == NULL)
				return -1;
			s->starts = v;
		}
	}
	for (int i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		if (s->nstarts > restarts) { /* keep the newest */
			memmove(s->starts, s->starts + (s->nstarts - restarts),
			    (size_t)restarts * sizeof(*s->starts));
			s->nstarts = restarts;
		}
	}
	p->restart_limit = restarts;
	p->window_ms = window_ms > 0 ? window_ms : 60000;
	return 0;
}

static void
slot_close(struct slot *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
}

static void
slot_free(struct slot *s)
{
	slot_close(s);
	free(s->held);
	free(s->starts);
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->nslots; i++)
		slot_free(&p->slots[i]);
	while (p->retiring != NULL) {
		struct slot *r = p->retiring;
		p->retiring = r->next;
		slot_free(r);
		free(r);
	}
	evloop_event_free(p->retry_timer);
	free(p->slots);
	free(p);
}

static int
slot_find(const struct slot *s, int64_t event_id)
{
	for (int i = 0; i < s->nheld; i++)
		if (s->held[i].event_id == event_id)
			return i;
	return -1;
}

static void
slot_forget(struct slot *s, int64_t event_id)
{
	int i = slot_find(s, event_id);
	if (i == -1)
		return;
	s->held[i] = s->held[--s->nheld];
}

/* An attempt that ended: forgotten unless the event was claimed again meanwhile and the
 * slot holds its new attempt (which is still running). */
static void
slot_forget_attempt(struct slot *s, int64_t event_id, int attempt)
{
	int i = slot_find(s, event_id);
	if (i == -1)
		return;
	if (s->held[i].attempt != attempt) {
		log_event(LL_DEBUG, (long long)event_id, "attempt %d ended, attempt %d held on",
		    attempt, (int)s->held[i].attempt);
		return;
	}
	s->held[i] = s->held[--s->nheld];
}

static void
slot_send(struct slot *s, uint32_t type, const void *payload, size_t len)
{
	if (s->bev == NULL)
		return;
	if (ipc_compose(bufferevent_get_output(s->bev), type, payload, len) == -1)
		fatalx("pool: cannot compose message type %u", type);
}

static void
slot_take(struct slot *s, struct evbuffer *in)
{
	struct pool *p = s->pool;
	struct ipc_msg msg;
	char err[128];
	int r;
	while ((r = ipc_take(in, &msg, err, sizeof(err))) == 1) {
		struct ipc_done done;
		struct ipc_event_ref ref;
		switch (msg.type) {
		case IPC_DONE:
			if (ipc_get(&msg, &done, sizeof(done)) == -1)
				fatalx("pool: worker %d sent a malformed done message", s->index);
			slot_forget_attempt(s, done.event_id, done.attempt);
			if (p->cb.on_done != NULL)
				p->cb.on_done(&done, p->cb.arg);
			break;
		case IPC_RELEASED:
			if (ipc_get(&msg, &ref, sizeof(ref)) == -1)
				fatalx("pool: worker %d sent a malformed release message", s->index);
			slot_forget(s, ref.event_id);
			if (p->cb.on_released != NULL)
				p->cb.on_released(ref.event_id, p->cb.arg);
			break;
		case IPC_READY:
			log_debug("worker %d ready", s->index);
			break;
		case IPC_AGENT_HELLO:
		case IPC_AGENT_GONE:
		case IPC_AGENT_SEEN:
			if (p->cb.on_agent != NULL)
				p->cb.on_agent(s->index, s->pid, &msg, p->cb.arg);
			break;
		default:
			/* a bad message from our own process is a bug */
			fatalx("pool: worker %d sent unexpected message type %u", s->index, msg.type);
		}
	}
	if (r == -1)
		fatalx("pool: worker %d: %s", s->index, err);
}

static void
slot_read(struct bufferevent *bev, void *arg)
{
	slot_take(arg, bufferevent_get_input(bev));
}

static void
slot_event(struct bufferevent *bev, short what, void *arg)
{
	struct slot *s = arg;
	(void)bev;
	(void)what;
	/* the worker closed its end: it is exiting; pool_reap handles the rest */
	slot_close(s);
}

/* The worker has exited: what it wrote before it did is still in the socket
 * (a done message racing SIGCHLD); take it before closing, so that a
 * finished event is not handed on as unfinished. */
static void
slot_drain_channel(struct slot *s)
{
	if (s->bev == NULL)
		return;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	while (fd != -1 && evbuffer_read(in, fd, 65536) > 0)
		;
	slot_take(s, in);
}

/* The worker is gone and nobody takes its events over: hand them back. */
static void
slot_abandon(struct slot *s)
{
	struct pool *p = s->pool;
	if (s->nheld == 0)
		return;
	int64_t *ids = malloc((size_t)s->nheld * sizeof(*ids));
	if (ids == NULL)
		fatalx("out of memory");
	int n = s->nheld;
	for (int i = 0; i < n; i++)
		ids[i] = s->held[i].event_id;
	s->nheld = 0;
	log_warnx("worker %d: %d events handed back for another attempt", s->index, n);
	if (p->cb.on_abandoned != NULL)
		p->cb.on_abandoned(s->index, ids, n, p->cb.arg);
	free(ids);
}

static void
pool_arm_retry(struct pool *p)
{
	long long now = p->now(p->now_arg), soonest = -1;
	for (int i = 0; i < p->nslots; i++) {
		const struct slot *s = &p->slots[i];
		if (s->waiting && (soonest == -1 || s->retry_at < soonest))
			soonest = s->retry_at;
	}
	if (soonest == -1 || p->shutting_down) {
		evtimer_del(p->retry_timer);
		return;
	}
	long long wait = soonest > now ? soonest - now : 0;
	struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
	evtimer_add(p->retry_timer, &tv);
}

/* The slot cannot run a worker now: its events go back, it waits; notify:
 * tell the owner (not while the pool is still being started). */
static void
slot_wait(struct slot *s, long long wait_ms, int notify)
{
	struct pool *p = s->pool;
	slot_abandon(s);
	s->waiting = 1;
	s->retry_at = p->now(p->now_arg) + wait_ms;
	pool_arm_retry(p);
	if (notify && p->cb.on_give_up != NULL)
		p->cb.on_give_up(s->index, p->cb.arg);
}

static void
slot_note_start(struct slot *s)
{
	struct pool *p = s->pool;
	if (s->nstarts == p->restart_limit) {
		memmove(s->starts, s->starts + 1, (size_t)(s->nstarts - 1) * sizeof(*s->starts));
		s->nstarts--;
	}
	s->starts[s->nstarts++] = p->now(p->now_arg);
}

/* counted: the start counts against the restart limit (not so for a reload's roll). */
static int
slot_spawn(struct slot *s, int counted)
{
	struct pool *p = s->pool;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("worker %d: socketpair", s->index);
		return -1;
	}
	pid_t pid = fork();
	if (pid == -1) {
		log_warn("worker %d: fork", s->index);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* keep only our end of the pair and the log; the parent's database
		 * socket and other workers' pairs must not live on in this child */
		int fd = sv[1];
		int keep[] = {fd, log_fileno(), p->keep_fd};
		fsutil_close_except(3, keep, 3);
		fcntl(fd, F_SETFD, 0);
		/* the parent's libevent signal handlers point at its closed pipe */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		/* a worker never outlives its parent */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		p->cb.worker_main(s->index, fd, p->cb.arg);
		_exit(1);
	}
	close(sv[1]);
	evutil_make_socket_nonblocking(sv[0]);
	s->bev = bufferevent_socket_new(p->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL)
		fatalx("worker %d: bufferevent_socket_new failed", s->index);
	bufferevent_setcb(s->bev, slot_read, NULL, slot_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->pid = pid;
	s->waiting = 0;
	if (counted)
		slot_note_start(s);
	log_info("worker %d started, pid %ld", s->index, (long)pid);
	if (p->draining)
		slot_send(s, IPC_DRAIN, NULL, 0);
	return 0;
}

int
pool_start(struct pool *p)
{
	int started = 0;
	for (int i = 0; i < p->nslots; i++) {
		if (slot_spawn(&p->slots[i], 1) == 0)
			started++;
		else
			slot_wait(&p->slots[i], SPAWN_RETRY_MS, 0);
	}
	return started > 0 ? 0 : -1;
}

int
pool_live(const struct pool *p)
{
	int n = 0;
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid != 0)
			n++;
	return n;
}

int
pool_procs(const struct pool *p)
{
	int n = pool_live(p);
	for (const struct slot *r = p->retiring; r != NULL; r = r->next)
		if (r->pid != 0)
			n++;
	return n;
}

int
pool_free_capacity(const struct pool *p)
{
	int n = 0;
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid != 0 && p->slots[i].bev != NULL)
			n += p->capacity - p->slots[i].nheld;
	return n;
}

int
pool_inflight(const struct pool *p)
{
	int n = 0;
	for (int i = 0; i < p->nslots; i++)
		n += p->slots[i].nheld;
	for (const struct slot *r = p->retiring; r != NULL; r = r->next)
		n += r->nheld;
	return n;
}

static struct slot *pool_holder(const struct pool *p, int64_t event_id);

int
pool_dispatch(struct pool *p, const struct ipc_event *ev)
{
	/* claimed again while still held (its lease ran out meanwhile): the worker that runs
	 * the old attempt gets the new one, which replaces it there */
	struct slot *held = pool_holder(p, ev->event_id);
	if (held != NULL) {
		held->held[slot_find(held, ev->event_id)] = *ev;
		slot_send(held, IPC_EVENT, ev, sizeof(*ev));
		return 0;
	}
	struct slot *best = NULL;
	for (int i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		if (s->pid == 0 || s->bev == NULL || s->nheld >= p->capacity)
			continue;
		if (best == NULL || s->nheld < best->nheld)
			best = s;
	}
	if (best == NULL)
		return -1;
	best->held[best->nheld++] = *ev;
	slot_send(best, IPC_EVENT, ev, sizeof(*ev));
	return 0;
}

static struct slot *
pool_by_pid(const struct pool *p, pid_t pid)
{
	if (pid <= 0)
		return NULL;
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid == pid)
			return &p->slots[i];
	for (struct slot *r = p->retiring; r != NULL; r = r->next)
		if (r->pid == pid)
			return r;
	return NULL;
}

int
pool_dispatch_to(struct pool *p, pid_t pid, const struct ipc_event *ev)
{
	struct slot *s = pool_by_pid(p, pid);
	if (s == NULL || s->retiring || s->bev == NULL || s->nheld >= p->capacity)
		return -1;
	struct slot *old = pool_holder(p, ev->event_id);
	if (old == s) {
		s->held[slot_find(s, ev->event_id)] = *ev; /* claimed again: the new attempt */
	} else {
		/* an older attempt on another worker: the database refuses its writes now */
		if (old != NULL)
			slot_forget(old, ev->event_id);
		s->held[s->nheld++] = *ev;
	}
	slot_send(s, IPC_EVENT, ev, sizeof(*ev));
	return 0;
}

int
pool_send(struct pool *p, pid_t pid, uint32_t type, const void *payload, size_t len)
{
	struct slot *s = pool_by_pid(p, pid);
	if (s == NULL || s->bev == NULL)
		return -1;
	slot_send(s, type, payload, len);
	return 0;
}

void
pool_keep_fd(struct pool *p, int fd)
{
	p->keep_fd = fd;
}

/* The slot or retiring worker holding event_id, or NULL. */
static struct slot *
pool_holder(const struct pool *p, int64_t event_id)
{
	for (int i = 0; i < p->nslots; i++)
		if (slot_find(&p->slots[i], event_id) != -1)
			return &p->slots[i];
	for (struct slot *r = p->retiring; r != NULL; r = r->next)
		if (slot_find(r, event_id) != -1)
			return r;
	return NULL;
}

int
pool_holds(const struct pool *p, int64_t event_id)
{
	return pool_holder(p, event_id) != NULL;
}

int
pool_cancel(struct pool *p, int64_t event_id)
{
	struct slot *s = pool_holder(p, event_id);
	if (s == NULL)
		return -1;
	struct ipc_event_ref ref = {event_id};
	slot_send(s, IPC_CANCEL, &ref, sizeof(ref));
	return 0;
}

static int
slot_ids(const struct slot *s, int live_only, int64_t *ids, int n, int max)
{
	if (live_only && s->pid == 0)
		return n;
	for (int j = 0; j < s->nheld && n < max; j++)
		ids[n++] = s->held[j].event_id;
	return n;
}

static int
pool_ids(const struct pool *p, int live_only, int64_t *ids, int max)
{
	int n = 0;
	for (int i = 0; i < p->nslots; i++)
		n = slot_ids(&p->slots[i], live_only, ids, n, max);
	for (const struct slot *r = p->retiring; r != NULL; r = r->next)
		n = slot_ids(r, live_only, ids, n, max);
	return n;
}

int
pool_held_events(const struct pool *p, int64_t *ids, int max)
{
	return pool_ids(p, 0, ids, max);
}

int
pool_live_events(const struct pool *p, int64_t *ids, int max)
{
	return pool_ids(p, 1, ids, max);
}

void
pool_broadcast(struct pool *p, uint32_t type)
{
	if (type == IPC_DRAIN)
		p->draining = 1;
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid != 0)
			slot_send(&p->slots[i], type, NULL, 0);
	for (struct slot *r = p->retiring; r != NULL; r = r->next)
		if (r->pid != 0 && type != IPC_DRAIN) /* retiring ones drain already */
			slot_send(r, type, NULL, 0);
}

/* Every child's end is logged, with its code or signal. */
static void
log_exit(const struct pool *p, const struct slot *s, pid_t pid, int status)
{
	char who[64];
	if (s == NULL)
		snprintf(who, sizeof(who), "child (pid %ld)", (long)pid);
	else
		snprintf(who, sizeof(who), "%sworker %d (pid %ld)", s->retiring ? "retired " : "",
		    s->index, (long)pid);
	/* draining, a worker leaves once it holds nothing */
	int expected = p->shutting_down || p->draining || (s != NULL && s->retiring);
	if (WIFSIGNALED(status))
		log_msg(p->shutting_down ? LL_NOTICE : LL_WARNING, "%s killed by signal %d", who,
		    WTERMSIG(status));
	else
		log_msg(expected && WEXITSTATUS(status) == 0 ? LL_NOTICE : LL_WARNING,
		    "%s exited with code %d", who, WEXITSTATUS(status));
}

static void
retired_exit(struct pool *p, struct slot *r)
{
	/* a retired worker that died before finishing: its events go back */
	if (!p->shutting_down)
		slot_abandon(r);
	if (r->nheld > 0)
		return; /* shutting down: kept for pool_held_events, freed by pool_free */
	for (struct slot **pp = &p->retiring; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	slot_free(r);
	free(r);
}

void
pool_reap(struct pool *p)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct slot *s = NULL;
		for (int i = 0; i < p->nslots && s == NULL; i++)
			if (p->slots[i].pid == pid)
				s = &p->slots[i];
		for (struct slot *r = p->retiring; r != NULL && s == NULL; r = r->next)
			if (r->pid == pid)
				s = r;
		if (s == NULL && p->cb.on_child != NULL && p->cb.on_child(pid, status, p->cb.arg))
			continue;
		log_exit(p, s, pid, status);
		if (s == NULL) {
			if (p->cb.on_other_exit != NULL)
				p->cb.on_other_exit(pid, status, p->cb.arg);
			continue;
		}
		slot_drain_channel(s);
		slot_close(s);
		s->pid = 0;
		if (p->cb.on_exit != NULL)
			p->cb.on_exit(s->index, pid, p->cb.arg);
		/* its agents' connections died with it: a successor cannot take its events */
		if (!p->shutting_down && !s->retiring)
			slot_abandon(s);
		if (s->retiring) {
			retired_exit(p, s);
			continue;
		}
		/* draining: a new worker would only drain too (its events, if any, went back above) */
		if (p->shutting_down || p->draining)
			continue;
		long long wait = pool_restart_wait(s->starts, s->nstarts, p->restart_limit, p->window_ms,
		    p->now(p->now_arg));
		if (wait > 0) {
			log_error("worker %d: started %d times within %lld s, giving up;"
			    " next start in %lld s, when the window has passed", s->index, p->restart_limit,
			    p->window_ms / 1000, (wait + 999) / 1000);
			slot_wait(s, wait, 1);
			continue;
		}
		if (slot_spawn(s, 1) == -1)
			slot_wait(s, SPAWN_RETRY_MS, 1);
	}
}

int
pool_maintain(struct pool *p)
{
	int started = 0;
	if (p->shutting_down || p->draining)
		return 0;
	long long now = p->now(p->now_arg);
	for (int i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		if (!s->waiting || s->pid != 0)
			continue;
		/* the pool's clock decides, not the timer that woke us */
		long long wait = pool_restart_wait(s->starts, s->nstarts, p->restart_limit,
		    p->window_ms, now);
		if (wait > 0 && now + wait > s->retry_at)
			s->retry_at = now + wait;
		if (now < s->retry_at)
			continue;
		log_notice("worker %d: restart window passed, starting it again", s->index);
		if (slot_spawn(s, 1) == 0)
			started++;
		else
			s->retry_at = now + SPAWN_RETRY_MS;
	}
	pool_arm_retry(p);
	return started;
}

static void
pool_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)pool_maintain(arg);
}

int
pool_roll(struct pool *p)
{
	int n = 0;
	if (p->shutting_down || p->draining)
		return 0;
	for (int i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		if (s->pid == 0)
			continue;
		struct slot *r = calloc(1, sizeof(*r));
		struct ipc_event *held = calloc((size_t)p->capacity, sizeof(*held));
		if (r == NULL || held == NULL)
			fatalx("out of memory");
		/* the running worker moves to the retiring list with what it holds */
		r->pool = p;
		r->index = s->index;
		r->pid = s->pid;
		r->bev = s->bev;
		r->held = s->held;
		r->nheld = s->nheld;
		r->retiring = 1;
		r->next = p->retiring;
		p->retiring = r;
		if (r->bev != NULL)
			bufferevent_setcb(r->bev, slot_read, NULL, slot_event, r);
		slot_send(r, IPC_DRAIN, NULL, 0);
		log_notice("worker %d (pid %ld) retiring: finishes its %d events, takes no new ones",
		    r->index, (long)r->pid, r->nheld);
		s->pid = 0;
		s->bev = NULL;
		s->held = held;
		s->nheld = 0;
		if (slot_spawn(s, 0) == -1)
			slot_wait(s, SPAWN_RETRY_MS, 1);
		else
			n++;
	}
	return n;
}

void
pool_shutdown(struct pool *p, int stop_now)
{
	p->shutting_down = 1;
	evtimer_del(p->retry_timer);
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid != 0)
			kill(p->slots[i].pid, stop_now ? SIGKILL : SIGTERM);
	for (struct slot *r = p->retiring; r != NULL; r = r->next)
		if (r->pid != 0)
			kill(r->pid, stop_now ? SIGKILL : SIGTERM);
}
