/*
 * arena: blocks of ARENA_BLOCK bytes; a request larger than a quarter block gets a
 * block of its own, kept behind the current one so small requests still fill it.
 */
#include "common/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"

#define ARENA_BLOCK (64 * 1024)
#define ARENA_HDR ((sizeof(struct arena) + 15) & ~(size_t)15)

struct arena {
	struct arena *next;
	size_t used, size;
};

/* A new block of size bytes, linked in front of *a or, when big, behind it. */
static struct arena *
block_new(struct arena **a, size_t size)
{
	struct arena *blk = malloc(ARENA_HDR + size);
	if (blk == NULL)
		fatal("arena: malloc %zu bytes", ARENA_HDR + size);
	blk->used = 0;
	blk->size = size;
	if (*a != NULL && size != ARENA_BLOCK) {
		blk->next = (*a)->next;
		(*a)->next = blk;
	} else {
		blk->next = *a;
		*a = blk;
	}
	return blk;
}

void *
arena_alloc(struct arena **a, size_t n)
{
	struct arena *blk;

	if (n > SIZE_MAX - ARENA_HDR - 16)
		fatalx("arena: %zu bytes asked", n);
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (*a != NULL && (*a)->size - (*a)->used >= n)
		blk = *a;
	else
		blk = block_new(a, n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK);
	void *p = (char *)blk + ARENA_HDR + blk->used;
	blk->used += n;
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena **a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void
arena_free(struct arena *a)
{
	while (a != NULL) {
		struct arena *next = a->next;
		OPENSSL_cleanse((char *)a + ARENA_HDR, a->used);
		free(a);
		a = next;
	}
}
