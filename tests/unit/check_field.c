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

START_TEST(test_field_checks_inventory_grammar)
{
	const char *hosts_ok[] = { "web-01", "web-01.corp.example", "WEB01.Corp.", "10.0.0.11",
		"1host", "::1", "2001:db8::7", "a", "xn--bcher-kva.example" };
	const char *hosts_bad[] = { "127.0.0.1;id", "$(id)", "web_01", "-web", "web-", "a..b",
		".a", "a b", "web-01.-x", "10.0.0.1/8", "[::1]", "a`id`" };
	for (size_t i = 0; i < sizeof(hosts_ok) / sizeof(hosts_ok[0]); i++)
		ck_assert_msg(field_check(FIELD_HOST, hosts_ok[i], err, sizeof(err)) == 0, "%s: %s",
		    hosts_ok[i], err);
	for (size_t i = 0; i < sizeof(hosts_bad) / sizeof(hosts_bad[0]); i++)
		ck_assert_msg(field_check(FIELD_HOST, hosts_bad[i], err, sizeof(err)) == -1, "%s",
		    hosts_bad[i]);
	ck_assert_int_eq(field_check(FIELD_HOST, "127.0.0.1;id", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "host \"127.0.0.1;id\" is neither a host name (RFC 1123: letters, "
	    "digits and '-' in dot-separated labels of 1 to 63) nor an IPv4 or IPv6 address");
	char label[80];
	memset(label, 'a', 64);
	label[64] = '\0';
	ck_assert_int_eq(field_check(FIELD_HOST, label, err, sizeof(err)), -1);
	label[63] = '\0';
	ck_assert_int_eq(field_check(FIELD_HOST, label, err, sizeof(err)), 0);
	ck_assert(field_hostname_ok("web-01"));
	ck_assert(!field_hostname_ok("10.0.0.1;id"));
	ck_assert(!field_hostname_ok(NULL));

	ck_assert_int_eq(field_check(FIELD_IP, "10.0.0.11", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_IP, "fe80::1", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_IP, "web-01", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "ip \"web-01\" is not an IPv4 or IPv6 address");
	ck_assert_int_eq(field_check(FIELD_IP, "10.0.0.256", err, sizeof(err)), -1);

	ck_assert_int_eq(field_check(FIELD_MAC, "52:54:00:AB:cd:ef", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_MAC, "52-54-00-ab-cd-ef", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_MAC, "52:54-00:ab:cd:ef", err, sizeof(err)), -1);
	ck_assert_int_eq(field_check(FIELD_MAC, "52:54:00:ab:cd:e;", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mac \"52:54:00:ab:cd:e;\" is not a MAC address (example: "
	    "52:54:00:12:34:56)");

	ck_assert_int_eq(field_check(FIELD_DOMAIN, "corp.example", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_DOMAIN, "_msdcs.corp", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_DOMAIN, "corp;id", err, sizeof(err)), -1);
	ck_assert_int_eq(field_check(FIELD_EMAIL, "ann@corp.example", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check(FIELD_EMAIL, "o'brien+x@corp.example", err, sizeof(err)), 0);
	const char *mails_bad[] = { "ann", "@corp.example", "ann@", "ann@corp", "a b@corp.example",
		".a@corp.example", "a..b@corp.example", "ann@corp.example;id", "a\"b@corp.example",
		"a(b)@corp.example" };
	for (size_t i = 0; i < sizeof(mails_bad) / sizeof(mails_bad[0]); i++)
		ck_assert_msg(field_check(FIELD_EMAIL, mails_bad[i], err, sizeof(err)) == -1, "%s",
		    mails_bad[i]);

	/* free text: any printable value, no control character, at most 256 bytes */
	ck_assert_int_eq(field_check_as(FIELD_TEXT, "dept", "Ops $(id) 'x' `y`", err, sizeof(err)), 0);
	ck_assert_int_eq(field_check_as(FIELD_TEXT, "dept", "a\nb", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "dept \"a\\nb\" holds a control character (\\n)");
	char text[300];
	memset(text, 'x', 257);
	text[257] = '\0';
	ck_assert_int_eq(field_check_as(FIELD_TEXT, "contact", text, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is 257 bytes long, more than 256"));
}
END_TEST

START_TEST(test_field_computer_name_is_host_name_like)
{
	char name[300];
	ck_assert_int_eq(field_computer_name("web-01", err, sizeof(err)), 0);
	ck_assert_int_eq(field_computer_name("db_2.corp.example", err, sizeof(err)), 0);
	ck_assert_int_eq(field_computer_name("-web", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "computer name \"-web\": use 1 to 253 letters, digits, '.', '_' or '-', "
	    "starting with a letter or digit");
	ck_assert_int_eq(field_computer_name("", err, sizeof(err)), -1);
	ck_assert_int_eq(field_computer_name("web 01", err, sizeof(err)), -1);
	ck_assert_int_eq(field_computer_name("web\n01", err, sizeof(err)), -1);
	memset(name, 'a', 253);
	name[253] = '\0';
	ck_assert_int_eq(field_computer_name(name, err, sizeof(err)), 0);
	name[253] = 'a';
	name[254] = '\0';
	ck_assert_int_eq(field_computer_name(name, err, sizeof(err)), -1);
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
	tcase_add_test(tc, test_field_checks_inventory_grammar);
	tcase_add_test(tc, test_field_computer_name_is_host_name_like);
	suite_add_tcase(s, tc);
	return s;
}
