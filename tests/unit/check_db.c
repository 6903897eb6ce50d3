/* Unit tests for common/db that need no server: connection errors, channel names, NULL results. */
#include <check.h>
#include <string.h>

#include "common/db.h"

static char err[1024];

START_TEST(test_db_open_refuses_malformed_conninfo)
{
	ck_assert_ptr_null(db_open("host=/tmp nonsense", err, sizeof(err)));
	ck_assert_str_eq(err, "database: missing \"=\" after \"nonsense\" in connection info string");
}
END_TEST

START_TEST(test_db_conninfo_has_password_in_every_form)
{
	ck_assert_int_eq(db_conninfo_has_password("host=db1 dbname=pgfleet password=s3cret"), 1);
	ck_assert_int_eq(db_conninfo_has_password("password='a b' host=db1"), 1);
	ck_assert_int_eq(db_conninfo_has_password("host=db1 password="), 1);
	ck_assert_int_eq(db_conninfo_has_password("postgresql://ann:s3cret@db1/pgfleet"), 1);
	ck_assert_int_eq(db_conninfo_has_password("postgres://db1/pgfleet?password=s3cret"), 1);
	ck_assert_int_eq(db_conninfo_has_password("host=db1 dbname=pgfleet user=ann"), 0);
	ck_assert_int_eq(db_conninfo_has_password("postgresql://ann@db1/pgfleet"), 0);
	ck_assert_int_eq(db_conninfo_has_password("host=db1 dbname=passwords passfile=/x"), 0);
	ck_assert_int_eq(db_conninfo_has_password("pgfleet"), 0);
	ck_assert_int_eq(db_conninfo_has_password(""), 0);
	ck_assert_int_eq(db_conninfo_has_password(NULL), 0);
}
END_TEST

START_TEST(test_db_open_reports_unreachable_socket_on_one_line)
{
	ck_assert_ptr_null(db_open("host=/nonexistent-pgfleet-dir port=1 connect_timeout=2", err,
	    sizeof(err)));
	ck_assert_msg(strncmp(err, "database: connection to server on socket "
				   "\"/nonexistent-pgfleet-dir/.s.PGSQL.1\" failed: No such file or directory",
			  99) == 0, "got: %s", err);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_ptr_null(strchr(err, '\t'));
}
END_TEST

START_TEST(test_db_open_cuts_long_message_to_the_buffer)
{
	char small[16];
	ck_assert_ptr_null(db_open("host=/tmp nonsense", small, sizeof(small)));
	ck_assert_str_eq(small, "database: missi");
}
END_TEST

START_TEST(test_db_check_channel_accepts_lower_snake)
{
	ck_assert_int_eq(db_check_channel("pgfleet_wakeup", err, sizeof(err)), 0);
	ck_assert_int_eq(db_check_channel("_x9", err, sizeof(err)), 0);
	char max[64];
	memset(max, 'a', 63);
	max[63] = '\0';
	ck_assert_int_eq(db_check_channel(max, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_db_check_channel_refuses_bad_names)
{
	ck_assert_int_eq(db_check_channel("", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "channel name \"\" must have 1 to 63 characters");
	ck_assert_int_eq(db_check_channel(NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "channel name \"\" must have 1 to 63 characters");
	char big[65];
	memset(big, 'a', 64);
	big[64] = '\0';
	ck_assert_int_eq(db_check_channel(big, err, sizeof(err)), -1);
	ck_assert_int_eq(db_check_channel("Wakeup", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "channel name \"Wakeup\" may hold only a-z, 0-9 and _ (not first a digit)");
	ck_assert_int_eq(db_check_channel("9lives", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "channel name \"9lives\" may hold only a-z, 0-9 and _ (not first a digit)");
	ck_assert_int_eq(db_check_channel("a\"; DROP", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_db_result_accessors_accept_null)
{
	ck_assert_int_eq(db_ntuples(NULL), 0);
	ck_assert_int_eq(db_nfields(NULL), 0);
	ck_assert_str_eq(db_value(NULL, 0, 0), "");
	ck_assert_int_eq(db_isnull(NULL, 0, 0), 1);
	ck_assert_str_eq(db_fname(NULL, 0), "");
	ck_assert_int_eq(db_fnumber(NULL, "x"), -1);
	ck_assert_int_eq(db_cmd_tuples(NULL), 0);
	db_result_free(NULL);
	db_close(NULL);
}
END_TEST

START_TEST(test_db_err_split_takes_the_sqlstate_off_the_end)
{
	char st[6];
	const char *e = "role alice may not run job \"x\": no run scope covers it (SQLSTATE 42501)";
	ck_assert_int_eq(db_err_split(e, st), (int)strlen(e) - 17);
	ck_assert_str_eq(st, "42501");
	ck_assert_int_eq(db_api_refused(st), 1);
	ck_assert_int_eq(db_err_split("no such computer: a; no such group: b (SQLSTATE 42704)", NULL), 37);
	/* no SQLSTATE, or one in the middle: the whole text, no state */
	ck_assert_int_eq(db_err_split("database unavailable (reconnecting)", st), 35);
	ck_assert_str_eq(st, "");
	ck_assert_int_eq(db_err_split("x (SQLSTATE 42501) y", st), 20);
	ck_assert_str_eq(st, "");
	ck_assert_int_eq(db_err_split("", st), 0);
	ck_assert_int_eq(db_api_refused("P0002"), 1);
	ck_assert_int_eq(db_api_refused("08006"), 0);
	ck_assert_int_eq(db_api_refused("XX000"), 0);
	ck_assert_int_eq(db_api_refused(""), 0);
}
END_TEST

Suite *
db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("offline");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_db_open_refuses_malformed_conninfo);
	tcase_add_test(tc, test_db_conninfo_has_password_in_every_form);
	tcase_add_test(tc, test_db_open_reports_unreachable_socket_on_one_line);
	tcase_add_test(tc, test_db_open_cuts_long_message_to_the_buffer);
	tcase_add_test(tc, test_db_check_channel_accepts_lower_snake);
	tcase_add_test(tc, test_db_check_channel_refuses_bad_names);
	tcase_add_test(tc, test_db_err_split_takes_the_sqlstate_off_the_end);
	tcase_add_test(tc, test_db_result_accessors_accept_null);
	suite_add_tcase(s, tc);
	return s;
}
