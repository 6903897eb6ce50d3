/* Unit tests for common/field: the limits of values that reach the wire, and the interpreter split. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/field.h"

static char err[512];

START_TEST(test_field_refuses_control_characters_with_the_value)
{
	ck_assert_int_eq(field_check(FIELD_RUN_AS, "nobody\nx", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "run_as \"nobody\\nx\" holds a control character (\\n)");
	ck_assert_int_eq(field_check(FIELD_OS_REQUIRED, "Linux\r", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "os_required \"Linux\\r\" holds a control character (\\r)");
	ck_assert_int_eq(field_check(FIELD_BOOT_ENV, "Prod\tuction", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "boot_env \"Prod\\tuction\" holds a control character (\\t)");
	ck_assert_int_eq(field_check(FIELD_INTERPRETER, "/bin/sh\x7f", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "interpreter \"/bin/sh\\x7f\" holds a control character (\\x7f)");
	ck_assert_int_eq(field_check(FIELD_HOST, "web\x01", err, sizeof(err)), -1);
	ck_assert_int_eq(field_check(FIELD_OS, "Linux\n", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_field_refuses_values_over_their_limit)
{
	char *v = malloc(17002);
	memset(v, 'a', 17001);
	v[0] = '/';
	v[17001] = '\0';
	ck_assert_int_eq(field_check(FIELD_INTERPRETER, v, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is 17001 bytes long, more than 1024"));
	ck_assert_ptr_nonnull(strstr(err, "interpreter \"/aaaa"));
	v[FIELD_INTERPRETER_MAX] = '\0';
	ck_assert_int_eq(field_check(FIELD_INTERPRETER, v, err, sizeof(err)), 0);
	v[FIELD_RUN_AS_MAX + 1] = '\0';
	ck_assert_int_eq(field_check(FIELD_RUN_AS, v, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is 33 bytes long, more than 32"));
	v[FIELD_RUN_AS_MAX] = '\0';
	ck_assert_int_eq(field_check(FIELD_RUN_AS, v, err, sizeof(err)), 0);
	memset(v, 'x', 200);
	v[FIELD_OS_MAX + 1] = '\0';
	ck_assert_int_eq(field_check(FIELD_OS_REQUIRED, v, err, sizeof(err)), -1);
	ck_assert_int_eq(field_check(FIELD_BOOT_ENV, v, err, sizeof(err)), -1);
	v[FIELD_OS_MAX] = '\0';
	ck_assert_int_eq(field_check(FIELD_OS_REQUIRED, v, err, sizeof(err)), 0);
	free(v);
}
END_TEST

START_TEST(test_field_empty_only_where_it_means_none)
{
	ck_assert_int_eq(field_check(FIELD_RUN_AS, "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "run_as is empty");
	ck_assert_int_eq(field_check(FIELD_INTERPRETER, "", err, sizeof(err)), -1);
	ck_assert_int_eq(field_check(FIELD_HOST, "", err, sizeof(err)), -1);
	ck_assert_int_eq(field_check(FIELD_OS_REQUIRED, "", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_BOOT_ENV, "", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_RUN_AS, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "run_as is missing");
}
END_TEST

START_TEST(test_field_interpreter_splits_on_spaces_without_a_shell)
{
	char buf[FIELD_INTERPRETER_MAX + 1], *argv[FIELD_INTERPRETER_WORDS + 1];
	int argc;
	ck_assert_int_eq(field_interpreter_split("/usr/bin/env python3", buf, sizeof(buf), argv, &argc,
			     err, sizeof(err)), 0);
	ck_assert_int_eq(argc, 2);
	ck_assert_str_eq(argv[0], "/usr/bin/env");
	ck_assert_str_eq(argv[1], "python3");
	ck_assert_ptr_null(argv[2]);
	ck_assert_int_eq(field_interpreter_split("  /bin/bash   -e  -u ", buf, sizeof(buf), argv, &argc,
			     err, sizeof(err)), 0);
	ck_assert_int_eq(argc, 3);
	ck_assert_str_eq(argv[0], "/bin/bash");
	ck_assert_str_eq(argv[1], "-e");
	ck_assert_str_eq(argv[2], "-u");
	/* no quoting: quotes and $ are ordinary characters of a word */
	ck_assert_int_eq(field_interpreter_split("/bin/sh -c 'echo $HOME'", buf, sizeof(buf), argv, &argc,
			     err, sizeof(err)), 0);
	ck_assert_int_eq(argc, 4);
	ck_assert_str_eq(argv[2], "'echo");
	ck_assert_str_eq(argv[3], "$HOME'");
	ck_assert_int_eq(field_interpreter_split("python3 -u", buf, sizeof(buf), argv, &argc, err,
			     sizeof(err)), -1);
	ck_assert_str_eq(err, "interpreter \"python3 -u\" must start with an absolute path (example: "
			      "/usr/bin/env python3)");
	ck_assert_int_eq(field_interpreter_split("   ", buf, sizeof(buf), argv, &argc, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "interpreter is empty");
	ck_assert_int_eq(field_interpreter_split("/a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", buf,
			     sizeof(buf), argv, &argc, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "interpreter \"/a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\" has more than 16 words");
	ck_assert_int_eq(field_interpreter_split("/a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", buf,
			     sizeof(buf), argv, &argc, err, sizeof(err)), 0);
	ck_assert_int_eq(argc, 16);
	ck_assert_int_eq(field_check(FIELD_INTERPRETER, "env python3", err, sizeof(err)), -1);
	ck_assert_int_eq(field_check(FIELD_INTERPRETER, "/usr/bin/env python3", err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_field_show_escapes_and_cuts)
{
	char out[300], v[100];
	memset(v, 'b', 99);
	v[99] = '\0';
	field_show(v, out, sizeof(out));
	ck_assert_int_eq(strlen(out), 63);
	ck_assert_str_eq(out + 60, "...");
	field_show("a\"b\\c\x01", out, sizeof(out));
	ck_assert_str_eq(out, "a\\\"b\\\\c\\x01");
	field_show("abcdef", out, 6);
	ck_assert_str_eq(out, "ab...");
}
END_TEST

Suite *
field_suite(void)
{
	Suite *s = suite_create("field");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_field_refuses_control_characters_with_the_value);
	tcase_add_test(tc, test_field_refuses_values_over_their_limit);
	tcase_add_test(tc, test_field_empty_only_where_it_means_none);
	tcase_add_test(tc, test_field_interpreter_splits_on_spaces_without_a_shell);
	tcase_add_test(tc, test_field_show_escapes_and_cuts);
	suite_add_tcase(s, tc);
	return s;
}
