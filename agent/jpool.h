/*
 * jpool: the inodes of pruned journal entries, kept for new ones. The weekly prune
 * renames an old entry file into the journal's free/ folder (cut to nothing) instead of
 * freeing it, up to JPOOL_MAX files; a new entry's temporary file is such a file renamed
 * back when there is one. On a long-running agent a task then makes and frees no inode
 * in the journal either: on ext4 without a journal, an inode freed is stepped over by
 * every inode made in the next minutes (agent/workdir.h). Used by agent/journal.c only.
 * Nothing here is needed for correctness: with no pool, files are made and freed as
 * before.
 */
#ifndef PGFLEET_JPOOL_H
#define PGFLEET_JPOOL_H

#define JPOOL_DIR "free"
#define JPOOL_MAX 1024   /* files kept in free/ at most */
#define JPOOL_CACHE 32   /* names a process reads from free/ at a time */
#define JPOOL_DRY_SKIP 64 /* takes that do not look again after free/ was found empty */

struct jpool {
	int dirfd;                 /* free/, or -1: no pool */
	int n;                     /* names cached, from the end of name[] */
	int dry;                   /* takes left that skip the look */
	char name[JPOOL_CACHE][64];
};

/* free/ in the journal's folder, made if missing; a pool with no folder (-1) if it cannot be. */
void jpool_open(struct jpool *p, int journal_dirfd);
void jpool_close(struct jpool *p);
/*
 * Rename a pooled file to tmp in the journal's folder, so that the O_CREAT that follows
 * opens an existing inode: 1 when one was, else 0 (the caller makes a new file).
 */
int jpool_take(struct jpool *p, int journal_dirfd, const char *tmp);
/* Files in free/ now (before a prune). */
int jpool_count(const struct jpool *p);
/*
 * Move the journal's file name into free/ and cut it to nothing: 1 when moved (the name
 * is gone from the journal's folder), 0 when the pool has no room or folder, -1 with
 * errno when the rename failed for another reason than ENOENT (the caller unlinks).
 */
int jpool_put(struct jpool *p, int journal_dirfd, const char *name, int *count);

#endif
