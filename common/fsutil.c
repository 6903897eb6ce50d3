/*
 * fsutil: mkdir -p for the agent's directories and the CLI's pki folder; closing the
 * inherited descriptors of a child before it execs (the agent's scripts, the
 * scheduler's notification command); whether a file already holds given bytes (the
 * worker's spool, rewritten only when a script changed); emptying a directory and
 * writing over a kept file (the agent's task directories, kept from task to task).
 */
#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int
fsutil_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(buf, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Linux's own ceiling on descriptors (fs.nr_open's default) */
#define FD_CEILING (1L << 20)

/* Close lo..hi (hi: INT_MAX for all above lo): close_range, else one by one up to the
 * descriptor limit (a kernel older than 5.9). */
static void
close_span(int lo, int hi)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lo, hi == INT_MAX ? ~0U : (unsigned)hi, 0) == 0)
		return;
#endif
	struct rlimit rl;
	long max = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		max = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)FD_CEILING ? FD_CEILING :
		    (long)rl.rlim_cur;
	if (max > (long)hi + 1)
		max = (long)hi + 1;
	for (long fd = lo; fd < max; fd++)
		close((int)fd);
}

void
fsutil_close_from(int lowfd)
{
	close_span(lowfd, INT_MAX);
}

void
fsutil_close_except(int lowfd, const int *keep, int nkeep)
{
	int next = lowfd;
	for (;;) {
		/* the lowest kept descriptor at or above next */
		int k = -1;
		for (int i = 0; i < nkeep; i++)
			if (keep[i] >= next && (k == -1 || keep[i] < k))
				k = keep[i];
		if (k == -1)
			break;
		if (k > next)
			close_span(next, k - 1);
		if (k == INT_MAX)
			return;
		next = k + 1;
	}
	close_span(next, INT_MAX);
}

int
fsutil_same_content(const char *path, const void *buf, size_t len)
{
	struct stat st;
	char chunk[16384];
	const char *want = buf;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), same = 0;
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
		goto out;
	size_t off = 0;
	while (off < len) {
		size_t want_n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);
		ssize_t n = read(fd, chunk, want_n);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || memcmp(chunk, want + off, (size_t)n) != 0)
			goto out;
		off += (size_t)n;
	}
	/* nothing after the bytes compared: the file did not grow while it was read */
	same = read(fd, chunk, 1) == 0;
out:
	close(fd);
	return same;
}

void
fsutil_remove_below(int dirfd, const char *keep)
{
	int fd = dup(dirfd); /* closedir closes its own descriptor: the caller keeps dirfd */
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d); /* the copy shares dirfd's offset */
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (keep != NULL && strcmp(de->d_name, keep) == 0))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			continue;
		int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			fsutil_remove_below(sub, NULL);
			close(sub);
			(void)unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

int
fsutil_reuse_file(int dirfd, const char *name, uid_t uid)
{
	/* O_NONBLOCK: a FIFO put there must not hang the open; O_NOFOLLOW: nor a symlink lead out */
	int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return -1;
	struct stat st;
	/* O_NONBLOCK stays set: it means nothing for a regular file. An empty file is not cut
	 * again: on ext4 a cut to nothing makes the next close write the new bytes out at once
	 * (auto_da_alloc), a disk flush per task when the script's file was emptied after its
	 * last task */
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    (uid == (uid_t)-1 || st.st_uid == uid) && (st.st_size == 0 || ftruncate(fd, 0) == 0))
		return fd;
	if (fd >= 0)
		close(fd);
	if (unlinkat(dirfd, name, 0) == -1 && errno == EISDIR) {
		int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			fsutil_remove_below(sub, NULL);
			close(sub);
		}
		(void)unlinkat(dirfd, name, AT_REMOVEDIR);
	}
	errno = EEXIST;
	return -1;
}
