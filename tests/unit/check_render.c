/* Unit tests for worker/render: built-in and custom tokens, refusals and their messages. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker/render.h"

static char err[512];

/* The fake database: records each call, answers from fields set by the test. */
struct fake {
	int calls;
	enum render_lookup kind;
	char table[128];
	char column[128];
	char sql[1024];
	int table_null, column_null, sql_null;
	const char *value; /* NULL: no row */
	int fail;          /* return -1 with "connection lost" */
	int count_value;   /* answer "v<calls>" instead of value */
};

static int
fake_lookup(void *arg, enum render_lookup kind, const char *table, const char *column,
    const char *sql, char **value, char *e, size_t elen)
{
	struct fake *f = arg;
	f->calls++;
	f->kind = kind;
	f->table_null = table == NULL;
	f->column_null = column == NULL;
	f->sql_null = sql == NULL;
	snprintf(f->table, sizeof(f->table), "%s", table ? table : "");
	snprintf(f->column, sizeof(f->column), "%s", column ? column : "");
	snprintf(f->sql, sizeof(f->sql), "%s", sql ? sql : "");
	if (f->fail) {
		snprintf(e, elen, "connection lost");
		return -1;
	}
	if (f->count_value) {
		char tmp[32];
		snprintf(tmp, sizeof(tmp), "v%d", f->calls);
		*value = strdup(tmp);
	} else
		*value = f->value ? strdup(f->value) : NULL;
	return 0;
}

static const char *const computer_cols[] = { "name", "serial", "domain" };
static const char *const inventory_cols[] = { "ram_mb", "cpu" };
static const struct render_table tables[] = {
	{ "computer", computer_cols, 3 },
	{ "inventory", inventory_cols, 2 },
};
static const struct render_policy policy = { tables, 2, 0 };
static const struct render_policy policy_sql = { tables, 2, 1 };

/* Render s with a fake lookup; returns the rc, *o the output (freed by the caller). */
static int
run(const char *s, const struct render_vars *v, const struct render_policy *p, struct fake *f,
    size_t max, char **o, struct render_report *rep)
{
	size_t olen = 12345;
	err[0] = '\0';
	int rc = render_script(s, strlen(s), v, p, fake_lookup, f, max, o, &olen, rep, err,
	    sizeof(err));
	if (rc == 0)
		ck_assert_uint_eq(olen, strlen(*o));
	else {
		ck_assert_ptr_null(*o);
		ck_assert_uint_eq(olen, 0);
	}
	return rc;
}

/* Render s, expecting success and the output want. */
static void
expect(const char *s, const struct render_vars *v, const struct render_policy *p,
    struct fake *f, const char *want)
{
	char *o = NULL;
	ck_assert_msg(run(s, v, p, f, 0, &o, NULL) == 0, "render \"%s\": %s", s, err);
	ck_assert_str_eq(o, want);
	free(o);
}

/* Render s, expecting failure with the message want. */
static void
refuse(const char *s, const struct render_policy *p, struct fake *f, const char *want)
{
	char *o = NULL;
	struct render_report rep;
	ck_assert_msg(run(s, NULL, p, f, 0, &o, &rep) == -1, "render \"%s\" succeeded", s);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(rep.nmissing, 0);
	ck_assert_ptr_null(rep.missing);
}

START_TEST(test_render_replaces_every_builtin_token)
{
	struct render_vars v;
	struct {
		const char *token;
		const char **field;
		const char *value;
	} cases[] = {
		{ "%COMPNAME%", &v.compname, "web-01" },
		{ "%NAME%", &v.name, "web-01.corp" },
		{ "%ID%", &v.id, "5000011" },
		{ "%AGENTIPADDR%", &v.agentipaddr, "10.0.0.11" },
		{ "%IPNAME%", &v.ipname, "web-01.corp.example" },
		{ "%MAC%", &v.mac, "00:11:22:33:44:55" },
		{ "%SERIALNUM%", &v.serialnum, "SN-1" },
		{ "%ASSETTAG%", &v.assettag, "AT-77" },
		{ "%DOMAIN%", &v.domain, "corp.example" },
		{ "%DOMAINOU%", &v.domainou, "OU=Web,DC=corp" },
		{ "%DEPT%", &v.dept, "ops" },
		{ "%CONTACT%", &v.contact, "Ann Smith" },
		{ "%EMAIL%", &v.email, "ann@corp.example" },
		{ "%OS%", &v.os, "Linux" },
		{ "%DATE%", &v.date, "05/15/2017" },
		{ "%DSSERVER%", &v.dsserver, "sched-a" },
		{ "%JOBNAME%", &v.jobname, "patch-night/clean-tmp" },
		{ "%CALLINGJOBNAME%", &v.callingjobname, "patch-night" },
		{ "%JOBUSER%", &v.jobuser, "root" },
		{ "%SCHEDULEID%", &v.scheduleid, "100000029" },
		{ "%EVENTID%", &v.eventid, "42" },
		{ "%TASKSEQ%", &v.taskseq, "0" },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	char in[2048] = "", want[2048] = "", line[256];
	struct render_report rep;
	char *o = NULL;

	ck_assert_uint_eq(n, 22); /* every name of DESIGN.md "Tokens" */
	memset(&v, 0, sizeof(v));
	for (size_t i = 0; i < n; i++)
		*cases[i].field = cases[i].value;
	/* inside double quotes, values without \\ " $ ` come out as they are */
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "\"<%s>\"", cases[i].token);
		snprintf(want, sizeof(want), "\"<%s>\"", cases[i].value);
		expect(line, &v, NULL, NULL, want);
	}
	/* All in one script, each on its own line, unquoted: a word, quoted when needed. */
	want[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int quote = strchr(cases[i].value, ' ') != NULL || strchr(cases[i].value, '=') != NULL;
		strcat(in, cases[i].token);
		strcat(in, "\n");
		strcat(want, quote ? "'" : "");
		strcat(want, cases[i].value);
		strcat(want, quote ? "'\n" : "\n");
	}
	ck_assert_int_eq(run(in, &v, NULL, NULL, 0, &o, &rep), 0);
	ck_assert_str_eq(o, want);
	ck_assert_uint_eq(rep.replaced, n);
	ck_assert_uint_eq(rep.nmissing, 0);
	free(o);
	render_report_free(&rep);
}
END_TEST

START_TEST(test_render_date_is_mm_dd_yyyy)
{
	char buf[11], *old = getenv("TZ"), *saved = old ? strdup(old) : NULL;

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_int_eq(render_date((time_t)1494862328, buf), 0); /* the seed's Date= */
	ck_assert_str_eq(buf, "05/15/2017");
	ck_assert_int_eq(render_date((time_t)1767225599, buf), 0);
	ck_assert_str_eq(buf, "12/31/2025");
	ck_assert_int_eq(render_date((time_t)0, buf), 0);
	ck_assert_str_eq(buf, "01/01/1970");
	/* Past year 9999 it would not fit in mm/dd/yyyy. */
	ck_assert_int_eq(render_date((time_t)253402300800LL, buf), -1);
	ck_assert_str_eq(buf, "");
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else
		unsetenv("TZ");
	tzset();
}
END_TEST

START_TEST(test_render_missing_value_becomes_empty_and_is_reported)
{
	struct render_vars v = { .compname = "web-01", .os = "" };
	struct render_report rep;
	char *o = NULL;

	ck_assert_int_eq(run("a%MAC%b%COMPNAME%c%MAC%d%OS%e%ASSETTAG%", &v, NULL, NULL, 0, &o,
	    &rep), 0);
	/* unquoted, a missing or empty value is an empty word: '' */
	ck_assert_str_eq(o, "a''bweb-01c''d''e''");
	ck_assert_uint_eq(rep.replaced, 5);
	/* An empty value is a value; each missing name listed once. */
	ck_assert_uint_eq(rep.nmissing, 2);
	ck_assert_str_eq(rep.missing[0], "%MAC%");
	ck_assert_str_eq(rep.missing[1], "%ASSETTAG%");
	free(o);
	render_report_free(&rep);
	ck_assert_uint_eq(rep.nmissing, 0);
	render_report_free(&rep);
	render_report_free(NULL);

	/* No vars at all: every built-in is missing. */
	ck_assert_int_eq(run("\"[%ID%]\"", NULL, NULL, NULL, 0, &o, &rep), 0);
	ck_assert_str_eq(o, "\"[]\"");
	ck_assert_uint_eq(rep.nmissing, 1);
	ck_assert_str_eq(rep.missing[0], "%ID%");
	free(o);
	render_report_free(&rep);
}
END_TEST

START_TEST(test_render_leaves_unknown_tokens_and_percent_signs)
{
	struct render_vars v = { .compname = "web-01" };
	const char *same[] = {
		"", "%", "%%", "%%%", "%PATH%", "set PATH=%PATH%;C:\\bin", "100%", "50% and 60%",
		"disk at 90%", "%compname%", "%CompName%", "%COMPNAME", "COMPNAME%", "% COMPNAME%",
		"%COMPNAME %", "%FOO_BAR%", "echo %1 %~dp0 %%i", "%#", "%#x%", "%#^", "%#^x%",
		"printf '%s %d%%\\n' a 5", "${#}%", "%#^", "%ID2%", "%2ID%",
		"%XCALLINGJOBNAME%", "%CALLINGJOBNAMEX%",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		expect(same[i], &v, NULL, NULL, same[i]);
	/* A '%' that starts no token is text; the next '%' may start one. */
	expect("%%COMPNAME%%", &v, NULL, NULL, "%web-01%");
	expect("%PATH%COMPNAME%", &v, NULL, NULL, "%PATHweb-01");
	expect("100%COMPNAME%", &v, NULL, NULL, "100web-01");
	expect("50% and %COMPNAME%", &v, NULL, NULL, "50% and web-01");
	expect("%COMPNAME%%COMPNAME%", &v, NULL, NULL, "web-01web-01");
}
END_TEST

START_TEST(test_render_keeps_nul_bytes_and_handles_empty_input)
{
	struct render_vars v = { .id = "7" };
	const char in[] = "a\0%ID%\0b";
	char *o = NULL;
	size_t olen;

	ck_assert_int_eq(render_script(in, sizeof(in) - 1, &v, NULL, NULL, NULL, 0, &o, &olen,
	    NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(olen, 5);
	ck_assert_int_eq(memcmp(o, "a\0" "7\0b", 5), 0);
	free(o);
	ck_assert_int_eq(render_script(NULL, 0, &v, NULL, NULL, NULL, 0, &o, &olen, NULL, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(olen, 0);
	ck_assert_str_eq(o, "");
	free(o);
}
END_TEST

START_TEST(test_render_custom_table_token_calls_lookup_with_table_and_column)
{
	struct fake f = { .value = "8192" };
	struct render_report rep;
	char *o = NULL;

	ck_assert_int_eq(run("ram=%#!inventory@ram_mb% MiB", NULL, &policy, &f, 0, &o, &rep), 0);
	ck_assert_str_eq(o, "ram=8192 MiB");
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.kind, RENDER_ROW_OF_COMPUTER);
	ck_assert_str_eq(f.table, "inventory");
	ck_assert_str_eq(f.column, "ram_mb");
	ck_assert_int_eq(f.sql_null, 1);
	ck_assert_uint_eq(rep.replaced, 1);
	ck_assert_uint_eq(rep.nmissing, 0);
	free(o);
	render_report_free(&rep);
}
END_TEST

START_TEST(test_render_custom_token_without_row_is_empty_and_reported)
{
	struct fake f = { .value = NULL };
	struct render_report rep;
	char *o = NULL;

	ck_assert_int_eq(run("[%#!computer@serial%][%#^!computer@name%]", NULL, &policy, &f, 0,
	    &o, &rep), 0);
	ck_assert_str_eq(o, "['']['']");
	ck_assert_uint_eq(rep.replaced, 2);
	ck_assert_uint_eq(rep.nmissing, 2);
	ck_assert_str_eq(rep.missing[0], "%#!computer@serial%");
	ck_assert_str_eq(rep.missing[1], "%#^!computer@name%");
	free(o);
	render_report_free(&rep);
}
END_TEST

START_TEST(test_render_looks_up_each_distinct_custom_token_once)
{
	struct fake f = { .count_value = 1 };

	expect("%#!computer@name% %#!computer@name% %#^!computer@name% %#!computer@name% "
	    "%#^!computer@name%", NULL, &policy, &f, "v1 v1 v2 v1 v2");
	ck_assert_int_eq(f.calls, 2);
}
END_TEST

START_TEST(test_render_refuses_more_than_256_distinct_custom_tokens)
{
	struct fake f = { .value = "x" };
	char *in = malloc(300 * 32), *o = NULL;
	size_t len = 0;

	for (int i = 0; i < 257; i++)
		len += (size_t)sprintf(in + len, "%%#*\"SELECT %d\"%%\n", i);
	ck_assert_int_eq(run(in, NULL, &policy_sql, &f, 0, &o, NULL), -1);
	ck_assert_str_eq(err, "line 257: token %#*\"SELECT 256\"%: more than 256 distinct custom "
	    "tokens in one script");
	ck_assert_int_eq(f.calls, 256);
	free(in);
}
END_TEST

START_TEST(test_render_refuses_table_or_column_not_allowed)
{
	struct fake f = { .value = "x" };

	refuse("echo\n%#!secrets@password%", &policy, &f,
	    "line 2: token %#!secrets@password%: table \"secrets\" is not in tokens.tables");
	refuse("%#!computer@ram_mb%", &policy, &f,
	    "line 1: token %#!computer@ram_mb%: column \"ram_mb\" of table \"computer\" is not "
	    "in tokens.tables");
	refuse("%#^!inventory@name%", &policy, &f,
	    "line 1: token %#^!inventory@name%: column \"name\" of table \"inventory\" is not in "
	    "tokens.tables");
	refuse("%#!computer@name%", NULL, &f,
	    "line 1: token %#!computer@name%: table \"computer\" is not in tokens.tables");
	ck_assert_int_eq(f.calls, 0);
}
END_TEST

START_TEST(test_render_first_row_token_uses_first_row_lookup)
{
	struct fake f = { .value = "https://repo.corp" };

	expect("curl %#^!inventory@cpu%/x", NULL, &policy, &f, "curl https://repo.corp/x");
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.kind, RENDER_FIRST_ROW);
	ck_assert_str_eq(f.table, "inventory");
	ck_assert_str_eq(f.column, "cpu");
	ck_assert_int_eq(f.sql_null, 1);
}
END_TEST

START_TEST(test_render_sql_token_runs_only_when_enabled)
{
	struct fake f = { .value = "3" };

	expect("n=%#*\"SELECT count(*) FROM pgfleet.event WHERE computer_id = $1\"%", NULL,
	    &policy_sql, &f, "n=3");
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.kind, RENDER_SQL);
	ck_assert_str_eq(f.sql, "SELECT count(*) FROM pgfleet.event WHERE computer_id = $1");
	ck_assert_int_eq(f.table_null, 1);
	ck_assert_int_eq(f.column_null, 1);

	f.calls = 0;
	refuse("x\ny\n%#*\"SELECT 1\"%", &policy, &f,
	    "line 3: token %#*\"SELECT 1\"%: sql tokens are off (tokens.sql: false)");
	refuse("%#*\"SELECT 1\"%", NULL, &f,
	    "line 1: token %#*\"SELECT 1\"%: sql tokens are off (tokens.sql: false)");
	ck_assert_int_eq(f.calls, 0);
}
END_TEST

START_TEST(test_render_sql_token_unescapes_quotes_and_keeps_percent)
{
	struct fake f = { .value = "ok" };

	expect("%#*\"SELECT 'say \\\"hi\\\"' || name FROM t WHERE name LIKE 'web%' AND x = '\\\\'"
	    " AND y = '\\n'\"%!", NULL, &policy_sql, &f, "ok!");
	ck_assert_str_eq(f.sql, "SELECT 'say \"hi\"' || name FROM t WHERE name LIKE 'web%' AND "
	    "x = '\\' AND y = '\\n'");
	/* A query may span lines. */
	expect("%#*\"SELECT 1\nFROM t\"%", NULL, &policy_sql, &f, "ok");
	ck_assert_str_eq(f.sql, "SELECT 1\nFROM t");
}
END_TEST

START_TEST(test_render_refuses_malformed_sql_token)
{
	struct fake f = { .value = "x" };
	char *o = NULL;
	const char nul[] = "%#*\"SELECT \0 1\"%";
	size_t olen;

	refuse("%#*SELECT 1%\nnext", &policy_sql, &f,
	    "line 1: token %#*SELECT 1%: expected a quoted query after %#*");
	refuse("%#*", &policy_sql, &f, "line 1: token %#*: expected a quoted query after %#*");
	refuse("a\n%#*\"SELECT 1\nFROM t", &policy_sql, &f,
	    "line 2: token %#*\"SELECT 1?FROM t: quoted query not closed by \"");
	refuse("%#*\"SELECT 1\\\"%", &policy_sql, &f,
	    "line 1: token %#*\"SELECT 1\\\"%: quoted query not closed by \"");
	refuse("%#*\"SELECT 1\" %", &policy_sql, &f,
	    "line 1: token %#*\"SELECT 1\": expected % after the closing quote");
	refuse("%#*\"SELECT 1\"", &policy_sql, &f,
	    "line 1: token %#*\"SELECT 1\": expected % after the closing quote");
	refuse("%#*\"\"%", &policy_sql, &f, "line 1: token %#*\"\"%: empty query");
	ck_assert_int_eq(render_script(nul, sizeof(nul) - 1, NULL, &policy_sql, fake_lookup, &f, 0,
	    &o, &olen, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "line 1: token %#*\"SELECT : query contains a NUL byte");
	ck_assert_int_eq(f.calls, 0);
}
END_TEST

START_TEST(test_render_does_not_expand_values_again)
{
	struct render_vars v = { .compname = "%NAME%", .name = "n", .os = "%#!computer@name%" };
	struct fake f = { .value = "%COMPNAME% %#*\"x\"%" };

	expect("%COMPNAME% %NAME% %OS% %#!computer@name%", &v, &policy, &f,
	    "'%NAME%' n '%#!computer@name%' '%COMPNAME% %#*\"x\"%'");
	ck_assert_int_eq(f.calls, 1);
	expect("%COMPNAME:raw% %NAME:raw% %OS:raw% %#!computer@name:raw%", &v, &policy, &f,
	    "%NAME% n %#!computer@name% %COMPNAME% %#*\"x\"%");
}
END_TEST

START_TEST(test_render_refuses_output_over_limit)
{
	struct render_vars v = { .compname = "0123456789" };
	struct fake f = { .value = "abcdef" };
	char *o = NULL;

	ck_assert_int_eq(run("ab%COMPNAME%", &v, NULL, NULL, 12, &o, NULL), 0);
	ck_assert_str_eq(o, "ab0123456789");
	free(o);
	ck_assert_int_eq(run("abc%COMPNAME%", &v, NULL, NULL, 12, &o, NULL), -1);
	ck_assert_str_eq(err, "rendered script is larger than 12 bytes");
	ck_assert_int_eq(run("0123456789abc", &v, NULL, NULL, 12, &o, NULL), -1);
	ck_assert_str_eq(err, "rendered script is larger than 12 bytes");
	ck_assert_int_eq(run("0123456789a%", &v, NULL, NULL, 11, &o, NULL), -1);
	ck_assert_str_eq(err, "rendered script is larger than 11 bytes");
	ck_assert_int_eq(run("12345678%#!computer@name%", NULL, &policy, &f, 12, &o, NULL), -1);
	ck_assert_str_eq(err, "rendered script is larger than 12 bytes");
}
END_TEST

START_TEST(test_render_refuses_unterminated_custom_token)
{
	struct fake f = { .value = "x" };

	refuse("echo %#!computer@name", &policy, &f,
	    "line 1: token %#!computer@name: not closed by %");
	refuse("%#!computer@name\necho 100%", &policy, &f,
	    "line 1: token %#!computer@name: not closed by %");
	refuse("%#^!computer@name", &policy, &f,
	    "line 1: token %#^!computer@name: not closed by %");
	refuse("%#!computername%", &policy, &f,
	    "line 1: token %#!computername%: expected table@column");
	ck_assert_int_eq(f.calls, 0);
}
END_TEST

START_TEST(test_render_refuses_malformed_identifiers)
{
	struct fake f = { .value = "x" };
	char in[256], want[512];
	const char *long64 = "a123456789012345678901234567890123456789012345678901234567890123";

	refuse("%#!Computer@name%", &policy, &f,
	    "line 1: token %#!Computer@name%: table name \"Computer\" is not a valid identifier "
	    "([a-z_][a-z0-9_]*, at most 63 bytes)");
	refuse("%#!computer@na-me%", &policy, &f,
	    "line 1: token %#!computer@na-me%: column name \"na-me\" is not a valid identifier "
	    "([a-z_][a-z0-9_]*, at most 63 bytes)");
	refuse("%#!1computer@name%", &policy, &f,
	    "line 1: token %#!1computer@name%: table name \"1computer\" is not a valid identifier "
	    "([a-z_][a-z0-9_]*, at most 63 bytes)");
	refuse("%#!@name%", &policy, &f,
	    "line 1: token %#!@name%: table name \"\" is not a valid identifier "
	    "([a-z_][a-z0-9_]*, at most 63 bytes)");
	refuse("%#!computer@%", &policy, &f,
	    "line 1: token %#!computer@%: column name \"\" is not a valid identifier "
	    "([a-z_][a-z0-9_]*, at most 63 bytes)");
	refuse("%#!computer@na@me%", &policy, &f,
	    "line 1: token %#!computer@na@me%: column name \"na@me\" is not a valid identifier "
	    "([a-z_][a-z0-9_]*, at most 63 bytes)");
	refuse("%#!pgfleet.computer@name%", &policy, &f,
	    "line 1: token %#!pgfleet.computer@name%: table name \"pgfleet.computer\" is not a "
	    "valid identifier ([a-z_][a-z0-9_]*, at most 63 bytes)");
	refuse("%#!\"computer\"@name%", &policy, &f,
	    "line 1: token %#!\"computer\"@name%: table name \"\"computer\"\" is not a valid "
	    "identifier ([a-z_][a-z0-9_]*, at most 63 bytes)");
	refuse("%#!comp\tuter@name%", &policy, &f,
	    "line 1: token %#!comp?uter@name%: table name \"comp?uter\" is not a valid identifier "
	    "([a-z_][a-z0-9_]*, at most 63 bytes)");
	snprintf(in, sizeof(in), "%%#!computer@%s%%", long64);
	snprintf(want, sizeof(want), "line 1: token %%#!computer@%s%%: column name \"%s\" is "
	    "not a valid identifier ([a-z_][a-z0-9_]*, at most 63 bytes)", long64, long64);
	refuse(in, &policy, &f, want);
	ck_assert_int_eq(f.calls, 0);

	ck_assert_int_eq(render_identifier_ok("computer"), 1);
	ck_assert_int_eq(render_identifier_ok("_x9_"), 1);
	memset(in, 'a', 64);
	in[64] = '\0';
	ck_assert_int_eq(render_identifier_ok(in), 0);     /* 64 bytes */
	in[63] = '\0';
	ck_assert_int_eq(render_identifier_ok(in), 1);     /* 63 bytes */
	ck_assert_int_eq(render_identifier_ok(""), 0);
	ck_assert_int_eq(render_identifier_ok("9x"), 0);
	ck_assert_int_eq(render_identifier_ok("Name"), 0);
	ck_assert_int_eq(render_identifier_ok("a b"), 0);
	ck_assert_int_eq(render_identifier_ok("a\"b"), 0);
	ck_assert_int_eq(render_identifier_ok("é"), 0);
	ck_assert_int_eq(render_identifier_ok(NULL), 0);
}
END_TEST

START_TEST(test_render_refuses_deployment_server_alias)
{
	struct fake f = { .value = "x" };

	refuse("%#FS2!hardware@ram_free%", &policy_sql, &f,
	    "line 1: token %#FS2!: data source alias \"FS2\" is not supported (custom tokens read "
	    "pgfleet's own database)");
	refuse("%#FS2^!hardware@ram_free%", &policy_sql, &f,
	    "line 1: token %#FS2^: data source alias \"FS2\" is not supported (custom tokens read "
	    "pgfleet's own database)");
	refuse("%#db_1*\"SELECT 1\"%", &policy_sql, &f,
	    "line 1: token %#db_1*: data source alias \"db_1\" is not supported (custom tokens "
	    "read pgfleet's own database)");
	ck_assert_int_eq(f.calls, 0);
	/* Not an alias: left as text. */
	expect("%#FS2% %#FS2^x %#FS2", NULL, &policy_sql, &f, "%#FS2% %#FS2^x %#FS2");
}
END_TEST

START_TEST(test_render_propagates_lookup_error)
{
	struct fake f = { .fail = 1 };

	refuse("#!/bin/sh\n%#!inventory@ram_mb%", &policy, &f,
	    "line 2: token %#!inventory@ram_mb%: connection lost");
	ck_assert_int_eq(f.calls, 1);
	refuse("%#*\"SELECT 1\"%", &policy_sql, &f, "line 1: token %#*\"SELECT 1\"%: connection lost");
}
END_TEST

START_TEST(test_render_refuses_custom_token_without_lookup)
{
	char *o = NULL;
	size_t olen;
	const char *in = "%#!computer@name%";

	ck_assert_int_eq(render_script(in, strlen(in), NULL, &policy, NULL, NULL, 0, &o, &olen,
	    NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "line 1: token %#!computer@name%: no database lookup available");
	ck_assert_ptr_null(o);
}
END_TEST

/* ---- quoting for the shell ------------------------------------------------------------ */

/* Render s for the shell with %DEPT% = dept and %ID% = 5000011; expect want. */
static void
expect_dept(const char *s, const char *dept, const char *want)
{
	struct render_vars v = { .dept = dept, .id = "5000011" };
	expect(s, &v, NULL, NULL, want);
}

/* Render s with %DEPT% = dept (interpreter interp), expecting the refusal want. */
static void
refuse_dept(const char *s, const char *interp, const char *dept, const char *want)
{
	struct render_vars v = { .dept = dept, .id = "5000011", .interpreter = interp };
	char *o = NULL;
	ck_assert_msg(run(s, &v, NULL, NULL, 0, &o, NULL) == -1, "render \"%s\" succeeded: %s", s, o);
	ck_assert_str_eq(err, want);
}

START_TEST(test_render_quotes_values_by_their_shell_context)
{
	/* the issue's case: a dept of $(id > file) under echo "%DEPT%" must stay text */
	expect_dept("echo \"%DEPT%\"", "$(id > file)", "echo \"\\$(id > file)\"");
	expect_dept("echo %DEPT%", "$(id > file)", "echo '$(id > file)'");
	expect_dept("echo '%DEPT%'", "$(id > file)", "echo '$(id > file)'");
	/* backquotes, double quotes and backslashes inside "..." */
	expect_dept("echo \"%DEPT%\"", "`id`", "echo \"\\`id\\`\"");
	expect_dept("echo %DEPT%", "`id`", "echo '`id`'");
	expect_dept("echo \"%DEPT%\"", "a\\\"b", "echo \"a\\\\\\\"b\"");
	/* single quotes: ' becomes '\'' unquoted and inside '...'; inside "..." it is text */
	expect_dept("echo %DEPT%", "it's", "echo 'it'\\''s'");
	expect_dept("echo 'x%DEPT%y'", "'; id; '", "echo 'x'\\''; id; '\\''y'");
	expect_dept("echo \"%DEPT%\"", "it's", "echo \"it's\"");
	/* new lines are text inside quotes */
	expect_dept("echo %DEPT%", "a\nid", "echo 'a\nid'");
	expect_dept("echo \"%DEPT%\"", "a\nid", "echo \"a\nid\"");
	/* a plain word needs no quotes; an empty value is an empty word */
	expect_dept("echo %DEPT% %ID%", "web-01.corp:8080/x@y+z_", "echo web-01.corp:8080/x@y+z_ 5000011");
	expect_dept("set -- %DEPT% x", "", "set -- '' x");
	expect_dept("x=%DEPT% cmd", "LD_PRELOAD=/tmp/x.so", "x='LD_PRELOAD=/tmp/x.so' cmd");
	/* $(...) inside "..." holds unquoted words again, then "..." resumes */
	expect_dept("echo \"$(echo %DEPT%) %DEPT%\"", "$(id)", "echo \"$(echo '$(id)') \\$(id)\"");
	expect_dept("echo \"$(echo \"%DEPT%\")\"", "$(id)", "echo \"$(echo \"\\$(id)\")\"");
	/* escaped quotes do not open or close anything */
	expect_dept("echo \\\" %DEPT% \\'", "a b", "echo \\\" 'a b' \\'");
	expect_dept("echo \"\\\" %DEPT%\"", "$x", "echo \"\\\" \\$x\"");
	/* comments: the rest of the line is text; a # inside a word is no comment */
	expect_dept("# dept %DEPT%\necho %DEPT%", "a;b", "# dept a;b\necho 'a;b'");
	expect_dept("echo a#%DEPT%", "a;b", "echo a#'a;b'");
	/* here-documents: $ ` \ escaped; a quoted one is literal; <<- strips tabs */
	expect_dept("cat <<EOF\n%DEPT%\nEOF\necho %DEPT%", "$(id)`id`\\",
	    "cat <<EOF\n\\$(id)\\`id\\`\\\\\nEOF\necho '$(id)`id`\\'");
	expect_dept("cat <<'EOF'\n%DEPT%\nEOF\necho %DEPT%", "$(id)", "cat <<'EOF'\n$(id)\nEOF\necho '$(id)'");
	expect_dept("cat <<-\"EOF\" ; echo %DEPT%\n\t%DEPT%\n\tEOF\n%DEPT%", "a b",
	    "cat <<-\"EOF\" ; echo 'a b'\n\ta b\n\tEOF\n'a b'");
	expect_dept("cat <<<%DEPT%", "a b", "cat <<<'a b'");
	/* arithmetic takes integers */
	expect_dept("echo $((%ID% + 1)); ((%ID% > 0))", "x", "echo $((5000011 + 1)); ((5000011 > 0))");
	/* the :raw form is the value as it is, anywhere */
	expect_dept("echo \"%DEPT:raw%\" %DEPT:raw%", "$HOME 'x'", "echo \"$HOME 'x'\" $HOME 'x'");
}
END_TEST

START_TEST(test_render_refuses_values_it_cannot_quote)
{
	const char *plain = "only letters, digits, space and _ . , : / @ + - pass there (the :raw "
	    "form of the token inserts any value as it is, for values you trust)";
	char want[512];

	/* ${...}, `...` and $'...' take plain values only */
	snprintf(want, sizeof(want), "line 1: token %%DEPT%%: value \"$(id)\" cannot be quoted "
	    "inside ${...}, `...` or $'...': %s", plain);
	refuse_dept("echo \"${X:-%DEPT%}\"", NULL, "$(id)", want);
	refuse_dept("echo `echo %DEPT%`", NULL, "$(id)", want);
	refuse_dept("echo $'%DEPT%'", NULL, "$(id)", want);
	refuse_dept("echo \"`echo \"%DEPT%\"`\"", NULL, "$(id)", want);
	expect_dept("echo \"${X:-%DEPT%}\" `echo %DEPT%` $'%DEPT%'", "Ops, Team 2",
	    "echo \"${X:-Ops, Team 2}\" `echo Ops, Team 2` $'Ops, Team 2'");
	/* an interpreter that is no POSIX shell: plain values, or :raw */
	snprintf(want, sizeof(want), "line 1: token %%DEPT%%: value \"a'b\" cannot be quoted for "
	    "interpreter \"/usr/bin/env python3\", which is no POSIX shell: %s", plain);
	refuse_dept("print('%DEPT%')", "/usr/bin/env python3", "a'b", want);
	struct render_vars py = { .dept = "Ops, Team 2", .interpreter = "/usr/bin/python3" };
	expect("print('%DEPT%')", &py, NULL, NULL, "print('Ops, Team 2')");
	py.dept = "a'b";
	expect("print(\"%DEPT:raw%\")", &py, NULL, NULL, "print(\"a'b\")");
	/* a token after an escaping backslash, as a here-document word, in arithmetic */
	refuse_dept("echo \\%DEPT%", NULL, "x", "line 1: token %DEPT%: a token cannot follow a "
	    "backslash, which would quote the first character of its value");
	refuse_dept("echo \"\\%DEPT%\"", NULL, "x", "line 1: token %DEPT%: a token cannot follow a "
	    "backslash, which would quote the first character of its value");
	refuse_dept("cat <<%DEPT%\nx\n", NULL, "x", "line 1: token %DEPT%: a token cannot be the "
	    "word of a here-document (<<)");
	refuse_dept("echo $((%DEPT%))", NULL, "a[$(id)]", "line 1: token %DEPT%: value "
	    "\"a[$(id)]\" is not an integer, the only value allowed inside $((...)) and ((...))");
	/* a new line would end a comment; a value must not end its here-document */
	refuse_dept("true # %DEPT%", NULL, "x\nid", "line 1: token %DEPT%: a value holding a new "
	    "line cannot stand in a comment: the rest of it would run");
	refuse_dept("cat <<EOF\n%DEPT%\nEOF", NULL, "EOF", "line 2: a value makes this line the "
	    "end (EOF) of its here-document");
	refuse_dept("cat <<EOF\nx%DEPT%\nEOF", NULL, "\nEOF\nid", "line 2: token %DEPT%: a value "
	    "makes a line the end (EOF) of its here-document");
	refuse_dept("cat <<EOF\n%DEPT%", NULL, "EOF", "line 2: a value makes this line the end "
	    "(EOF) of its here-document");
	/* past what the lexer follows: plain values only */
	char deep[200] = "echo ";
	for (int i = 0; i < 33; i++)
		strcat(deep, "$(");
	strcat(deep, "%DEPT%");
	snprintf(want, sizeof(want), "line 1: token %%DEPT%%: value \"$x\" cannot be quoted after "
	    "quoting nested deeper than 32 levels: %s", plain);
	refuse_dept(deep, NULL, "$x", want);
}
END_TEST

START_TEST(test_render_knows_posix_shell_interpreters)
{
	const char *shells[] = { NULL, "", "/bin/sh", "/bin/bash -e", "/usr/bin/dash",
		"/usr/bin/env bash", "/usr/bin/env -i PATH=/bin sh -eu", "/bin/busybox sh",
		"/bin/zsh", "/usr/bin/ksh93", "/bin/mksh" };
	const char *others[] = { "/usr/bin/python3", "/usr/bin/env python3", "/usr/bin/perl -w",
		"/usr/bin/pwsh", "/bin/csh", "/usr/bin/fish", "/usr/bin/env", "/bin/shx" };
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++)
		ck_assert_msg(render_interpreter_is_shell(shells[i]), "%s", shells[i] ? shells[i] : "NULL");
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		ck_assert_msg(!render_interpreter_is_shell(others[i]), "%s", others[i]);
	ck_assert(render_plain("Ops, Team 2: web-01.corp/x@y+z_ M\xc3\xbcller"));
	ck_assert(!render_plain("a'b"));
	ck_assert(!render_plain("a=b"));
	ck_assert(!render_plain("a\nb"));
}
END_TEST

/* Run script under shell in dir; stdout into out. Returns the exit status, -1 if none. */
static int
shell_run(const char *shell, const char *dir, const char *script, char *out, size_t outlen)
{
	int fd[2];
	size_t len = 0;
	ck_assert_int_eq(pipe(fd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		if (chdir(dir) == 0)
			execl(shell, shell, "-c", script, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		ssize_t r = read(fd[0], out + len, outlen - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	out[len] = '\0';
	close(fd[0]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The proof: each hostile value in each place a script may hold a token, rendered and run
 * by dash and bash, prints exactly the value and runs nothing of it.
 */
START_TEST(test_render_hostile_values_print_as_text_in_real_shells)
{
	static const char *const values[] = {
		"$(touch PWNED)", "`touch PWNED`", "'; touch PWNED; '", "\"; touch PWNED; \"",
		"$(id > PWNED)", "a\nb", "\\", "\\\"", "\\`touch PWNED\\`", "$HOME ${HOME}", "*", "~",
		"a b  c", "", "-n", "it's", "$((1+1))", "x\ntouch PWNED\n", "!", "#x", "a;touch PWNED",
		"|touch PWNED", "&& touch PWNED", "M\xc3\xbcller", "'", "\"", "$", "{a,b}", "\\\n",
		"EOFX", "%DEPT%", "<PWNED", ">PWNED",
	};
	/* each prints the value and a new line */
	static const char *const templates[] = {
		"printf '%s\\n' %DEPT%",
		"printf '%s\\n' \"%DEPT%\"",
		"printf '%s\\n' '%DEPT%'",
		"x=%DEPT%; printf '%s\\n' \"$x\"",
		"x=\"%DEPT%\"; printf '%s\\n' \"$x\"",
		"printf '%s\\n' \"$(printf '%s' %DEPT%)\"",
		"printf '%s\\n' \"$(printf '%s' \"%DEPT%\")\"",
		"printf '%s\\n' \"$(printf '%s' \"$(printf '%s' '%DEPT%')\")\"",
		"# a comment\nprintf '%s\\n' %DEPT% # %ID%",
		"while IFS= read -r l; do printf '%s\\n' \"$l\"; done <<EOF\n%DEPT%\nEOF",
		"while IFS= read -r l; do printf '%s\\n' \"$l\"; done <<'EOF'\n%DEPT%\nEOF",
		"while IFS= read -r l; do printf '%s\\n' \"$l\"; done <<-EOF\n\t%DEPT%\n\tEOF",
		"x=$(cat <<EOF\n%DEPT%\nEOF\n); printf '%s\\n' \"$x\"",
		"case %DEPT% in *) printf '%s\\n' %DEPT%;; esac",
		"if [ -n \"%ID%\" ]; then printf '%s\\n' \"%DEPT%\"; fi",
		"x=\"a\"%DEPT%'b'; x=${x#a}; printf '%s\\n' \"${x%b}\"",
	};
	static const char *const shells[] = { "/bin/dash", "/bin/bash" };
	char dir[] = "/tmp/check_render.XXXXXX", pwned[64], script[16384], out[16384], want[8192];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pwned, sizeof(pwned), "%s/PWNED", dir);
	/* one shell run per template: every value's rendering, each followed by a mark */
	for (size_t t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
		script[0] = want[0] = '\0';
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			struct render_vars v = { .dept = values[i], .id = "5000011" };
			char *o = NULL, mark[32];
			int rc = run(templates[t], &v, NULL, NULL, 0, &o, NULL);
			/* a value with a new line cannot stand in a comment (refused) */
			if (rc == -1) {
				ck_assert_msg(t == 8 && strchr(values[i], '\n') != NULL,
				    "template %zu, value %zu refused: %s", t, i, err);
				continue;
			}
			snprintf(mark, sizeof(mark), "printf '#%zu\\n'\n", i);
			ck_assert_uint_lt(strlen(script) + strlen(o) + strlen(mark) + 2, sizeof(script));
			strcat(script, o);
			strcat(script, "\n");
			strcat(script, mark);
			free(o);
			/* $(...) drops the trailing new lines of what it captures */
			size_t w = strlen(want);
			strcat(want, values[i]);
			if (t == 5 || t == 6 || t == 7 || t == 12)
				while (strlen(want) > w && want[strlen(want) - 1] == '\n')
					want[strlen(want) - 1] = '\0';
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "\n#%zu\n", i);
		}
		for (size_t s = 0; s < sizeof(shells) / sizeof(shells[0]); s++) {
			int st = shell_run(shells[s], dir, script, out, sizeof(out));
			ck_assert_msg(access(pwned, F_OK) == -1, "%s ran a value: %s", shells[s], script);
			ck_assert_msg(st == 0 && strcmp(out, want) == 0,
			    "%s: template %zu: exit %d, printed:\n%s\nnot:\n%s\nfrom:\n%s", shells[s], t,
			    st, out, want, script);
		}
	}
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_render_token_len_measures_the_tokens_render_replaces)
{
	const char *s = "%COMPNAME% rest";
	ck_assert_uint_eq(render_token_len(s, strlen(s)), 10);
	ck_assert_uint_eq(render_token_len("%CALLINGJOBNAME%", 16), 16);
	ck_assert_uint_eq(render_token_len("%ID:raw%x", 9), 8);
	ck_assert_uint_eq(render_token_len("%#!inventory@ram_mb:raw% x", 26), 24);
	ck_assert_uint_eq(render_token_len("%#^!site@name%", 14), 14);
	ck_assert_uint_eq(render_token_len("%#*\"SELECT \\\"%\\\" || $1\"%", 24), 24);
	ck_assert_uint_eq(render_token_len("%#*\"SELECT 1\":raw%", 18), 18);
	/* plain text: shell and batch variables, a lone %, unclosed or shapeless tokens */
	ck_assert_uint_eq(render_token_len("%PATH%", 6), 0);
	ck_assert_uint_eq(render_token_len("%COMPNAME", 9), 0);
	ck_assert_uint_eq(render_token_len("%ID:~0,3%", 9), 0);
	ck_assert_uint_eq(render_token_len("% ", 2), 0);
	ck_assert_uint_eq(render_token_len("%#!nocolumn%", 12), 0);
	ck_assert_uint_eq(render_token_len("%#!t@c\n%", 8), 0);
	ck_assert_uint_eq(render_token_len("%#*\"open", 8), 0);
	ck_assert_uint_eq(render_token_len("x%ID%", 5), 0);
}
END_TEST

Suite *
render_suite(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_render_replaces_every_builtin_token);
	tcase_add_test(tc, test_render_date_is_mm_dd_yyyy);
	tcase_add_test(tc, test_render_missing_value_becomes_empty_and_is_reported);
	tcase_add_test(tc, test_render_leaves_unknown_tokens_and_percent_signs);
	tcase_add_test(tc, test_render_keeps_nul_bytes_and_handles_empty_input);
	tcase_add_test(tc, test_render_custom_table_token_calls_lookup_with_table_and_column);
	tcase_add_test(tc, test_render_custom_token_without_row_is_empty_and_reported);
	tcase_add_test(tc, test_render_looks_up_each_distinct_custom_token_once);
	tcase_add_test(tc, test_render_refuses_more_than_256_distinct_custom_tokens);
	tcase_add_test(tc, test_render_refuses_table_or_column_not_allowed);
	tcase_add_test(tc, test_render_first_row_token_uses_first_row_lookup);
	tcase_add_test(tc, test_render_sql_token_runs_only_when_enabled);
	tcase_add_test(tc, test_render_sql_token_unescapes_quotes_and_keeps_percent);
	tcase_add_test(tc, test_render_refuses_malformed_sql_token);
	tcase_add_test(tc, test_render_does_not_expand_values_again);
	tcase_add_test(tc, test_render_refuses_output_over_limit);
	tcase_add_test(tc, test_render_refuses_unterminated_custom_token);
	tcase_add_test(tc, test_render_refuses_malformed_identifiers);
	tcase_add_test(tc, test_render_refuses_deployment_server_alias);
	tcase_add_test(tc, test_render_propagates_lookup_error);
	tcase_add_test(tc, test_render_refuses_custom_token_without_lookup);
	tcase_add_test(tc, test_render_quotes_values_by_their_shell_context);
	tcase_add_test(tc, test_render_refuses_values_it_cannot_quote);
	tcase_add_test(tc, test_render_knows_posix_shell_interpreters);
	tcase_add_test(tc, test_render_token_len_measures_the_tokens_render_replaces);
	suite_add_tcase(s, tc);
	/* about 40 runs of dash and bash */
	TCase *shells = tcase_create("shells");
	tcase_set_timeout(shells, 60);
	tcase_add_test(shells, test_render_hostile_values_print_as_text_in_real_shells);
	suite_add_tcase(s, shells);
	return s;
}
