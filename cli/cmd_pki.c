/*
 * pgfleet pki: a development certificate authority for the TLS files of the
 * scheduler and agents ("pki init", then "pki issue NAME" per computer).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "common/pki.h"
#include "common/tls.h"
#include "common/units.h"

#define PKI_DEFAULT_DIR "pki"

struct pki_args {
	const char *dir, *role;
	long long days, backdate;
	int localhost;
};

enum { SUB_INIT = 1, SUB_ISSUE = 2 };

#define O(f) offsetof(struct pki_args, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_STR("--role", O(role), "ROLE", "agent (default): a computer's certificate, which can\n"
	    "never push a task; scheduler: the scheduler's, which\nagents require of whoever pushes",
	    .only = SUB_ISSUE),
	OPTS_ROW_STR("--dir", O(dir), "DIR", "where the CA is and the files go (default: " PKI_DEFAULT_DIR ",\n"
	    "made 0700 with its missing parents)"),
	OPTS_ROW_INT("--days", O(days), "N", 1, 36500, "validity in days (default: 3650 for the CA, 825\n"
	    "for a certificate)"),
	OPTS_ROW_FLAG("--localhost", O(localhost), "also name DNS:localhost and IP:127.0.0.1 (tests,\n"
	    "one-machine setups)", .only = SUB_ISSUE),
	OPTS_ROW_INT("--backdate", O(backdate), "SEC", 0, 36500LL * 86400, "start the validity SEC seconds ago (tests:\n"
	    "--days 1 --backdate 172800 makes an expired one)", .only = SUB_ISSUE),
};
#undef O

static void
usage_init(FILE *f)
{
	const struct opts_cmd c = {.cmd = "pki init", OPTS_TABLE(specs),
	    .sub = SUB_INIT};
	fprintf(f, "usage: pgfleet pki init [--dir DIR] [--days N]\n\n"
		   "Make a development certificate authority: DIR/ca.key (0600) and DIR/ca.crt.\n"
		   "Existing files are never replaced.\n\n"
		   "Options:\n");
	opts_help(f, &c);
}

static void
usage_issue(FILE *f)
{
	const struct opts_cmd c = {.cmd = "pki issue", OPTS_TABLE(specs),
	    .sub = SUB_ISSUE, .maxpos = 1};
	fprintf(f, "usage: pgfleet pki issue NAME [--role agent|scheduler] [--dir DIR] [--days N] [--localhost]\n\n"
		   "Issue DIR/NAME.key (0600) and DIR/NAME.crt signed by DIR/ca.*, with CN and DNS name NAME\n"
		   "(the computer's or scheduler's name as its configuration gives it).\n\n"
		   "Options:\n");
	opts_help(f, &c);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet pki init [--dir DIR] [--days N]\n"
		   "       pgfleet pki issue NAME [--role agent|scheduler] [--dir DIR] [--days N] [--localhost]\n"
		   "pgfleet pki init --help, pgfleet pki issue --help describe each\n");
}

/* pgfleet pki issue NAME with the options in a. */
static int
issue_cert(const char *name, const struct pki_args *a)
{
	char err[1024];
	if (name == NULL) {
		fprintf(stderr, "pgfleet pki issue: NAME is missing\n");
		usage_issue(stderr);
		return CLI_USAGE;
	}
	if (strcmp(a->role, TLS_ROLE_AGENT) != 0 && strcmp(a->role, TLS_ROLE_SCHEDULER) != 0) {
		fprintf(stderr, "pgfleet pki issue: --role: \"%s\" is neither agent nor scheduler\n", a->role);
		return CLI_USAGE;
	}
	if (pki_name_valid(name, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet pki issue: %s\n", err);
		return CLI_USAGE;
	}
	struct pki_opts o = {.days = a->days > 0 ? (int)a->days : 825, .backdate = (long)a->backdate,
	    .localhost = a->localhost, .role = a->role};
	if (pki_issue_opts(a->dir, name, &o, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet pki issue: %s\n", err);
		return CLI_ERROR;
	}
	printf("%s/%s.crt\n%s/%s.key\n", a->dir, name, a->dir, name);
	return CLI_OK;
}

int
cmd_pki(int argc, char **argv)
{
	char err[1024];
	struct pki_args a = {PKI_DEFAULT_DIR, TLS_ROLE_AGENT, -1, 0, 0};
	struct opts_pos pos;
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	int init = strcmp(argv[1], "init") == 0;
	if (!init && strcmp(argv[1], "issue") != 0) {
		fprintf(stderr, "pgfleet pki: unknown subcommand \"%s\"\n", argv[1]);
		usage(stderr);
		return CLI_USAGE;
	}
	const struct opts_cmd c = {.cmd = init ? "pki init" : "pki issue", OPTS_TABLE(specs),
	    .sub = init ? SUB_INIT : SUB_ISSUE, .maxpos = init ? 0 : 1,
	    .usage = init ? usage_init : usage_issue};
	int rc = opts_parse(&c, argc - 1, argv + 1, &a, &pos);
	if (rc != 0)
		return opts_exit(rc);
	if (!init)
		return issue_cert(pos.n > 0 ? pos.v[0] : NULL, &a);
	if (pki_init(a.dir, a.days > 0 ? (int)a.days : 3650, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet pki init: %s\n", err);
		return CLI_ERROR;
	}
	printf("%s/ca.crt\n%s/ca.key\n", a.dir, a.dir);
	return CLI_OK;
}
