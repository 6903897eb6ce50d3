/*
 * Unit tests for agent/request's pure checks: file names (only
 * "temp:<basename>", and temp:"<basename>" for Execute) and
 * request_check, what a SendFile or Cancel makes the agent do.
 */
#include <check.h>
#include <string.h>

#include "agent/request.h"
#include "common/conf.h"
#include "common/status.h"
#include "common/wire.h"

static char out[REQUEST_MAX_NAME + 1];
static char err[512];

static void
refused(const char *value, int quoted, const char *want)
{
	strcpy(out, "untouched");
	ck_assert_int_eq(request_temp_name(value, quoted, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(out, "untouched");
}

START_TEST(test_request_accepts_temp_basenames)
{
	ck_assert_int_eq(request_temp_name("temp:rxscript.sh", 0, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "rxscript.sh");
	ck_assert_int_eq(request_temp_name("temp:\"rxscript.sh\"", 1, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "rxscript.sh");
	ck_assert_int_eq(request_temp_name("temp:rxscript.sh", 1, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "rxscript.sh");
	ck_assert_int_eq(request_temp_name("temp:...x", 0, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "...x");
}
END_TEST

START_TEST(test_request_refuses_paths_and_odd_names)
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
	char longname[REQUEST_MAX_NAME + 16] = "temp:";
	memset(longname + 5, 'a', REQUEST_MAX_NAME + 1);
	longname[5 + REQUEST_MAX_NAME + 1] = '\0';
	refused(longname, 0, "file name refused: longer than 128 bytes");
	/* exactly the limit is fine */
	longname[5 + REQUEST_MAX_NAME] = '\0';
	ck_assert_int_eq(request_temp_name(longname, 0, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(out), REQUEST_MAX_NAME);
	/* too small an output buffer is refused, not overrun */
	char small[4];
	ck_assert_int_eq(request_temp_name("temp:abcd", 0, small, sizeof(small), err, sizeof(err)), -1);
}
END_TEST

/* --- request_check */

static char *allow_users[] = {"deploy"};
static const struct conf_agent agent_conf = {
	.computer_id = 5000011,
	.os = "Linux",
	.boot_env = "Production",
	.run_as_allow = {allow_users, 1},
	.run_as_default = "root",
	.max_script = 1024,
};

/* A SendFile the agent acts on, with key=value overrides ("Key=" empties, "Key" drops). */
static struct wire_msg *
sendfile(const char *const *over)
{
	static const char *const base[][2] = {
		{"Request", "SendFile"}, {"Filename", "temp:rxscript.sh"}, {"Size", "6"}, {"Port", "20001"},
		{"Key", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}, {"Checksum", "sha256:00"},
		{"Execute", "temp:\"rxscript.sh\""}, {"Task-Type", "RunScript"}, {"Interpreter", "/bin/sh"},
		{"OS-Required", ""}, {"Boot-Env", ""}, {"Run-As", "deploy"}, {"Timeout", "0"},
		{"Schedule-ID", "100000001"}, {"Event-ID", "7"}, {"Task-Sequence-ID", "1"}, {"ID", "5000011"},
		{"Attempt", "3"},
	};
	struct wire_msg *m = wire_msg_new();
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		const char *value = base[i][1];
		int drop = 0;
		for (const char *const *o = over; o != NULL && *o != NULL; o++) {
			size_t kl = strlen(base[i][0]);
			if (strncmp(*o, base[i][0], kl) == 0 && ((*o)[kl] == '=' || (*o)[kl] == '\0')) {
				drop = (*o)[kl] == '\0';
				value = *o + kl + 1;
			}
		}
		if (!drop)
			ck_assert_int_eq(wire_add(m, base[i][0], value, err, sizeof(err)), 0);
	}
	return m;
}

static long long hello_id; /* the ID of the scheduler's Reply=Hello; 0: none yet */

static enum request_verdict
check(struct wire_msg *m, struct request_task *t, int *code)
{
	enum request_verdict v = request_check(m, &agent_conf, hello_id, t, code, err, sizeof(err));
	wire_msg_free(m);
	return v;
}

static void
refused_with(const char *const *over, enum request_verdict want, int want_code, const char *want_why)
{
	struct request_task t;
	int code;
	enum request_verdict v = check(sendfile(over), &t, &code);
	ck_assert_msg(v == want && code == want_code && strcmp(err, want_why) == 0,
	    "%s: verdict %d code %d \"%s\", expected %d %d \"%s\"", over != NULL ? over[0] : "-",
	    (int)v, code, err, (int)want, want_code, want_why);
}

START_TEST(test_request_check_accepts_sendfile)
{
	struct request_task t;
	int code = 99;
	ck_assert_int_eq(check(sendfile(NULL), &t, &code), REQUEST_ACT);
	ck_assert_int_eq(code, 0);
	ck_assert_int_eq(t.kind, REQUEST_SENDFILE);
	ck_assert_int_eq(t.event_id, 7);
	ck_assert_int_eq(t.seq, 1);
	ck_assert_int_eq(t.schedule_id, 100000001);
	ck_assert_int_eq(t.computer_id, 5000011);
	ck_assert_uint_eq(t.size, 6);
	ck_assert_int_eq(t.port, 20001);
	ck_assert_str_eq(t.name, "rxscript.sh");
	ck_assert_str_eq(t.user, "deploy");
	/* Attempt is optional: echoed when present, else the replies carry none */
	struct wire_msg *m = sendfile(NULL);
	ck_assert_int_eq(request_check(m, &agent_conf, 0, &t, &code, err, sizeof(err)), REQUEST_ACT);
	ck_assert_str_eq(t.attempt_s, "3");
	wire_msg_free(m);
	const char *const noattempt[] = {"Attempt", NULL};
	ck_assert_int_eq(check(sendfile(noattempt), &t, &code), REQUEST_ACT);
	ck_assert_ptr_null(t.attempt_s);
	/* an empty Run-As asks for run_as.default */
	const char *const def[] = {"Run-As=", NULL};
	ck_assert_int_eq(check(sendfile(def), &t, &code), REQUEST_ACT);
	ck_assert_str_eq(t.user, "root");
}
END_TEST

/* A CopyFile's Owner: absent, the run-as user; else a user name on run_as.allow, or -36. */
START_TEST(test_request_check_copy_owner)
{
	static char *copy_dirs[] = {"/etc/app"};
	static char *users[] = {"deploy", "www"};
	struct conf_agent cf = agent_conf;
	cf.copy_allow = (struct conf_strlist){copy_dirs, 1};
	cf.run_as_allow = (struct conf_strlist){users, 2};
	static const char *const owners[] = {NULL, "www", "mallory", "a-user-name-that-is-33-bytes-long", ""};
	static const int want[] = {0, 0, STATUS_COPY_REFUSED, STATUS_COPY_REFUSED, STATUS_COPY_REFUSED};
	for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		const char *const copy[] = {"Task-Type=CopyFile", NULL};
		struct wire_msg *m = sendfile(copy);
		struct request_task t;
		int code = 99;
		ck_assert_int_eq(wire_add(m, "Destination", "/etc/app/app.conf", err, sizeof(err)), 0);
		ck_assert_int_eq(wire_add(m, "Mode", "0640", err, sizeof(err)), 0);
		if (owners[i] != NULL)
			ck_assert_int_eq(wire_add(m, "Owner", owners[i], err, sizeof(err)), 0);
		enum request_verdict v = request_check(m, &cf, 0, &t, &code, err, sizeof(err));
		wire_msg_free(m);
		ck_assert_msg(code == want[i], "owner %s: code %d (%s)", owners[i] ? owners[i] : "-", code, err);
		ck_assert_int_eq(v, want[i] == 0 ? REQUEST_ACT : REQUEST_REFUSE);
		if (want[i] == 0)
			ck_assert_str_eq(t.owner, owners[i] != NULL ? owners[i] : "");
	}
	/* the messages say why */
	const char *const copy[] = {"Task-Type=CopyFile", NULL};
	struct wire_msg *m = sendfile(copy);
	struct request_task t;
	int code;
	ck_assert_int_eq(wire_add(m, "Destination", "/etc/app/app.conf", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Mode", "0640", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Owner", "mallory", err, sizeof(err)), 0);
	ck_assert_int_eq(request_check(m, &cf, 0, &t, &code, err, sizeof(err)), REQUEST_REFUSE);
	ck_assert_str_eq(err, "copy owner \"mallory\" refused: not allowed on this agent (run_as.allow)");
	wire_msg_free(m);
}
END_TEST

START_TEST(test_request_check_refuses_sendfile_before_acting)
{
	const char *const other[] = {"ID=5000012", NULL};
	refused_with(other, REQUEST_REFUSE, STATUS_PROTOCOL,
	    "message for computer 5000012, this agent is computer 5000011");
	const char *const path[] = {"Filename=temp:../x", NULL};
	refused_with(path, REQUEST_REFUSE, STATUS_FILE_REFUSED,
	    "file name \"temp:../x\" refused: '/' in a base name");
	const char *const exec[] = {"Execute=temp:other.sh", NULL};
	refused_with(exec, REQUEST_REFUSE, STATUS_FILE_REFUSED,
	    "Execute names \"other.sh\", not the file sent (\"rxscript.sh\")");
	const char *const big[] = {"Size=1025", NULL};
	refused_with(big, REQUEST_REFUSE, STATUS_FILE_REFUSED,
	    "script of 1025 bytes refused: max_script is 1024");
	const char *const type[] = {"Task-Type=Reboot", NULL};
	refused_with(type, REQUEST_REFUSE, STATUS_PROTOCOL, "Task-Type Reboot is not supported");
	const char *const user[] = {"Run-As=mallory", NULL};
	refused_with(user, REQUEST_REFUSE, STATUS_RUNAS_REFUSED,
	    "run-as user \"mallory\" refused: not allowed on this agent");
	const char *const os[] = {"OS-Required=Windows", NULL};
	refused_with(os, REQUEST_REFUSE, STATUS_REQUIREMENTS,
	    "os \"Windows\" required, this computer runs \"Linux\"");
	const char *const interp[] = {"Interpreter=", NULL};
	struct request_task t;
	int code;
	ck_assert_int_eq(check(sendfile(interp), &t, &code), REQUEST_REFUSE);
	ck_assert_int_eq(code, STATUS_AGENT_ERROR);
}
END_TEST

START_TEST(test_request_check_bad_requests_close)
{
	const char *const nokey[] = {"Checksum", NULL};
	refused_with(nokey, REQUEST_BAD, STATUS_PROTOCOL, "SendFile without Checksum");
	const char *const port[] = {"Port=0", NULL};
	refused_with(port, REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Port is not a valid number");
	const char *const seq[] = {"Task-Sequence-ID=2147483648", NULL};
	refused_with(seq, REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Task-Sequence-ID is not a valid number");
	const char *const ev[] = {"Event-ID=-1", NULL};
	refused_with(ev, REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Event-ID is not a valid number");

	struct request_task t;
	int code;
	struct wire_msg *m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Request", "Reboot", err, sizeof(err)), 0);
	ck_assert_int_eq(check(m, &t, &code), REQUEST_BAD);
	ck_assert_str_eq(err, "unknown request \"Reboot\"");
	m = wire_msg_new();
	ck_assert_int_eq(check(m, &t, &code), REQUEST_BAD);
	ck_assert_str_eq(err, "unknown request \"\"");
}
END_TEST

START_TEST(test_request_check_cancel)
{
	struct request_task t;
	int code;
	struct wire_msg *m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Request", "Cancel", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Event-ID", "42", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Task-Sequence-ID", "3", err, sizeof(err)), 0);
	ck_assert_int_eq(check(m, &t, &code), REQUEST_ACT);
	ck_assert_int_eq(t.kind, REQUEST_CANCEL);
	ck_assert_int_eq(t.event_id, 42);
	ck_assert_int_eq(t.seq, 3);
	m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Request", "Cancel", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Event-ID", "x", err, sizeof(err)), 0);
	ck_assert_int_eq(check(m, &t, &code), REQUEST_BAD);
	ck_assert_int_eq(code, STATUS_PROTOCOL);
	ck_assert_str_eq(err, "Cancel needs a numeric Event-ID and Task-Sequence-ID");
}
END_TEST

START_TEST(test_request_retry_is_part_of_the_journal_key)
{
	struct request_task t;
	int code;
	/* absent: 0, the key is the seq as before retries */
	ck_assert_int_eq(check(sendfile(NULL), &t, &code), REQUEST_ACT);
	ck_assert_int_eq(t.retry, 0);
	ck_assert_int_eq(request_journal_seq(&t), 1);
	struct wire_msg *m = sendfile(NULL);
	ck_assert_int_eq(wire_add(m, "Retry", "2", err, sizeof(err)), 0);
	ck_assert_int_eq(check(m, &t, &code), REQUEST_ACT);
	ck_assert_int_eq(t.retry, 2);
	ck_assert_int_eq(request_journal_seq(&t), 2001);
	int seq, retry;
	request_journal_split(2001, &seq, &retry);
	ck_assert_int_eq(seq, 1);
	ck_assert_int_eq(retry, 2);
	request_journal_split(7, &seq, &retry);
	ck_assert_int_eq(seq, 7);
	ck_assert_int_eq(retry, 0);
	static const char *const bad[] = {"0", "101", "x", "-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = sendfile(NULL);
		ck_assert_int_eq(wire_add(m, "Retry", bad[i], err, sizeof(err)), 0);
		ck_assert_msg(check(m, &t, &code) == REQUEST_BAD, "Retry=%s accepted", bad[i]);
		ck_assert_str_eq(err, "Retry must be 1-100 with a Task-Sequence-ID below 1000");
	}
	const char *const big[] = {"Task-Sequence-ID=1000", NULL};
	m = sendfile(big);
	ck_assert_int_eq(wire_add(m, "Retry", "1", err, sizeof(err)), 0);
	ck_assert_int_eq(check(m, &t, &code), REQUEST_BAD);
	/* a cancel of a retry names it too */
	m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Request", "Cancel", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Event-ID", "42", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Task-Sequence-ID", "3", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Retry", "1", err, sizeof(err)), 0);
	ck_assert_int_eq(check(m, &t, &code), REQUEST_ACT);
	ck_assert_int_eq(request_journal_seq(&t), 1003);
}
END_TEST

START_TEST(test_request_hello_id_names_the_computer)
{
	/* the scheduler's word (from the certificate) wins over the config's computer_id */
	hello_id = 5000012;
	const char *const mine[] = {"ID=5000012", NULL};
	struct request_task t;
	int code;
	ck_assert_int_eq(check(sendfile(mine), &t, &code), REQUEST_ACT);
	refused_with(NULL, REQUEST_REFUSE, STATUS_PROTOCOL,
	    "message for computer 5000011, this agent is computer 5000012");
	hello_id = 0;
}
END_TEST

/* Headers a hostile or broken scheduler could send: each refused before anything is done. */
START_TEST(test_request_refuses_hostile_headers)
{
	static const struct {
		const char *over;
		enum request_verdict v;
		int code;
		const char *why;
	} cases[] = {
		{"Event-ID=+7", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Event-ID is not a valid number"},
		{"Event-ID= 7", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Event-ID is not a valid number"},
		{"Event-ID=0x7", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Event-ID is not a valid number"},
		{"Event-ID=99999999999999999999", REQUEST_BAD, STATUS_PROTOCOL,
		    "SendFile: Event-ID is not a valid number"},
		{"Size=18446744073709551616", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Size is not a valid number"},
		{"Size=-1", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Size is not a valid number"},
		{"Timeout=-5", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Timeout is not a valid number"},
		{"Port=65536", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Port is not a valid number"},
		{"ID=", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: ID is not a valid number"},
		{"Attempt=-1", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Attempt is not a valid number"},
		{"Attempt=", REQUEST_BAD, STATUS_PROTOCOL, "SendFile: Attempt is not a valid number"},
		{"Run-As", REQUEST_BAD, STATUS_PROTOCOL, "SendFile without Run-As"},
		{"Interpreter", REQUEST_BAD, STATUS_PROTOCOL, "SendFile without Interpreter"},
		{"Filename=temp:a\x01b", REQUEST_REFUSE, STATUS_FILE_REFUSED,
		    "file name \"temp:a\x01b\" refused: control or quote character"},
		{"Filename=file:/etc/shadow", REQUEST_REFUSE, STATUS_FILE_REFUSED,
		    "file name \"file:/etc/shadow\" refused: not temp:<name>"},
		{"Run-As=daemon", REQUEST_REFUSE, STATUS_RUNAS_REFUSED,
		    "run-as user \"daemon\" refused: not allowed on this agent"},
		{"Run-As=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", REQUEST_REFUSE, STATUS_RUNAS_REFUSED,
		    "run-as user refused: run_as \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is 33 bytes long, more "
		    "than 32"},
		{"Interpreter=sh -c", REQUEST_REFUSE, STATUS_AGENT_ERROR,
		    "interpreter \"sh -c\" must start with an absolute path (example: /usr/bin/env python3)"},
		{"Interpreter=/bin/sh a b c d e f g h i j k l m n o p", REQUEST_REFUSE, STATUS_AGENT_ERROR,
		    "interpreter \"/bin/sh a b c d e f g h i j k l m n o p\" has more than 16 words"},
		{"Boot-Env=WinPE", REQUEST_REFUSE, STATUS_REQUIREMENTS,
		    "boot env \"WinPE\" required, this computer is in \"Production\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const over[] = {cases[i].over, NULL};
		refused_with(over, cases[i].v, cases[i].code, cases[i].why);
	}
}
END_TEST

START_TEST(test_request_ids_only_when_both_are_numbers)
{
	const char *e = NULL, *q = NULL;
	struct wire_msg *m = sendfile(NULL);
	ck_assert_int_eq(request_ids(m, &e, &q), 1);
	ck_assert_str_eq(e, "7");
	ck_assert_str_eq(q, "1");
	wire_msg_free(m);
	const char *const bad[] = {"Task-Sequence-ID=x", NULL};
	m = sendfile(bad);
	e = q = NULL;
	ck_assert_int_eq(request_ids(m, &e, &q), 0);
	ck_assert_ptr_null(e);
	wire_msg_free(m);
	char line[] = "a\rb\nc";
	ck_assert_str_eq(request_one_line(line), "a b c");
}
END_TEST

Suite *
request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, test_request_accepts_temp_basenames);
	tcase_add_test(tc, test_request_refuses_paths_and_odd_names);
	tcase_add_test(tc, test_request_check_accepts_sendfile);
	tcase_add_test(tc, test_request_check_refuses_sendfile_before_acting);
	tcase_add_test(tc, test_request_check_bad_requests_close);
	tcase_add_test(tc, test_request_check_cancel);
	tcase_add_test(tc, test_request_retry_is_part_of_the_journal_key);
	tcase_add_test(tc, test_request_hello_id_names_the_computer);
	tcase_add_test(tc, test_request_refuses_hostile_headers);
	tcase_add_test(tc, test_request_ids_only_when_both_are_numbers);
	tcase_add_test(tc, test_request_check_copy_owner);
	suite_add_tcase(s, tc);
	return s;
}
