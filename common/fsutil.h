/*
 * fsutil: small file-system helpers shared by the daemons and the CLI.
 * Nothing here allocates.
 */
#ifndef PGFLEET_FSUTIL_H
#define PGFLEET_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: missing parents 0755, the last one with mode. 0 or -1 (errno). */
int fsutil_mkdirs(const char *path, mode_t mode) __attribute__((warn_unused_result));
/*
 * 1 when path is a regular file holding exactly the len bytes of buf; 0 when it does not
 * (absent, not a regular file, another size, other bytes, or it could not be read):
 * then the caller writes it.
 */
int fsutil_same_content(const char *path, const void *buf, size_t len);
/*
 * Remove everything below dirfd, never following a symlink, except the entry named
 * keep at the top (NULL: keep nothing); dirfd itself stays open and is not removed.
 */
void fsutil_remove_below(int dirfd, const char *keep);
/*
 * An existing file to write over, so that no inode is made or freed: name in dirfd
 * opened for writing and cut to nothing when it is a regular file with one link owned
 * by uid ((uid_t)-1: by anyone); its fd (O_NONBLOCK set, which a regular file
 * ignores). Else -1: whatever else held the name (a symlink, a FIFO, a directory and
 * what is in it, a file of another owner or with another link) is removed (errno
 * ENOENT when nothing was there). Nothing is read or followed.
 */
int fsutil_reuse_file(int dirfd, const char *name, uid_t uid) __attribute__((warn_unused_result));
/* Close every descriptor from lowfd up (in a child before exec). */
void fsutil_close_from(int lowfd);
/*
 * Close every descriptor from lowfd up but the nkeep ones in keep (negative ones and
 * those below lowfd are ignored): a forked child that keeps a few of its parent's. A
 * few close_range calls, not a close per possible descriptor.
 */
void fsutil_close_except(int lowfd, const int *keep, int nkeep);

#endif
