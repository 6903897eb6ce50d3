/*
 * pgfleet pki: a development certificate authority for the TLS files of the
 * scheduler and agents ("pki init", then "pki issue NAME" per computer).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/pki.h"
#include "common/tls.h"
#include "common/units.h"

#define PKI_DEFAULT_DIR "pki"

static void
usage_init(FILE *f)
{
	fprintf(f, "usage: pgfleet pki init [--dir DIR] [--days N]\n\n"
		   "Make a development certificate authority: DIR/ca.key (0600) and DIR/ca.crt.\n"
		   "Existing files are never replaced.\n\n"
		   "  --dir DIR   where the files go (default: %s, made 0700 with its missing parents)\n"
		   "  --days N    validity in days (default: 3650)\n",
	    PKI_DEFAULT_DIR);
}

static void
usage_issue(FILE *f)
{
	fprintf(f, "usage: pgfleet pki issue NAME [--role agent|scheduler] [--dir DIR] [--days N] [--localhost]\n\n"
		   "Issue DIR/NAME.key (0600) and DIR/NAME.crt signed by DIR/ca.*, with CN and DNS name NAME\n"
		   "(the computer's or scheduler's name as its configuration gives it).\n\n"
		   "  --role ROLE     agent (default): a computer's certificate, which can never push a task;\n"
		   "                  scheduler: the scheduler's, which agents require of whoever pushes\n"
		   "  --dir DIR       where the CA is and the files go (default: %s)\n"
		   "  --days N        validity in days (default: 825)\n"
		   "  --localhost     also name DNS:localhost and IP:127.0.0.1 (tests, one-machine setups)\n"
		   "  --backdate SEC  start the validity SEC seconds ago (tests: --days 1 --backdate 172800\n"
		   "                  makes an expired certificate)\n",
	    PKI_DEFAULT_DIR);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet pki init [--dir DIR] [--days N]\n"
		   "       pgfleet pki issue NAME [--role agent|scheduler] [--dir DIR] [--days N] [--localhost]\n"
		   "pgfleet pki init --help, pgfleet pki issue --help describe each\n");
}

static int
int_arg(const char *opt, const char *s, long long min, long long max, long long *out)
{
	char err[256];
	if (units_int(s, min, max, out, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet pki: %s: %s\n", opt, err);
		return -1;
	}
	return 0;
}

int
cmd_pki(int argc, char **argv)
{
	char err[1024];
	const char *dir = PKI_DEFAULT_DIR, *name = NULL;
	long long days = -1, backdate = 0;
	int localhost = 0;
	const char *role = TLS_ROLE_AGENT;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	int init = strcmp(sub, "init") == 0;
	if (!init && strcmp(sub, "issue") != 0) {
		fprintf(stderr, "pgfleet pki: unknown subcommand \"%s\"\n", sub);
		usage(stderr);
		return CLI_USAGE;
	}
	void (*sub_usage)(FILE *) = init ? usage_init : usage_issue;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		int has_val = i + 1 < argc;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			sub_usage(stdout);
			return CLI_OK;
		} else if (strcmp(a, "--dir") == 0 && has_val) {
			dir = argv[++i];
		} else if (strcmp(a, "--days") == 0 && has_val) {
			if (int_arg(a, argv[++i], 1, 36500, &days) == -1)
				return CLI_USAGE;
		} else if (!init && strcmp(a, "--backdate") == 0 && has_val) {
			if (int_arg(a, argv[++i], 0, 36500LL * 86400, &backdate) == -1)
				return CLI_USAGE;
		} else if (!init && strcmp(a, "--role") == 0 && has_val) {
			role = argv[++i];
			if (strcmp(role, TLS_ROLE_AGENT) != 0 && strcmp(role, TLS_ROLE_SCHEDULER) != 0) {
				fprintf(stderr, "pgfleet pki issue: --role: \"%s\" is neither agent nor scheduler\n", role);
				return CLI_USAGE;
			}
		} else if (!init && strcmp(a, "--localhost") == 0) {
			localhost = 1;
		} else if (!init && a[0] != '-' && name == NULL) {
			name = a;
		} else {
			fprintf(stderr, "pgfleet pki %s: unexpected argument \"%s\"\n", sub, a);
			sub_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (init) {
		if (pki_init(dir, days > 0 ? (int)days : 3650, err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet pki init: %s\n", err);
			return CLI_ERROR;
		}
		printf("%s/ca.crt\n%s/ca.key\n", dir, dir);
		return CLI_OK;
	}
	if (name == NULL) {
		fprintf(stderr, "pgfleet pki issue: NAME is missing\n");
		usage_issue(stderr);
		return CLI_USAGE;
	}
	if (pki_name_valid(name, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet pki issue: %s\n", err);
		return CLI_USAGE;
	}
	struct pki_opts o = {.days = days > 0 ? (int)days : 825, .backdate = (long)backdate, .localhost = localhost,
	    .role = role};
	if (pki_issue_opts(dir, name, &o, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet pki issue: %s\n", err);
		return CLI_ERROR;
	}
	printf("%s/%s.crt\n%s/%s.key\n", dir, name, dir, name);
	return CLI_OK;
}
