/* Unit tests for common/ipc: framing, partial reads, refusals. */
#include <check.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/ipc.h"

static char err[256];

START_TEST(test_ipc_round_trip_of_event_message)
{
	struct evbuffer *b = evbuffer_new();
	struct ipc_event ev = {.event_id = 7, .schedule_id = 100000001, .computer_id = 5000001,
	    .next_task_seq = 2, .attempt = 1};
	ck_assert_int_eq(ipc_compose(b, IPC_EVENT, &ev, sizeof(ev)), 0);
	ck_assert_int_eq(ipc_compose(b, IPC_DRAIN, NULL, 0), 0);
	struct ipc_msg m;
	ck_assert_int_eq(ipc_take(b, &m, err, sizeof(err)), 1);
	ck_assert_uint_eq(m.type, IPC_EVENT);
	struct ipc_event got;
	ck_assert_int_eq(ipc_get(&m, &got, sizeof(got)), 0);
	ck_assert_int_eq(got.event_id, 7);
	ck_assert_int_eq(got.computer_id, 5000001);
	ck_assert_int_eq(got.next_task_seq, 2);
	ck_assert_int_eq(ipc_take(b, &m, err, sizeof(err)), 1);
	ck_assert_uint_eq(m.type, IPC_DRAIN);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_eq(ipc_take(b, &m, err, sizeof(err)), 0);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_ipc_waits_for_whole_message)
{
	struct evbuffer *full = evbuffer_new(), *b = evbuffer_new();
	struct ipc_done d = {.event_id = 9, .status_code = -4, .failed = 1};
	ipc_compose(full, IPC_DONE, &d, sizeof(d));
	size_t n = evbuffer_get_length(full);
	unsigned char raw[64];
	evbuffer_remove(full, raw, n);
	struct ipc_msg m;
	for (size_t i = 0; i < n - 1; i++) {
		evbuffer_add(b, raw + i, 1);
		ck_assert_int_eq(ipc_take(b, &m, err, sizeof(err)), 0);
	}
	evbuffer_add(b, raw + n - 1, 1);
	ck_assert_int_eq(ipc_take(b, &m, err, sizeof(err)), 1);
	ck_assert_int_eq(ipc_get(&m, &d, sizeof(d)), 0);
	ck_assert_int_eq(d.status_code, -4);
	evbuffer_free(full);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_ipc_refuses_unknown_type_and_oversize)
{
	struct evbuffer *b = evbuffer_new();
	ck_assert_int_eq(ipc_compose(b, 0, NULL, 0), -1);
	ck_assert_int_eq(ipc_compose(b, IPC_TYPE_MAX, NULL, 0), -1);
	ck_assert_int_eq(ipc_compose(b, IPC_EVENT, "", IPC_MAX_PAYLOAD + 1), -1);
	uint32_t h[2] = {99, 0};
	evbuffer_add(b, h, sizeof(h));
	struct ipc_msg m;
	ck_assert_int_eq(ipc_take(b, &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "ipc: unknown message type 99");
	evbuffer_drain(b, evbuffer_get_length(b));
	h[0] = IPC_EVENT;
	h[1] = 100000;
	evbuffer_add(b, h, sizeof(h));
	ck_assert_int_eq(ipc_take(b, &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "ipc: message type 1 of 100000 bytes exceeds 4096");
	evbuffer_free(b);
}
END_TEST

START_TEST(test_ipc_get_checks_payload_size)
{
	struct ipc_msg m = {.type = IPC_EVENT, .len = 3};
	struct ipc_event ev;
	ck_assert_int_eq(ipc_get(&m, &ev, sizeof(ev)), -1);
}
END_TEST

Suite *
ipc_suite(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_ipc_round_trip_of_event_message);
	tcase_add_test(tc, test_ipc_waits_for_whole_message);
	tcase_add_test(tc, test_ipc_refuses_unknown_type_and_oversize);
	tcase_add_test(tc, test_ipc_get_checks_payload_size);
	suite_add_tcase(s, tc);
	return s;
}
