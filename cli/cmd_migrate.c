/*
 * pgfleet migrate [--status] [--dir DIR]: apply the pending migrations (embedded in
 * the binary, or read from DIR), each in one transaction with its schema_migrations
 * row, under an advisory lock; refuse everything when an applied file has changed.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/migrate.h"
#include "cli/opts.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/util.h"

/* pg_advisory_lock key of `pgfleet migrate`: "pgfleet\0" read as a big-endian bigint. */
#define MIGRATE_LOCK_KEY "8099006826580817920"

struct migrate_args {
	int status;
	const char *dir;
};

static const struct opts_spec specs[] = {
	OPTS_ROW_FLAG("--status", offsetof(struct migrate_args, status), "list each migration as applied (with its time)\n"
	    "or pending; change nothing"),
	OPTS_ROW_STR("--dir", offsetof(struct migrate_args, dir), "DIR", "read the migrations from DIR/*.sql instead of\n"
	    "those built in"),
};

static const struct opts_cmd migrate_cmd = {.cmd = "migrate", OPTS_TABLE(specs),
    .unknown = "%s: unknown argument", .extra = "%s: unknown argument",
    .about = "usage: pgfleet migrate [--status] [--dir DIR]\n\n"
		   "Apply the pending database migrations in order, each in one transaction.\n"
		   "A migration applied earlier whose file has changed stops everything.\n\n"};

/* Read schema_migrations (none when the table does not exist yet). */
static int
read_applied(struct db *db, struct db_result **res, struct migrate_applied **applied, int *n,
    char *err, size_t errlen)
{
	struct db_result *r;
	*res = NULL;
	*applied = NULL;
	*n = 0;
	if (db_exec(db, &r, "SELECT to_regclass('pgfleet.schema_migrations') IS NOT NULL", 0, NULL,
		err, errlen) == -1)
		return -1;
	int exists = strcmp(db_value(r, 0, 0), "t") == 0;
	db_result_free(r);
	if (!exists)
		return 0;
	if (db_exec(db, res,
		"SELECT version, checksum, "
		"to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' "
		"FROM pgfleet.schema_migrations ORDER BY version COLLATE \"C\"",
		0, NULL, err, errlen) == -1)
		return -1;
	*n = db_ntuples(*res);
	*applied = calloc((size_t)*n + 1, sizeof(**applied));
	if (*applied == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < *n; i++)
		(*applied)[i] = (struct migrate_applied){db_value(*res, i, 0), db_value(*res, i, 1),
		    db_value(*res, i, 2)};
	return 0;
}

static int
apply(struct db *db, const struct migrate_file *f, char *err, size_t errlen)
{
	const char *params[2] = {f->version, f->checksum};
	char msg[2048];
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (db_exec_script(db, f->sql, err, errlen) == -1)
		goto fail;
	if (!db_in_transaction(db)) {
		snprintf(err, errlen, "the file ends the transaction itself (no BEGIN, COMMIT or "
				      "ROLLBACK in a migration)");
		goto fail;
	}
	if (db_exec(db, NULL,
		"INSERT INTO pgfleet.schema_migrations (version, checksum) VALUES ($1, $2)", 2,
		params, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "recording it in pgfleet.schema_migrations: %.1000s", msg);
		goto fail;
	}
	return db_commit(db, err, errlen);
fail:
	(void)db_rollback(db, msg, sizeof(msg));
	return -1;
}

/* Two migrates at once: the second waits here, then finds nothing to do. */
static int
take_lock(struct db *db, char *err, size_t errlen)
{
	struct db_result *r;
	const char *key[1] = {MIGRATE_LOCK_KEY};

	if (db_exec(db, &r, "SELECT pg_try_advisory_lock($1::bigint)", 1, key, err, errlen) == -1)
		return -1;
	int got = strcmp(db_value(r, 0, 0), "t") == 0;
	db_result_free(r);
	if (got)
		return 0;
	printf("waiting for another pgfleet migrate to finish\n");
	fflush(stdout);
	return db_exec(db, NULL, "SELECT pg_advisory_lock($1::bigint)", 1, key, err, errlen);
}

static int
run(struct db *db, const struct migrate_set *set, int status_only)
{
	char err[2048];
	struct db_result *res = NULL;
	struct migrate_applied *applied = NULL;
	struct migrate_step *steps = NULL;
	int napplied, nsteps, rc = CLI_ERROR, problems = 0, pending = 0, done = 0;

	if (!status_only && take_lock(db, err, sizeof(err)) == -1)
		goto fail;
	if (read_applied(db, &res, &applied, &napplied, err, sizeof(err)) == -1)
		goto fail;
	if ((nsteps = migrate_plan(set, applied, napplied, &steps)) == -1) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	for (int i = 0; i < nsteps; i++) {
		char msg[512];
		if (migrate_step_problem(&steps[i], msg, sizeof(msg))) {
			fprintf(stderr, "pgfleet migrate: %s\n", msg);
			problems++;
		}
		if (steps[i].state == MIGRATE_PENDING)
			pending++;
	}
	if (status_only) {
		for (int i = 0; i < nsteps; i++)
			printf("%-40s %-12s %s\n", steps[i].version, migrate_state_name(steps[i].state),
			    steps[i].applied != NULL ? steps[i].applied->applied_at : "");
		rc = problems ? CLI_ERROR : CLI_OK;
		goto out;
	}
	if (problems) {
		fprintf(stderr, "pgfleet migrate: nothing applied\n");
		goto out;
	}
	for (int i = 0; i < nsteps; i++) {
		if (steps[i].state == MIGRATE_UNKNOWN)
			printf("note: %s is applied but unknown to this pgfleet (a newer one applied it)\n",
			    steps[i].version);
		if (steps[i].state != MIGRATE_PENDING)
			continue;
		long long t0 = clock_mono_ms();
		if (apply(db, steps[i].file, err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet migrate: migration %s.sql failed, none of it applied: %s\n",
			    steps[i].version, err);
			if (done)
				fprintf(stderr, "pgfleet migrate: %d migration(s) before it stay applied\n",
				    done);
			goto out;
		}
		done++;
		printf("applied %s (%lld ms)\n", steps[i].version, clock_mono_ms() - t0);
	}
	if (pending == 0)
		printf("nothing to migrate\n");
	else
		printf("%d migration(s) applied\n", done);
	rc = CLI_OK;
	goto out;
fail:
	fprintf(stderr, "pgfleet migrate: %s\n", err);
out:
	free(steps);
	free(applied);
	db_result_free(res);
	return rc;
}

int
cmd_migrate(int argc, char **argv)
{
	struct migrate_args ma = {0, NULL};
	char err[1024];
	struct migrate_set set;
	int rc = opts_parse(&migrate_cmd, argc, argv, &ma, NULL);
	if (rc != 0)
		return opts_exit(rc);
	const char *dir = ma.dir;
	if (dir != NULL && *dir == '\0') {
		fprintf(stderr, "pgfleet migrate: --dir needs a folder\n");
		return CLI_USAGE;
	}
	if ((dir != NULL ? migrate_load_dir(dir, &set, err, sizeof(err))
			 : migrate_load_embedded(&set, err, sizeof(err))) == -1) {
		fprintf(stderr, "pgfleet migrate: %s\n", err);
		return CLI_ERROR;
	}
	struct db *db = cli_db_open(0, err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "pgfleet migrate: %s\n", err);
		migrate_set_free(&set);
		return CLI_ERROR;
	}
	rc = run(db, &set, ma.status);
	/* Closing the session releases the advisory lock. */
	db_close(db);
	migrate_set_free(&set);
	return rc;
}
