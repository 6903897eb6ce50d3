/*
 * workdir: a task's directory, temp_dir/task-<event>-<key>, owned by its run-as
 * user, and the one a task process keeps from one task to the next
 * (temp_dir/spare-<pid>, with the last script's file in it, emptied): a task run
 * by the same user as the one before it in that process makes and frees no inode
 * for its directory and its script (kept emptied between tasks). On ext4 without a
 * journal every inode freed is skipped, at a buffer lookup each, by every inode made
 * in the next minute (six while its inode table block is not written back: the
 * kernel's ialloc.c): with a directory and a script made and freed per task, the
 * files were the agent's dearest work. What another user held is never handed on: a spare of another
 * owner is removed and a new directory made, as before.
 */
#ifndef PGFLEET_WORKDIR_H
#define PGFLEET_WORKDIR_H

#include <stddef.h>
#include <sys/types.h>

#define WORKDIR_SPARE_PREFIX "spare-"  /* temp_dir/spare-<pid>: a task process's kept directory */

/*
 * temp_dir/name (tempfd) ready for a task run as uid:gid whose file will be
 * script (a base name): the calling process's spare directory renamed to it when
 * uid owns it, emptied but for a file named script (the last task's, emptied, to
 * be written over: fsutil_reuse_file), else a new one (whatever held the name, or
 * the spare, removed first). Mode 0700, owned by uid:gid when the agent is root.
 * Its fd, or -1 with err.
 */
int workdir_take(int tempfd, const char *name, const char *script, uid_t uid, gid_t gid,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * The task in temp_dir/name ended: its file script (a base name, or NULL) is
 * emptied and kept under its name (no script outlives its task on disk), the
 * rest removed, and the directory renamed back to the calling process's spare;
 * removed whole when that cannot be done.
 */
void workdir_give_back(int tempfd, const char *name, const char *script);
/* Remove temp_dir/name and everything in it (never following a symlink); quiet when missing. */
void workdir_remove(int tempfd, const char *name);
/* Remove the spare directory of task process pid (it exited). */
void workdir_drop_spare(int tempfd, long pid);
/* Remove every spare directory in temp_dir (the agent starts: no task process is left). */
void workdir_drop_spares(int tempfd);

#endif
