/*
 * Unit tests for cli/invopts: the option table of pgfleet computer and pgfleet group:
 * values and repeats land where they belong, options a subcommand does not take and
 * unknown ones are refused, "--" ends the options, a missing value is an error.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/invopts.h"

/* invopts links cmdutil, whose database opener is pgfleet.c's main's: never called here */
struct db *
cli_db_open(int check_schema, char *err, size_t errlen)
{
	(void)check_schema;
	snprintf(err, errlen, "no database in unit tests");
	return NULL;
}

static int
scan(const char *allowed, struct invopts *o, int *help, int argc, char **argv)
{
	FILE *saved = stderr;
	stderr = fopen("/dev/null", "w");
	int rc = invopts_scan("computer add", argc, argv, allowed, o, help);
	fclose(stderr);
	stderr = saved;
	return rc;
}

START_TEST(test_invopts_values_and_repeats)
{
	char *argv[] = {"add", "web-1", "--host", "10.0.0.1", "--label", "a=1", "--group", "g1",
	    "--label", "b=2", "--port", "4021", "--", "--odd-name"};
	struct invopts o;
	int help;
	ck_assert_int_eq(scan("hpolg", &o, &help, 14, argv), 0);
	ck_assert_int_eq(help, 0);
	ck_assert_int_eq(o.npos, 2);
	ck_assert_str_eq(o.pos[0], "web-1");
	ck_assert_str_eq(o.pos[1], "--odd-name");
	ck_assert_str_eq(o.host, "10.0.0.1");
	ck_assert_str_eq(o.port, "4021");
	ck_assert_int_eq(o.nlabels, 2);
	ck_assert_str_eq(o.labels[1], "b=2");
	ck_assert_int_eq(o.ngroups, 1);
	ck_assert_str_eq(o.groups[0], "g1");
	invopts_free(&o);
}
END_TEST

START_TEST(test_invopts_refusals)
{
	struct invopts o;
	int help;
	char *other[] = {"add", "x", "--force"};
	ck_assert_int_eq(scan("hpolg", &o, &help, 3, other), -1); /* not this command's */
	invopts_free(&o);
	char *unknown[] = {"add", "x", "--hots", "h"};
	ck_assert_int_eq(scan("hpolg", &o, &help, 4, unknown), -1);
	invopts_free(&o);
	char *novalue[] = {"add", "x", "--host"};
	ck_assert_int_eq(scan("hpolg", &o, &help, 3, novalue), -1);
	invopts_free(&o);
	char *format[] = {"add", "x", "--json"};
	ck_assert_int_eq(scan("hpolg", &o, &help, 3, format), -1);
	invopts_free(&o);
	char *many[] = {"add", "a", "b", "c", "d", "e"};
	ck_assert_int_eq(scan("hpolg", &o, &help, 6, many), -1);
	invopts_free(&o);
	char *h[] = {"add", "--help", "--bogus"};
	ck_assert_int_eq(scan("hpolg", &o, &help, 3, h), 0);
	ck_assert_int_eq(help, 1);
	invopts_free(&o);
}
END_TEST

START_TEST(test_invopts_where_rule)
{
	char *argv[] = {"list", "--where", "os=Linux", "--where", "facts.memory_mb>=4096"};
	struct invopts o;
	int help;
	ck_assert_int_eq(scan("jw", &o, &help, 5, argv), 0);
	char *rule = invopts_where_rule("computer list", &o);
	ck_assert_ptr_nonnull(rule);
	ck_assert_str_eq(rule, "{\"os\":\"Linux\",\"facts.memory_mb\":\">=4096\"}");
	free(rule);
	invopts_free(&o);
	char *twice[] = {"list", "--where", "os=a", "--where", "os=b"};
	ck_assert_int_eq(scan("jw", &o, &help, 5, twice), 0);
	FILE *saved = stderr;
	stderr = fopen("/dev/null", "w");
	ck_assert_ptr_null(invopts_where_rule("computer list", &o));
	fclose(stderr);
	stderr = saved;
	invopts_free(&o);
}
END_TEST

Suite *
invopts_suite(void)
{
	Suite *s = suite_create("invopts");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_invopts_values_and_repeats);
	tcase_add_test(tc, test_invopts_refusals);
	tcase_add_test(tc, test_invopts_where_rule);
	suite_add_tcase(s, tc);
	return s;
}
