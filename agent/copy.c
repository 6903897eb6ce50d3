/*
 * copy: make the destination's missing folders inside copy.allow (never through a link),
 * write a temporary file beside the destination (O_EXCL, O_NOFOLLOW), give it its owner and
 * mode, fsync it, rename it over the destination, fsync the folder: a reader sees the old
 * file or the new one, never half of it.
 */
#include "agent/copy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/field.h"
#include "common/status.h"
#include "common/util.h"

int
copy_dest_ok(const char *dest)
{
	return field_file_path_ok(dest);
}

/* path is dir itself or inside it (dir without a trailing '/', or "/"). */
static int
inside(const char *dir, const char *path)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return 1;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int
copy_allowed(const struct conf_strlist *allow, const char *dest)
{
	for (size_t i = 0; i < allow->n; i++)
		if (inside(allow->v[i], dest))
			return 1;
	return 0;
}

/* The longest copy.allow folder dest lies in, as written (NULL: none). */
static const char *
allow_of(const struct conf_strlist *allow, const char *dest)
{
	const char *best = NULL;
	for (size_t i = 0; i < allow->n; i++)
		if (inside(allow->v[i], dest) && (best == NULL || strlen(allow->v[i]) > strlen(best)))
			best = allow->v[i];
	return best;
}

/* Open folder name below dfd without following a link; create it first when missing (mode
 * 0755, owned uid:gid, as the file it is made for). The folder's fd, or -1 (errno). */
static int
parent_open(int dfd, const char *name, uid_t uid, gid_t gid)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd != -1 || errno != ENOENT)
		return fd;
	if (mkdirat(dfd, name, 0700) == -1 && errno != EEXIST)
		return -1;
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	/* owner and mode once it is open: the folder never stands open to others in between */
	if (fchown(fd, uid, gid) == -1 || fchmod(fd, 0755) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * The folders of dest's path missing below the copy.allow folder it lies in are created, one
 * by one from that folder down, each opened without following a link: a symbolic link on
 * the way stops the creating (one already there is resolved and checked by resolved_allowed
 * as before), so that nothing is ever created through a link, nor outside copy.allow. 0, or
 * STATUS_COPY_FAILED with why (a folder could not be made; those made before stay).
 */
static int
make_parents(const struct conf_strlist *allow, const char *dest, uid_t uid, gid_t gid, char *why,
    size_t whylen)
{
	const char *a = allow_of(allow, dest), *last = strrchr(dest, '/');
	size_t n = a != NULL ? strlen(a) : 0;
	while (n > 0 && a[n - 1] == '/')
		n--;
	int fd = a != NULL ? open(n == 0 ? "/" : a, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd == -1)
		return 0; /* no folder to make them in: resolved_allowed says why */
	for (const char *p = dest + n + 1; p < last;) {
		char name[NAME_MAX + 1];
		const char *end = strchr(p, '/');
		int next = -1;
		errno = ENAMETOOLONG;
		if (end - p <= NAME_MAX) {
			snprintf(name, sizeof(name), "%.*s", (int)(end - p), p);
			next = parent_open(fd, name, uid, gid);
		}
		if (next == -1 && (errno == ELOOP || errno == ENOTDIR))
			break; /* a link (or a file): not followed, not replaced */
		if (next == -1) {
			snprintf(why, whylen, "copy to %s: folder %.*s: %s", dest, (int)(end - dest), dest,
			    strerror(errno));
			close(fd);
			return STATUS_COPY_FAILED;
		}
		close(fd);
		fd = next;
		p = end + 1;
	}
	close(fd);
	return 0;
}

/* dest's folder, resolved, under a resolved copy.allow folder: 0, or -36 with why. */
static int
resolved_allowed(const struct conf_strlist *allow, const char *dest, char *rdir, char *base,
    char *why, size_t whylen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(dest, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash == dest ? 1 : (int)(slash - dest), dest);
	snprintf(base, NAME_MAX + 1, "%s", slash + 1);
	if (realpath(dir, rdir) == NULL) {
		snprintf(why, whylen, "copy to %s: folder %s: %s", dest, dir, strerror(errno));
		return STATUS_COPY_FAILED;
	}
	for (size_t i = 0; i < allow->n; i++) {
		char ra[PATH_MAX];
		if (realpath(allow->v[i], ra) != NULL && inside(ra, rdir))
			return 0;
	}
	snprintf(why, whylen, "copy to %s refused: its folder is %s, outside copy.allow", dest, rdir);
	return STATUS_COPY_REFUSED;
}

/* The bytes of src into fd. 0 or -1 (errno). */
static int
copy_bytes(const char *src, int fd)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in == -1)
		return -1;
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = errno;
			close(in);
			errno = e;
			return r == 0 ? 0 : -1;
		}
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(fd, buf + off, (size_t)(r - off));
			if (w == -1 && errno == EINTR)
				continue;
			if (w == -1) {
				int e = errno;
				close(in);
				errno = e;
				return -1;
			}
			off += w;
		}
	}
}

int
copy_install(const struct conf_strlist *allow, const char *src, const char *dest, mode_t mode,
    uid_t uid, gid_t gid, char *why, size_t whylen)
{
	char rdir[PATH_MAX], base[NAME_MAX + 1], tmp[NAME_MAX + 1];
	if (!copy_dest_ok(dest) || !copy_allowed(allow, dest)) {
		snprintf(why, whylen, "copy to %.200s refused: not a file path under copy.allow", dest);
		return STATUS_COPY_REFUSED;
	}
	int rc = make_parents(allow, dest, uid, gid, why, whylen);
	if (rc == 0)
		rc = resolved_allowed(allow, dest, rdir, base, why, whylen);
	if (rc != 0)
		return rc;
	int dfd = open(rdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		snprintf(why, whylen, "copy to %s: %s: %s", dest, rdir, strerror(errno));
		return STATUS_COPY_FAILED;
	}
	snprintf(tmp, sizeof(tmp), ".%.200s.pgfleet-%ld", base, (long)getpid());
	const char *step = "create";
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		goto fail;
	step = "write";
	if (copy_bytes(src, fd) == -1)
		goto fail;
	step = "chown";
	if (fchown(fd, uid, gid) == -1)
		goto fail;
	step = "chmod";
	if (fchmod(fd, mode & 07777) == -1)
		goto fail;
	step = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	close(fd);
	fd = -1;
	step = "rename";
	if (renameat(dfd, tmp, dfd, base) == -1)
		goto fail;
	(void)fsync(dfd);
	close(dfd);
	return 0;
fail:
	snprintf(why, whylen, "copy to %s: %s: %s", dest, step, strerror(errno));
	if (fd != -1)
		close(fd);
	(void)unlinkat(dfd, tmp, 0);
	close(dfd);
	return STATUS_COPY_FAILED;
}
