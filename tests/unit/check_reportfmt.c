/* Unit tests for cli/reportfmt: table, CSV and JSON output, --format and --since. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/reportfmt.h"

static char err[256];

/* Write with fmt into a string (caller frees). */
static char *
render(enum reportfmt_format fmt, const struct reportfmt_col *cols, int ncols,
    const char *const *cells, int nrows)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(reportfmt_write(f, fmt, cols, ncols, cells, nrows, err, sizeof(err)), 0);
	fclose(f);
	return buf;
}

static const struct reportfmt_col cols[] = {
	{"job", REPORTFMT_TEXT}, {"runs", REPORTFMT_NUMBER}, {"late", REPORTFMT_BOOL},
};

START_TEST(test_reportfmt_format_parse_knows_three_formats)
{
	enum reportfmt_format f;
	ck_assert_int_eq(reportfmt_format_parse("table", &f, err, sizeof(err)), 0);
	ck_assert_int_eq(f, REPORTFMT_TABLE);
	ck_assert_int_eq(reportfmt_format_parse("csv", &f, err, sizeof(err)), 0);
	ck_assert_int_eq(f, REPORTFMT_CSV);
	ck_assert_int_eq(reportfmt_format_parse("json", &f, err, sizeof(err)), 0);
	ck_assert_int_eq(f, REPORTFMT_JSON);
	ck_assert_int_eq(reportfmt_format_parse("JSON", &f, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "format \"JSON\" is unknown (use table, csv or json)");
}
END_TEST

START_TEST(test_reportfmt_since_takes_a_duration)
{
	long long ms;
	char ts[32] = "x";
	ck_assert_int_eq(reportfmt_since_parse("30d", &ms, ts, sizeof(ts), err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 30LL * 86400000);
	ck_assert_str_eq(ts, "");
	ck_assert_int_eq(reportfmt_since_parse("90m", &ms, ts, sizeof(ts), err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 90LL * 60000);
}
END_TEST

START_TEST(test_reportfmt_since_takes_a_utc_date_or_time)
{
	long long ms;
	char ts[32];
	ck_assert_int_eq(reportfmt_since_parse("2025-01-31", &ms, ts, sizeof(ts), err, sizeof(err)), 0);
	ck_assert_int_eq(ms, -1);
	ck_assert_str_eq(ts, "2025-01-31 00:00:00+00");
	ck_assert_int_eq(reportfmt_since_parse("2024-02-29T08:05:09Z", &ms, ts, sizeof(ts), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ts, "2024-02-29 08:05:09+00");
	ck_assert_int_eq(reportfmt_since_parse("2024-12-01 23:59:59", &ms, ts, sizeof(ts), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ts, "2024-12-01 23:59:59+00");
}
END_TEST

START_TEST(test_reportfmt_since_refuses_bad_values_with_their_reason)
{
	long long ms;
	char ts[32];
	ck_assert_int_eq(reportfmt_since_parse("yesterday", &ms, ts, sizeof(ts), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"yesterday\" is neither a duration (30d, 12h) nor a date (YYYY-MM-DD)");
	ck_assert_int_eq(reportfmt_since_parse("-5d", &ms, ts, sizeof(ts), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"-5d\" is neither a duration (30d, 12h) nor a date (YYYY-MM-DD)");
	ck_assert_int_eq(reportfmt_since_parse("2025-1-31", &ms, ts, sizeof(ts), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"2025-1-31\" is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)");
	ck_assert_int_eq(reportfmt_since_parse("2025-01-31T08:00", &ms, ts, sizeof(ts), err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "\"2025-01-31T08:00\" is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)");
	ck_assert_int_eq(reportfmt_since_parse("2025-01-31T08:00:00+02", &ms, ts, sizeof(ts), err,
	    sizeof(err)), -1);
	ck_assert_int_eq(reportfmt_since_parse("2025-02-29", &ms, ts, sizeof(ts), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"2025-02-29\" is not a valid date");
	ck_assert_int_eq(reportfmt_since_parse("2025-13-01", &ms, ts, sizeof(ts), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"2025-13-01\" is not a valid date");
	ck_assert_int_eq(reportfmt_since_parse("2025-01-01T24:00:00Z", &ms, ts, sizeof(ts), err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "\"2025-01-01T24:00:00Z\" is not a valid date");
	ck_assert_int_eq(reportfmt_since_parse("2025-01-01", &ms, ts, 8, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "date buffer too small");
}
END_TEST

START_TEST(test_reportfmt_table_aligns_and_right_aligns_numbers)
{
	const char *cells[] = {"backup", "7", "t", "patch/clean-tmp", "1234", NULL};
	char *out = render(REPORTFMT_TABLE, cols, 3, cells, 2);
	ck_assert_str_eq(out,
	    "job              runs  late\n"
	    "---------------  ----  ----\n"
	    "backup              7  t\n"
	    "patch/clean-tmp  1234  \n"
	    "(2 rows)\n");
	free(out);
	out = render(REPORTFMT_TABLE, cols, 3, cells, 0);
	ck_assert_str_eq(out, "job  runs  late\n---  ----  ----\n(0 rows)\n");
	free(out);
}
END_TEST

START_TEST(test_reportfmt_table_counts_characters_not_bytes)
{
	const char *cells[] = {"déjà-vu", "1", "f"};
	char *out = render(REPORTFMT_TABLE, cols, 3, cells, 1);
	ck_assert_str_eq(out,
	    "job      runs  late\n"
	    "-------  ----  ----\n"
	    "déjà-vu     1  f\n"
	    "(1 row)\n");
	free(out);
}
END_TEST

START_TEST(test_reportfmt_table_cuts_long_cells_and_blanks_control_characters)
{
	static const struct reportfmt_col one[] = {{"output", REPORTFMT_TEXT}};
	char longcell[200];
	memset(longcell, 'x', 100);
	longcell[100] = '\0';
	const char *cells[] = {"a\nb\tc", longcell};
	char *out = render(REPORTFMT_TABLE, one, 1, cells, 2);
	char want[512];
	snprintf(want, sizeof(want), "output\n%.*s\na b c\n%.*s\xE2\x80\xA6\n(2 rows)\n",
	    REPORTFMT_TABLE_MAX_WIDTH, "------------------------------------------------------------"
					   "------------------------------------------------------------",
	    REPORTFMT_TABLE_MAX_WIDTH - 1, longcell);
	ck_assert_str_eq(out, want);
	free(out);
}
END_TEST

START_TEST(test_reportfmt_csv_quotes_as_rfc4180)
{
	const char *cells[] = {
		"plain", "1", "t",
		"with,comma", "2", NULL,
		"say \"hi\"", NULL, "f",
		"two\nlines", "", " edge",
	};
	char *out = render(REPORTFMT_CSV, cols, 3, cells, 4);
	ck_assert_str_eq(out,
	    "job,runs,late\r\n"
	    "plain,1,t\r\n"
	    "\"with,comma\",2,\r\n"
	    "\"say \"\"hi\"\"\",,f\r\n"
	    "\"two\nlines\",\"\",\" edge\"\r\n");
	free(out);
}
END_TEST

START_TEST(test_reportfmt_json_types_and_escapes)
{
	const char *cells[] = {
		"a\"b\\c\n\t\x01/", "12", "t",
		"déjà", "-1.5e3", "f",
		"x", "NaN", "maybe",
		NULL, NULL, NULL,
	};
	char *out = render(REPORTFMT_JSON, cols, 3, cells, 4);
	ck_assert_str_eq(out,
	    "[\n"
	    "  {\"job\": \"a\\\"b\\\\c\\n\\t\\u0001/\", \"runs\": 12, \"late\": true},\n"
	    "  {\"job\": \"déjà\", \"runs\": -1.5e3, \"late\": false},\n"
	    "  {\"job\": \"x\", \"runs\": \"NaN\", \"late\": \"maybe\"},\n"
	    "  {\"job\": null, \"runs\": null, \"late\": null}\n"
	    "]\n");
	free(out);
	out = render(REPORTFMT_JSON, cols, 3, cells, 0);
	ck_assert_str_eq(out, "[]\n");
	free(out);
}
END_TEST

START_TEST(test_reportfmt_json_writes_invalid_utf8_as_replacement)
{
	static const struct reportfmt_col one[] = {{"s", REPORTFMT_TEXT}};
	/* lone continuation, overlong "/", truncated sequence, surrogate, 4-byte emoji kept */
	const char *cells[] = {"a\x80" "b\xC0\xAF" "c\xE2\x82" "d\xED\xA0\x80" "e\xF0\x9F\x98\x80"};
	char *out = render(REPORTFMT_JSON, one, 1, cells, 1);
	ck_assert_str_eq(out, "[\n  {\"s\": \"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde"
			      "\xF0\x9F\x98\x80\"}\n]\n");
	free(out);
}
END_TEST

START_TEST(test_reportfmt_write_reports_a_failed_write)
{
	FILE *f = fopen("/dev/full", "w");
	if (f == NULL)
		return; /* no /dev/full here: nothing to prove */
	const char *cells[] = {"backup", "1", "t"};
	ck_assert_int_eq(reportfmt_write(f, REPORTFMT_CSV, cols, 3, cells, 1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "writing the report failed");
	fclose(f);
}
END_TEST

START_TEST(test_reportfmt_since_at_counts_a_duration_back_from_now)
{
	char ts[32];
	/* 2026-11-24T10:02:00Z */
	time_t now = 1795514520;
	ck_assert_int_eq(reportfmt_since_at("36h", now, ts, sizeof(ts), err, sizeof(err)), 0);
	ck_assert_str_eq(ts, "2026-11-22 22:02:00.000+00");
	ck_assert_int_eq(reportfmt_since_at("2025-01-31", now, ts, sizeof(ts), err, sizeof(err)), 0);
	ck_assert_str_eq(ts, "2025-01-31 00:00:00+00");
	ck_assert_int_eq(reportfmt_since_at("3000000d", now, ts, sizeof(ts), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"3000000d\" reaches before year 1");
	ck_assert_int_eq(reportfmt_since_at("soon", now, ts, sizeof(ts), err, sizeof(err)), -1);
}
END_TEST

Suite *
reportfmt_suite(void)
{
	Suite *s = suite_create("reportfmt");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_reportfmt_format_parse_knows_three_formats);
	tcase_add_test(tc, test_reportfmt_since_takes_a_duration);
	tcase_add_test(tc, test_reportfmt_since_takes_a_utc_date_or_time);
	tcase_add_test(tc, test_reportfmt_since_refuses_bad_values_with_their_reason);
	tcase_add_test(tc, test_reportfmt_since_at_counts_a_duration_back_from_now);
	tcase_add_test(tc, test_reportfmt_table_aligns_and_right_aligns_numbers);
	tcase_add_test(tc, test_reportfmt_table_counts_characters_not_bytes);
	tcase_add_test(tc, test_reportfmt_table_cuts_long_cells_and_blanks_control_characters);
	tcase_add_test(tc, test_reportfmt_csv_quotes_as_rfc4180);
	tcase_add_test(tc, test_reportfmt_json_types_and_escapes);
	tcase_add_test(tc, test_reportfmt_json_writes_invalid_utf8_as_replacement);
	tcase_add_test(tc, test_reportfmt_write_reports_a_failed_write);
	suite_add_tcase(s, tc);
	return s;
}
