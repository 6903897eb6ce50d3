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
/* Close every descriptor from lowfd up (in a child before exec). */
void fsutil_close_from(int lowfd);

#endif
