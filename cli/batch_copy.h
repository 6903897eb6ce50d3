/*
 * batch_copy: what a copy-file task (docs/yaml.md "Copy-file tasks") is made of, read and
 * checked the one way for both who make one: a batch's copy: (cli/batch_schema.c) and
 * `pgfleet run --copy` (cli/cmd_run.c). Each check says why in why without the key's name,
 * which the caller puts before it ("mode: ...", "--mode: ...").
 * Who frees what: what these put in a task lives in the arena given (*a), freed with it.
 */
#ifndef PGFLEET_BATCH_COPY_H
#define PGFLEET_BATCH_COPY_H

#include <stddef.h>

#include "cli/batch.h"

struct arena;

/*
 * The source read now into t: a file (any bytes, batch_file_read's limits) as its content,
 * or a folder (batch_tree_read's limits) as t->tree and t->ntree, its files to be copied one
 * by one. 0, or -1 with why ("cannot read x: No such file or directory").
 */
int batch_copy_source(struct arena **a, struct batch_task *t, const char *path, char *why, size_t whylen)
    __attribute__((warn_unused_result));
/* A file's bytes as the task's content: text (no NUL, UTF-8) in t->script, others in
 * t->copy_bytes and t->copy_len (script NULL). */
void batch_copy_content(struct arena **a, struct batch_task *t, const char *buf, size_t len);
/* An octal mode of at most 5 digits, 0 to 07777: 0 with *mode, or -1 with why. */
int batch_copy_mode(const char *s, int *mode, char *why, size_t whylen);
/*
 * want, "sha256:" and 64 hex digits, is the SHA-256 of t's content: one file only (not with a
 * folder), so that a file changed since it was vetted is refused. 0, or -1 with why.
 */
int batch_copy_checksum(const struct batch_task *t, const char *want, char *why, size_t whylen);
/* The destination is an absolute file path (common/field.h); 0, or -1 with why. */
int batch_copy_dest(const char *dest, char *why, size_t whylen);
/* Each file of t's folder lands on a file path under t->copy_dest: 0, or -1 with why. */
int batch_copy_tree_dests(const struct batch_task *t, char *why, size_t whylen);
/*
 * The tasks a folder's task t becomes, one per file in order, written to out[0..t->ntree):
 * t with that file's content, source <copy_source>/<path> and destination
 * <copy_dest>/<path>, no tree.
 */
void batch_copy_expand(struct arena **a, const struct batch_task *t, struct batch_task *out);

#endif
