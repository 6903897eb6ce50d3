/*
 * pgfleet token create|list|revoke and the enrolment verbs of pgfleet computer
 * (pending, accept, reject, revoke): docs/enrolment.md. The token is made here, printed
 * once, and only its sha256 is sent; every change is a function of the SQL API
 * (pgfleet.token_create, token_revoke, computer_accept, computer_reject,
 * computer_revoke: migrations/0017_enrol.sql, docs/sql-api.md), which checks and
 * audits it; the lists read the views enrol_token_list and enrolment_list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "common/db.h"
#include "common/pki.h"
#include "common/units.h"
#include "common/util.h"

#define TOKEN_BYTES 24
#define TOKEN_PREFIX "pgfe_"

static void
usage_token(FILE *f)
{
	fprintf(f, "usage: pgfleet token create [--uses N] [--expires DURATION] [--group GROUP ...]\n"
		   "                            [--label KEY=VALUE ...] [--approve auto|manual]\n"
		   "                            [--description TEXT]\n"
		   "       pgfleet token list [--format table|csv|json]\n"
		   "       pgfleet token revoke ID\n\n"
		   "  create  make a bootstrap token for pgfleet-agent enroll and print it once (only its\n"
		   "          sha256 is kept); the agents that enrol with it join GROUPs and get the labels\n"
		   "  list    every token: uses, expiry, policy (never the token itself)\n"
		   "  revoke  no more enrolment with token ID\n\n"
		   "Options:\n"
		   "  --uses N             how many enrolments it allows (default: 1; 0: any number)\n"
		   "  --expires DURATION   valid this long from now (default 24h; 0: never), e.g. 30m, 7d\n"
		   "  --group GROUP        enrolled computers join GROUP (made when missing; repeatable)\n"
		   "  --label KEY=VALUE    enrolled computers get this label (repeatable)\n"
		   "  --approve POLICY     auto (default): enrolment is accepted at once; manual: it waits\n"
		   "                       for pgfleet computer accept NAME\n"
		   "  --description TEXT   what the token is for\n"
		   "  --format FORMAT      list: table (default), csv or json\n");
}

static int
token_create(int argc, char **argv)
{
	const char *cmd = "token create", *approve = "auto", *desc = NULL;
	long long uses = 1, expires_ms = 24LL * 3600 * 1000;
	char err[512], buf[512], *k, *v;
	struct util_buf groups = {0}, labels = {0};
	int ng = 0, nl = 0, rc = CLI_USAGE;
	util_buf_puts(&groups, "{");
	util_buf_puts(&labels, "{");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (cmdutil_is_help(a)) {
			usage_token(stdout);
			rc = CLI_OK;
			goto out;
		}
		if (val == NULL) {
			fprintf(stderr, "pgfleet %s: %s: unknown option or missing value\n", cmd, a);
			goto out;
		}
		i++;
		if (strcmp(a, "--uses") == 0) {
			if (units_int(val, 0, 1000000, &uses, err, sizeof(err)) == -1) {
				fprintf(stderr, "pgfleet %s: --uses: %s\n", cmd, err);
				goto out;
			}
		} else if (strcmp(a, "--expires") == 0) {
			if (strcmp(val, "0") != 0 && units_duration_ms(val, &expires_ms, err, sizeof(err)) == -1) {
				fprintf(stderr, "pgfleet %s: --expires: %s\n", cmd, err);
				goto out;
			}
			if (strcmp(val, "0") == 0)
				expires_ms = 0;
		} else if (strcmp(a, "--group") == 0) {
			if (args_name("group", val, err, sizeof(err)) == -1) {
				fprintf(stderr, "pgfleet %s: --group: %s\n", cmd, err);
				goto out;
			}
			/* a PostgreSQL array literal, every element quoted */
			util_buf_puts(&groups, ng++ > 0 ? ",\"" : "\"");
			for (const char *p = val; *p; p++) {
				if (*p == '"' || *p == '\\')
					util_buf_puts(&groups, "\\");
				util_buf_add(&groups, p, 1);
			}
			util_buf_puts(&groups, "\"");
		} else if (strcmp(a, "--label") == 0) {
			if (args_label(val, buf, sizeof(buf), &k, &v, err, sizeof(err)) == -1) {
				fprintf(stderr, "pgfleet %s: --label: %s\n", cmd, err);
				goto out;
			}
			util_buf_puts(&labels, nl++ > 0 ? "," : "");
			char *js = NULL;
			size_t jn = 0;
			FILE *m = open_memstream(&js, &jn);
			if (m == NULL)
				goto out;
			args_json_str(m, k);
			fputc(':', m);
			args_json_str(m, v);
			fclose(m);
			util_buf_puts(&labels, js);
			free(js);
		} else if (strcmp(a, "--approve") == 0) {
			if (strcmp(val, "auto") != 0 && strcmp(val, "manual") != 0) {
				fprintf(stderr, "pgfleet %s: --approve: \"%s\" is neither auto nor manual\n", cmd, val);
				goto out;
			}
			approve = val;
		} else if (strcmp(a, "--description") == 0) {
			if (util_has_ctl(val) || strlen(val) > 256) {
				fprintf(stderr, "pgfleet %s: --description: at most 256 bytes, no control character\n",
				    cmd);
				goto out;
			}
			desc = val;
		} else {
			fprintf(stderr, "pgfleet %s: %s: unknown option\n", cmd, a);
			goto out;
		}
	}
	util_buf_puts(&groups, "}");
	util_buf_puts(&labels, "}");
	unsigned char raw[TOKEN_BYTES];
	char token[sizeof(TOKEN_PREFIX) + 2 * TOKEN_BYTES], hash[65], us[24], ex[32];
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fprintf(stderr, "pgfleet %s: no random bytes\n", cmd);
		rc = CLI_ERROR;
		goto out;
	}
	memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	util_hex(raw, sizeof(raw), token + sizeof(TOKEN_PREFIX) - 1);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (util_sha256_hex(token, strlen(token), hash) == -1) {
		rc = CLI_ERROR;
		goto out;
	}
	snprintf(us, sizeof(us), "%lld", uses);
	snprintf(ex, sizeof(ex), "%lld", expires_ms / 1000);
	struct db *db = cmdutil_open(cmd);
	if (db == NULL) {
		rc = CLI_ERROR;
		goto out;
	}
	const char *p[] = {hash, uses > 0 ? us : NULL, expires_ms > 0 ? ex : NULL, approve, groups.p, labels.p,
	    desc};
	struct db_result *r = NULL;
	if (db_exec(db, &r,
		"SELECT t.token_id, coalesce(to_char(t.expires_at AT TIME ZONE 'UTC',"
		" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'never')"
		" FROM pgfleet.token_create($1, $2::int, $3::bigint * interval '1 second', $4, $5::text[],"
		" $6::jsonb, $7) t",
		7, p, err, sizeof(err)) == -1) {
		rc = cmdutil_api_error(db, cmd, err);
	} else {
		fprintf(stderr, "token %s: %s, expires %s, approve %s (shown once: keep it secret)\n",
		    db_value(r, 0, 0), uses > 0 ? us : "any number of uses", db_value(r, 0, 1), approve);
		printf("%s\n", token);
		rc = CLI_OK;
	}
	OPENSSL_cleanse(token, sizeof(token));
	db_result_free(r);
	db_close(db);
out:
	util_buf_free(&groups);
	util_buf_free(&labels);
	return rc;
}

static int
token_list(int argc, char **argv)
{
	const char *cmd = "token list";
	enum reportfmt_format fmt = REPORTFMT_TABLE;
	for (int i = 1; i < argc; i++) {
		int f = cmdutil_format_option(cmd, argc, argv, &i, &fmt);
		if (f == -1)
			return CLI_USAGE;
		if (f == 0) {
			fprintf(stderr, "pgfleet %s: %s: unexpected argument\n", cmd, argv[i]);
			return CLI_USAGE;
		}
	}
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	int rc = cmdutil_print_list(db, cmd, fmt,
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
	const char *cmd = "token revoke";
	char err[512];
	long long id;
	if (argc != 2 || args_id("token", argv[1], &id, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, argc != 2 ? "usage: pgfleet token revoke ID" : err);
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[] = {argv[1]};
	struct db_result *r = NULL;
	int rc = CLI_OK;
	if (db_exec(db, &r, "SELECT pgfleet.token_revoke($1::bigint)", 1, p, err, sizeof(err)) == -1)
		rc = cmdutil_api_error(db, cmd, err);
	else if (strcmp(db_value(r, 0, 0), "t") == 0)
		printf("token %s revoked\n", argv[1]);
	else
		printf("token %s was revoked already\n", argv[1]);
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
