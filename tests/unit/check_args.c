/* Unit tests for cli/args: run's TARGETS, --at times, ids, names, labels, JSON strings. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

static char err[512];

START_TEST(test_args_targets_parses_each_kind_and_drops_duplicates)
{
	struct args_targets t;
	ck_assert_int_eq(args_targets_parse("web-01,group:web,label:env=prod,web-01,group:web,"
					    "label:env=prod,db.02,label:role=",
			     &t, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(t.ncomputers, 2);
	ck_assert_str_eq(t.computers[0], "web-01");
	ck_assert_str_eq(t.computers[1], "db.02");
	ck_assert_uint_eq(t.ngroups, 1);
	ck_assert_str_eq(t.groups[0], "web");
	ck_assert_uint_eq(t.nlabels, 2);
	ck_assert_str_eq(t.labels[0].key, "env");
	ck_assert_str_eq(t.labels[0].value, "prod");
	ck_assert_str_eq(t.labels[1].key, "role");
	ck_assert_str_eq(t.labels[1].value, "");
	args_targets_free(&t);
	ck_assert_uint_eq(t.ncomputers, 0);
}
END_TEST

START_TEST(test_args_targets_json_is_what_schedule_targets_holds)
{
	struct args_targets t;
	ck_assert_int_eq(args_targets_parse("a,group:g \"x\"\\,label:k=v/w", &t, err, sizeof(err)),
	    0);
	char *j = args_targets_json(&t);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(j, "{\"computers\":[\"a\"],\"groups\":[\"g \\\"x\\\"\\\\\"],"
			    "\"labels\":{\"k\":\"v/w\"}}");
	free(j);
	args_targets_free(&t);
	ck_assert_int_eq(args_targets_parse("group:web", &t, err, sizeof(err)), 0);
	j = args_targets_json(&t);
	ck_assert_str_eq(j, "{\"computers\":[],\"groups\":[\"web\"],\"labels\":{}}");
	free(j);
	args_targets_free(&t);
}
END_TEST

START_TEST(test_args_targets_refuses_bad_items_naming_them)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{"", "empty item (targets are separated by single commas)"},
		{"a,,b", "empty item (targets are separated by single commas)"},
		{"a,", "empty item (targets are separated by single commas)"},
		{"-web", "computer name \"-web\": use 1 to 253 letters, digits, '.', '_' or '-', "
			 "starting with a letter or digit"},
		{"web 01", "computer name \"web 01\": use 1 to 253 letters, digits, '.', '_' or '-', "
			   "starting with a letter or digit"},
		{"group:", "\"group:\": group name must be 1 to 200 characters long"},
		{"group: web", "\"group: web\": group name \" web\" begins or ends with a space"},
		{"label:env", "\"label:env\": label \"env\": expected KEY=VALUE"},
		{"label:=prod", "\"label:=prod\": label \"=prod\": expected KEY=VALUE"},
		{"label:env=a,label:env=b",
		    "\"label:env=b\": label env is already env=a (a computer has one value per label)"},
		{"host:web", "\"host:web\": unknown kind (use NAME, group:NAME, label:KEY=VALUE or fact:PATH=VALUE)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct args_targets t;
		ck_assert_int_eq(args_targets_parse(cases[i].in, &t, err, sizeof(err)), -1);
		ck_assert_str_eq(err, cases[i].msg);
		ck_assert_uint_eq(t.ncomputers + t.ngroups + t.nlabels, 0);
	}
}
END_TEST

START_TEST(test_args_time_accepts_now_relative_and_rfc3339)
{
	time_t t;
	ck_assert_int_eq(args_time("now", 1000, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t, 1000);
	ck_assert_int_eq(args_time("+10m", 1000, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t, 1600);
	ck_assert_int_eq(args_time("2026-12-01T02:00:00Z", 0, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t, 1796090400);
	ck_assert_int_eq(args_time("2026-12-01 04:00:00.250+02:00", 0, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t, 1796090400);
	ck_assert_int_eq(args_time("2026-12-01t01:30:00-00:30", 0, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t, 1796090400);
	ck_assert_int_eq(args_time("2028-02-29T00:00:00Z", 0, &t, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_args_time_refuses_bad_times_naming_them)
{
	static const char *const bad[] = {"2026-02-29T00:00:00Z", "2026-12-01T02:00:00",
	    "2026-12-01", "2026-13-01T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T02:00:00Zx",
	    "tomorrow", "2026-12-01T02:00:00+2:00"};
	time_t t;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[256];
		ck_assert_int_eq(args_time(bad[i], 0, &t, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "time \"%s\" is not now, +DURATION (+10m) or RFC 3339 "
					     "(2026-12-01T02:00:00Z)",
		    bad[i]);
		ck_assert_str_eq(err, want);
	}
	ck_assert_int_eq(args_time("+soon", 0, &t, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "time \"+soon\": \"soon\" is not a duration (examples: 500ms, 10s, 5m, "
			      "2h, 1d)");
}
END_TEST

START_TEST(test_args_id_refuses_zero_negative_and_words)
{
	long long id;
	ck_assert_int_eq(args_id("schedule", "100000001", &id, err, sizeof(err)), 0);
	ck_assert_int_eq(id, 100000001);
	static const char *const bad[] = {"0", "-5", "abc", "", "12x", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[128];
		ck_assert_int_eq(args_id("schedule", bad[i], &id, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "schedule \"%s\" is not an id (a positive integer)", bad[i]);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(test_args_names_and_labels_refuse_bad_values)
{
	char buf[64], *k, *v;
	ck_assert_int_eq(args_name("group", "web servers/eu", err, sizeof(err)), 0);
	ck_assert_int_eq(args_name("group", "a\tb", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "group name \"a\\tb\" holds a control character");
	ck_assert_int_eq(args_name("job", "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "job name must be 1 to 200 characters long");
	ck_assert_int_eq(args_label("env=prod=x", buf, sizeof(buf), &k, &v, err, sizeof(err)), 0);
	ck_assert_str_eq(k, "env");
	ck_assert_str_eq(v, "prod=x");
	ck_assert_int_eq(args_label("env", buf, sizeof(buf), &k, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "label \"env\": expected KEY=VALUE");
	ck_assert_int_eq(args_label("e\nv=1", buf, sizeof(buf), &k, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "label \"e\\nv=1\" holds a control character");
	char longer[80];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ck_assert_int_eq(args_label(longer, buf, sizeof(buf), &k, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "label \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" "
			      "is too long");
}
END_TEST

START_TEST(test_args_json_str_escapes_quotes_backslashes_and_controls)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);
	args_json_str(fp, "a\"b\\c\n\r\t\x01\x7f" "é");
	fputc(' ', fp);
	args_json_str(fp, NULL);
	fclose(fp);
	ck_assert_str_eq(buf, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u007fé\" null");
	free(buf);
}
END_TEST

START_TEST(test_args_rollout_limits_counts_and_percentages)
{
	int n = -7, pct = -7;
	ck_assert_int_eq(args_max_failures("--max-failures", "3", &n, &pct, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(pct, 0);
	ck_assert_int_eq(args_max_failures("--max-failures", "5%", &n, &pct, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(pct, 1);
	ck_assert_int_eq(args_max_failures("--max-failures", "0", &n, &pct, err, sizeof(err)), 0);
	ck_assert_int_eq(args_max_failures("--max-failures", "100%", &n, &pct, err, sizeof(err)), 0);
	static const char *const bad[] = {"101%", "-1", "x", "%", "5%%", "1000001", "", " 5",
	    "99999999999999999999999999999999%"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = pct = -7;
		ck_assert_msg(args_max_failures("max_failures", bad[i], &n, &pct, err, sizeof(err)) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(n, -7);
		ck_assert_ptr_nonnull(strstr(err, "is not a count (0-1000000) or a percentage (0%-100%)"));
	}
	ck_assert_int_eq(args_max_concurrent("--max-concurrent", "1", &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(args_max_concurrent("--max-concurrent", "0", &n, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--max-concurrent: \"0\" is not a count (1-1000000)");
	ck_assert_int_eq(args_max_concurrent("--max-concurrent", "5%", &n, err, sizeof(err)), -1);
}
END_TEST

Suite *
args_suite(void)
{
	Suite *s = suite_create("args");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_args_targets_parses_each_kind_and_drops_duplicates);
	tcase_add_test(tc, test_args_targets_json_is_what_schedule_targets_holds);
	tcase_add_test(tc, test_args_targets_refuses_bad_items_naming_them);
	tcase_add_test(tc, test_args_time_accepts_now_relative_and_rfc3339);
	tcase_add_test(tc, test_args_time_refuses_bad_times_naming_them);
	tcase_add_test(tc, test_args_id_refuses_zero_negative_and_words);
	tcase_add_test(tc, test_args_names_and_labels_refuse_bad_values);
	tcase_add_test(tc, test_args_json_str_escapes_quotes_backslashes_and_controls);
	tcase_add_test(tc, test_args_rollout_limits_counts_and_percentages);
	suite_add_tcase(s, tc);
	return s;
}
