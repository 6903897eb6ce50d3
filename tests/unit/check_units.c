/* Unit tests for common/units: durations, sizes, port ranges, integers, timestamps, zone names. */
#include <check.h>
#include <string.h>

#include "common/units.h"

static char err[256];

START_TEST(test_units_duration_accepts_each_unit)
{
	long long ms;
	ck_assert_int_eq(units_duration_ms("500ms", &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 500);
	ck_assert_int_eq(units_duration_ms("10s", &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 10000);
	ck_assert_int_eq(units_duration_ms("5m", &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 300000);
	ck_assert_int_eq(units_duration_ms("2h", &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 7200000);
	ck_assert_int_eq(units_duration_ms("180d", &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 180LL * 86400000);
	ck_assert_int_eq(units_duration_ms("30", &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 30000);
}
END_TEST

START_TEST(test_units_duration_refuses_bad_values)
{
	long long ms;
	ck_assert_int_eq(units_duration_ms("", &ms, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"\" is not a duration (examples: 500ms, 10s, 5m, 2h, 1d)");
	ck_assert_int_eq(units_duration_ms("-5s", &ms, err, sizeof(err)), -1);
	ck_assert_int_eq(units_duration_ms("5 s", &ms, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"5 s\" has an unknown duration unit (use ms, s, m, h or d)");
	ck_assert_int_eq(units_duration_ms("5w", &ms, err, sizeof(err)), -1);
	ck_assert_int_eq(units_duration_ms("99999999999999999999d", &ms, err, sizeof(err)), -1);
	ck_assert_int_eq(units_duration_ms("9999999999999999d", &ms, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "duration \"9999999999999999d\" is too large");
}
END_TEST

START_TEST(test_units_size_accepts_binary_units)
{
	unsigned long long b;
	ck_assert_int_eq(units_size("64KiB", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b, 65536);
	ck_assert_int_eq(units_size("16MiB", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b, 16777216);
	ck_assert_int_eq(units_size("1GiB", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b, 1073741824);
	ck_assert_int_eq(units_size("4096", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b, 4096);
}
END_TEST

START_TEST(test_units_size_refuses_bad_values)
{
	unsigned long long b;
	ck_assert_int_eq(units_size("lots", &b, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"lots\" is not a size (examples: 4096, 64KiB, 16MiB, 1GiB)");
	ck_assert_int_eq(units_size("64XiB", &b, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"64XiB\" has an unknown size unit (use B, KiB, MiB or GiB)");
	ck_assert_int_eq(units_size("99999999999999999GiB", &b, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "size \"99999999999999999GiB\" is too large");
}
END_TEST

START_TEST(test_units_port_range)
{
	int lo, hi;
	ck_assert_int_eq(units_port_range("20000-20999", &lo, &hi, err, sizeof(err)), 0);
	ck_assert_int_eq(lo, 20000);
	ck_assert_int_eq(hi, 20999);
	ck_assert_int_eq(units_port_range("4020", &lo, &hi, err, sizeof(err)), 0);
	ck_assert_int_eq(lo, 4020);
	ck_assert_int_eq(hi, 4020);
	ck_assert_int_eq(units_port_range("20999-20000", &lo, &hi, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "port range \"20999-20000\" ends before it starts");
	ck_assert_int_eq(units_port_range("0-10", &lo, &hi, err, sizeof(err)), -1);
	ck_assert_int_eq(units_port_range("1-70000", &lo, &hi, err, sizeof(err)), -1);
	ck_assert_int_eq(units_port_range("1-", &lo, &hi, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"1-\" is not a port or port range (example: 20000-20999, ports 1-65535)");
}
END_TEST

START_TEST(test_units_int)
{
	long long v;
	ck_assert_int_eq(units_int("-3", -10, 10, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, -3);
	ck_assert_int_eq(units_int("11", -10, 10, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "11 is out of range -10..10");
	ck_assert_int_eq(units_int("1x", 0, 10, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"1x\" is not an integer");
}
END_TEST

START_TEST(test_units_format_duration_round_trips)
{
	char buf[32];
	units_format_duration(300000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "5m");
	units_format_duration(1500, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1500ms");
	units_format_duration(86400000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1d");
	units_format_duration(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0s");
}
END_TEST

START_TEST(test_units_time_takes_offsets_zones_and_wall_clock_times)
{
	struct units_time t;
	ck_assert_int_eq(units_time("2026-12-01T02:00:00Z", &t, err, sizeof(err)), 0);
	ck_assert_int_eq((long long)t.t, 1796090400LL);
	ck_assert_int_eq(t.has_offset, 1);
	ck_assert_str_eq(t.zone, "");
	ck_assert_int_eq(units_time("2026-12-01 03:00:00.25+01:00", &t, err, sizeof(err)), 0);
	ck_assert_int_eq((long long)t.t, 1796090400LL);
	ck_assert_int_eq(units_time("2026-12-01T02:00:00", &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t.has_offset, 0);
	ck_assert_int_eq((long long)t.t, 1796090400LL);
	ck_assert_int_eq(units_time("2026-12-01T02:00:00[America/Port-au-Prince]", &t, err,
			     sizeof(err)), 0);
	ck_assert_str_eq(t.zone, "America/Port-au-Prince");
	ck_assert_int_eq(t.has_offset, 0);
	static const char *const bad[] = {"2026-02-29T00:00:00Z", "2026-12-01T02:00", "1969-12-31T23:59:59Z",
	    "2026-12-01T02:00:00+1:00", "2026-12-01T02:00:00[Europe/Berlin", "2026-12-01T02:00:00[]",
	    "2026-12-01T02:00:00[Europe/Berlin]x", "2026-12-01T02:00:00Z[UTC]", "tomorrow"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(units_time(bad[i], &t, err, sizeof(err)) == -1, "%s accepted", bad[i]);
	ck_assert_str_eq(err, "\"tomorrow\" is not an RFC 3339 timestamp (examples: 2026-12-01T02:00:00Z, "
			      "2026-12-01T03:00:00+01:00, 2026-12-01T03:00:00[Europe/Berlin])");
	ck_assert_int_eq(units_zone_name("Etc/GMT+5", err, sizeof(err)), 0);
	ck_assert_int_eq(units_zone_name("UTC", err, sizeof(err)), 0);
	ck_assert_int_eq(units_zone_name("/etc/passwd", err, sizeof(err)), -1);
	ck_assert_int_eq(units_zone_name("Europe/", err, sizeof(err)), -1);
	ck_assert_int_eq(units_zone_name("EST5EDT,M3.2.0,M11.1.0", err, sizeof(err)), -1);
	ck_assert_int_eq(units_zone_name("", err, sizeof(err)), -1);
}
END_TEST

Suite *
units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_units_duration_accepts_each_unit);
	tcase_add_test(tc, test_units_time_takes_offsets_zones_and_wall_clock_times);
	tcase_add_test(tc, test_units_duration_refuses_bad_values);
	tcase_add_test(tc, test_units_size_accepts_binary_units);
	tcase_add_test(tc, test_units_size_refuses_bad_values);
	tcase_add_test(tc, test_units_port_range);
	tcase_add_test(tc, test_units_int);
	tcase_add_test(tc, test_units_format_duration_round_trips);
	suite_add_tcase(s, tc);
	return s;
}
