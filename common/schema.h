/*
 * schema: is the database's pgfleet schema the one these binaries were built
 * with? The versions are the migration files embedded at build time
 * (schema_versions[], written by scripts/embed-migrations.sh). Used by the CLI
 * before any command and by the scheduler at start, so that a missing or older
 * schema is said once, with its fix (pgfleet migrate), not as "relation does
 * not exist" later. Nothing here allocates what the caller frees.
 */
#ifndef PGFLEET_SCHEMA_H
#define PGFLEET_SCHEMA_H

#include <stddef.h>

struct db;

/* "0001_init", ..., in order; ends with NULL. */
extern const char *const schema_versions[];

enum schema_state {
	SCHEMA_OK,      /* every version applied, none unknown */
	SCHEMA_MISSING, /* no pgfleet schema in this database */
	SCHEMA_OLDER,   /* a version these binaries need is not applied */
	SCHEMA_NEWER    /* all applied, and versions a newer pgfleet added */
};

/* The newest version these binaries know ("0013_ops"). */
const char *schema_latest(void);

/*
 * Compare the applied versions (sorted) with schema_versions: a state, and for
 * anything but SCHEMA_OK a message naming the fix in msg. Pure.
 */
enum schema_state schema_compare(const char *const *applied, int napplied, char *msg,
    size_t msglen);

/*
 * Read pgfleet.schema_migrations and compare: a state with msg as above (SCHEMA_OK
 * when the role may not read the table), or -1
 * with the reason in msg when the database could not answer.
 */
int schema_check(struct db *db, char *msg, size_t msglen) __attribute__((warn_unused_result));

#endif
