/* Unit tests for common/enrolmsg: Request=Enroll and Reply=Enroll checked field by field. */
#include <check.h>
#include <string.h>

#include "common/enrolmsg.h"
#include "common/wire.h"

static struct wire_msg *
msg(const char *const (*kv)[2], size_t n, const char *body)
{
	char err[200];
	struct wire_msg *m = wire_msg_new();
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(wire_add(m, kv[i][0], kv[i][1], err, sizeof(err)), 0);
	if (body != NULL)
		ck_assert_int_eq(wire_set_body(m, body, strlen(body)), 0);
	return m;
}

START_TEST(test_enrolmsg_request_fields_checked)
{
	struct enrol_request r;
	char err[300];
	const char *const good[][2] = {{"Request", "Enroll"}, {"Computer", "web-01"}, {"Protocol", "1"},
	    {"Token", "pgfe_0123abcd"}, {"Agent-Version", "0.9.0"}};
	struct wire_msg *m = msg(good, 5, "-----BEGIN CERTIFICATE REQUEST-----\n");
	ck_assert_int_eq(enrolmsg_parse_request(m, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.computer, "web-01");
	ck_assert_str_eq(r.token, "pgfe_0123abcd");
	wire_msg_free(m);
	static const struct {
		const char *key, *value, *why;
	} bad[] = {
		{"Request", "Hello", "expected Request=Enroll"},
		{"Protocol", "2", "protocol 2 is not supported (1)"},
		{"Computer", "../etc", "Computer: certificate name \"../etc\" is not valid"},
		{"Computer", "ca", "Computer: certificate name \"ca\" is reserved for the authority"},
		{"Token", "a b", "Token is not a token of pgfleet token create"},
		{"Token", "x'; drop", "Token is not a token of pgfleet token create"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *kv[5][2];
		memcpy(kv, good, sizeof(kv));
		for (size_t k = 0; k < 5; k++)
			if (strcmp(kv[k][0], bad[i].key) == 0)
				kv[k][1] = bad[i].value;
		m = msg((const char *const (*)[2])kv, 5, "x");
		ck_assert_int_eq(enrolmsg_parse_request(m, &r, err, sizeof(err)), -1);
		ck_assert_msg(strncmp(err, bad[i].why, strlen(bad[i].why)) == 0, "%s: %s", bad[i].why, err);
		wire_msg_free(m);
	}
	m = msg(good, 5, NULL);
	ck_assert_int_eq(enrolmsg_parse_request(m, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "Enroll without a certificate request");
	wire_msg_free(m);
}
END_TEST

START_TEST(test_enrolmsg_reply_results)
{
	struct enrol_reply r;
	char err[300];
	const char *const ok[][2] = {{"Reply", "Enroll"}, {"Result", "Success"}, {"Status-Code", "0"},
	    {"ID", "5000001"}};
	struct wire_msg *m = msg(ok, 4, "-----BEGIN CERTIFICATE-----\n");
	ck_assert_int_eq(enrolmsg_parse_reply(m, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.result, ENROL_SUCCESS);
	ck_assert_int_eq(r.id, 5000001);
	wire_msg_free(m);
	const char *const pend[][2] = {{"Reply", "Enroll"}, {"Result", "Pending"}, {"Status-Code", "-28"},
	    {"Error", "waiting"}};
	m = msg(pend, 4, NULL);
	ck_assert_int_eq(enrolmsg_parse_reply(m, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.result, ENROL_PENDING);
	ck_assert_int_eq(r.code, -28);
	ck_assert_str_eq(r.error, "waiting");
	wire_msg_free(m);
	/* Success without a certificate, a bad code, another reply */
	m = msg(ok, 4, NULL);
	ck_assert_int_eq(enrolmsg_parse_reply(m, &r, err, sizeof(err)), -1);
	wire_msg_free(m);
	const char *const code[][2] = {{"Reply", "Enroll"}, {"Result", "Failed"}, {"Status-Code", "-2x"}};
	m = msg(code, 3, NULL);
	ck_assert_int_eq(enrolmsg_parse_reply(m, &r, err, sizeof(err)), -1);
	wire_msg_free(m);
	const char *const other[][2] = {{"Reply", "Hello"}, {"Result", "Success"}};
	m = msg(other, 2, NULL);
	ck_assert_int_eq(enrolmsg_parse_reply(m, &r, err, sizeof(err)), -1);
	wire_msg_free(m);
}
END_TEST

Suite *
enrolmsg_suite(void)
{
	Suite *s = suite_create("enrolmsg");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_enrolmsg_request_fields_checked);
	tcase_add_test(tc, test_enrolmsg_reply_results);
	suite_add_tcase(s, tc);
	return s;
}
