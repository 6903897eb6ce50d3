/*
 * fsutil: mkdir -p for the agent's directories and the CLI's pki folder; closing the
 * inherited descriptors of a child before it execs (the agent's scripts, the
 * scheduler's notification command); whether a file already holds given bytes (the
 * worker's spool, rewritten only when a script changed).
 */
#include "common/fsutil.h"

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

void
fsutil_close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	struct rlimit rl;
	int max = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	for (int fd = lowfd; fd < max; fd++)
		close(fd);
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
