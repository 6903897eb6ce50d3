/* Unit tests for worker/wakesend: the Request=Wake a worker builds, and what it refuses
 * to put on the wire. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/wire.h"
#include "common/wol.h"
#include "worker/wakesend.h"

static char err[256];

static struct ipc_wake
wake(const char *mac, const char *bc)
{
	struct ipc_wake w;
	memset(&w, 0, sizeof(w));
	w.event_id = 12;
	w.relay_id = 5000001;
	snprintf(w.mac, sizeof(w.mac), "%s", mac);
	snprintf(w.broadcast, sizeof(w.broadcast), "%s", bc);
	return w;
}

START_TEST(test_wakesend_builds_request_the_agent_reads)
{
	struct ipc_wake w = wake("aa:bb:cc:dd:ee:01", "127.255.255.255");
	struct wire_msg *m;
	ck_assert_int_eq(wakesend_build(&w, &m, err, sizeof(err)), 0);
	ck_assert_str_eq(wire_get(m, "Request"), "Wake");
	ck_assert_str_eq(wire_get(m, "MAC"), "aa:bb:cc:dd:ee:01");
	ck_assert_str_eq(wire_get(m, "Broadcast"), "127.255.255.255");
	ck_assert_str_eq(wire_get(m, "Event-ID"), "12");
	ck_assert_str_eq(wire_get(m, "Task-Sequence-ID"), "0");
	struct wol_request r;
	ck_assert_int_eq(wol_request_parse(m, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.event_id, 12);
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wakesend_refuses_what_is_no_mac_or_address)
{
	static const char *const bad[][2] = {{"aa:bb:cc:dd:ee", "127.255.255.255"},
	    {"aa:bb:cc:dd:ee:01", "127.255.255"}, {"aa:bb:cc:dd:ee:0g", "10.0.0.255"},
	    {"aa:bb:cc:dd:ee:01", "10.0.0.2555"}};
	struct wire_msg *m = (struct wire_msg *)1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ipc_wake w = wake(bad[i][0], bad[i][1]);
		ck_assert_msg(wakesend_build(&w, &m, err, sizeof(err)) == -1, "case %zu built", i);
		ck_assert_ptr_null(m);
	}
	struct ipc_wake w = wake("aa:bb:cc:dd:ee:01", "10.0.0.255");
	memset(w.mac, 'a', sizeof(w.mac)); /* no NUL within */
	ck_assert_int_eq(wakesend_build(&w, &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "MAC or Broadcast is not one (not NUL-terminated)");
}
END_TEST

Suite *
wakesend_suite(void)
{
	Suite *s = suite_create("wakesend");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_wakesend_builds_request_the_agent_reads);
	tcase_add_test(tc, test_wakesend_refuses_what_is_no_mac_or_address);
	suite_add_tcase(s, tc);
	return s;
}
