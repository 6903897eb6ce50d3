/*
 * workdir: task directories, and the one each task process keeps (workdir.h).
 */
#include "agent/workdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

static void
spare_name(char *buf, size_t size, long pid)
{
	snprintf(buf, size, WORKDIR_SPARE_PREFIX "%ld", pid);
}

void
workdir_remove(int tempfd, const char *name)
{
	int fd = openat(tempfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		fsutil_remove_below(fd, NULL);
		close(fd);
		(void)unlinkat(tempfd, name, AT_REMOVEDIR);
	} else if (errno != ENOENT) {
		(void)unlinkat(tempfd, name, 0); /* not a directory: a file or a symlink held the name */
	}
}

/* The spare renamed to name when uid owns it: 1; else 0 (the spare, if any, removed). */
static int
take_spare(int tempfd, const char *spare, const char *name, uid_t uid)
{
	struct stat st;
	if (fstatat(tempfd, spare, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (S_ISDIR(st.st_mode) && st.st_uid == uid && renameat(tempfd, spare, tempfd, name) == 0)
		return 1;
	workdir_remove(tempfd, spare);
	return 0;
}

int
workdir_take(int tempfd, const char *name, const char *script, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	char spare[32];
	spare_name(spare, sizeof(spare), (long)getpid());
	workdir_remove(tempfd, name); /* a leftover of an agent that died: the journal says nothing runs it */
	int kept = take_spare(tempfd, spare, name, uid);
	if (!kept && mkdirat(tempfd, name, 0700) == -1) {
		snprintf(err, errlen, "task directory %s: %s", name, strerror(errno));
		return -1;
	}
	int fd = openat(tempfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || (geteuid() == 0 && fchown(fd, uid, gid) == -1) || fchmod(fd, 0700) == -1) {
		snprintf(err, errlen, "task directory %s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		workdir_remove(tempfd, name);
		return -1;
	}
	if (kept)
		fsutil_remove_below(fd, script); /* what the last task left, but a file of the same name */
	return fd;
}

void
workdir_give_back(int tempfd, const char *name, const char *script)
{
	char spare[32];
	spare_name(spare, sizeof(spare), (long)getpid());
	int fd = openat(tempfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		workdir_remove(tempfd, name);
		return;
	}
	/* closed to everyone else first (the script may have opened its directory up), then
	 * the script emptied at once, keeping its name: nothing of it (a rendered secret) stays
	 * on disk after its task; what is not a plain file of one link is removed */
	if (fchmod(fd, 0700) == -1) {
		close(fd);
		workdir_remove(tempfd, name);
		return;
	}
	int sfd = script != NULL ? fsutil_reuse_file(fd, script, (uid_t)-1) : -1;
	if (sfd >= 0)
		close(sfd);
	fsutil_remove_below(fd, sfd >= 0 ? script : NULL);
	close(fd);
	if (renameat(tempfd, name, tempfd, spare) == -1) {
		workdir_remove(tempfd, name);
		workdir_remove(tempfd, spare);
	}
}

void
workdir_drop_spare(int tempfd, long pid)
{
	char spare[32];
	spare_name(spare, sizeof(spare), pid);
	workdir_remove(tempfd, spare);
}

void
workdir_drop_spares(int tempfd)
{
	int fd = dup(tempfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	struct dirent *de;
	size_t n = strlen(WORKDIR_SPARE_PREFIX);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, WORKDIR_SPARE_PREFIX, n) == 0)
			workdir_remove(tempfd, de->d_name);
	closedir(d);
}
