/*
 * cmdutil: connection, tables and JSON output shared by the pgfleet subcommands.
 */
#include "cli/cmdutil.h"

#include <ctype.h>
#include <pwd.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/reportfmt.h"
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
	struct db *db = cli_db_open(1, err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return NULL;
	}
	const char *p[1] = {cmdutil_user()};
	if (db_exec(db, NULL, "SELECT set_config('pgfleet.client_user', $1, false)", 1, p, err,
		sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		db_close(db);
		return NULL;
	}
	return db;
}

int
cmdutil_api_refused(const struct db *db)
{
	return db_api_refused(db_sqlstate(db));
}

int
cmdutil_api_error(const struct db *db, const char *cmd, const char *err)
{
	if (!cmdutil_api_refused(db)) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_ERROR;
	}
	fprintf(stderr, "pgfleet %s: %.*s\n", cmd, db_err_split(err, NULL), err);
	return CLI_USAGE;
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

int
cmdutil_since(const char *since, char *ts, size_t tslen, char *err, size_t errlen)
{
	char why[512];
	time_t now;
	if (args_now(&now, err, errlen) == -1)
		return -1;
	if (reportfmt_since_at(since, now, ts, tslen, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "--since: %s", why);
		return -1;
	}
	return 0;
}

int
cmdutil_exists(struct db *db, const char *cmd, const char *sql, const char *key, const char *missing)
{
	char err[1024];
	struct db_result *r;
	const char *p[1] = {key};
	if (db_exec(db, &r, sql, 1, p, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_ERROR;
	}
	int found = db_ntuples(r) > 0;
	db_result_free(r);
	if (found)
		return CLI_OK;
	fprintf(stderr, "pgfleet %s: ", cmd);
	fprintf(stderr, missing, key);
	fputc('\n', stderr);
	return CLI_USAGE;
}

void
cmdutil_fields(const struct db_result *r, int width, FILE *fp)
{
	for (int c = 0; c < db_nfields(r); c++)
		if (!db_isnull(r, 0, c))
			fprintf(fp, "%-*s %s\n", width, db_fname(r, c), db_value(r, 0, c));
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

/* Run sql; NULL after "pgfleet CMD: ..." on stderr. */
static struct db_result *
query(struct db *db, const char *cmd, const char *sql, int nparams, const char *const *params)
{
	char err[1024];
	struct db_result *r;
	if (db_exec(db, &r, sql, nparams, params, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return NULL;
	}
	return r;
}

int
cmdutil_print_json(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params)
{
	struct db_result *r = query(db, cmd, sql, nparams, params);
	if (r == NULL)
		return CLI_ERROR;
	printf("%s\n", db_value(r, 0, 0));
	db_result_free(r);
	return CLI_OK;
}

int
cmdutil_print_table(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params)
{
	struct db_result *r = query(db, cmd, sql, nparams, params);
	if (r == NULL)
		return CLI_ERROR;
	cmdutil_table(r, stdout);
	db_result_free(r);
	return CLI_OK;
}

int
cmdutil_print_csv(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params)
{
	char err[256];
	struct db_result *r = query(db, cmd, sql, nparams, params);
	if (r == NULL)
		return CLI_ERROR;
	int nrows = db_ntuples(r), ncols = db_nfields(r);
	struct reportfmt_col *cols = calloc((size_t)ncols + 1, sizeof(*cols));
	const char **cells = calloc((size_t)nrows * (size_t)ncols + 1, sizeof(*cells));
	int rc = CLI_OK;
	if (cols == NULL || cells == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		rc = CLI_ERROR;
	} else {
		for (int c = 0; c < ncols; c++)
			cols[c] = (struct reportfmt_col){db_fname(r, c), REPORTFMT_TEXT};
		for (int row = 0; row < nrows; row++)
			for (int c = 0; c < ncols; c++)
				cells[row * ncols + c] = db_isnull(r, row, c) ? NULL : db_value(r, row, c);
		if (reportfmt_write(stdout, REPORTFMT_CSV, cols, ncols, cells, nrows, err,
		    sizeof(err)) == -1)
			rc = CLI_ERROR;
	}
	if (rc != CLI_OK)
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
	free(cols);
	free(cells);
	db_result_free(r);
	return rc;
}

int
cmdutil_print_list(struct db *db, const char *cmd, enum reportfmt_format fmt,
    const char *table_sql, const char *json_sql, int nparams, const char *const *params)
{
	switch (fmt) {
	case REPORTFMT_JSON:
		return cmdutil_print_json(db, cmd, json_sql, nparams, params);
	case REPORTFMT_CSV:
		return cmdutil_print_csv(db, cmd, table_sql, nparams, params);
	default:
		return cmdutil_print_table(db, cmd, table_sql, nparams, params);
	}
}

int
cmdutil_id_arg(const struct opts_cmd *c, int argc, char **argv, void *dst, const char *what,
    const char **id)
{
	char err[1024], upper[32];
	long long n;
	struct opts_pos pos;
	int rc = opts_parse(c, argc, argv, dst, &pos);
	if (rc != 0)
		return rc;
	if (pos.n == 0) {
		size_t i;
		for (i = 0; what[i] != '\0' && i + 1 < sizeof(upper); i++)
			upper[i] = (char)toupper((unsigned char)what[i]);
		upper[i] = '\0';
		fprintf(stderr, "pgfleet %s: which %s? (pgfleet %s %s_ID)\n", c->cmd, what, c->cmd, upper);
		return -1;
	}
	if (args_id(what, pos.v[0], &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", c->cmd, err);
		return -1;
	}
	*id = pos.v[0];
	return 0;
}

int
cmdutil_format_arg(void *fmt, const char *value, char *err, size_t errlen)
{
	if (value == NULL) {
		*(enum reportfmt_format *)fmt = REPORTFMT_JSON;
		return 0;
	}
	return reportfmt_format_parse(value, fmt, err, errlen);
}
