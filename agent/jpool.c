/*
 * jpool: pruned journal entries' inodes kept for new entries (jpool.h).
 */
#include "agent/jpool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
jpool_open(struct jpool *p, int journal_dirfd)
{
	memset(p, 0, sizeof(*p));
	p->dirfd = -1;
	if (mkdirat(journal_dirfd, JPOOL_DIR, 0700) == -1 && errno != EEXIST)
		return;
	p->dirfd = openat(journal_dirfd, JPOOL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

void
jpool_close(struct jpool *p)
{
	if (p->dirfd >= 0)
		close(p->dirfd);
	p->dirfd = -1;
}

/* Up to JPOOL_CACHE names of regular files in free/: how many. */
static int
fill(struct jpool *p)
{
	int fd = dup(p->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(d);
	struct dirent *de;
	while (p->n < JPOOL_CACHE && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_type == DT_REG && len < sizeof(p->name[0]))
			memcpy(p->name[p->n++], de->d_name, len + 1);
	}
	closedir(d);
	return p->n;
}

int
jpool_take(struct jpool *p, int journal_dirfd, const char *tmp)
{
	if (p->dirfd < 0)
		return 0;
	for (int looked = 0;; looked = 1) {
		/* another process may have taken a cached name: ENOENT, the next one */
		while (p->n > 0)
			if (renameat(p->dirfd, p->name[--p->n], journal_dirfd, tmp) == 0)
				return 1;
		if (looked)
			return 0;
		if (p->dry > 0) {
			p->dry--;
			return 0;
		}
		if (fill(p) == 0) {
			p->dry = JPOOL_DRY_SKIP;
			return 0;
		}
	}
}

int
jpool_count(const struct jpool *p)
{
	if (p->dirfd < 0)
		return 0;
	int fd = dup(p->dirfd), n = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return JPOOL_MAX; /* unknown: no room */
	}
	rewinddir(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

int
jpool_put(struct jpool *p, int journal_dirfd, const char *name, int *count)
{
	if (p->dirfd < 0 || *count >= JPOOL_MAX)
		return 0;
	if (renameat(journal_dirfd, name, p->dirfd, name) == -1)
		return errno == ENOENT ? 0 : -1;
	(*count)++;
	p->dry = 0; /* there is one now: this process's next take looks */
	/* cut once it is out of the journal: a crash in between leaves a pooled file whole,
	 * which the O_TRUNC of its next use empties */
	int fd = openat(p->dirfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		if (ftruncate(fd, 0) == -1) {
			/* left whole: the O_TRUNC of its next use empties it */
		}
		close(fd);
	}
	return 1;
}
