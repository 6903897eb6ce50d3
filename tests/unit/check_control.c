/*
 * Unit tests for agent/control's file-name checks: only "temp:<basename>"
 * (and temp:"<basename>" for Execute) is accepted; every refusal names why.
 */
#include <check.h>
#include <string.h>

#include "agent/control.h"

static char out[CONTROL_MAX_NAME + 1];
static char err[512];

static void
refused(const char *value, int quoted, const char *want)
{
	strcpy(out, "untouched");
	ck_assert_int_eq(control_temp_name(value, quoted, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(out, "untouched");
}

START_TEST(test_control_accepts_temp_basenames)
{
	ck_assert_int_eq(control_temp_name("temp:rxscript.sh", 0, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "rxscript.sh");
	ck_assert_int_eq(control_temp_name("temp:\"rxscript.sh\"", 1, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "rxscript.sh");
	ck_assert_int_eq(control_temp_name("temp:rxscript.sh", 1, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "rxscript.sh");
	ck_assert_int_eq(control_temp_name("temp:...x", 0, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "...x");
}
END_TEST

START_TEST(test_control_refuses_paths_and_odd_names)
{
	refused("temp:../x", 0, "file name \"temp:../x\" refused: '/' in a base name");
	refused("temp:../../etc/x", 0, "file name \"temp:../../etc/x\" refused: '/' in a base name");
	refused("temp:/etc/passwd", 0, "file name \"temp:/etc/passwd\" refused: '/' in a base name");
	refused("/etc/passwd", 0, "file name \"/etc/passwd\" refused: not temp:<name>");
	refused("rxscript.sh", 0, "file name \"rxscript.sh\" refused: not temp:<name>");
	refused(NULL, 0, "file name \"\" refused: not temp:<name>");
	refused("temp:", 0, "file name \"temp:\" refused: empty");
	refused("temp:\"\"", 1, "file name \"temp:\"\"\" refused: empty");
	refused("temp:.", 0, "file name \"temp:.\" refused: not a file name");
	refused("temp:..", 0, "file name \"temp:..\" refused: not a file name");
	refused("temp:\"..\"", 1, "file name \"temp:\"..\"\" refused: not a file name");
	refused("temp:a\tb", 0, "file name \"temp:a\tb\" refused: control or quote character");
	refused("temp:\"x\"", 0, "file name \"temp:\"x\"\" refused: control or quote character");
	refused("temp:a\\b", 0, "file name \"temp:a\\b\" refused: control or quote character");
	char longname[CONTROL_MAX_NAME + 16] = "temp:";
	memset(longname + 5, 'a', CONTROL_MAX_NAME + 1);
	longname[5 + CONTROL_MAX_NAME + 1] = '\0';
	refused(longname, 0, "file name refused: longer than 128 bytes");
	/* exactly the limit is fine */
	longname[5 + CONTROL_MAX_NAME] = '\0';
	ck_assert_int_eq(control_temp_name(longname, 0, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(out), CONTROL_MAX_NAME);
	/* too small an output buffer is refused, not overrun */
	char small[4];
	ck_assert_int_eq(control_temp_name("temp:abcd", 0, small, sizeof(small), err, sizeof(err)), -1);
}
END_TEST

Suite *
control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, test_control_accepts_temp_basenames);
	tcase_add_test(tc, test_control_refuses_paths_and_odd_names);
	suite_add_tcase(s, tc);
	return s;
}
