/* Unit tests for worker/sendfile: the SendFile message is whole or not built at all. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "worker/sendfile.h"

static char err[512];

static struct sendfile_req
good_req(void)
{
	struct sendfile_req r = {
	    .now = 1764093128, .size = 52, .port = 20001, .transfer_host = "127.0.0.1",
	    .key = "0f1e2d3c4b5a69788796a5b4c3d2e1f0", .checksum = "sha256:5f0c", .interpreter = NULL,
	    .os_required = "Linux", .boot_env = NULL, .run_as = "deploy", .timeout_ms = 600000,
	    .schedule_id = 100000029, .event_id = 42, .seq = 1, .attempt = 2, .computer_id = 5000011};
	return r;
}

START_TEST(test_sendfile_builds_every_key_in_order)
{
	static const char *const keys[] = {"Request", "Filename", "Date", "Attributes", "Size", "Port",
	    "Transfer-Host", "Key", "Checksum", "Execute", "Task-Type", "Interpreter", "OS-Required",
	    "Boot-Env", "Allow-Defer", "Options", "Window", "Run-As", "Timeout", "Schedule-ID",
	    "Event-ID", "Task-Sequence-ID", "Attempt", "CurrentFileCount", "TotalFileCount",
	    "TotalFileCopySize", "ID", "FileStamp"};
	struct sendfile_req r = good_req();
	struct wire_msg *m = NULL;
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m->nkeys, (int)(sizeof(keys) / sizeof(keys[0])));
	for (int i = 0; i < m->nkeys; i++)
		ck_assert_str_eq(m->keys[i], keys[i]);
	ck_assert_str_eq(wire_get(m, "Run-As"), "deploy");
	ck_assert_str_eq(wire_get(m, "Interpreter"), "/bin/sh");
	ck_assert_str_eq(wire_get(m, "OS-Required"), "Linux");
	ck_assert_str_eq(wire_get(m, "Boot-Env"), "");
	ck_assert_str_eq(wire_get(m, "Timeout"), "600000");
	ck_assert_str_eq(wire_get(m, "Event-ID"), "42");
	ck_assert_str_eq(wire_get(m, "Task-Sequence-ID"), "1");
	ck_assert_str_eq(wire_get(m, "Attempt"), "2");
	ck_assert_str_eq(wire_get(m, "ID"), "5000011");
	ck_assert_str_eq(wire_get(m, "Size"), "52");
	wire_msg_free(m);

	/* no run_as: Run-As is still sent, empty, which asks for the agent's default */
	r.run_as = NULL;
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), 0);
	ck_assert_str_eq(wire_get(m, "Run-As"), "");
	wire_msg_free(m);
}
END_TEST

/* CopyFile: Destination, Mode and, when given, Owner, checked as Run-As is. */
START_TEST(test_sendfile_copy_keys_and_owner)
{
	struct sendfile_req r = good_req();
	struct wire_msg *m = NULL;
	r.copy_dest = "/etc/app/app.conf";
	r.copy_mode = 0640;
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), 0);
	ck_assert_str_eq(wire_get(m, "Task-Type"), "CopyFile");
	ck_assert_str_eq(wire_get(m, "Mode"), "0640");
	ck_assert_ptr_null(wire_get(m, "Owner"));
	wire_msg_free(m);
	r.copy_owner = "www-data";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), 0);
	ck_assert_str_eq(wire_get(m, "Owner"), "www-data");
	wire_msg_free(m);
	r.copy_owner = "www\nx";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err, "copy: owner \"www\\nx\" holds a control character (\\n)");
	/* a script has no owner to send */
	r.copy_dest = NULL;
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), 0);
	ck_assert_ptr_null(wire_get(m, "Owner"));
	wire_msg_free(m);
}
END_TEST

START_TEST(test_sendfile_refuses_run_as_with_a_newline)
{
	struct sendfile_req r = good_req();
	struct wire_msg *m = (struct wire_msg *)&r; /* must be reset to NULL */
	r.run_as = "nobody\nx";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err, "run_as \"nobody\\nx\" holds a control character (\\n)");
	r.run_as = "nobody\tx";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_ptr_null(m);
	r.run_as = "a-user-name-that-is-33-bytes-long";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "run_as \"a-user-name-that-is-33-bytes-long\" is 33 bytes long, more than 32");
}
END_TEST

START_TEST(test_sendfile_refuses_an_interpreter_of_17001_bytes)
{
	struct sendfile_req r = good_req();
	struct wire_msg *m = NULL;
	char *interp = malloc(17002);
	memset(interp, 'x', 17001);
	interp[0] = '/';
	interp[17001] = '\0';
	r.interpreter = interp;
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err, "is 17001 bytes long, more than 1024"));
	free(interp);
	r.interpreter = "/usr/bin/env python3";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), 0);
	ck_assert_str_eq(wire_get(m, "Interpreter"), "/usr/bin/env python3");
	wire_msg_free(m);
	r.interpreter = "python3";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_sendfile_refuses_requirements_with_control_characters)
{
	struct sendfile_req r = good_req();
	struct wire_msg *m = NULL;
	r.os_required = "Linux\r\nRun-As=root";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "os_required \"Linux\\r\\nRun-As=root\" holds a control character (\\r)");
	r.os_required = NULL;
	r.boot_env = "Prod\x1b";
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_sendfile_reports_a_failed_add_instead_of_dropping_the_key)
{
	/* a value no field check covers, too long for the header: the add's own refusal */
	struct sendfile_req r = good_req();
	struct wire_msg *m = NULL;
	char *host = malloc(17001);
	memset(host, 'h', 17000);
	host[17000] = '\0';
	r.transfer_host = host;
	ck_assert_int_eq(sendfile_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err, "Transfer-Host: header exceeds 16384 bytes");
	free(host);
}
END_TEST

Suite *
sendfile_suite(void)
{
	Suite *s = suite_create("sendfile");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_sendfile_builds_every_key_in_order);
	tcase_add_test(tc, test_sendfile_refuses_run_as_with_a_newline);
	tcase_add_test(tc, test_sendfile_copy_keys_and_owner);
	tcase_add_test(tc, test_sendfile_refuses_an_interpreter_of_17001_bytes);
	tcase_add_test(tc, test_sendfile_refuses_requirements_with_control_characters);
	tcase_add_test(tc, test_sendfile_reports_a_failed_add_instead_of_dropping_the_key);
	suite_add_tcase(s, tc);
	return s;
}
