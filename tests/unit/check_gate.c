/*
 * Unit tests for common/gate: the pre-TLS budget of a listener (the worker's
 * transfer port and agent listener): a limit per address refused at once, a
 * total where an idle connection (or a stale handshake) makes room and a
 * handshake under way is never closed for a newcomer, and leaving the budget;
 * with a pause callback, a budget full of handshakes under way pauses its owner
 * (which stops accepting) until there is room.
 */
#include <check.h>
#include <string.h>

#include "common/clock.h"

#include <event2/event.h>

#include "common/gate.h"

static struct gate_entry *evicted[8];
static int nevicted;

static void
evict(struct gate_entry *e, const char *why)
{
	ck_assert_ptr_nonnull(strstr(why, " closed"));
	evicted[nevicted++] = e;
}

/* entries whose hello has come: a flag per entry, set by the test */
static int hello[8];
static struct gate_entry *entries;

static int
started(const struct gate_entry *e)
{
	return hello[e - entries];
}

START_TEST(test_gate_limits_per_source_and_evicts_the_oldest_idle)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "agents", 3, 2);
	struct gate_entry e[6];
	memset(e, 0, sizeof(e));
	nevicted = 0;
	ck_assert_int_eq(gate_enter_at(g, &e[0], "10.0.0.1", evict, 0), 0);
	ck_assert_int_eq(gate_enter_at(g, &e[1], "10.0.0.1", evict, 1), 0);
	/* a third from the same address is refused, not counted */
	ck_assert_int_eq(gate_enter_at(g, &e[2], "10.0.0.1", evict, 2), -1);
	ck_assert_int_eq(gate_count(g), 2);
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.2", evict, 3), 0);
	/* the budget is full of connections that never sent a hello: the oldest (e[0]) is
	 * closed to make room once it has had GATE_IDLE_MIN_MS */
	ck_assert_int_eq(gate_enter_at(g, &e[4], "10.0.0.3", evict, GATE_IDLE_MIN_MS - 1), -1);
	ck_assert_int_eq(gate_enter_at(g, &e[4], "10.0.0.3", evict, GATE_IDLE_MIN_MS), 0);
	ck_assert_int_eq(nevicted, 1);
	ck_assert_ptr_eq(evicted[0], &e[0]);
	ck_assert_int_eq(e[0].in, 0);
	ck_assert_int_eq(gate_count(g), 3);
	/* a finished handshake leaves the budget, twice is harmless */
	gate_leave(g, &e[1]);
	gate_leave(g, &e[1]);
	ck_assert_int_eq(gate_count(g), 2);
	ck_assert_int_eq(gate_enter_at(g, &e[5], "10.0.0.1", evict, 1000), 0);
	ck_assert_int_eq(nevicted, 1);
	gate_refused(g, "10.0.0.9", "a failed handshake");
	gate_free(g);
	event_base_free(base);
}
END_TEST

START_TEST(test_gate_keeps_handshakes_under_way)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "transfer", 3, 3);
	struct gate_entry e[6];
	memset(e, 0, sizeof(e));
	memset(hello, 0, sizeof(hello));
	entries = e;
	nevicted = 0;
	gate_set_stale(g, 1000);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(gate_enter_at(g, &e[i], "10.0.0.1", evict, 100 + i), 0);
		e[i].started = started;
	}
	/* all three have sent their hello and are young: the newcomer is refused, nobody closed */
	hello[0] = hello[1] = hello[2] = 1;
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.2", evict, 500), -1);
	ck_assert_int_eq(nevicted, 0);
	ck_assert_int_eq(gate_count(g), 3);
	/* one of them (not the oldest) has not sent its hello: not yet an idle connect */
	hello[1] = 0;
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.2", evict, 100 + GATE_IDLE_MIN_MS), -1);
	ck_assert_int_eq(nevicted, 0);
	/* past GATE_IDLE_MIN_MS it is, and makes room */
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.2", evict, 101 + GATE_IDLE_MIN_MS), 0);
	e[3].started = started;
	hello[3] = 1;
	ck_assert_int_eq(nevicted, 1);
	ck_assert_ptr_eq(evicted[0], &e[1]);
	ck_assert_int_eq(e[1].in, 0);
	/* full of handshakes under way again; once the oldest is stale, it makes room */
	ck_assert_int_eq(gate_enter_at(g, &e[4], "10.0.0.3", evict, 1099), -1);
	ck_assert_int_eq(gate_enter_at(g, &e[4], "10.0.0.3", evict, 1100), 0);
	ck_assert_int_eq(nevicted, 2);
	ck_assert_ptr_eq(evicted[1], &e[0]);
	ck_assert_int_eq(gate_count(g), 3);
	gate_free(g);
	event_base_free(base);
}
END_TEST

static int pauses[8], npauses;

static void
on_pause(void *arg, int paused)
{
	ck_assert_ptr_eq(arg, &npauses);
	pauses[npauses++] = paused;
}

START_TEST(test_gate_pauses_while_full_of_handshakes)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "agents", 2, 2);
	struct gate_entry e[4];
	memset(e, 0, sizeof(e));
	memset(hello, 0, sizeof(hello));
	entries = e;
	npauses = 0;
	gate_set_pause(g, on_pause, &npauses);
	long long now = clock_mono_ms();
	ck_assert_int_eq(gate_enter_at(g, &e[0], "10.0.0.1", evict, now), 0);
	e[0].started = started;
	hello[0] = 1;
	ck_assert_int_eq(npauses, 0);
	ck_assert_int_eq(gate_enter_at(g, &e[1], "10.0.0.2", evict, now), 0);
	e[1].started = started;
	hello[1] = 1;
	/* full, nobody idle or stale: the owner stops accepting */
	ck_assert_int_eq(npauses, 1);
	ck_assert_int_eq(pauses[0], 1);
	ck_assert_int_eq(gate_paused(g), 1);
	/* a handshake done: room, accepting again */
	gate_leave(g, &e[0]);
	ck_assert_int_eq(npauses, 2);
	ck_assert_int_eq(pauses[1], 0);
	ck_assert_int_eq(gate_paused(g), 0);
	/* full again, and this time one never sends its hello: once it is idle
	 * (GATE_IDLE_MIN_MS), the owner accepts again so that a newcomer may close it */
	now = clock_mono_ms();
	ck_assert_int_eq(gate_enter_at(g, &e[2], "10.0.0.3", evict, now), 0);
	ck_assert_int_eq(npauses, 3);
	ck_assert_int_eq(pauses[2], 1);
	long long deadline = now + 10000;
	while (gate_paused(g) && clock_mono_ms() < deadline)
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(gate_paused(g), 0);
	ck_assert_int_eq(npauses, 4);
	ck_assert_int_eq(pauses[3], 0);
	ck_assert_int_ge(clock_mono_ms() - now, GATE_IDLE_MIN_MS);
	/* handshakes under way that grow stale are not closed for newcomers: still paused */
	gate_leave(g, &e[2]);
	gate_set_stale(g, 1);
	now = clock_mono_ms();
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.4", evict, now), 0);
	e[3].started = started;
	hello[3] = 1;
	ck_assert_int_eq(gate_paused(g), 1); /* e[1], stale, is no victim */
	/* the rechecks of the next 300 ms find no room either */
	while (clock_mono_ms() - now < 300)
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(gate_paused(g), 1);
	gate_free(g);
	event_base_free(base);
}
END_TEST

Suite *
gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_gate_limits_per_source_and_evicts_the_oldest_idle);
	tcase_add_test(tc, test_gate_keeps_handshakes_under_way);
	tcase_add_test(tc, test_gate_pauses_while_full_of_handshakes);
	suite_add_tcase(s, tc);
	return s;
}
