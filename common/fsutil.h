/*
 * fsutil: small file-system helpers shared by the daemons and the CLI.
 * Nothing here allocates.
 */
#ifndef PGFLEET_FSUTIL_H
#define PGFLEET_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: missing parents 0755, the last one with mode. 0 or -1 (errno). */
int fsutil_mkdirs(const char *path, mode_t mode) __attribute__((warn_unused_result));
/* Close every descriptor from lowfd up (in a child before exec). */
void fsutil_close_from(int lowfd);

#endif
