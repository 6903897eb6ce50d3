/*
 * Unit tests for common/gate: the pre-TLS budget of a listener (the worker's
 * transfer port and agent listener): a limit per address refused at once, a
 * total where the oldest makes room, and leaving the budget.
 */
#include <check.h>
#include <string.h>

#include <event2/event.h>

#include "common/gate.h"

static struct gate_entry *evicted[8];
static int nevicted;

static void
evict(struct gate_entry *e, const char *why)
{
	ck_assert_ptr_nonnull(strstr(why, "the oldest closed"));
	evicted[nevicted++] = e;
}

START_TEST(test_gate_limits_per_source_and_evicts_the_oldest)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "agents", 3, 2);
	struct gate_entry e[6];
	memset(e, 0, sizeof(e));
	nevicted = 0;
	ck_assert_int_eq(gate_enter(g, &e[0], "10.0.0.1", evict), 0);
	ck_assert_int_eq(gate_enter(g, &e[1], "10.0.0.1", evict), 0);
	/* a third from the same address is refused, not counted */
	ck_assert_int_eq(gate_enter(g, &e[2], "10.0.0.1", evict), -1);
	ck_assert_int_eq(gate_count(g), 2);
	ck_assert_int_eq(gate_enter(g, &e[3], "10.0.0.2", evict), 0);
	/* the budget is full: the oldest (e[0]) is closed to make room */
	ck_assert_int_eq(gate_enter(g, &e[4], "10.0.0.3", evict), 0);
	ck_assert_int_eq(nevicted, 1);
	ck_assert_ptr_eq(evicted[0], &e[0]);
	ck_assert_int_eq(e[0].in, 0);
	ck_assert_int_eq(gate_count(g), 3);
	/* a finished handshake leaves the budget, twice is harmless */
	gate_leave(g, &e[1]);
	gate_leave(g, &e[1]);
	ck_assert_int_eq(gate_count(g), 2);
	ck_assert_int_eq(gate_enter(g, &e[5], "10.0.0.1", evict), 0);
	ck_assert_int_eq(nevicted, 1);
	gate_refused(g, "10.0.0.9", "a failed handshake");
	gate_free(g);
	event_base_free(base);
}
END_TEST

Suite *
gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_gate_limits_per_source_and_evicts_the_oldest);
	suite_add_tcase(s, tc);
	return s;
}
