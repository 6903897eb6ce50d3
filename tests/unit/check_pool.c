/* Unit tests for scheduler/pool: dispatch, done, a dead worker is restarted and
 * its events are handed back (its agents' connections died with it); past the
 * restart limit the slot starts again once the window has passed (on an
 * injected clock); a reload's roll retires workers without losing their events;
 * dispatch to the worker that holds a computer's connection. */
#include <check.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/ipc.h"
#include "scheduler/pool.h"

static char flagfile[64];

/* A worker that answers every event with done, except that the first time it
 * sees event 13 (flag file absent) it creates the file and dies. */
static void
fake_exit(struct evbuffer *in, struct evbuffer *out, int code)
{
	evbuffer_free(in);
	evbuffer_free(out);
	_exit(code);
}

static void
fake_worker(int slot, int fd, void *arg)
{
	(void)slot;
	(void)arg;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct ipc_msg msg;
	char err[128];
	for (;;) {
		int r;
		while ((r = ipc_take(in, &msg, err, sizeof(err))) == 1) {
			struct ipc_event ev;
			if (msg.type != IPC_EVENT || ipc_get(&msg, &ev, sizeof(ev)) == -1)
				fake_exit(in, out, 2);
			if (ev.event_id == 13 && access(flagfile, F_OK) != 0) {
				FILE *f = fopen(flagfile, "w");
				fclose(f);
				fake_exit(in, out, 3);
			}
			struct ipc_done d = {.event_id = ev.event_id, .status_code = (int)ev.event_id};
			ipc_compose(out, IPC_DONE, &d, sizeof(d));
			evbuffer_write(out, fd);
		}
		if (r == -1 || evbuffer_read(in, fd, 4096) <= 0)
			fake_exit(in, out, 0);
	}
}

struct seen {
	int n;
	int64_t ids[16];
	struct event_base *base;
	int want;
};

static void
on_done(const struct ipc_done *d, void *arg)
{
	struct seen *s = arg;
	s->ids[s->n++] = d->event_id;
	if (s->n == s->want)
		event_base_loopbreak(s->base);
}

static struct pool *reap_pool;

static void
on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pool_reap(reap_pool);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

START_TEST(test_pool_refuses_dispatch_when_full)
{
	struct event_base *base = event_base_new();
	struct seen seen = {.base = base, .want = 99};
	struct pool_callbacks cb = {.worker_main = fake_worker, .on_done = on_done, .arg = &seen};
	struct pool *p = pool_new(base, 1, 2, 5, 60000, &cb);
	ck_assert_int_eq(pool_start(p), 0);
	struct ipc_event ev = {.event_id = 1};
	ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	ev.event_id = 2;
	ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	ev.event_id = 3;
	ck_assert_int_eq(pool_dispatch(p, &ev), -1);
	ck_assert_int_eq(pool_cancel(p, 42), -1);
	pool_shutdown(p, 1);
	while (pool_live(p) > 0) {
		usleep(10000);
		pool_reap(p);
	}
	pool_free(p);
	event_base_free(base);
}
END_TEST

static void
dying_worker(int slot, int fd, void *arg)
{
	(void)slot;
	(void)fd;
	(void)arg;
	_exit(7);
}

static int gave_up = -1;

static void
on_give_up(int slot, void *arg)
{
	gave_up = slot;
	event_base_loopbreak(arg);
}

START_TEST(test_pool_gives_up_on_a_worker_that_keeps_dying)
{
	struct event_base *base = event_base_new();
	struct pool_callbacks cb = {.worker_main = dying_worker, .on_give_up = on_give_up, .arg = base};
	struct pool *p = pool_new(base, 1, 4, 3, 60000, &cb);
	reap_pool = p;
	struct event *sig = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	evsignal_add(sig, NULL);
	struct timeval tv = {10, 0};
	struct event *deadline = evtimer_new(base, on_deadline, base);
	evtimer_add(deadline, &tv);
	gave_up = -1;
	ck_assert_int_eq(pool_start(p), 0);
	event_base_dispatch(base);
	ck_assert_int_eq(gave_up, 0);        /* started, then 2 restarts, then no more */
	ck_assert_int_eq(pool_live(p), 0);
	ck_assert_int_eq(pool_free_capacity(p), 0);
	event_free(sig);
	event_free(deadline);
	pool_free(p);
	event_base_free(base);
}
END_TEST

START_TEST(test_pool_restart_wait_counts_starts_within_the_window)
{
	long long starts[] = {1000, 2000, 3000};
	ck_assert_int_eq(pool_restart_wait(starts, 0, 3, 5000, 3000), 0);
	ck_assert_int_eq(pool_restart_wait(starts, 2, 3, 5000, 3000), 0);   /* under the limit */
	ck_assert_int_eq(pool_restart_wait(starts, 3, 3, 5000, 3000), 3000); /* 1000 leaves at 6000 */
	ck_assert_int_eq(pool_restart_wait(starts, 3, 3, 5000, 5999), 1);
	ck_assert_int_eq(pool_restart_wait(starts, 3, 3, 5000, 6000), 0);
	ck_assert_int_eq(pool_restart_wait(starts, 3, 2, 5000, 3000), 4000); /* 2000 must leave */
	ck_assert_int_eq(pool_restart_wait(starts, 3, 1, 5000, 9000), 0);
}
END_TEST

/* A worker that answers every event with done, except event 13: it dies on it. */
static void
poison_worker(int slot, int fd, void *arg)
{
	(void)slot;
	(void)arg;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct ipc_msg msg;
	char err[128];
	for (;;) {
		int r;
		while ((r = ipc_take(in, &msg, err, sizeof(err))) == 1) {
			struct ipc_event ev;
			if (msg.type != IPC_EVENT || ipc_get(&msg, &ev, sizeof(ev)) == -1)
				fake_exit(in, out, 2);
			if (ev.event_id == 13)
				fake_exit(in, out, 5);
			struct ipc_done d = {.event_id = ev.event_id};
			ipc_compose(out, IPC_DONE, &d, sizeof(d));
			evbuffer_write(out, fd);
		}
		if (r == -1 || evbuffer_read(in, fd, 4096) <= 0)
			fake_exit(in, out, 0);
	}
}

/* A worker that holds its events until each is cancelled (done with -8);
 * once told to drain, it exits as soon as it holds none. */
static void
holding_worker(int slot, int fd, void *arg)
{
	(void)slot;
	(void)arg;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct ipc_msg msg;
	char err[128];
	int64_t held[16];
	int n = 0, draining = 0;
	for (;;) {
		int r;
		while ((r = ipc_take(in, &msg, err, sizeof(err))) == 1) {
			struct ipc_event ev;
			struct ipc_event_ref ref;
			if (msg.type == IPC_EVENT && ipc_get(&msg, &ev, sizeof(ev)) == 0 && n < 16) {
				held[n++] = ev.event_id;
			} else if (msg.type == IPC_CANCEL && ipc_get(&msg, &ref, sizeof(ref)) == 0) {
				for (int i = 0; i < n; i++) {
					if (held[i] == ref.event_id) {
						struct ipc_done d = {.event_id = ref.event_id, .status_code = -8};
						ipc_compose(out, IPC_DONE, &d, sizeof(d));
						evbuffer_write(out, fd);
						held[i] = held[--n];
						break;
					}
				}
			} else if (msg.type == IPC_DRAIN) {
				draining = 1;
			} else {
				fake_exit(in, out, 2);
			}
			if (draining && n == 0)
				fake_exit(in, out, 0);
		}
		if (r == -1 || evbuffer_read(in, fd, 4096) <= 0)
			fake_exit(in, out, 0);
	}
}

struct watch {
	struct event_base *base;
	int64_t done[16];
	int codes[16];
	int ndone;
	int64_t abandoned[16];
	int nabandoned;
	int gave_up;
	int exits;
	pid_t exited[16];
	long long now; /* the pool's clock */
};

static void
watch_exit(int slot, pid_t pid, void *arg)
{
	struct watch *w = arg;
	(void)slot;
	if (w->exits < 16)
		w->exited[w->exits] = pid;
	w->exits++;
}

static void
watch_done(const struct ipc_done *d, void *arg)
{
	struct watch *w = arg;
	if (w->ndone < 16) {
		w->codes[w->ndone] = d->status_code;
		w->done[w->ndone++] = d->event_id;
	}
}

static void
watch_abandoned(int slot, const int64_t *ids, int n, void *arg)
{
	struct watch *w = arg;
	(void)slot;
	for (int i = 0; i < n && w->nabandoned < 16; i++)
		w->abandoned[w->nabandoned++] = ids[i];
}

static void
watch_give_up(int slot, void *arg)
{
	struct watch *w = arg;
	(void)slot;
	w->gave_up++;
}

static long long
watch_clock(void *arg)
{
	return ((struct watch *)arg)->now;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static long long
real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Turn the loop until cond holds; 1, or 0 after a 10 s deadline. */
static int
run_until(struct event_base *base, int (*cond)(struct pool *, struct watch *), struct pool *p,
    struct watch *w)
{
	struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = {0, 50000};
	event_add(t, &tv);
	long long end = real_ms() + 10000;
	int ok;
	while (!(ok = cond(p, w)) && real_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return ok;
}

static int want_exits;

/* The worker died (want_exits times in all) and a successor runs. */
static int
one_more_live(struct pool *p, struct watch *w)
{
	return w->exits == want_exits && w->nabandoned == w->exits && pool_live(p) == 1 &&
	    w->abandoned[w->nabandoned - 1] == 13 && w->ndone >= 1;
}

static int
gave_up_once(struct pool *p, struct watch *w)
{
	(void)p;
	return w->gave_up == 1;
}

static int
fifteen_done(struct pool *p, struct watch *w)
{
	(void)p;
	return w->ndone == 2 && w->done[1] == 15;
}

static void
stop_pool(struct pool *p)
{
	pool_shutdown(p, 1);
	while (pool_procs(p) > 0) {
		usleep(10000);
		pool_reap(p);
	}
}

static int
eleven_twelve_done_thirteen_back(struct pool *p, struct watch *w)
{
	return w->ndone == 2 && w->nabandoned == 1 && pool_live(p) == 2;
}

START_TEST(test_pool_respawns_dead_worker_and_hands_back_its_events)
{
	snprintf(flagfile, sizeof(flagfile), "/tmp/pgfleet-pool-%ld", (long)getpid());
	unlink(flagfile);
	struct event_base *base = event_base_new();
	struct watch w = {.base = base};
	struct pool_callbacks cb = {.worker_main = fake_worker, .on_done = watch_done,
	    .on_abandoned = watch_abandoned, .on_exit = watch_exit, .arg = &w};
	struct pool *p = pool_new(base, 2, 4, 5, 60000, &cb);
	reap_pool = p;
	struct event *sig = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	evsignal_add(sig, NULL);
	ck_assert_int_eq(pool_start(p), 0);
	ck_assert_int_eq(pool_live(p), 2);
	ck_assert_int_eq(pool_free_capacity(p), 8);
	int64_t ids[] = {11, 12, 13};
	for (int i = 0; i < 3; i++) {
		struct ipc_event ev = {.event_id = ids[i]};
		ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	}
	ck_assert_int_eq(pool_inflight(p), 3);
	ck_assert(pool_holds(p, 13));
	ck_assert(run_until(base, eleven_twelve_done_thirteen_back, p, &w));
	/* 13 killed its worker: handed back (its computer's connection died too), not re-sent */
	ck_assert_int_eq(w.abandoned[0], 13);
	ck_assert_int_eq(w.exits, 1);
	ck_assert_int_eq(access(flagfile, F_OK), 0);
	ck_assert_int_eq(pool_inflight(p), 0);
	stop_pool(p);
	unlink(flagfile);
	event_free(sig);
	pool_free(p);
	event_base_free(base);
}
END_TEST

START_TEST(test_pool_dispatches_to_the_worker_holding_the_connection)
{
	struct event_base *base = event_base_new();
	struct watch w = {.base = base};
	struct pool_callbacks cb = {.worker_main = holding_worker, .on_done = watch_done,
	    .arg = &w};
	struct pool *p = pool_new(base, 2, 1, 5, 60000, &cb);
	ck_assert_int_eq(pool_start(p), 0);
	struct ipc_event ev = {.event_id = 21};
	/* no such worker: refused, the caller hands the event back */
	ck_assert_int_eq(pool_dispatch_to(p, 1, &ev), -1);
	ck_assert_int_eq(pool_send(p, 1, IPC_REOPEN, NULL, 0), -1);
	ck_assert_int_eq(pool_free_capacity(p), 2);
	ck_assert_int_eq(pool_inflight(p), 0);
	stop_pool(p);
	pool_free(p);
	event_base_free(base);
}
END_TEST

START_TEST(test_pool_hands_back_events_of_given_up_slot_and_restarts_after_window)
{
	struct event_base *base = event_base_new();
	struct watch w = {.base = base, .now = 1000000};
	struct pool_callbacks cb = {.worker_main = poison_worker, .on_done = watch_done,
	    .on_abandoned = watch_abandoned, .on_give_up = watch_give_up, .on_exit = watch_exit,
	    .arg = &w};
	struct pool *p = pool_new(base, 1, 4, 3, 60000, &cb);
	pool_set_clock(p, watch_clock, &w);
	reap_pool = p;
	struct event *sig = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	evsignal_add(sig, NULL);
	ck_assert_int_eq(pool_start(p), 0);
	struct ipc_event ev = {.event_id = 12};
	ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	/* 13 kills each worker it reaches: the first and its two successors */
	for (int k = 0; k < 3; k++) {
		ev.event_id = 13;
		want_exits = k + 1;
		ck_assert_int_eq(pool_dispatch(p, &ev), 0);
		ck_assert(run_until(base, k < 2 ? one_more_live : gave_up_once, p, &w));
	}
	/* 12 was answered before the first death: done, not handed on */
	ck_assert_int_eq(w.ndone, 1);
	ck_assert_int_eq(w.done[0], 12);
	/* 13 is handed back at each death, never given to a successor */
	ck_assert_int_eq(w.nabandoned, 3);
	ck_assert_int_eq(w.abandoned[2], 13);
	ck_assert_int_eq(w.exits, 3);
	ck_assert(!pool_holds(p, 13));
	ck_assert_int_eq(pool_inflight(p), 0);
	int64_t ids[4];
	ck_assert_int_eq(pool_live_events(p, ids, 4), 0);
	ck_assert_int_eq(pool_live(p), 0);
	ck_assert_int_eq(pool_free_capacity(p), 0);
	/* inside the window nothing starts; once the clock passes it, the slot does */
	ck_assert_int_eq(pool_maintain(p), 0);
	w.now += 59999;
	ck_assert_int_eq(pool_maintain(p), 0);
	ck_assert_int_eq(pool_live(p), 0);
	w.now += 1;
	ck_assert_int_eq(pool_maintain(p), 1);
	ck_assert_int_eq(pool_live(p), 1);
	ev.event_id = 15;
	ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	ck_assert(run_until(base, fifteen_done, p, &w));
	ck_assert_int_eq(w.gave_up, 1);
	stop_pool(p);
	event_free(sig);
	pool_free(p);
	event_base_free(base);
}
END_TEST

static int
rolled_out(struct pool *p, struct watch *w)
{
	return w->ndone == 2 && pool_procs(p) == 1;
}

START_TEST(test_pool_roll_drains_old_worker_and_starts_new_one)
{
	struct event_base *base = event_base_new();
	struct watch w = {.base = base};
	struct pool_callbacks cb = {.worker_main = holding_worker, .on_done = watch_done,
	    .on_abandoned = watch_abandoned, .on_give_up = watch_give_up, .arg = &w};
	struct pool *p = pool_new(base, 1, 4, 3, 60000, &cb);
	reap_pool = p;
	struct event *sig = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	evsignal_add(sig, NULL);
	ck_assert_int_eq(pool_start(p), 0);
	struct ipc_event ev = {.event_id = 21};
	ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	ev.event_id = 23;
	ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	ck_assert_int_eq(pool_roll(p), 1);
	/* the old worker keeps 21 and 23; the new one has room */
	ck_assert_int_eq(pool_live(p), 1);
	ck_assert_int_eq(pool_procs(p), 2);
	ck_assert(pool_holds(p, 21));
	ck_assert(pool_holds(p, 23));
	ck_assert_int_eq(pool_free_capacity(p), 4);
	ev.event_id = 22;
	ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	ck_assert_int_eq(pool_inflight(p), 3);
	/* cancels reach the retiring worker; once it holds nothing it leaves */
	ck_assert_int_eq(pool_cancel(p, 21), 0);
	ck_assert_int_eq(pool_cancel(p, 23), 0);
	ck_assert(run_until(base, rolled_out, p, &w));
	ck_assert_int_eq(w.ndone, 2);
	ck_assert_int_eq(w.done[0], 21);
	ck_assert_int_eq(w.done[1], 23);
	ck_assert_int_eq(w.codes[0], -8);
	ck_assert_int_eq(w.codes[1], -8);
	ck_assert_int_eq(w.nabandoned, 0);
	ck_assert_int_eq(w.gave_up, 0);
	ck_assert_int_eq(pool_inflight(p), 1);
	ck_assert(pool_holds(p, 22));
	ck_assert_int_eq(pool_live(p), 1);
	stop_pool(p);
	event_free(sig);
	pool_free(p);
	event_base_free(base);
}
END_TEST

static int
one_exit(struct pool *p, struct watch *w)
{
	(void)p;
	return w->exits >= 1;
}

static int
all_exited(struct pool *p, struct watch *w)
{
	(void)w;
	return pool_procs(p) == 0;
}

/* A drain: the worker that holds nothing leaves at once and is not started again (a new one
 * would only drain too); the other finishes its event first. */
START_TEST(test_pool_drain_does_not_restart_a_worker_that_finished)
{
	struct event_base *base = event_base_new();
	struct watch w = {.base = base};
	struct pool_callbacks cb = {.worker_main = holding_worker, .on_done = watch_done,
	    .on_abandoned = watch_abandoned, .on_give_up = watch_give_up, .on_exit = watch_exit,
	    .arg = &w};
	struct pool *p = pool_new(base, 2, 4, 3, 60000, &cb);
	reap_pool = p;
	struct event *sig = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	evsignal_add(sig, NULL);
	ck_assert_int_eq(pool_start(p), 0);
	ck_assert_int_eq(pool_procs(p), 2);
	struct ipc_event ev = {.event_id = 31};
	ck_assert_int_eq(pool_dispatch(p, &ev), 0);
	pool_broadcast(p, IPC_DRAIN);
	ck_assert(run_until(base, one_exit, p, &w));
	ck_assert_int_eq(w.exits, 1);
	ck_assert_int_eq(pool_procs(p), 1); /* none started in its place */
	ck_assert(pool_holds(p, 31));
	ck_assert_int_eq(w.nabandoned, 0);
	ck_assert_int_eq(pool_cancel(p, 31), 0);
	ck_assert(run_until(base, all_exited, p, &w));
	ck_assert_int_eq(w.exits, 2);
	ck_assert_int_eq(w.ndone, 1);
	ck_assert_int_eq(w.done[0], 31);
	ck_assert_int_eq(pool_inflight(p), 0);
	stop_pool(p);
	event_free(sig);
	pool_free(p);
	event_base_free(base);
}
END_TEST

/* A worker that remembers how many hand-overs of each event it got; on attempt 1 of an
 * event it reports attempt 0 ended (late), then attempt 1, each with that count. */
static void
attempt_worker(int slot, int fd, void *arg)
{
	(void)slot;
	(void)arg;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct ipc_msg msg;
	char err[128];
	int seen = 0;
	for (;;) {
		int r;
		while ((r = ipc_take(in, &msg, err, sizeof(err))) == 1) {
			struct ipc_event ev;
			if (msg.type != IPC_EVENT || ipc_get(&msg, &ev, sizeof(ev)) == -1)
				fake_exit(in, out, 2);
			seen++;
			if (ev.attempt != 1)
				continue;
			struct ipc_done late = {.event_id = ev.event_id, .status_code = seen, .attempt = 0};
			struct ipc_done d = {.event_id = ev.event_id, .status_code = seen, .attempt = 1};
			ipc_compose(out, IPC_DONE, &late, sizeof(late));
			ipc_compose(out, IPC_DONE, &d, sizeof(d));
			evbuffer_write(out, fd);
		}
		if (r == -1 || evbuffer_read(in, fd, 4096) <= 0)
			fake_exit(in, out, 0);
	}
}

struct attempt_watch {
	struct event_base *base;
	struct pool *pool;
	int codes[4];
	int held_after[4];
	int n;
};

static void
attempt_done(const struct ipc_done *d, void *arg)
{
	struct attempt_watch *w = arg;
	if (w->n < 4) {
		w->codes[w->n] = d->status_code;
		w->held_after[w->n++] = pool_holds(w->pool, d->event_id);
	}
	if (w->n == 2)
		event_base_loopbreak(w->base);
}

START_TEST(test_pool_event_claimed_again_goes_to_its_holder_and_stays_held_until_its_attempt_ends)
{
	struct event_base *base = event_base_new();
	struct attempt_watch w = {.base = base};
	struct pool_callbacks cb = {.worker_main = attempt_worker, .on_done = attempt_done, .arg = &w};
	struct pool *p = pool_new(base, 2, 4, 5, 60000, &cb);
	w.pool = p;
	struct timeval tv = {10, 0};
	struct event *deadline = evtimer_new(base, on_deadline, base);
	evtimer_add(deadline, &tv);
	ck_assert_int_eq(pool_start(p), 0);
	struct ipc_event first = {.event_id = 21, .attempt = 0};
	struct ipc_event again = {.event_id = 21, .attempt = 1, .next_task_seq = 1};
	ck_assert_int_eq(pool_dispatch(p, &first), 0);
	/* the other slot is less loaded, but the event goes where its old attempt runs */
	ck_assert_int_eq(pool_dispatch(p, &again), 0);
	ck_assert_int_eq(pool_inflight(p), 1);
	event_base_dispatch(base);
	ck_assert_int_eq(w.n, 2);
	ck_assert_int_eq(w.codes[1], 2); /* one worker saw both attempts */
	ck_assert_int_eq(w.held_after[0], 1); /* attempt 0 ended: attempt 1 still held */
	ck_assert_int_eq(w.held_after[1], 0);
	ck_assert_int_eq(pool_inflight(p), 0);
	pool_shutdown(p, 1);
	while (pool_procs(p) > 0) {
		pool_reap(p);
		if (pool_procs(p) > 0)
			usleep(10000);
	}
	event_free(deadline);
	pool_free(p);
	event_base_free(base);
}
END_TEST

Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_pool_respawns_dead_worker_and_hands_back_its_events);
	tcase_add_test(tc, test_pool_dispatches_to_the_worker_holding_the_connection);
	tcase_add_test(tc, test_pool_refuses_dispatch_when_full);
	tcase_add_test(tc, test_pool_gives_up_on_a_worker_that_keeps_dying);
	tcase_add_test(tc, test_pool_restart_wait_counts_starts_within_the_window);
	tcase_add_test(tc, test_pool_hands_back_events_of_given_up_slot_and_restarts_after_window);
	tcase_add_test(tc, test_pool_roll_drains_old_worker_and_starts_new_one);
	tcase_add_test(tc, test_pool_drain_does_not_restart_a_worker_that_finished);
	tcase_add_test(tc,
	    test_pool_event_claimed_again_goes_to_its_holder_and_stays_held_until_its_attempt_ends);
	suite_add_tcase(s, tc);
	return s;
}
