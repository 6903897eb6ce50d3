/* Unit tests for common/cron: parsing, refusals with their messages, next-time search in UTC
 * and in a zone's wall clock around the two 2026 EU daylight saving changes. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/cron.h"

static char err[256];

/* "YYYY-MM-DD HH:MM" UTC to time_t. */
static time_t
utc(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	ck_assert_int_eq(sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min),
			 5);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static const char *
fmt(time_t t)
{
	static char buf[32];
	struct tm tm;
	if (t == (time_t)-1)
		return "never";
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M %a", &tm);
	return buf;
}

/* Next match after `after` for expression e, as text. */
static const char *
next(const char *e, const char *after)
{
	struct cron c;
	ck_assert_msg(cron_parse(e, &c, err, sizeof(err)) == 0, "%s: %s", e, err);
	return fmt(cron_next(&c, utc(after)));
}

static void
refuses(const char *e, const char *msg)
{
	struct cron c;
	ck_assert_msg(cron_parse(e, &c, err, sizeof(err)) == -1, "%s accepted", e);
	ck_assert_str_eq(err, msg);
}

START_TEST(test_cron_parse_sets_bits_for_lists_ranges_steps)
{
	struct cron c;
	ck_assert_int_eq(cron_parse("*/15 1-5,22 1,15 */3 *", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.minute, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
	ck_assert_uint_eq(c.hour, 0x3eU | (1U << 22));
	ck_assert_uint_eq(c.dom, (1U << 1) | (1U << 15));
	ck_assert_uint_eq(c.month, (1U << 1) | (1U << 4) | (1U << 7) | (1U << 10));
	ck_assert_uint_eq(c.dow, 0x7f);
	ck_assert_int_eq(c.dom_star, 0);
	ck_assert_int_eq(c.dow_star, 1);
	ck_assert_int_eq(cron_parse("10-50/20 0 * * *", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.minute, (1ULL << 10) | (1ULL << 30) | (1ULL << 50));
	ck_assert_int_eq(cron_parse("50/5 0 * * *", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.minute, (1ULL << 50) | (1ULL << 55));
}
END_TEST

START_TEST(test_cron_parse_accepts_names_and_sunday_as_7)
{
	struct cron c;
	ck_assert_int_eq(cron_parse("0 0 * JAN,jun-Aug mon-FRI", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.month, (1U << 1) | (1U << 6) | (1U << 7) | (1U << 8));
	ck_assert_uint_eq(c.dow, 0x3e);
	ck_assert_int_eq(cron_parse("0 0 * * 7", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dow, 1);
	ck_assert_int_eq(cron_parse("0 0 * * 5-7", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dow, (1U << 5) | (1U << 6) | 1U);
	ck_assert_int_eq(cron_parse("0 0 * * sun", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dow, 1);
	ck_assert_int_eq(cron_parse("0 0 * * */2", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dow, (1U << 0) | (1U << 2) | (1U << 4) | (1U << 6));
}
END_TEST

START_TEST(test_cron_parse_normalizes_spacing_in_text)
{
	struct cron c;
	ck_assert_int_eq(cron_parse("  0\t2   * *  1-5 ", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.text, "0 2 * * 1-5");
}
END_TEST

START_TEST(test_cron_parse_accepts_macros)
{
	struct cron c, d;
	ck_assert_int_eq(cron_parse("@daily", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(cron_parse("0 0 * * *", &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.minute, d.minute);
	ck_assert_uint_eq(c.hour, d.hour);
	ck_assert_str_eq(c.text, "@daily");
	ck_assert_str_eq(next("@hourly", "2026-03-01 10:07"), "2026-03-01 11:00 Sun");
	ck_assert_str_eq(next("@weekly", "2026-03-04 10:07"), "2026-03-08 00:00 Sun");
	ck_assert_str_eq(next("@monthly", "2026-03-04 10:07"), "2026-04-01 00:00 Wed");
	ck_assert_str_eq(next("@yearly", "2026-03-04 10:07"), "2027-01-01 00:00 Fri");
}
END_TEST

START_TEST(test_cron_refuses_each_bad_field_with_its_message)
{
	refuses("61 * * * *", "cron \"61 * * * *\": minute 61 out of range 0-59");
	refuses("0 24 * * *", "cron \"0 24 * * *\": hour 24 out of range 0-23");
	refuses("0 0 0 * *", "cron \"0 0 0 * *\": day-of-month 0 out of range 1-31");
	refuses("0 0 32 * *", "cron \"0 0 32 * *\": day-of-month 32 out of range 1-31");
	refuses("0 0 * 13 *", "cron \"0 0 * 13 *\": month 13 out of range 1-12");
	refuses("0 0 * * 8", "cron \"0 0 * * 8\": day-of-week 8 out of range 0-7");
	refuses("x * * * *", "cron \"x * * * *\": minute \"x\" is not a number");
	refuses("0 0 * foo *",
		"cron \"0 0 * foo *\": month \"foo\" is not a number or a month name (jan..dec)");
	refuses("0 0 * * monday",
		"cron \"0 0 * * monday\": day-of-week \"monday\" is not a number or a day name (sun..sat)");
	refuses("0 0 * * -1", "cron \"0 0 * * -1\": day-of-week \"\" is not a number or a day name (sun..sat)");
	refuses("30-10 * * * *", "cron \"30-10 * * * *\": minute range 30-10 ends before it starts");
	refuses("*/0 * * * *", "cron \"*/0 * * * *\": minute step 0 out of range 1-59");
	refuses("*/60 * * * *", "cron \"*/60 * * * *\": minute step 60 out of range 1-59");
	refuses("*/x * * * *", "cron \"*/x * * * *\": minute step \"x\" is not a number");
	refuses("*/ * * * *", "cron \"*/ * * * *\": minute step \"\" is not a number");
	refuses("1,,2 * * * *", "cron \"1,,2 * * * *\": minute has an empty list item");
	refuses("1, * * * *", "cron \"1, * * * *\": minute has an empty list item");
	refuses("0 0 * *", "cron \"0 0 * *\": expected 5 fields (minute hour day-of-month month "
			   "day-of-week), found 4");
	refuses("0 0 * * * *", "cron \"0 0 * * * *\": expected 5 fields (minute hour day-of-month "
			       "month day-of-week), found 6");
	refuses("", "cron \"\": expected 5 fields (minute hour day-of-month month day-of-week), "
		    "found 0");
	refuses("@reboot", "cron \"@reboot\": unknown macro (use @yearly, @annually, @monthly, "
			   "@weekly, @daily, @midnight or @hourly)");
	refuses("@daily 5", "cron \"@daily 5\": unknown macro (use @yearly, @annually, @monthly, "
			    "@weekly, @daily, @midnight or @hourly)");
	refuses("0 0 30 2 *",
		"cron \"0 0 30 2 *\": never matches (no chosen day-of-month occurs in a chosen month)");
	refuses("0 0 31 4,6,9,11 *", "cron \"0 0 31 4,6,9,11 *\": never matches (no chosen "
				     "day-of-month occurs in a chosen month)");
}
END_TEST

START_TEST(test_cron_refuses_overlong_expression)
{
	char big[200];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refuses(big, "cron \"1111111111111111111111111111111111111111...\": too long (at most "
		     "127 characters)");
}
END_TEST

START_TEST(test_cron_next_is_strictly_after_and_on_a_minute)
{
	ck_assert_str_eq(next("* * * * *", "2026-05-10 12:00"), "2026-05-10 12:01 Sun");
	ck_assert_str_eq(next("0 2 * * *", "2026-05-10 02:00"), "2026-05-11 02:00 Mon");
	ck_assert_str_eq(next("0 2 * * *", "2026-05-10 01:59"), "2026-05-10 02:00 Sun");
	ck_assert_str_eq(next("*/15 * * * *", "2026-05-10 12:44"), "2026-05-10 12:45 Sun");
	/* seconds inside a minute round up to the next minute */
	struct cron c;
	ck_assert_int_eq(cron_parse("* * * * *", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(fmt(cron_next(&c, utc("2026-05-10 12:00") + 59)), "2026-05-10 12:01 Sun");
}
END_TEST

START_TEST(test_cron_next_crosses_month_and_year_ends)
{
	ck_assert_str_eq(next("30 23 31 * *", "2026-04-01 00:00"), "2026-05-31 23:30 Sun");
	ck_assert_str_eq(next("0 0 1 * *", "2026-12-31 23:59"), "2027-01-01 00:00 Fri");
	ck_assert_str_eq(next("59 23 * * *", "2026-12-31 23:59"), "2027-01-01 23:59 Fri");
	ck_assert_str_eq(next("0 12 31 * *", "2026-01-31 12:00"), "2026-03-31 12:00 Tue");
	ck_assert_str_eq(next("0 0 30 * *", "2026-01-30 00:00"), "2026-03-30 00:00 Mon");
}
END_TEST

START_TEST(test_cron_next_finds_feb_29)
{
	ck_assert_str_eq(next("0 0 29 2 *", "2025-01-01 00:00"), "2028-02-29 00:00 Tue");
	ck_assert_str_eq(next("0 0 29 feb *", "2028-02-29 00:00"), "2032-02-29 00:00 Sun");
	/* 2100 is not a leap year: eight years between leap days */
	ck_assert_str_eq(next("0 0 29 2 *", "2096-03-01 00:00"), "2104-02-29 00:00 Fri");
}
END_TEST

START_TEST(test_cron_next_applies_or_rule_when_both_days_restricted)
{
	/* 13th of the month OR any Friday */
	ck_assert_str_eq(next("0 0 13 * 5", "2026-03-01 00:00"), "2026-03-06 00:00 Fri");
	ck_assert_str_eq(next("0 0 13 * 5", "2026-03-12 00:00"), "2026-03-13 00:00 Fri");
	ck_assert_str_eq(next("0 0 13 * 5", "2026-04-10 00:00"), "2026-04-13 00:00 Mon");
	/* a star (stepped or not) in day-of-week: day-of-month alone decides */
	ck_assert_str_eq(next("0 0 13 * *", "2026-03-01 00:00"), "2026-03-13 00:00 Fri");
	ck_assert_str_eq(next("0 0 13 * */1", "2026-03-01 00:00"), "2026-03-13 00:00 Fri");
	/* a star in day-of-month: day-of-week alone decides */
	ck_assert_str_eq(next("0 0 * * mon", "2026-03-01 00:00"), "2026-03-02 00:00 Mon");
	ck_assert_str_eq(next("0 0 */2 * mon", "2026-03-01 00:00"), "2026-03-09 00:00 Mon");
	/* both restricted and Feb 30 impossible: Mondays still match */
	ck_assert_str_eq(next("0 0 30 2 mon", "2026-02-01 00:00"), "2026-02-02 00:00 Mon");
}
END_TEST

START_TEST(test_cron_next_weekday_ranges)
{
	ck_assert_str_eq(next("0 9 * * 1-5", "2026-03-06 09:00"), "2026-03-09 09:00 Mon");
	ck_assert_str_eq(next("0 9 * * 6,7", "2026-03-02 09:00"), "2026-03-07 09:00 Sat");
	ck_assert_str_eq(next("0 9 * * 7", "2026-03-02 09:00"), "2026-03-08 09:00 Sun");
}
END_TEST

START_TEST(test_cron_next_gives_up_after_ten_years)
{
	/* a day-of-week of star step 6 begins with a star, so both day fields must
	 * match: Feb 29 on a Sunday or Saturday; after 2032 (Sunday) comes 2048 */
	struct cron c;
	ck_assert_int_eq(cron_parse("0 0 29 2 */6", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(fmt(cron_next(&c, utc("2026-01-01 00:00"))), "2032-02-29 00:00 Sun");
	ck_assert_str_eq(fmt(cron_next(&c, utc("2032-03-01 00:00"))), "never");
}
END_TEST

/*
 * Europe/Berlin over 2026 as PostgreSQL's pgfleet.tz_offsets gives it: CET (+1) until
 * the last Sunday of March, 01:00 UTC, CEST (+2) until the last Sunday of October,
 * 01:00 UTC, then CET again.
 */
static struct cron_zone
berlin_2026(void)
{
	struct cron_zone z = {.from = utc("2026-01-01 00:00"), .to = utc("2027-01-01 00:00"),
	    .off0 = 3600, .n = 2};
	z.tr[0].at = utc("2026-03-29 01:00");
	z.tr[0].off = 7200;
	z.tr[1].at = utc("2026-10-25 01:00");
	z.tr[1].off = 3600;
	return z;
}

/* The next `count` runs of e after `after` in zone z, in UTC, joined by ", ". */
static const char *
runs_tz(const char *e, const struct cron_zone *z, const char *after, int count)
{
	static char out[512];
	struct cron c;
	time_t t = utc(after);
	ck_assert_msg(cron_parse(e, &c, err, sizeof(err)) == 0, "%s: %s", e, err);
	out[0] = '\0';
	for (int i = 0; i < count; i++) {
		t = cron_next_tz(&c, z, t);
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? ", " : "", fmt(t));
		if (t == (time_t)-1)
			break;
	}
	return out;
}

START_TEST(test_cron_tz_reads_the_zones_wall_clock)
{
	struct cron_zone z = berlin_2026();
	/* 03:30 in Berlin is 02:30 UTC in winter and 01:30 UTC in summer */
	ck_assert_str_eq(runs_tz("30 3 * * *", &z, "2026-01-10 12:00", 2),
			 "2026-01-11 02:30 Sun, 2026-01-12 02:30 Mon");
	ck_assert_str_eq(runs_tz("30 3 * * *", &z, "2026-07-01 12:00", 1), "2026-07-02 01:30 Thu");
	/* the day of the week is the local one: 00:30 Monday in Berlin is Sunday in UTC */
	ck_assert_str_eq(runs_tz("30 0 * * mon", &z, "2026-07-01 00:00", 1), "2026-07-05 22:30 Sun");
}
END_TEST

START_TEST(test_cron_tz_skipped_local_time_runs_once_at_the_change)
{
	struct cron_zone z = berlin_2026();
	/* 2026-03-29: 02:00-02:59 does not exist in Berlin; 02:30 runs at 03:00 CEST (01:00 UTC),
	 * once, then at 02:30 CEST (00:30 UTC) the next day */
	ck_assert_str_eq(runs_tz("30 2 * * *", &z, "2026-03-28 12:00", 2),
			 "2026-03-29 01:00 Sun, 2026-03-30 00:30 Mon");
	/* several fixed times in the gap (02:00, 02:15, 02:30, 02:45) still run once; 03:00 at the
	 * same instant is that same run */
	ck_assert_str_eq(runs_tz("0,15,30,45 2,3 * * *", &z, "2026-03-29 00:50", 3),
			 "2026-03-29 01:00 Sun, 2026-03-29 01:15 Sun, 2026-03-29 01:30 Sun");
	/* a wildcard job follows the wall clock: 02:15 does not exist, the next is 03:15 CEST */
	ck_assert_str_eq(runs_tz("15 * * * *", &z, "2026-03-29 00:20", 2),
			 "2026-03-29 01:15 Sun, 2026-03-29 02:15 Sun");
	/* the day before and after: an ordinary day */
	ck_assert_str_eq(runs_tz("30 2 * * *", &z, "2026-03-27 12:00", 1), "2026-03-28 01:30 Sat");
}
END_TEST

START_TEST(test_cron_tz_repeated_local_time_runs_once)
{
	struct cron_zone z = berlin_2026();
	/* 2026-10-25: 02:00-02:59 comes twice (CEST, then CET); 02:30 runs at the first, 00:30 UTC */
	ck_assert_str_eq(runs_tz("30 2 * * *", &z, "2026-10-24 12:00", 2),
			 "2026-10-25 00:30 Sun, 2026-10-26 01:30 Mon");
	/* asked during the second pass (02:10 CET, 01:10 UTC): 02:30 ran already, the next is tomorrow */
	ck_assert_str_eq(runs_tz("30 2 * * *", &z, "2026-10-25 01:10", 1), "2026-10-26 01:30 Mon");
	/* a wildcard job runs in both passes: every half hour of wall clock, repeated hour included */
	ck_assert_str_eq(runs_tz("*/30 * * * *", &z, "2026-10-25 00:10", 4),
			 "2026-10-25 00:30 Sun, 2026-10-25 01:00 Sun, 2026-10-25 01:30 Sun, "
			 "2026-10-25 02:00 Sun");
	/* a fixed time right after the repeated hour is unaffected */
	ck_assert_str_eq(runs_tz("0 3 * * *", &z, "2026-10-24 12:00", 1), "2026-10-25 02:00 Sun");
}
END_TEST

START_TEST(test_cron_tz_without_changes_and_past_the_range)
{
	/* Asia/Kathmandu, +05:45 all year */
	struct cron_zone k = {.from = utc("2026-01-01 00:00"), .to = utc("2026-02-01 00:00"),
	    .off0 = 20700, .n = 0};
	ck_assert_str_eq(runs_tz("0 0 * * *", &k, "2026-01-01 00:00", 2),
			 "2026-01-01 18:15 Thu, 2026-01-02 18:15 Fri");
	/* nothing before the end of the range: never, the caller asks with the next range */
	ck_assert_str_eq(runs_tz("0 0 1 6 *", &k, "2026-01-01 00:00", 1), "never");
	struct cron c;
	ck_assert_int_eq(cron_parse("* * * * *", &c, err, sizeof(err)), 0);
	ck_assert(cron_next_tz(&c, &k, utc("2025-12-31 00:00")) == (time_t)-1);
}
END_TEST

START_TEST(test_cron_zone_utc_maps_wall_clock_times)
{
	struct cron_zone z = berlin_2026();
	ck_assert_str_eq(fmt(cron_zone_utc(&z, utc("2026-07-01 12:00"))), "2026-07-01 10:00 Wed");
	ck_assert_str_eq(fmt(cron_zone_utc(&z, utc("2026-01-01 12:00"))), "2026-01-01 11:00 Thu");
	/* skipped: the moment of the change; repeated: the first of the two */
	ck_assert_str_eq(fmt(cron_zone_utc(&z, utc("2026-03-29 02:30"))), "2026-03-29 01:00 Sun");
	ck_assert_str_eq(fmt(cron_zone_utc(&z, utc("2026-10-25 02:30"))), "2026-10-25 00:30 Sun");
	ck_assert_int_eq(cron_zone_offset(&z, utc("2026-03-29 00:59")), 3600);
	ck_assert_int_eq(cron_zone_offset(&z, utc("2026-03-29 01:00")), 7200);
	ck_assert_int_eq(cron_zone_offset(&z, utc("2026-10-25 01:00")), 3600);
	ck_assert(cron_zone_utc(&z, utc("2027-06-01 00:00")) == (time_t)-1);
}
END_TEST

Suite *
cron_suite(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("cron");
	tcase_add_test(tc, test_cron_parse_sets_bits_for_lists_ranges_steps);
	tcase_add_test(tc, test_cron_parse_accepts_names_and_sunday_as_7);
	tcase_add_test(tc, test_cron_parse_normalizes_spacing_in_text);
	tcase_add_test(tc, test_cron_parse_accepts_macros);
	tcase_add_test(tc, test_cron_refuses_each_bad_field_with_its_message);
	tcase_add_test(tc, test_cron_refuses_overlong_expression);
	tcase_add_test(tc, test_cron_next_is_strictly_after_and_on_a_minute);
	tcase_add_test(tc, test_cron_next_crosses_month_and_year_ends);
	tcase_add_test(tc, test_cron_next_finds_feb_29);
	tcase_add_test(tc, test_cron_next_applies_or_rule_when_both_days_restricted);
	tcase_add_test(tc, test_cron_next_weekday_ranges);
	tcase_add_test(tc, test_cron_next_gives_up_after_ten_years);
	tcase_add_test(tc, test_cron_tz_reads_the_zones_wall_clock);
	tcase_add_test(tc, test_cron_tz_skipped_local_time_runs_once_at_the_change);
	tcase_add_test(tc, test_cron_tz_repeated_local_time_runs_once);
	tcase_add_test(tc, test_cron_tz_without_changes_and_past_the_range);
	tcase_add_test(tc, test_cron_zone_utc_maps_wall_clock_times);
	suite_add_tcase(s, tc);
	return s;
}
