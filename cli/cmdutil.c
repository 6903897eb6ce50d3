/*
 * cmdutil: connection, tables and JSON output shared by the pgfleet subcommands.
 */
#include "cli/cmdutil.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/db.h"

int
cmdutil_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

struct db *
cmdutil_open(const char *cmd)
{
	char err[1024];
	struct db *db = db_open(cli_conninfo(), err, sizeof(err));
	if (db == NULL)
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
	return db;
}

const char *
cmdutil_user(void)
{
	const char *u = getenv("USER");
	if (u != NULL && *u != '\0')
		return u;
	struct passwd *pw = getpwuid(getuid());
	return pw != NULL ? pw->pw_name : "unknown";
}

void
cmdutil_table(const struct db_result *r, FILE *fp)
{
	int nf = db_nfields(r), nt = db_ntuples(r);
	size_t *w = calloc((size_t)nf + 1, sizeof(*w));
	if (w == NULL)
		return;
	for (int c = 0; c < nf; c++) {
		w[c] = strlen(db_fname(r, c));
		for (int i = 0; i < nt; i++)
			if (strlen(db_value(r, i, c)) > w[c])
				w[c] = strlen(db_value(r, i, c));
	}
	for (int i = -1; i < nt; i++) {
		for (int c = 0; c < nf; c++) {
			const char *v = i < 0 ? db_fname(r, c) : db_value(r, i, c);
			if (c == nf - 1)
				fprintf(fp, "%s\n", v);
			else
				fprintf(fp, "%-*s  ", (int)w[c], v);
		}
	}
	free(w);
}

int
cmdutil_print_json(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params)
{
	char err[1024];
	struct db_result *r;
	if (db_exec(db, &r, sql, nparams, params, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_FAILED;
	}
	printf("%s\n", db_value(r, 0, 0));
	db_result_free(r);
	return CLI_OK;
}

int
cmdutil_print_table(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params)
{
	char err[1024];
	struct db_result *r;
	if (db_exec(db, &r, sql, nparams, params, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_FAILED;
	}
	cmdutil_table(r, stdout);
	db_result_free(r);
	return CLI_OK;
}
