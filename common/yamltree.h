/*
 * yamltree (prefix yt_): the one YAML reader of pgfleet, for the daemons' configs
 * (common/conf.c) and for job batches (cli/batch.c). It reads a file under a size
 * limit, turns libyaml's events into a small tree with a line:col on every node
 * (columns count characters, not bytes), and applies one policy: aliases, anchors
 * and tags are refused, one document per file, nesting at most YT_MAX_DEPTH, at most
 * max_nodes nodes, no NUL in a string. Errors go to one collector, struct yt_errors,
 * that keeps them in source order and prints them as FILE:LINE:COL: message.
 * Who frees what: the text and every node live in the caller's arena (arena_free);
 * a struct yt_errors starts zeroed ({0}) and is emptied by yt_errors_free.
 */
#ifndef PGFLEET_YAMLTREE_H
#define PGFLEET_YAMLTREE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "common/arena.h"

#define YT_MAX_DEPTH 32       /* maps and lists nested deeper are refused */
#define YT_MAX_ERRORS 1000    /* errors kept when a collector sets no max; the rest are counted */

/* Where something was written: 1-based line and column (characters); 0, 0 for the whole file. */
struct yt_pos {
	int line, col;
};

enum yt_type { YT_SCALAR, YT_SEQ, YT_MAP, YT_BAD };

/*
 * A node. YT_BAD stands where a refused value was (an alias, a tagged scalar, a
 * string holding NUL): it was reported while parsing, so a walker skips it silently.
 */
struct yt_node {
	enum yt_type type;
	struct yt_pos pos;
	char *s;             /* YT_SCALAR: the text, NUL-terminated, no NUL inside */
	size_t len;
	int plain;           /* an unquoted scalar */
	int null;            /* a plain scalar "", "~", "null", "Null" or "NULL" */
	size_t n;            /* children: the items of a list; key, value, key, value... of a map */
	struct yt_node *first, *last, *next;
};

/* One error; msg is malloc'd and belongs to the collector. */
struct yt_error {
	struct yt_pos pos;
	char *msg;
	size_t seq;          /* order of adding: keeps the sort stable */
};

struct yt_errors {
	char *file;          /* malloc'd, named in every printed line ("-" when NULL) */
	struct yt_error *v;
	size_t n, cap;
	size_t max;          /* errors kept; 0: YT_MAX_ERRORS */
	size_t dropped;      /* errors past max, counted only */
};

struct yt_limits {
	size_t max_bytes;    /* a larger file is refused before it is parsed */
	size_t max_nodes;    /* scalars, lists and maps in the file */
};

/* A file read and parsed: src (NUL-terminated) and the tree live in the arena given to yt_load. */
struct yt_doc {
	const char *src;
	size_t len;
	struct yt_node *root; /* NULL for an empty document */
};

/*
 * Read path (at most lim->max_bytes) and parse it into doc, nodes allocated in *arena.
 * Returns 0 when the whole file could be parsed (refused values are in errs and stand
 * as YT_BAD nodes), or -1 when it could not be read or parsed as a whole (errs says why;
 * doc->src is set when the file was read).
 */
int yt_load(struct arena **arena, const char *path, const struct yt_limits *lim,
    struct yt_doc *doc, struct yt_errors *errs) __attribute__((warn_unused_result));
/* The same for text already in memory (src[len] need not be NUL). */
int yt_parse(struct arena **arena, const char *src, size_t len, const struct yt_limits *lim,
    struct yt_doc *doc, struct yt_errors *errs) __attribute__((warn_unused_result));

/* Add an error at pos (printf format). */
void yt_errors_add(struct yt_errors *e, struct yt_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void yt_errors_vadd(struct yt_errors *e, struct yt_pos pos, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* The number of errors added, kept or not. */
size_t yt_errors_count(const struct yt_errors *e);
/* Sort in source order (line, column, then order of adding). */
void yt_errors_sort(struct yt_errors *e);
/* "FILE:LINE:COL: message" ("FILE: message" for the whole file), malloc'd. */
char *yt_error_text(const struct yt_errors *e, size_t i);
/* One line per error, then "FILE: N more errors not shown" when some were dropped. */
void yt_errors_print(const struct yt_errors *e, FILE *fp);
void yt_errors_free(struct yt_errors *e);

#endif
