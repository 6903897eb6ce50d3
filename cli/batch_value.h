/*
 * batch_value: the typed values of a job batch's YAML tree (strings, fields that reach
 * the wire, integers, booleans, durations, RFC 3339 times, mappings of known keys, labels,
 * name lists), each checked where it is read and every error added with its line:col.
 * Internal to the batch loader (cli/batch.c, cli/batch_schema.c).
 * Who frees what: what a bv_ function hands back is copied into the batch's arena
 * (l->b->arena, freed by batch_free) or, for scratch, into l->tmp (freed when the load
 * ends); nothing here is freed on its own. Each returns 0, or -1 after adding an error.
 */
#ifndef PGFLEET_BATCH_VALUE_H
#define PGFLEET_BATCH_VALUE_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include "cli/batch.h"
#include "common/field.h"
#include "common/units.h"
#include "common/yamltree.h"

#define BV_NAME_MAX 200 /* group and job names, label and attribute keys */

/* A name used before its section may have been read: checked across sections at the end. */
enum bv_pend { BV_COMPUTER_GROUP, BV_TARGET_GROUP, BV_TARGET_COMPUTER, BV_WINDOW };

struct bv_pending {
	enum bv_pend kind;
	const char *name;
	struct yt_pos pos;
	size_t job;
};

/* The state of one batch_load. */
struct batch_ld {
	struct batch *b;
	struct yt_errors *errs;
	struct arena *tmp;         /* the tree and scratch, freed at the end of the load */
	char *dir;                 /* folder of the batch file, for script_file */
	struct bv_pending *pend;   /* malloc'd, freed at the end of the load */
	size_t npend, cappend;
	size_t ntasks;             /* tasks of the jobs read so far */
};

void bv_err(struct batch_ld *l, struct yt_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Absent, or a plain ~, null or empty scalar. */
int bv_is_null(const struct yt_node *n);
/* What a node is, for "expected X, found Y": "a list", "\"text\"", "nothing". */
const char *bv_found(struct batch_ld *l, const struct yt_node *n);
/* The node is of type t (a scalar that is not null); key names it in the error. */
int bv_want(struct batch_ld *l, const char *key, const struct yt_node *n, enum yt_type t);
int bv_str(struct batch_ld *l, const char *key, const struct yt_node *n, char **out);
/* A string that reaches the control protocol: common/field.h's limits. */
int bv_field(struct batch_ld *l, enum field f, const struct yt_node *n, char **out);
int bv_int(struct batch_ld *l, const char *key, const struct yt_node *n, long long min,
    long long max, long long *out);
int bv_bool(struct batch_ld *l, const char *key, const struct yt_node *n, int *out);
/* A duration of at least min_ms. */
int bv_duration(struct batch_ld *l, const char *key, const struct yt_node *n, long long min_ms,
    long long *out);
/* An RFC 3339 timestamp from 1970 to 9999 (UTC), with Z or an offset. */
int bv_time(struct batch_ld *l, const char *key, const struct yt_node *n, time_t *out);
/* A timestamp that may also be a wall-clock time, alone or with a [zone] (common/units.h). */
int bv_time_spec(struct batch_ld *l, const char *key, const struct yt_node *n,
    struct units_time *out);
/*
 * A mapping of known keys: vals[i] gets the value of names[i] (NULL when absent or
 * null; names ends with NULL). Unknown and duplicate keys are errors; -1 only when
 * n is no mapping.
 */
int bv_keys(struct batch_ld *l, const char *what, const struct yt_node *n,
    const char *const *names, struct yt_node **vals);
/* A mapping of strings to strings (labels, attrs), sorted by key, in the batch's arena. */
int bv_kv(struct batch_ld *l, const char *key, const struct yt_node *n, struct batch_kv **out,
    size_t *nout);
/* A list of names, sorted and unique; each kept for the checks across sections. */
int bv_names(struct batch_ld *l, const char *key, const struct yt_node *n, enum bv_pend kind,
    size_t job, char ***out, size_t *nout);
/* A computer's name (common/field.h), or a group or job name ("group", "job" in what). */
int bv_computer_name(struct batch_ld *l, const struct yt_node *n, const char *s);
int bv_name(struct batch_ld *l, const char *what, const struct yt_node *n, const char *s);

/*
 * A script file (script_file:, pgfleet run --script-file): a regular file of 1 byte to
 * BATCH_MAX_SCRIPT, UTF-8 text without NUL. 0 with *out (malloc'd, NUL-terminated, the
 * caller frees) and *outlen, or -1 with the reason in why ("the file is empty").
 */
int batch_script_read(const char *path, char **out, size_t *outlen, char *why, size_t whylen);
/* The same for a file to copy (copy: {source}): any bytes, 0 to BATCH_MAX_SCRIPT of them. */
int batch_file_read(const char *path, char **out, size_t *outlen, char *why, size_t whylen);
/* batch_file_read of a file already open (fd, named name in why); fd stays open. */
int batch_fd_read(int fd, const char *name, char **out, size_t *outlen, char *why, size_t whylen);
/* 1 when len bytes are text that task.script can hold: no NUL, valid UTF-8. */
int batch_is_text(const char *s, size_t len);

#endif
