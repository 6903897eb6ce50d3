/*
 * Unit tests for cli/opts: the one option parser of the pgfleet subcommands: values
 * where the table says, --opt=VALUE, -x VALUE, repeats, "--", an unknown option, a
 * missing value, an integer out of range, another subcommand's option, too many
 * arguments, --help, and the help text generated from the table.
 */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"

struct topts {
	int force;
	const char *host;
	long long count;
	struct opts_list labels;
	const char *mode;
};

/* OPTS_CALL: the value upper-cased into a static buffer; "bad" refused */
static int
mode_arg(void *field, const char *value, char *err, size_t errlen)
{
	static char buf[32];
	if (strcmp(value, "bad") == 0) {
		snprintf(err, errlen, "\"%s\" is not a mode", value);
		return -1;
	}
	size_t i;
	for (i = 0; value[i] != '\0' && i + 1 < sizeof(buf); i++)
		buf[i] = (char)(value[i] >= 'a' && value[i] <= 'z' ? value[i] - 32 : value[i]);
	buf[i] = '\0';
	*(const char **)field = buf;
	return 0;
}

#define O(f) offsetof(struct topts, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_FLAG("--force", O(force), "also when it is busy", .letter = 'f'),
	OPTS_ROW_STR("--host", O(host), "HOST", "where it listens\n(a name or an address)", .letter = 'H'),
	OPTS_ROW_INT("--count", O(count), "N", 1, 10, "how many, 1-10", .letter = 'c'),
	OPTS_ROW_LIST("--label", O(labels), "KEY=VALUE", "a label (repeatable)"),
	OPTS_ROW_CALL("--mode", O(mode), "MODE", mode_arg, NULL),
	OPTS_ROW_FLAG("--a-very-long-option-name", O(force), "long", .only = 2),
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet test\n");
}

static const struct opts_cmd cmd = {.cmd = "test", OPTS_TABLE(specs), .sub = 1,
    .maxpos = 2, .usage = usage};

static char *said; /* what the last parse wrote on stderr (and stdout) */
static size_t saidlen;

/* opts_parse on the NULL-terminated args with stderr and stdout captured in said. */
static int
parse(const struct opts_cmd *c, struct topts *o, struct opts_pos *pos, char **args)
{
	int argc = 0;
	while (args[argc] != NULL)
		argc++;
	memset(o, 0, sizeof(*o));
	free(said);
	said = NULL;
	FILE *saved_err = stderr, *saved_out = stdout, *m = open_memstream(&said, &saidlen);
	ck_assert_ptr_nonnull(m);
	stderr = stdout = m;
	int rc = opts_parse(c, argc, args, o, pos);
	fclose(m);
	stderr = saved_err;
	stdout = saved_out;
	return rc;
}

START_TEST(test_opts_values_short_and_equals)
{
	struct topts o;
	struct opts_pos pos;
	char *a[] = {"add", "web-1", "--host", "h1", "--count=7", "-f", "--mode", "fast", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, a), 0);
	ck_assert_int_eq(pos.n, 1);
	ck_assert_str_eq(pos.v[0], "web-1");
	ck_assert_str_eq(o.host, "h1");
	ck_assert_int_eq(o.count, 7);
	ck_assert_int_eq(o.force, 1);
	ck_assert_str_eq(o.mode, "FAST");
	char *b[] = {"add", "-H", "h2", "-c", "3", "--host=h3=x", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, b), 0);
	ck_assert_str_eq(o.host, "h3=x"); /* the last one given wins; "=" in a value stays */
	ck_assert_int_eq(o.count, 3);
	ck_assert_int_eq(o.force, 0);
	ck_assert_int_eq(pos.n, 0);
	opts_free(&cmd, &o);
}
END_TEST

START_TEST(test_opts_repeats_and_dashdash)
{
	struct topts o;
	struct opts_pos pos;
	char *a[] = {"add", "--label", "a=1", "--label=b=2", "-", "--", "--label", "-f", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, a), -1); /* three positionals, two allowed */
	ck_assert_str_eq(said, "pgfleet test: -f: unexpected argument\n");
	opts_free(&cmd, &o);
	char *b[] = {"add", "--label", "a=1", "--label=b=2", "--label", "-x", "--", "--label", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, b), 0);
	ck_assert_int_eq(o.labels.n, 3);
	ck_assert_str_eq(o.labels.v[0], "a=1");
	ck_assert_str_eq(o.labels.v[1], "b=2");
	ck_assert_str_eq(o.labels.v[2], "-x"); /* a value may start with '-' */
	ck_assert_int_eq(pos.n, 1);
	ck_assert_str_eq(pos.v[0], "--label");
	opts_free(&cmd, &o);
	ck_assert_ptr_null(o.labels.v);
	ck_assert_int_eq(o.labels.n, 0);
}
END_TEST

START_TEST(test_opts_refusals_say_why)
{
	struct topts o;
	struct opts_pos pos;
	char *unknown[] = {"add", "--hots", "h", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, unknown), -1);
	ck_assert_str_eq(said, "pgfleet test: --hots: unknown option\nusage: pgfleet test\n");
	char *missing[] = {"add", "--host", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, missing), -1);
	ck_assert_str_eq(said, "pgfleet test: --host needs a value\n");
	char *shortmissing[] = {"add", "-c", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, shortmissing), -1);
	ck_assert_str_eq(said, "pgfleet test: -c needs a value\n");
	char *range[] = {"add", "--count", "11", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, range), -1);
	ck_assert_str_eq(said, "pgfleet test: --count: 11 is out of range 1..10\n");
	char *notint[] = {"add", "-c", "x", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, notint), -1);
	ck_assert_str_eq(said, "pgfleet test: --count: \"x\" is not an integer\n");
	char *flagval[] = {"add", "--force=yes", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, flagval), -1);
	ck_assert_str_eq(said, "pgfleet test: --force takes no value\n");
	char *callbad[] = {"add", "--mode=bad", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, callbad), -1);
	ck_assert_str_eq(said, "pgfleet test: --mode: \"bad\" is not a mode\n");
	char *other[] = {"add", "--a-very-long-option-name", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, other), -1);
	ck_assert_str_eq(said, "pgfleet test: --a-very-long-option-name: not an option of this command\n");
	char *noletter[] = {"add", "-z", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, noletter), -1);
	opts_free(&cmd, &o);
}
END_TEST

START_TEST(test_opts_messages_and_positionals_as_the_command_says)
{
	struct topts o;
	struct opts_pos pos;
	const struct opts_cmd c = {.cmd = "maintain", OPTS_TABLE(specs), .sub = 2,
	    .usage = usage, .terse = 1, .unknown = "%s: unknown argument", .extra = "%s: one at a time",
	    .elsewhere = "%s is not an option of this report"};
	char *unknown[] = {"x", "--keep", NULL};
	ck_assert_int_eq(parse(&c, &o, NULL, unknown), -1);
	ck_assert_str_eq(said, "pgfleet maintain: --keep: unknown argument\n"); /* terse: no usage */
	char *extra[] = {"x", "file", NULL};
	ck_assert_int_eq(parse(&c, &o, NULL, extra), -1);
	ck_assert_str_eq(said, "pgfleet maintain: file: one at a time\n");
	char *elsewhere[] = {"x", "--count=3", NULL};
	ck_assert_int_eq(parse(&c, &o, &pos, elsewhere), 0); /* only 0: every subcommand's */
	const struct opts_cmd d = {.cmd = "report job", OPTS_TABLE(specs), .sub = 1,
	    .elsewhere = "%s is not an option of this report"};
	char *other[] = {"x", "--a-very-long-option-name", NULL};
	ck_assert_int_eq(parse(&d, &o, NULL, other), -1);
	ck_assert_str_eq(said, "pgfleet report job: --a-very-long-option-name is not an option of this report\n");
	opts_free(&c, &o);
}
END_TEST

START_TEST(test_opts_help_stops_the_parse)
{
	struct topts o;
	struct opts_pos pos;
	char *a[] = {"add", "--count", "5", "--help", "--bogus", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, a), 1);
	ck_assert_str_eq(said, "usage: pgfleet test\n");
	ck_assert_int_eq(opts_exit(1), CLI_OK);
	ck_assert_int_eq(opts_exit(-1), CLI_USAGE);
	char *b[] = {"add", "-h", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, b), 1);
	char *c[] = {"add", "--", "-h", NULL};
	ck_assert_int_eq(parse(&cmd, &o, &pos, c), 0); /* after --, an argument */
	ck_assert_str_eq(pos.v[0], "-h");
	opts_free(&cmd, &o);
}
END_TEST

START_TEST(test_opts_help_is_generated_from_the_table)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	opts_help(f, &cmd);
	fclose(f);
	ck_assert_str_eq(buf,
	    "  -f, --force        also when it is busy\n"
	    "  -H, --host HOST    where it listens\n"
	    "                     (a name or an address)\n"
	    "  -c, --count N      how many, 1-10\n"
	    "  --label KEY=VALUE  a label (repeatable)\n"
	    "  -h, --help         this help\n");
	free(buf);
	/* every subcommand's options, the one too long for the column on a line of its own */
	const struct opts_cmd all = {.cmd = "test", .specs = specs + 5, .nspecs = 1};
	buf = NULL;
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	opts_help(f, &all);
	fclose(f);
	ck_assert_str_eq(buf,
	    "  --a-very-long-option-name\n"
	    "              long\n"
	    "  -h, --help  this help\n");
	free(buf);
}
END_TEST

static void
teardown(void)
{
	free(said);
	said = NULL;
}

/* A command line's own options: -h is a host there, -? the help, and the first positional
 * (the command) ends the parse with what follows it left alone. */
static const struct opts_spec head_specs[] = {
	OPTS_ROW_STR("--host", O(host), "HOST", "database host", .letter = 'h'),
	OPTS_ROW_INT("--count", O(count), "N", 0, 10, "how many", .letter = 'c'),
	OPTS_ROW_FLAG("--force", O(force), "force", .letter = 'f'),
};
static const struct opts_cmd head_cmd = {.cmd = "", OPTS_TABLE(head_specs), .usage = usage,
    .terse = 1, .head = 1, .help_short = "-?", .unknown = "unknown option %s"};

START_TEST(test_opts_head_stops_at_the_command)
{
	struct topts o;
	struct opts_pos pos;
	char *a[] = {"pgfleet", "-h", "db1", "-c", "2", "computer", "list", "-h", "--bogus", NULL};
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, a), 0);
	ck_assert_str_eq(o.host, "db1");
	ck_assert_int_eq(o.count, 2);
	ck_assert_int_eq(pos.at, 5); /* "computer": its own options are its business */
	ck_assert_int_eq(pos.n, 1);
	ck_assert_str_eq(pos.v[0], "computer");
	char *b[] = {"pgfleet", "-f", NULL};
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, b), 0);
	ck_assert_int_eq(pos.at, 2); /* argc: no command */
	ck_assert_int_eq(pos.n, 0);
	char *c[] = {"pgfleet", "-?", "computer", NULL};
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, c), 1);
	ck_assert_str_eq(said, "usage: pgfleet test\n");
	char *d[] = {"pgfleet", "--bogus", "computer", NULL};
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, d), -1);
	ck_assert_str_eq(said, "pgfleet: unknown option --bogus\n");
	char *e[] = {"pgfleet", "-h", NULL};
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, e), -1);
	ck_assert_str_eq(said, "pgfleet: -h needs a value\n");
}
END_TEST

START_TEST(test_opts_short_options_run_together)
{
	struct topts o;
	struct opts_pos pos;
	char *a[] = {"pgfleet", "-fc7", "-hdb2", "cmd", NULL};
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, a), 0);
	ck_assert_int_eq(o.force, 1);
	ck_assert_int_eq(o.count, 7);
	ck_assert_str_eq(o.host, "db2");
	ck_assert_int_eq(pos.at, 3);
	char *b[] = {"pgfleet", "-fc", "4", NULL}; /* the value in the next argument */
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, b), 0);
	ck_assert_int_eq(o.count, 4);
	ck_assert_int_eq(o.force, 1);
	char *c[] = {"pgfleet", "-fz", NULL};
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, c), -1);
	ck_assert_str_eq(said, "pgfleet: unknown option -z\n");
	char *d[] = {"pgfleet", "-c11", NULL};
	ck_assert_int_eq(parse(&head_cmd, &o, &pos, d), -1);
	ck_assert_ptr_nonnull(strstr(said, "pgfleet: --count: "));
}
END_TEST


Suite *
opts_suite(void)
{
	Suite *s = suite_create("opts");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_opts_values_short_and_equals);
	tcase_add_test(tc, test_opts_repeats_and_dashdash);
	tcase_add_test(tc, test_opts_refusals_say_why);
	tcase_add_test(tc, test_opts_messages_and_positionals_as_the_command_says);
	tcase_add_test(tc, test_opts_help_stops_the_parse);
	tcase_add_test(tc, test_opts_help_is_generated_from_the_table);
	tcase_add_test(tc, test_opts_head_stops_at_the_command);
	tcase_add_test(tc, test_opts_short_options_run_together);
	suite_add_tcase(s, tc);
	return s;
}
