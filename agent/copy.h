/*
 * copy: a copy-file task's install (Task-Type=CopyFile, docs/protocol.md): a file the agent
 * fetched into its temp dir becomes dest, owned by uid:gid with mode, replacing what was
 * there in one rename, only inside the folders of copy.allow (resolved: a symbolic link
 * out of them is refused). Nothing allocated for the caller.
 */
#ifndef PGFLEET_COPY_H
#define PGFLEET_COPY_H

#include <stddef.h>
#include <sys/types.h>

struct conf_strlist;

/* The destination's syntax: absolute, no "." or ".." part, no "//", no trailing "/", no
 * control character, at most 1024 bytes. 1 or 0. */
int copy_dest_ok(const char *dest);
/* Under one of allow's folders, as written (before anything is resolved). 1 or 0. */
int copy_allowed(const struct conf_strlist *allow, const char *dest);
/*
 * Install src at dest. The folders of dest missing below its copy.allow folder are made
 * first (mode 0755, owned uid:gid), never through a symbolic link. 0; STATUS_COPY_REFUSED
 * (-36) when dest's folder, resolved, is not under a resolved copy.allow folder;
 * STATUS_COPY_FAILED (-37) when it cannot be written (the old file, if any, is left as it
 * was; folders made stay). why says it.
 */
int copy_install(const struct conf_strlist *allow, const char *src, const char *dest, mode_t mode,
    uid_t uid, gid_t gid, char *why, size_t whylen);

#endif
