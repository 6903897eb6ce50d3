/* Unit tests for common/wol: the magic packet, MAC and IPv4 parsing (hostile input
 * included), subnet broadcasts, and Request=Wake as the agent reads it. */
#include <check.h>
#include <string.h>

#include "common/wire.h"
#include "common/wol.h"

static char err[256];

START_TEST(test_wol_packet_is_six_ff_then_mac_sixteen_times)
{
	const unsigned char mac[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01};
	unsigned char p[WOL_PACKET_LEN + 1];
	memset(p, 0x55, sizeof(p));
	wol_packet(mac, p);
	ck_assert_int_eq(WOL_PACKET_LEN, 102);
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(p[i], 0xFF);
	for (int i = 0; i < 16; i++)
		ck_assert_mem_eq(p + 6 + 6 * i, mac, 6);
	ck_assert_uint_eq(p[WOL_PACKET_LEN], 0x55); /* nothing written past it */
}
END_TEST

START_TEST(test_wol_parse_mac_takes_six_pairs_either_case)
{
	unsigned char mac[6];
	const unsigned char want[6] = {0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff};
	ck_assert_int_eq(wol_parse_mac("aa:bb:cc:0d:ee:ff", mac, err, sizeof(err)), 0);
	ck_assert_mem_eq(mac, want, 6);
	ck_assert_int_eq(wol_parse_mac("AA:BB:CC:0D:EE:FF", mac, err, sizeof(err)), 0);
	ck_assert_mem_eq(mac, want, 6);
}
END_TEST

START_TEST(test_wol_parse_mac_refuses_anything_else)
{
	static const char *const bad[] = {"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00",
	    "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff", "aa:bb:cc:dd:ee:fg", "aa:bb:cc:dd:ee:f",
	    "aa:bb:cc:dd:ee:ff ", " aa:bb:cc:dd:ee:f", "aa:bb:cc:dd:ee:f\n", "a:bb:cc:dd:ee:ff0",
	    "aa::bb:cc:dd:eeff", "aa:bb:cc:dd:ee:+f", "aa:bb:cc:dd:ee:0x", "%s:%s:%s:%s:%s:%s"};
	unsigned char mac[6];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(wol_parse_mac(bad[i], mac, err, sizeof(err)) == -1, "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(wol_parse_mac(NULL, mac, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "MAC must be six hex pairs split by ':' (aa:bb:cc:dd:ee:ff)");
}
END_TEST

START_TEST(test_wol_parse_ipv4_takes_a_dotted_quad)
{
	uint32_t a;
	ck_assert_int_eq(wol_parse_ipv4("127.255.255.255", &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a, 0x7FFFFFFFu);
	ck_assert_int_eq(wol_parse_ipv4("0.0.0.0", &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a, 0);
	ck_assert_int_eq(wol_parse_ipv4("192.168.1.255", &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a, 0xC0A801FFu);
	char s[WOL_IPV4_TEXT + 1];
	wol_format_ipv4(a, s, sizeof(s));
	ck_assert_str_eq(s, "192.168.1.255");
}
END_TEST

START_TEST(test_wol_parse_ipv4_refuses_anything_else)
{
	static const char *const bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256",
	    "01.2.3.4", "1.2.3.04", "1.2.3.4 ", " 1.2.3.4", "1..3.4", "1.2.3.", ".1.2.3",
	    "1.2.3.4/24", "0x7f.0.0.1", "1.2.3.1000", "1.2.3.0004", "-1.2.3.4", "1.2.3.4\n",
	    "::1", "localhost", "9999999999.1.1.1", "1.2.3.+4"};
	uint32_t a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(wol_parse_ipv4(bad[i], &a, err, sizeof(err)) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_wol_broadcast_of_subnets)
{
	ck_assert_uint_eq(wol_broadcast(0x7F000001u, 8), 0x7FFFFFFFu);        /* 127.0.0.1/8 */
	ck_assert_uint_eq(wol_broadcast(0xC0A80105u, 24), 0xC0A801FFu);       /* 192.168.1.5/24 */
	ck_assert_uint_eq(wol_broadcast(0x0A000105u, 22), 0x0A0003FFu);       /* 10.0.1.5/22 */
	ck_assert_uint_eq(wol_broadcast(0x0A000105u, 32), 0x0A000105u);
	ck_assert_uint_eq(wol_broadcast(0x0A000105u, 31), 0x0A000105u);
	ck_assert_uint_eq(wol_broadcast(0x0A000105u, 0), 0xFFFFFFFFu);
	ck_assert_uint_eq(wol_broadcast(0x0A000105u, -3), 0xFFFFFFFFu);
	ck_assert_uint_eq(wol_broadcast(0x0A000105u, 99), 0x0A000105u);
}
END_TEST

static struct wire_msg *
wake_msg(const char *mac, const char *bc, const char *ev)
{
	struct wire_msg *m = wire_msg_new();
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(wire_add(m, "Request", "Wake", err, sizeof(err)), 0);
	if (mac != NULL)
		ck_assert_int_eq(wire_add(m, "MAC", mac, err, sizeof(err)), 0);
	if (bc != NULL)
		ck_assert_int_eq(wire_add(m, "Broadcast", bc, err, sizeof(err)), 0);
	if (ev != NULL)
		ck_assert_int_eq(wire_add(m, "Event-ID", ev, err, sizeof(err)), 0);
	return m;
}

START_TEST(test_wol_request_parse_reads_a_wake)
{
	struct wol_request r;
	struct wire_msg *m = wake_msg("AA:BB:CC:DD:EE:01", "127.255.255.255", "42");
	ck_assert_int_eq(wol_request_parse(m, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.mac_s, "aa:bb:cc:dd:ee:01");
	ck_assert_str_eq(r.broadcast_s, "127.255.255.255");
	ck_assert_uint_eq(r.broadcast, 0x7FFFFFFFu);
	ck_assert_int_eq(r.event_id, 42);
	wire_msg_free(m);
	m = wake_msg("aa:bb:cc:dd:ee:01", "10.0.0.255", NULL);
	ck_assert_int_eq(wol_request_parse(m, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.event_id, 0);
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wol_request_parse_refuses_hostile_fields)
{
	struct wol_request r;
	static const char *const cases[][4] = {
	    {NULL, "10.0.0.255", NULL, "MAC must be six hex pairs split by ':' (aa:bb:cc:dd:ee:ff)"},
	    {"aa:bb:cc:dd:ee:01", NULL, NULL, "Broadcast: missing"},
	    {"aa:bb:cc:dd:ee:01", "0.0.0.0", NULL, "Broadcast: 0.0.0.0 is no broadcast address"},
	    {"aa:bb:cc:dd:ee:01", "10.0.0.255;reboot", NULL,
		"Broadcast: not an IPv4 address (four numbers 0-255 split by '.')"},
	    {"aa:bb:cc:dd:ee:01", "example.org", NULL,
		"Broadcast: not an IPv4 address (four numbers 0-255 split by '.')"},
	    {"aa:bb:cc:dd:ee:01%n", "10.0.0.255", NULL,
		"MAC must be six hex pairs split by ':' (aa:bb:cc:dd:ee:ff)"},
	    {"aa:bb:cc:dd:ee:01", "10.0.0.255", "-1", "Event-ID: not a number"},
	    {"aa:bb:cc:dd:ee:01", "10.0.0.255", "99999999999999999999", "Event-ID: not a number"},
	    {"aa:bb:cc:dd:ee:01", "10.0.0.255", "1x", "Event-ID: not a number"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wire_msg *m = wake_msg(cases[i][0], cases[i][1], cases[i][2]);
		ck_assert_msg(wol_request_parse(m, &r, err, sizeof(err)) == -1, "case %zu accepted", i);
		ck_assert_str_eq(err, cases[i][3]);
		wire_msg_free(m);
	}
}
END_TEST

Suite *
wol_suite(void)
{
	Suite *s = suite_create("wol");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_wol_packet_is_six_ff_then_mac_sixteen_times);
	tcase_add_test(tc, test_wol_parse_mac_takes_six_pairs_either_case);
	tcase_add_test(tc, test_wol_parse_mac_refuses_anything_else);
	tcase_add_test(tc, test_wol_parse_ipv4_takes_a_dotted_quad);
	tcase_add_test(tc, test_wol_parse_ipv4_refuses_anything_else);
	tcase_add_test(tc, test_wol_broadcast_of_subnets);
	tcase_add_test(tc, test_wol_request_parse_reads_a_wake);
	tcase_add_test(tc, test_wol_request_parse_refuses_hostile_fields);
	suite_add_tcase(s, tc);
	return s;
}
