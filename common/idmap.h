/*
 * idmap: a hash map from positive 64-bit ids (computer ids) to pointers, open
 * addressing with linear probing and backward-shift deletion: no tombstones,
 * so it stays fast after many connects and disconnects. The map owns its
 * table, not the values. idmap_new returns a map freed with idmap_free.
 */
#ifndef PGFLEET_IDMAP_H
#define PGFLEET_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap;

struct idmap *idmap_new(void);
void idmap_free(struct idmap *m);
/* The value of id, or NULL. */
void *idmap_get(const struct idmap *m, int64_t id);
/* Set (replacing; *old gets the value replaced, or NULL). -1 out of memory, id <= 0. */
int idmap_put(struct idmap *m, int64_t id, void *value, void **old) __attribute__((warn_unused_result));
/* Remove id; its value, or NULL. */
void *idmap_del(struct idmap *m, int64_t id);
size_t idmap_count(const struct idmap *m);
/* Walk: *pos starts at 0; returns 1 with *id and *value, 0 at the end. The map must not
 * change during a walk (collect the ids first, then delete). */
int idmap_next(const struct idmap *m, size_t *pos, int64_t *id, void **value);

#endif
