/*
 * arena: zeroed memory handed out in blocks and freed all at once, for data that
 * lives and dies together (a YAML tree, a loaded job batch).
 * Who frees what: everything arena_alloc and arena_strndup return belongs to the
 * arena; arena_free wipes every block (a config may hold a password) and frees it.
 * Out of memory is fatal.
 */
#ifndef PGFLEET_ARENA_H
#define PGFLEET_ARENA_H

#include <stddef.h>

struct arena;

/* n zeroed bytes, aligned for any type. *a starts NULL: the first call makes the arena. */
void *arena_alloc(struct arena **a, size_t n);
/* A NUL-terminated copy of s[0..len). */
char *arena_strndup(struct arena **a, const char *s, size_t len);
/* Wipe and free every block; arena_free(NULL) is fine. */
void arena_free(struct arena *a);

#endif
