/*
 * batch_tree: a copied folder's files (cli/batch_tree.h), read through file descriptors
 * from the folder down (openat, fstatat without following, O_NOFOLLOW), so that no symbolic
 * link is followed below the folder named, whatever it points to.
 */
#include "cli/batch_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/batch_value.h"
#include "common/log.h"
#include "common/util.h"

struct walk {
	struct batch_tree *t;
	char *why;
	size_t whylen;
};

static int walk_dir(struct walk *w, int fd, const char *rel, int depth);

int
batch_tree_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct batch_tree_file *)a)->rel, ((const struct batch_tree_file *)b)->rel);
}

/* A regular file (name below dfd, rel below the top): its content appended to the tree. */
static int
walk_file(struct walk *w, int dfd, const char *name, const char *rel)
{
	struct batch_tree *t = w->t;
	char *buf, why[512];
	size_t len;
	/* the path becomes part of a destination: text the database and the wire can carry */
	if (!batch_is_text(rel, strlen(rel)) || util_has_ctl(rel)) {
		snprintf(w->why, w->whylen, "%.200s: the name holds a control character or is no UTF-8", rel);
		return -1;
	}
	if (t->n == BATCH_MAX_TASKS) {
		snprintf(w->why, w->whylen, "more than %d files (the limit of tasks in one job)",
		    BATCH_MAX_TASKS);
		return -1;
	}
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		snprintf(w->why, w->whylen, "%.200s: %s", rel, strerror(errno));
		return -1;
	}
	int rc = batch_fd_read(fd, rel, &buf, &len, why, sizeof(why));
	close(fd);
	if (rc == -1) {
		snprintf(w->why, w->whylen, "%.200s: %s", rel, why);
		return -1;
	}
	if ((t->bytes += len) > BATCH_MAX_JOB_SCRIPT) {
		free(buf);
		snprintf(w->why, w->whylen, "its files pass %d MiB together (the limit of a job)",
		    BATCH_MAX_JOB_SCRIPT >> 20);
		return -1;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		if ((t->v = realloc(t->v, t->cap * sizeof(*t->v))) == NULL)
			fatal("batch: folder");
	}
	if ((t->v[t->n].rel = strdup(rel)) == NULL)
		fatal("batch: folder");
	t->v[t->n].bytes = buf;
	t->v[t->n++].len = len;
	return 0;
}

/* One entry of a folder: a file is read, a folder walked, anything else refused. */
static int
walk_entry(struct walk *w, int dfd, const char *name, const char *rel, int depth)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		snprintf(w->why, w->whylen, "%.200s: %s", rel, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(w->why, w->whylen, "%.200s is a symbolic link (links in a copied folder are "
		    "not followed)", rel);
		return -1;
	}
	if (S_ISREG(st.st_mode))
		return walk_file(w, dfd, name, rel);
	if (!S_ISDIR(st.st_mode)) {
		snprintf(w->why, w->whylen, "%.200s is neither a regular file nor a folder", rel);
		return -1;
	}
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		snprintf(w->why, w->whylen, "%.200s: %s", rel, strerror(errno));
		return -1;
	}
	return walk_dir(w, fd, rel, depth + 1);
}

/* The names in a folder but . and .., sorted (a problem is then always the same one). */
static char **
dir_names(DIR *d, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	struct dirent *e;
	*n = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (*n == cap && (v = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v))) == NULL)
			fatal("batch: folder");
		if ((v[(*n)++] = strdup(e->d_name)) == NULL)
			fatal("batch: folder");
	}
	if (*n > 0)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

/* The folder open at fd (taken over), rel its path below the top ("" for the top). */
static int
walk_dir(struct walk *w, int fd, const char *rel, int depth)
{
	if (depth > BATCH_TREE_DEPTH) {
		close(fd);
		snprintf(w->why, w->whylen, "%.200s: folders nest deeper than %d levels", rel,
		    BATCH_TREE_DEPTH);
		return -1;
	}
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		snprintf(w->why, w->whylen, "%s: %s", rel[0] ? rel : ".", strerror(errno));
		close(fd);
		return -1;
	}
	size_t n;
	char **names = dir_names(d, &n), sub[4096];
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", names[i]) >=
		    sizeof(sub)) {
			snprintf(w->why, w->whylen, "%.200s...: the path is too long", sub);
			rc = -1;
		} else
			rc = walk_entry(w, dirfd(d), names[i], sub, depth);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int
batch_tree_read(const char *path, struct batch_tree *t, char *why, size_t whylen)
{
	struct walk w = {t, why, whylen};
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (walk_dir(&w, fd, "", 0) == -1)
		return -1;
	if (t->n == 0) {
		snprintf(why, whylen, "the folder holds no file");
		return -1;
	}
	qsort(t->v, t->n, sizeof(*t->v), cmp_file);
	return 0;
}

void
batch_tree_free(struct batch_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].rel);
		free(t->v[i].bytes);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}
