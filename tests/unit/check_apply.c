/* Unit tests for cli/apply's pure part: when a submitted schedule first runs. */
#include <check.h>
#include <string.h>

#include "cli/apply.h"
#include "cli/batch.h"

#define T(y, mo, d, h, mi) ((time_t)0 + days(y, mo, d) * 86400 + (h) * 3600 + (mi) * 60)

/* Days from 1970-01-01 (proleptic Gregorian). */
static long long
days(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

START_TEST(test_apply_first_due_at_now_and_at_a_time)
{
	struct batch_job j;
	time_t now = T(2026, 11, 25, 15, 0), due;
	memset(&j, 0, sizeof(j));
	j.schedule.at_now = 1;
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, now);
	j.schedule.at_now = 0;
	j.schedule.at = T(2026, 12, 1, 2, 0);
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, T(2026, 12, 1, 2, 0));
	/* a one-shot time already past: due at once */
	j.schedule.at = T(2026, 1, 1, 2, 0);
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, T(2026, 1, 1, 2, 0));
}
END_TEST

START_TEST(test_apply_first_due_moves_every_to_the_next_occurrence)
{
	struct batch_job j;
	time_t now = T(2026, 11, 25, 15, 0), due;
	memset(&j, 0, sizeof(j));
	j.schedule.at = T(2026, 1, 1, 2, 0);
	j.schedule.every_ms = 86400000;
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, T(2026, 11, 26, 2, 0));
	/* exactly on an occurrence: that one */
	ck_assert_int_eq(apply_first_due(&j, T(2026, 11, 26, 2, 0), &due), 0);
	ck_assert_int_eq(due, T(2026, 11, 26, 2, 0));
}
END_TEST

START_TEST(test_apply_first_due_follows_cron_and_until)
{
	struct batch_job j;
	char err[256];
	time_t now = T(2026, 11, 25, 15, 0), due;
	memset(&j, 0, sizeof(j));
	j.schedule.at_now = 1;
	j.schedule.has_cron = 1;
	ck_assert_int_eq(cron_parse("30 2 * * *", &j.schedule.cron, err, sizeof(err)), 0);
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, T(2026, 11, 26, 2, 30));
	/* a window that starts later: the first match in it */
	j.schedule.at_now = 0;
	j.schedule.at = T(2026, 12, 24, 0, 0);
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, T(2026, 12, 24, 2, 30));
	/* nothing before until: nothing to schedule */
	j.schedule.has_until = 1;
	j.schedule.until = T(2026, 12, 24, 2, 30);
	ck_assert_int_eq(apply_first_due(&j, now, &due), -1);
	j.schedule.until = T(2026, 12, 24, 2, 31);
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
}
END_TEST

/* Issue 10 item 2: "0 2 * * *" submitted at 01:07 UTC ran at 01:07 and again at 02:00. */
START_TEST(test_apply_cron_schedule_is_not_due_at_submit)
{
	struct batch_job j;
	char err[256];
	time_t now = T(2026, 11, 25, 1, 7) + 23, due;
	memset(&j, 0, sizeof(j));
	j.schedule.at_now = 1;
	ck_assert_int_eq(apply_due_now(&j), 1);
	j.schedule.every_ms = 3600000;
	ck_assert_int_eq(apply_due_now(&j), 1);
	j.schedule.every_ms = 0;
	j.schedule.has_cron = 1;
	ck_assert_int_eq(cron_parse("0 2 * * *", &j.schedule.cron, err, sizeof(err)), 0);
	ck_assert_int_eq(apply_due_now(&j), 0);
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, T(2026, 11, 25, 2, 0));
	/* every minute: the next whole minute, never the submit's own second */
	ck_assert_int_eq(cron_parse("* * * * *", &j.schedule.cron, err, sizeof(err)), 0);
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, T(2026, 11, 25, 1, 8));
	/* exactly on an occurrence: the next one, not now */
	ck_assert_int_eq(cron_parse("0 2 * * *", &j.schedule.cron, err, sizeof(err)), 0);
	ck_assert_int_eq(apply_first_due(&j, T(2026, 11, 25, 2, 0), &due), 0);
	ck_assert_int_eq(due, T(2026, 11, 26, 2, 0));
	ck_assert_int_eq(cron_parse("* * * * *", &j.schedule.cron, err, sizeof(err)), 0);
	/* with an at in the past: the same */
	j.schedule.at_now = 0;
	j.schedule.at = T(2026, 1, 1, 0, 0);
	ck_assert_int_eq(apply_due_now(&j), 0);
	ck_assert_int_eq(apply_first_due(&j, now, &due), 0);
	ck_assert_int_eq(due, T(2026, 11, 25, 1, 8));
}
END_TEST

Suite *
apply_suite(void)
{
	Suite *s = suite_create("apply");
	TCase *tc = tcase_create("first_due");
	tcase_add_test(tc, test_apply_first_due_at_now_and_at_a_time);
	tcase_add_test(tc, test_apply_first_due_moves_every_to_the_next_occurrence);
	tcase_add_test(tc, test_apply_first_due_follows_cron_and_until);
	tcase_add_test(tc, test_apply_cron_schedule_is_not_due_at_submit);
	suite_add_tcase(s, tc);
	return s;
}
