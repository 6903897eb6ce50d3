/*
 * batch_tree: a copy: whose source is a folder (docs/yaml.md "Copy-file tasks"), walked at
 * submit time into its files: regular files only, sorted by their path below the folder
 * (bytes compared), no symbolic link followed (one in the folder is refused, as is a FIFO,
 * a socket or a device), at most BATCH_MAX_TASKS files of BATCH_MAX_JOB_SCRIPT bytes
 * together, BATCH_TREE_DEPTH folders deep, each path UTF-8 without a control character.
 * Who frees what: batch_tree_read fills the caller's struct batch_tree, which
 * batch_tree_free empties (every path and content in it is malloc'd).
 */
#ifndef PGFLEET_BATCH_TREE_H
#define PGFLEET_BATCH_TREE_H

#include <stddef.h>

#define BATCH_TREE_DEPTH 16 /* folders below the copied one */

struct batch_tree_file {
	char *rel;    /* its path below the folder: "app.conf", "sub/x.conf" */
	char *bytes;  /* its content, a NUL after it */
	size_t len;
};

struct batch_tree {
	struct batch_tree_file *v; /* sorted by rel */
	size_t n, cap;
	size_t bytes;              /* of every file together */
};

/* 1 when path names a folder (followed when it is a link, as any source path is), else 0. */
int batch_tree_is_dir(const char *path);
/*
 * Walk the folder path into t (zeroed by the caller). 0, or -1 with the first problem in why
 * ("sub/link is a symbolic link (links in a copied folder are not followed)"); t then holds
 * what was read so far, for batch_tree_free.
 */
int batch_tree_read(const char *path, struct batch_tree *t, char *why, size_t whylen)
    __attribute__((warn_unused_result));
void batch_tree_free(struct batch_tree *t);

#endif
