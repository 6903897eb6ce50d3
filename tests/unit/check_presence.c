/*
 * Unit tests for scheduler/presence without a database: Hellos wait for the
 * flush, a close removes only the route it names, a dead worker's routes go,
 * and what is queued for the next flush.
 */
#include <check.h>
#include <string.h>

#include <event2/event.h>

#include "common/gate.h"
#include "scheduler/presence.h"

static struct ipc_agent_hello
hello(int64_t link, const char *name)
{
	struct ipc_agent_hello h;
	memset(&h, 0, sizeof(h));
	h.link_id = link;
	strcpy(h.name, name);
	strcpy(h.peer, "127.0.0.1");
	return h;
}

START_TEST(test_presence_queues_and_routes)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "agents", 1, 1);
	struct presence *p = presence_new("sched-a:1", g);
	pid_t pid;
	int64_t link;
	struct ipc_agent_hello h = hello(11, "web-01");
	ck_assert_int_eq(presence_hello(p, 0, 100, &h), 0);
	ck_assert_int_eq(presence_waiting(p), 1);
	ck_assert_int_eq(presence_dirty(p, 0), 1);
	/* not connected until the database has written its row */
	ck_assert_int_eq(presence_route(p, 5000001, &pid, &link), -1);
	ck_assert_uint_eq(presence_connected(p), 0);
	int64_t listed[4];
	ck_assert_int_eq(presence_list(p, listed, 4), 0);
	ck_assert_int_eq(presence_list(p, listed, 0), 0);
	/* a worker that dies takes its waiting Hellos with it */
	presence_worker_gone(p, 100);
	ck_assert_int_eq(presence_waiting(p), 0);
	int64_t ids[] = {5000001, 5000002};
	presence_seen(p, ids, 2);
	ck_assert_int_eq(presence_dirty(p, 0), 0);
	ck_assert_int_eq(presence_dirty(p, 1), 1);
	/* a close is written even for a computer not routed here */
	presence_gone(p, 100, 12, 5000003);
	ck_assert_int_eq(presence_dirty(p, 0), 1);
	presence_free(p);
	gate_free(g);
	event_base_free(base);
}
END_TEST

Suite *
presence_suite(void)
{
	Suite *s = suite_create("presence");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_presence_queues_and_routes);
	suite_add_tcase(s, tc);
	return s;
}
