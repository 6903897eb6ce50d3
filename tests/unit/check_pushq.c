/*
 * check_pushq: the worker's window of pushes awaiting their fetch. Slots go
 * first come, first served; a waiting push gets its slot only from the loop;
 * leaving twice, or leaving from the queue, never miscounts.
 */
#include <check.h>
#include <event2/event.h>

#include "worker/pushq.h"

#define N 6

static struct event_base *base;
static struct pushq *q;
static struct pushq_item items[N];
static int went[N], nwent;
static int leave_at_once = -1; /* that item gives its slot back inside go() */

static void
go(void *owner)
{
	int i = (int)((struct pushq_item *)owner - items);
	went[nwent++] = i;
	if (i == leave_at_once)
		pushq_leave(q, &items[i]);
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	q = pushq_new(base, go);
	ck_assert_ptr_nonnull(q);
	for (int i = 0; i < N; i++)
		items[i] = (struct pushq_item){0};
	nwent = 0;
	leave_at_once = -1;
}

static void
teardown(void)
{
	pushq_free(q);
	event_base_free(base);
}

static int
enter(int i, int max)
{
	return pushq_enter(q, &items[i], max, &items[i]);
}

START_TEST(test_pushq_window_then_fifo)
{
	ck_assert_int_eq(enter(0, 2), 1);
	ck_assert_int_eq(enter(1, 2), 1);
	ck_assert_int_eq(enter(2, 2), 0);
	ck_assert_int_eq(enter(3, 2), 0);
	ck_assert_int_eq(pushq_holding(q), 2);
	ck_assert_int_eq(pushq_waiting(q), 2);
	ck_assert_int_eq(enter(0, 2), 1); /* asking again while holding keeps the slot */
	ck_assert_int_eq(pushq_holding(q), 2);

	pushq_leave(q, &items[1]);
	ck_assert_int_eq(nwent, 0); /* not under the caller's feet: from the loop */
	ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	ck_assert_int_eq(nwent, 1);
	ck_assert_int_eq(went[0], 2);
	ck_assert_int_eq(items[2].where, PUSHQ_HOLDING);
	ck_assert_int_eq(pushq_holding(q), 2);
	ck_assert_int_eq(pushq_waiting(q), 1);

	pushq_leave(q, &items[1]); /* left already: nothing changes */
	ck_assert_int_eq(pushq_holding(q), 2);
	ck_assert_int_eq(enter(4, 2), 0); /* behind 3, though a slot may free meanwhile */
	pushq_leave(q, &items[0]);
	pushq_leave(q, &items[2]);
	ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	ck_assert_int_eq(nwent, 3);
	ck_assert_int_eq(went[1], 3);
	ck_assert_int_eq(went[2], 4);
	ck_assert_int_eq(pushq_waiting(q), 0);
}
END_TEST

START_TEST(test_pushq_leaving_the_queue)
{
	ck_assert_int_eq(enter(0, 1), 1);
	ck_assert_int_eq(enter(1, 1), 0);
	ck_assert_int_eq(enter(2, 1), 0);
	ck_assert_int_eq(enter(3, 1), 0);
	pushq_leave(q, &items[2]); /* from the middle */
	pushq_leave(q, &items[3]); /* the tail */
	ck_assert_int_eq(items[2].where, PUSHQ_OUT);
	ck_assert_int_eq(pushq_waiting(q), 1);
	ck_assert_int_eq(enter(5, 1), 0); /* appended behind 1 */
	pushq_leave(q, &items[1]);        /* the head */
	pushq_leave(q, &items[0]);
	ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	ck_assert_int_eq(nwent, 1);
	ck_assert_int_eq(went[0], 5);
	ck_assert_int_eq(pushq_holding(q), 1);
	ck_assert_int_eq(pushq_waiting(q), 0);
}
END_TEST

START_TEST(test_pushq_go_may_leave_at_once)
{
	ck_assert_int_eq(enter(0, 1), 1);
	for (int i = 1; i < 4; i++)
		ck_assert_int_eq(enter(i, 1), 0);
	leave_at_once = 1; /* e.g. its spool file could not be written: it ends inside go() */
	pushq_leave(q, &items[0]);
	ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	ck_assert_int_eq(nwent, 2); /* 1 went and left, so 2 went in the same turn */
	ck_assert_int_eq(went[0], 1);
	ck_assert_int_eq(went[1], 2);
	ck_assert_int_eq(pushq_holding(q), 1);
	ck_assert_int_eq(pushq_waiting(q), 1);
}
END_TEST

START_TEST(test_pushq_larger_max_lets_waiting_go)
{
	ck_assert_int_eq(enter(0, 1), 1);
	ck_assert_int_eq(enter(1, 1), 0);
	ck_assert_int_eq(enter(2, 3), 0); /* a reload raised the window: 1 and 2 both go */
	ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	ck_assert_int_eq(nwent, 2);
	ck_assert_int_eq(pushq_holding(q), 3);
	ck_assert_int_eq(enter(3, 0), 0); /* a max below 1 counts as 1 */
	ck_assert_int_eq(pushq_waiting(q), 1);
}
END_TEST

Suite *
pushq_suite(void)
{
	Suite *s = suite_create("pushq");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pushq_window_then_fifo);
	tcase_add_test(tc, test_pushq_leaving_the_queue);
	tcase_add_test(tc, test_pushq_go_may_leave_at_once);
	tcase_add_test(tc, test_pushq_larger_max_lets_waiting_go);
	suite_add_tcase(s, tc);
	return s;
}
