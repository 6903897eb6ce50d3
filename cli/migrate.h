/*
 * migrate: the migration files (embedded in the binary at build time, or read from a
 * folder), their sha256 checksums, and the plan against what schema_migrations holds.
 * A set from migrate_load_* is freed by migrate_set_free; a plan (free() it) points into
 * the set and the applied rows it was made from.
 */
#ifndef PGFLEET_MIGRATE_H
#define PGFLEET_MIGRATE_H

#include <stddef.h>

/* Written by scripts/embed-migrations.sh into build/gen/migrations.c; ends with a NULL name. */
struct migrate_embedded {
	const char *name; /* file name, "0001_init.sql" */
	const unsigned char *data; /* NUL-terminated */
	size_t len;
};
extern const struct migrate_embedded migrate_embedded[];

struct migrate_file {
	char *version; /* file name without .sql */
	char *sql;     /* NUL-terminated contents */
	size_t len;
	char checksum[65]; /* sha256, lower-case hex */
};

struct migrate_set {
	struct migrate_file *files; /* sorted by version */
	int n;
};

/* A schema_migrations row, as text. */
struct migrate_applied {
	const char *version;
	const char *checksum;
	const char *applied_at;
};

enum migrate_state {
	MIGRATE_PENDING,      /* to apply */
	MIGRATE_APPLIED,      /* applied, same checksum */
	MIGRATE_CHANGED,      /* applied, but the file changed since: refused */
	MIGRATE_OUT_OF_ORDER, /* pending, but a later version is applied: refused */
	MIGRATE_UNKNOWN       /* applied, no such file here (a newer pgfleet applied it) */
};

struct migrate_step {
	const char *version;
	enum migrate_state state;
	const struct migrate_file *file;       /* NULL for MIGRATE_UNKNOWN */
	const struct migrate_applied *applied; /* NULL for pending ones */
};

/* 0 when name ("0001_init.sql") is a valid migration file name; else -1 and why. */
int migrate_check_name(const char *name, char *err, size_t errlen);
int migrate_load_embedded(struct migrate_set *set, char *err, size_t errlen);
/* Every *.sql of dir, sorted; other files are skipped. None is an error. */
int migrate_load_dir(const char *dir, struct migrate_set *set, char *err, size_t errlen);
void migrate_set_free(struct migrate_set *set);

/*
 * One step per file and per applied version without a file, by version. applied must
 * be sorted by version. Returns the count with *steps malloc'd, or -1 (out of memory).
 */
int migrate_plan(const struct migrate_set *set, const struct migrate_applied *applied,
    int napplied, struct migrate_step **steps);
/* 1 with a message in msg when the step forbids migrating (changed, out of order); else 0. */
int migrate_step_problem(const struct migrate_step *step, char *msg, size_t len);
const char *migrate_state_name(enum migrate_state state);

#endif
