/*
 * pgfleet token create|list|revoke and the enrolment verbs of pgfleet computer
 * (pending, accept, reject, revoke): docs/enrolment.md. The token is made here, printed
 * once, and only its sha256 is sent; every change is a function of the SQL API
 * (pgfleet.token_create, token_revoke, computer_accept, computer_reject,
 * computer_revoke: migrations/0017_enrol.sql, docs/sql-api.md), which checks and
 * audits it; the lists read the views enrol_token_list and enrolment_list.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "common/json.h"
#include "common/db.h"
#include "common/pki.h"
#include "common/units.h"
#include "common/util.h"

#define TOKEN_BYTES 24
#define TOKEN_PREFIX "pgfe_"

/* What `pgfleet token create` and `token list` were asked. */
struct token_args {
	long long uses, expires_ms;
	struct opts_list groups, labels;
	const char *approve, *description;
	enum reportfmt_format fmt;
};

enum { SUB_CREATE = 1, SUB_LIST = 2 };

/* --expires DURATION, 0 for never */
static int
expires_arg(void *field, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "0") == 0) {
		*(long long *)field = 0;
		return 0;
	}
	return units_duration_ms(value, field, err, errlen);
}

#define O(f) offsetof(struct token_args, f)
static const struct opts_spec token_specs[] = {
	OPTS_ROW_INT("--uses", O(uses), "N", 0, 1000000, "how many enrolments it allows (default: 1; 0: any\n"
	    "number)", .only = SUB_CREATE),
	OPTS_ROW_CALL("--expires", O(expires_ms), "DURATION", expires_arg, "valid this long from now (default 24h;\n"
	    "0: never), e.g. 30m, 7d", .only = SUB_CREATE),
	OPTS_ROW_LIST("--group", O(groups), "GROUP", "enrolled computers join GROUP (made when missing;\n"
	    "repeatable)", .only = SUB_CREATE),
	OPTS_ROW_LIST("--label", O(labels), "KEY=VALUE", "enrolled computers get this label (repeatable)",
	    .only = SUB_CREATE),
	OPTS_ROW_STR("--approve", O(approve), "POLICY", "auto (default): enrolment is accepted at once;\n"
	    "manual: it waits for pgfleet computer accept NAME", .only = SUB_CREATE),
	OPTS_ROW_STR("--description", O(description), "TEXT", "what the token is for", .only = SUB_CREATE),
	CMDUTIL_FORMAT_OPTS(O(fmt), "list: table (default), csv or json", SUB_LIST),
};
#undef O

static void
usage_token(FILE *f)
{
	const struct opts_cmd c = {.cmd = "token", OPTS_TABLE(token_specs)};
	fprintf(f, "usage: pgfleet token create [--uses N] [--expires DURATION] [--group GROUP ...]\n"
		   "                            [--label KEY=VALUE ...] [--approve auto|manual]\n"
		   "                            [--description TEXT]\n"
		   "       pgfleet token list [--format table|csv|json]\n"
		   "       pgfleet token revoke ID\n\n"
		   "  create  make a bootstrap token for pgfleet-agent enroll and print it once (only its\n"
		   "          sha256 is kept); the agents that enrol with it join GROUPs and get the labels\n"
		   "  list    every token: uses, expiry, policy (never the token itself)\n"
		   "  revoke  no more enrolment with token ID\n\n"
		   "Options:\n");
	opts_help(f, &c);
}

/* The parse of token create (sub SUB_CREATE) or list (SUB_LIST). */
static struct opts_cmd
token_cmd(const char *cmd, unsigned sub)
{
	return (struct opts_cmd){.cmd = cmd, OPTS_TABLE(token_specs), .sub = sub, .usage = usage_token, .terse = 1};
}

/* The token's groups as a PostgreSQL array literal and its labels as a JSON object, each
 * checked; 0, or -1 after the message. */
static int
token_policy(const char *cmd, const struct token_args *ta, struct util_buf *groups, struct util_buf *labels)
{
	char err[512], buf[512], *k, *v;
	util_buf_puts(groups, "{");
	util_buf_puts(labels, "{");
	for (int i = 0; i < ta->groups.n; i++) {
		const char *g = ta->groups.v[i];
		if (args_name("group", g, err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet %s: --group: %s\n", cmd, err);
			return -1;
		}
		/* every element quoted */
		util_buf_puts(groups, i > 0 ? ",\"" : "\"");
		for (const char *p = g; *p; p++) {
			if (*p == '"' || *p == '\\')
				util_buf_puts(groups, "\\");
			util_buf_add(groups, p, 1);
		}
		util_buf_puts(groups, "\"");
	}
	for (int i = 0; i < ta->labels.n; i++) {
		if (args_label(ta->labels.v[i], buf, sizeof(buf), &k, &v, err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet %s: --label: %s\n", cmd, err);
			return -1;
		}
		util_buf_puts(labels, i > 0 ? "," : "");
		json_quote(labels, k);
		util_buf_puts(labels, ":");
		json_quote(labels, v);
	}
	util_buf_puts(groups, "}");
	util_buf_puts(labels, "}");
	return 0;
}

/* A new token (TOKEN_PREFIX and random hex) and its sha256 in hex; 0 or -1. */
static int
token_new(char *token, size_t tokenlen, char hash[65])
{
	unsigned char raw[TOKEN_BYTES];
	if (tokenlen < sizeof(TOKEN_PREFIX) + 2 * TOKEN_BYTES || RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	util_hex(raw, sizeof(raw), token + sizeof(TOKEN_PREFIX) - 1);
	OPENSSL_cleanse(raw, sizeof(raw));
	return util_sha256_hex(token, strlen(token), hash);
}

/* pgfleet.token_create with the token's hash and policy; the token printed when it is made. */
static int
token_call(const char *cmd, const struct token_args *ta, const char *token, const char *hash, const char *groups,
    const char *labels)
{
	char err[512], us[24], ex[32];
	snprintf(us, sizeof(us), "%lld", ta->uses);
	snprintf(ex, sizeof(ex), "%lld", ta->expires_ms / 1000);
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[] = {hash, ta->uses > 0 ? us : NULL, ta->expires_ms > 0 ? ex : NULL, ta->approve, groups,
	    labels, ta->description};
	struct db_result *r = NULL;
	int rc = CLI_OK;
	if (db_exec(db, &r,
		"SELECT t.token_id, coalesce(to_char(t.expires_at AT TIME ZONE 'UTC',"
		" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'never')"
		" FROM pgfleet.token_create($1, $2::int, $3::bigint * interval '1 second', $4, $5::text[],"
		" $6::jsonb, $7) t",
		7, p, err, sizeof(err)) == -1) {
		rc = cmdutil_api_error(db, cmd, err);
	} else {
		fprintf(stderr, "token %s: %s, expires %s, approve %s (shown once: keep it secret)\n",
		    db_value(r, 0, 0), ta->uses > 0 ? us : "any number of uses", db_value(r, 0, 1), ta->approve);
		printf("%s\n", token);
	}
	db_result_free(r);
	db_close(db);
	return rc;
}

static int
token_create(int argc, char **argv)
{
	const char *cmd = "token create";
	const struct opts_cmd c = token_cmd(cmd, SUB_CREATE);
	struct token_args ta = {.uses = 1, .expires_ms = 24LL * 3600 * 1000, .approve = "auto"};
	struct util_buf groups = {0}, labels = {0};
	char token[sizeof(TOKEN_PREFIX) + 2 * TOKEN_BYTES], hash[65];
	int rc = opts_parse(&c, argc, argv, &ta, NULL);
	if (rc != 0) {
		rc = opts_exit(rc);
	} else if (strcmp(ta.approve, "auto") != 0 && strcmp(ta.approve, "manual") != 0) {
		fprintf(stderr, "pgfleet %s: --approve: \"%s\" is neither auto nor manual\n", cmd, ta.approve);
		rc = CLI_USAGE;
	} else if (ta.description != NULL && (util_has_ctl(ta.description) || strlen(ta.description) > 256)) {
		fprintf(stderr, "pgfleet %s: --description: at most 256 bytes, no control character\n", cmd);
		rc = CLI_USAGE;
	} else if (token_policy(cmd, &ta, &groups, &labels) == -1) {
		rc = CLI_USAGE;
	} else if (token_new(token, sizeof(token), hash) == -1) {
		fprintf(stderr, "pgfleet %s: no random bytes\n", cmd);
		rc = CLI_ERROR;
	} else {
		rc = token_call(cmd, &ta, token, hash, groups.p, labels.p);
		OPENSSL_cleanse(token, sizeof(token));
	}
	opts_free(&c, &ta);
	util_buf_free(&groups);
	util_buf_free(&labels);
	return rc;
}

static int
token_list(int argc, char **argv)
{
	const char *cmd = "token list";
	const struct opts_cmd c = token_cmd(cmd, SUB_LIST);
	struct token_args ta = {.fmt = REPORTFMT_TABLE};
	int rc = opts_parse(&c, argc, argv, &ta, NULL);
	if (rc != 0)
		return opts_exit(rc);
	enum reportfmt_format fmt = ta.fmt;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	rc = cmdutil_print_list(db, cmd, fmt,
	    "SELECT t.token_id AS \"ID\", t.uses || '/' || coalesce(t.max_uses::text, 'any') AS \"USES\","
	    " coalesce(to_char(t.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), 'never') AS \"EXPIRES\","
	    " t.state AS \"STATE\","
	    " t.approve AS \"APPROVE\", coalesce(nullif(array_to_string(t.groups, ','), ''), '-') AS \"GROUPS\","
	    " coalesce((SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM jsonb_each_text(t.labels)),"
	    "  '-') AS \"LABELS\", t.created_by AS \"BY\", coalesce(t.description, '') AS \"DESCRIPTION\""
	    " FROM pgfleet.enrol_token_list t ORDER BY t.token_id",
	    "SELECT coalesce(json_agg(x ORDER BY x.id), '[]') FROM (SELECT t.token_id AS id, t.uses, t.max_uses,"
	    " t.expires_at, t.revoked_at, t.approve, t.groups, t.labels, t.created_by, t.created_at,"
	    " t.description FROM pgfleet.enrol_token_list t) x",
	    0, NULL);
	db_close(db);
	return rc;
}

static int
token_revoke(int argc, char **argv)
{
	const char *cmd = "token revoke", *id;
	const struct opts_cmd c = {.cmd = cmd, .maxpos = 1, .usage = usage_token, .terse = 1};
	char err[512];
	int rc = cmdutil_id_arg(&c, argc, argv, NULL, "token", &id);
	if (rc != 0)
		return opts_exit(rc);
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[] = {id};
	struct db_result *r = NULL;
	rc = CLI_OK;
	if (db_exec(db, &r, "SELECT pgfleet.token_revoke($1::bigint)", 1, p, err, sizeof(err)) == -1)
		rc = cmdutil_api_error(db, cmd, err);
	else if (strcmp(db_value(r, 0, 0), "t") == 0)
		printf("token %s revoked\n", id);
	else
		printf("token %s was revoked already\n", id);
	db_result_free(r);
	db_close(db);
	return rc;
}

int
cmd_token(int argc, char **argv)
{
	if (argc < 2 || cmdutil_is_help(argv[1])) {
		usage_token(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "create") == 0)
		return token_create(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return token_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke(argc - 1, argv + 1);
	fprintf(stderr, "pgfleet token: unknown subcommand \"%s\" (create, list, revoke)\n", argv[1]);
	return CLI_USAGE;
}

/* ---- pgfleet computer pending|accept|reject|revoke ------------------------ */

int
enrol_cmd_pending(int fmt)
{
	const char *cmd = "computer pending";
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	int rc = cmdutil_print_list(db, cmd, fmt,
	    "SELECT e.name AS \"NAME\", coalesce(e.peer, '-') AS \"FROM\", coalesce(e.token_id::text, '-') AS"
	    " \"TOKEN\", left(e.pubkey_sha256, 16) AS \"KEY\", coalesce(e.reason, '') AS \"WHY\","
	    " to_char(e.requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS \"REQUESTED\","
	    " to_char(e.last_request_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS \"LAST_ASKED\""
	    " FROM pgfleet.enrolment_list e WHERE e.state = 'pending' ORDER BY e.requested_at, e.name",
	    "SELECT coalesce(json_agg(x ORDER BY x.requested_at), '[]') FROM (SELECT e.name, e.peer,"
	    " e.token_id, e.pubkey_sha256, e.reason, e.agent_version, e.requested_at, e.last_request_at"
	    " FROM pgfleet.enrolment_list e WHERE e.state = 'pending') x",
	    0, NULL);
	db_close(db);
	return rc;
}

/* verb: accept, reject or revoke, of computer name. */
int
enrol_cmd_decide(const char *verb, const char *name)
{
	char cmd[32], err[512];
	snprintf(cmd, sizeof(cmd), "computer %s", verb);
	if (pki_name_valid(name, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *sql = strcmp(verb, "accept") == 0 ? "SELECT pgfleet.computer_accept($1)" :
	    strcmp(verb, "reject") == 0 ? "SELECT pgfleet.computer_reject($1)" :
	    "SELECT pgfleet.computer_revoke($1)";
	const char *p[] = {name};
	struct db_result *r = NULL;
	int rc = CLI_OK;
	if (db_exec(db, &r, sql, 1, p, err, sizeof(err)) == -1) {
		rc = cmdutil_api_error(db, cmd, err);
	} else if (strcmp(verb, "accept") == 0) {
		printf("computer %s: %s\n", name, db_value(r, 0, 0));
	} else if (strcmp(verb, "reject") == 0) {
		printf("computer %s: %s pending enrolment(s) rejected\n", name, db_value(r, 0, 0));
	} else {
		printf("computer %s revoked: its certificates refused, %s pending event(s) failed with -26\n", name,
		    db_value(r, 0, 0));
	}
	db_result_free(r);
	db_close(db);
	return rc;
}
