/*
 * batch_copy: a copy-file task's source, content, mode, checksum and destination, read and
 * checked once for a batch's copy: and `pgfleet run --copy` (cli/batch_copy.h).
 */
#include "cli/batch_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/batch_tree.h"
#include "cli/batch_value.h"
#include "common/arena.h"
#include "common/field.h"
#include "common/log.h"
#include "common/util.h"

void
batch_copy_content(struct arena **a, struct batch_task *t, const char *buf, size_t len)
{
	/* text in script, as before binary copies existed: a text file's task compares and
	 * hashes as it always did */
	if (batch_is_text(buf, len)) {
		t->script = arena_strndup(a, buf, len);
		return;
	}
	t->copy_bytes = arena_alloc(a, len + 1);
	memcpy(t->copy_bytes, buf, len);
	t->copy_bytes[len] = '\0';
	t->copy_len = len;
}

/* A folder's files into t->tree (in the arena). */
static int
copy_tree(struct arena **a, struct batch_task *t, const char *path, char *why, size_t whylen)
{
	struct batch_tree tree = {0};
	if (batch_tree_read(path, &tree, why, whylen) == -1) {
		batch_tree_free(&tree);
		return -1;
	}
	t->tree = arena_alloc(a, tree.n * sizeof(*t->tree));
	for (size_t i = 0; i < tree.n; i++) {
		const struct batch_tree_file *f = &tree.v[i];
		t->tree[i].rel = arena_strndup(a, f->rel, strlen(f->rel));
		t->tree[i].bytes = arena_alloc(a, f->len + 1);
		memcpy(t->tree[i].bytes, f->bytes, f->len + 1);
		t->tree[i].len = f->len;
	}
	t->ntree = tree.n;
	batch_tree_free(&tree);
	return 0;
}

int
batch_copy_source(struct arena **a, struct batch_task *t, const char *path, char *why, size_t whylen)
{
	char *buf;
	size_t len;
	if (batch_tree_is_dir(path))
		return copy_tree(a, t, path, why, whylen);
	if (batch_file_read(path, &buf, &len, why, whylen) == -1)
		return -1;
	batch_copy_content(a, t, buf, len);
	free(buf);
	return 0;
}

int
batch_copy_mode(const char *s, int *mode, char *why, size_t whylen)
{
	char *end;
	long m = strtol(s, &end, 8);
	if (*end != '\0' || s[0] == '\0' || s[0] == '-' || m < 0 || m > 07777 ||
	    strlen(s) > 5) {
		snprintf(why, whylen, "\"%.20s\" is not an octal mode (0644, 0755, 0600)", s);
		return -1;
	}
	*mode = (int)m;
	return 0;
}

int
batch_copy_checksum(const struct batch_task *t, const char *want, char *why, size_t whylen)
{
	char got[65];
	if (t->ntree > 0) {
		snprintf(why, whylen, "goes with one file; source \"%.200s\" is a folder",
		    t->copy_source != NULL ? t->copy_source : "");
		return -1;
	}
	if (strlen(want) != 7 + 64 || strncmp(want, "sha256:", 7) != 0 ||
	    strspn(want + 7, "0123456789abcdefABCDEF") != 64) {
		snprintf(why, whylen, "\"%.80s\" is not sha256: and 64 hex digits", want);
		return -1;
	}
	const char *bytes = t->copy_bytes != NULL ? t->copy_bytes : t->script;
	if (util_sha256_hex(bytes, t->copy_bytes != NULL ? t->copy_len : strlen(bytes), got) == -1)
		fatalx("sha256 failed");
	if (strcasecmp(want + 7, got) != 0) {
		snprintf(why, whylen, "the content's is sha256:%s, not %s", got, want);
		return -1;
	}
	return 0;
}

int
batch_copy_dest(const char *dest, char *why, size_t whylen)
{
	if (field_file_path_ok(dest))
		return 0;
	snprintf(why, whylen, "\"%.80s\" is not an absolute file path (no . or .. part, no trailing /, "
	    "no control character, at most 1024 bytes)", dest);
	return -1;
}

/* dir/rel into buf, without a doubled '/': its length (buf holds less when it is buflen or more). */
static size_t
path_join(char *buf, size_t buflen, const char *dir, const char *rel)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	int k = snprintf(buf, buflen, "%.*s/%s", (int)n, dir, rel);
	return k < 0 ? buflen : (size_t)k;
}

int
batch_copy_tree_dests(const struct batch_task *t, char *why, size_t whylen)
{
	char d[2048];
	for (size_t i = 0; i < t->ntree; i++) {
		/* a path that does not fit is longer than any file path anyway */
		if (path_join(d, sizeof(d), t->copy_dest, t->tree[i].rel) >= sizeof(d) ||
		    !field_file_path_ok(d)) {
			snprintf(why, whylen, "%.200s would be copied to %.200s, which is not a file path "
			    "(at most 1024 bytes)", t->tree[i].rel, d);
			return -1;
		}
	}
	return 0;
}

/* dir/rel in the arena. */
static char *
arena_join(struct arena **a, const char *dir, const char *rel)
{
	size_t n = strlen(dir) + strlen(rel) + 2;
	char *p = arena_alloc(a, n);
	path_join(p, n, dir, rel);
	return p;
}

void
batch_copy_expand(struct arena **a, const struct batch_task *t, struct batch_task *out)
{
	for (size_t i = 0; i < t->ntree; i++) {
		const struct batch_tree_file *f = &t->tree[i];
		struct batch_task *x = &out[i];
		*x = *t;
		x->tree = NULL;
		x->ntree = 0;
		x->script = NULL;
		x->copy_bytes = NULL;
		x->copy_len = 0;
		batch_copy_content(a, x, f->bytes, f->len);
		x->copy_source = t->copy_source != NULL ? arena_join(a, t->copy_source, f->rel) : NULL;
		x->copy_dest = arena_join(a, t->copy_dest, f->rel);
	}
}
