/*
 * schema: the applied migrations against the embedded ones. A missing table or
 * schema (SQLSTATE 42P01, 3F000) is an unmigrated database, not an error.
 */
#include "common/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/version.h"

const char *
schema_latest(void)
{
	const char *last = NULL;
	for (int i = 0; schema_versions[i] != NULL; i++)
		last = schema_versions[i];
	return last != NULL ? last : "";
}

static int
has(const char *const *list, int n, const char *v)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], v) == 0)
			return 1;
	return 0;
}

enum schema_state
schema_compare(const char *const *applied, int napplied, char *msg, size_t msglen)
{
	int nknown = 0;
	while (schema_versions[nknown] != NULL)
		nknown++;
	if (napplied == 0) {
		snprintf(msg, msglen, "this database has no pgfleet schema: run pgfleet migrate");
		return SCHEMA_MISSING;
	}
	int missing = 0;
	const char *first = NULL;
	for (int i = 0; i < nknown; i++)
		if (!has(applied, napplied, schema_versions[i])) {
			if (first == NULL)
				first = schema_versions[i];
			missing++;
		}
	if (missing > 0) {
		snprintf(msg, msglen, "the pgfleet schema is older than this pgfleet (%s): %d "
				      "migration%s to apply, from %s: run pgfleet migrate", version_string(),
		    missing, missing == 1 ? "" : "s", first);
		return SCHEMA_OLDER;
	}
	for (int i = 0; i < napplied; i++)
		if (!has(schema_versions, nknown, applied[i])) {
			snprintf(msg, msglen, "the pgfleet schema has migration %s, which this pgfleet "
					      "(%s) does not know: a newer pgfleet migrated it; upgrade this one",
			    applied[i], version_string());
			return SCHEMA_NEWER;
		}
	msg[0] = '\0';
	return SCHEMA_OK;
}

int
schema_check(struct db *db, char *msg, size_t msglen)
{
	struct db_result *r = NULL;
	char err[512];
	/* the view every role may read (0013), else the table (an older schema) */
	int rc = db_exec(db, &r, "SELECT version FROM pgfleet.applied_migrations ORDER BY version",
	    0, NULL, err, sizeof(err));
	if (rc == -1 && strcmp(db_sqlstate(db), "42P01") == 0)
		rc = db_exec(db, &r, "SELECT version FROM pgfleet.schema_migrations ORDER BY version", 0,
		    NULL, err, sizeof(err));
	if (rc == -1) {
		const char *st = db_sqlstate(db);
		if (strcmp(st, "42P01") == 0 || strcmp(st, "3F000") == 0)
			return (int)schema_compare(NULL, 0, msg, msglen);
		/* a role that may not read the table (a schema before 0013): nothing to say */
		if (strcmp(st, "42501") == 0) {
			msg[0] = '\0';
			return SCHEMA_OK;
		}
		snprintf(msg, msglen, "pgfleet.schema_migrations: %s", err);
		return -1;
	}
	int n = db_ntuples(r);
	const char **v = calloc((size_t)n + 1, sizeof(*v));
	if (v == NULL) {
		db_result_free(r);
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++)
		v[i] = db_value(r, i, 0);
	enum schema_state st = schema_compare(v, n, msg, msglen);
	free(v);
	db_result_free(r);
	return (int)st;
}
