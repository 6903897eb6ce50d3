/* Unit tests for scheduler/pool: dispatch, done, a dead worker's events go to its successor. */
#include <check.h>
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

START_TEST(test_pool_dispatches_and_respawns_dead_worker_with_its_events)
{
	snprintf(flagfile, sizeof(flagfile), "/tmp/pgfleet-pool-%ld", (long)getpid());
	unlink(flagfile);
	struct event_base *base = event_base_new();
	struct seen seen = {.base = base, .want = 3};
	struct pool_callbacks cb = {.worker_main = fake_worker, .on_done = on_done, .arg = &seen};
	struct pool *p = pool_new(base, 2, 4, 5, 60000, &cb);
	reap_pool = p;
	struct event *sig = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	evsignal_add(sig, NULL);
	struct timeval tv = {10, 0};
	struct event *deadline = evtimer_new(base, on_deadline, base);
	evtimer_add(deadline, &tv);
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
	event_base_dispatch(base);
	ck_assert_int_eq(seen.n, 3);
	int got13 = 0;
	for (int i = 0; i < seen.n; i++)
		got13 |= seen.ids[i] == 13;
	ck_assert(got13);
	ck_assert_int_eq(access(flagfile, F_OK), 0); /* the first worker did die on 13 */
	ck_assert_int_eq(pool_inflight(p), 0);
	ck_assert_int_eq(pool_live(p), 2);
	pool_shutdown(p, 0);
	while (pool_live(p) > 0) {
		usleep(10000);
		pool_reap(p);
	}
	unlink(flagfile);
	event_free(sig);
	event_free(deadline);
	pool_free(p);
	event_base_free(base);
}
END_TEST

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

Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_pool_dispatches_and_respawns_dead_worker_with_its_events);
	tcase_add_test(tc, test_pool_refuses_dispatch_when_full);
	tcase_add_test(tc, test_pool_gives_up_on_a_worker_that_keeps_dying);
	suite_add_tcase(s, tc);
	return s;
}
