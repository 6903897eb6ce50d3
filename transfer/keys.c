/*
 * transfer keys: a table of one-time keys. Entries are kept in the order they
 * were made (a ring), which is also the order they expire in: pruning takes
 * from the oldest end and stops at the first entry still kept. A key is found
 * through a hash of the key itself (a chained table as large as the ring), and
 * only the entries of its chain are compared, each in constant time: a worker
 * holds a key per transfer of the last minute, 10,000 and more in a fan-out,
 * and a scan of them all per fetch cost more than the fetch. What the lookup's
 * timing can tell is whether some live key shares a hash bucket with the key
 * shown: a few bits of a hash of a 128-bit random secret, asked for over an
 * authenticated connection.
 */
#include "transfer/keys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/clock.h"
#include "common/util.h"

enum key_state { KEY_LIVE, KEY_SPENT };

struct key_entry {
	char hex[TRANSFER_KEY_HEX + 1];
	enum key_state state;
	int next;            /* the next slot in its hash chain, -1 at the end */
	long long expires;
	long long event_id;
	int seq;
	char *path;
	uint64_t size;
	char checksum[TRANSFER_CHECKSUM_MAX];
};

struct transfer_keys {
	struct key_entry *e; /* cap slots, a ring: n entries from slot head, oldest first */
	int *bucket;         /* cap chains' first slots, -1 for none */
	int head, n, cap;    /* cap: 0 or a power of two */
	long long ttl;
	long long (*now)(void *);
	void *now_arg;
};

static void *(*keys_alloc)(size_t) = malloc;
static void (*keys_release)(void *) = free;

void
transfer_keys_set_allocator(void *(*alloc)(size_t), void (*release)(void *))
{
	keys_alloc = alloc != NULL ? alloc : malloc;
	keys_release = release != NULL ? release : free;
}

static long long
mono_ms(void *arg)
{
	(void)arg;
	return clock_mono_ms();
}

struct transfer_keys *
transfer_keys_new(long long ttl_ms)
{
	struct transfer_keys *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->ttl = ttl_ms > 0 ? ttl_ms : TRANSFER_KEY_TTL_MS;
	k->now = mono_ms;
	return k;
}

void
transfer_keys_set_clock(struct transfer_keys *k, long long (*now_ms)(void *), void *arg)
{
	k->now = now_ms != NULL ? now_ms : mono_ms;
	k->now_arg = arg;
}

static void
entry_clear(struct key_entry *e)
{
	free(e->path);
	OPENSSL_cleanse(e, sizeof(*e));
}

/* The i-th entry from the oldest. */
static int
slot_of(const struct transfer_keys *k, int i)
{
	return (k->head + i) & (k->cap - 1);
}

/* The chain of a key (TRANSFER_KEY_HEX lowercase hex characters): FNV-1a. */
static int
bucket_of(const struct transfer_keys *k, const char *hex)
{
	uint64_t h = 14695981039346656037ULL;
	for (int i = 0; i < TRANSFER_KEY_HEX; i++) {
		h ^= (unsigned char)hex[i];
		h *= 1099511628211ULL;
	}
	return (int)(h & (uint64_t)(k->cap - 1));
}

static void
chain_add(struct transfer_keys *k, int slot)
{
	int b = bucket_of(k, k->e[slot].hex);
	k->e[slot].next = k->bucket[b];
	k->bucket[b] = slot;
}

static void
chain_remove(struct transfer_keys *k, int slot)
{
	int *p = &k->bucket[bucket_of(k, k->e[slot].hex)];
	while (*p != -1 && *p != slot)
		p = &k->e[*p].next;
	if (*p == slot)
		*p = k->e[slot].next;
}

void
transfer_keys_free(struct transfer_keys *k)
{
	if (k == NULL)
		return;
	for (int i = 0; i < k->n; i++)
		entry_clear(&k->e[slot_of(k, i)]);
	if (k->e != NULL) {
		OPENSSL_cleanse(k->e, (size_t)k->cap * sizeof(*k->e));
		keys_release(k->e);
	}
	free(k->bucket);
	free(k);
}

void
transfer_keys_prune(struct transfer_keys *k)
{
	long long now = k->now(k->now_arg);
	long long keep = k->ttl > TRANSFER_KEY_KEEP_MS ? k->ttl : TRANSFER_KEY_KEEP_MS;
	/* made in order with one TTL on a monotonic clock: they expire in order too */
	while (k->n > 0 && now >= k->e[k->head].expires + keep) {
		chain_remove(k, k->head);
		entry_clear(&k->e[k->head]);
		k->head = (k->head + 1) & (k->cap - 1);
		k->n--;
	}
}

int
transfer_keys_count(const struct transfer_keys *k)
{
	return k->n;
}

/* Twice the room, the entries moved oldest first to slot 0 and chained again; without
 * realloc, so that no copy of a key is left behind in freed memory. */
static int
grow(struct transfer_keys *k)
{
	int cap = k->cap == 0 ? 16 : k->cap * 2;
	struct key_entry *e = keys_alloc((size_t)cap * sizeof(*e));
	int *bucket = malloc((size_t)cap * sizeof(*bucket));
	if (e == NULL || bucket == NULL) {
		if (e != NULL)
			keys_release(e);
		free(bucket);
		return -1;
	}
	memset(e, 0, (size_t)cap * sizeof(*e));
	for (int i = 0; i < k->n; i++)
		e[i] = k->e[slot_of(k, i)];
	if (k->e != NULL) {
		OPENSSL_cleanse(k->e, (size_t)k->cap * sizeof(*k->e));
		keys_release(k->e);
	}
	free(k->bucket);
	k->e = e;
	k->bucket = bucket;
	k->cap = cap;
	k->head = 0;
	for (int b = 0; b < cap; b++)
		bucket[b] = -1;
	for (int i = 0; i < k->n; i++)
		chain_add(k, i);
	return 0;
}

int
transfer_keys_add(struct transfer_keys *k, long long event_id, int seq, const char *path, uint64_t size,
    const char *checksum, char *key_hex, char *err, size_t errlen)
{
	unsigned char raw[TRANSFER_KEY_HEX / 2];

	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "transfer key: no file path");
		return -1;
	}
	if (checksum == NULL || strlen(checksum) >= TRANSFER_CHECKSUM_MAX) {
		snprintf(err, errlen, "transfer key: bad checksum");
		return -1;
	}
	transfer_keys_prune(k);
	if (k->n == k->cap && grow(k) == -1) {
		snprintf(err, errlen, "transfer key: out of memory");
		return -1;
	}
	char *p = strdup(path);
	if (p == NULL) {
		snprintf(err, errlen, "transfer key: out of memory");
		return -1;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		free(p);
		snprintf(err, errlen, "transfer key: no random bytes");
		return -1;
	}
	int slot = slot_of(k, k->n++);
	struct key_entry *e = &k->e[slot];
	memset(e, 0, sizeof(*e));
	util_hex(raw, sizeof(raw), e->hex);
	OPENSSL_cleanse(raw, sizeof(raw));
	chain_add(k, slot);
	e->state = KEY_LIVE;
	e->expires = k->now(k->now_arg) + k->ttl;
	e->event_id = event_id;
	e->seq = seq;
	e->path = p;
	e->size = size;
	snprintf(e->checksum, sizeof(e->checksum), "%s", checksum);
	memcpy(key_hex, e->hex, TRANSFER_KEY_HEX + 1);
	return 0;
}

int
transfer_keys_take(struct transfer_keys *k, const char *key_hex, long long event_id, int seq,
    struct transfer_key_grant *grant, char *err, size_t errlen)
{
	char want[TRANSFER_KEY_HEX];
	int ok = 1;

	memset(grant, 0, sizeof(*grant));
	if (key_hex == NULL || strlen(key_hex) != TRANSFER_KEY_HEX)
		ok = 0;
	for (int i = 0; ok && i < TRANSFER_KEY_HEX; i++) {
		char c = key_hex[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			ok = 0;
		want[i] = c;
	}
	if (!ok) {
		OPENSSL_cleanse(want, sizeof(want));
		snprintf(err, errlen, "transfer key is malformed");
		return -1;
	}
	transfer_keys_prune(k);
	int found = -1;
	for (int i = k->n > 0 ? k->bucket[bucket_of(k, want)] : -1; i != -1; i = k->e[i].next)
		if (CRYPTO_memcmp(k->e[i].hex, want, TRANSFER_KEY_HEX) == 0)
			found = i;
	OPENSSL_cleanse(want, sizeof(want));
	if (found == -1) {
		snprintf(err, errlen, "transfer key is unknown");
		return -1;
	}
	struct key_entry *e = &k->e[found];
	if (k->now(k->now_arg) >= e->expires) {
		e->state = KEY_SPENT;
		snprintf(err, errlen, "transfer key has expired");
		return -1;
	}
	if (e->state == KEY_SPENT) {
		snprintf(err, errlen, "transfer key was already used");
		return -1;
	}
	e->state = KEY_SPENT;
	if (e->event_id != event_id || e->seq != seq) {
		snprintf(err, errlen, "transfer key belongs to another task");
		return -1;
	}
	grant->path = strdup(e->path);
	if (grant->path == NULL) {
		snprintf(err, errlen, "transfer key: out of memory");
		return -1;
	}
	grant->event_id = e->event_id;
	grant->seq = e->seq;
	grant->size = e->size;
	memcpy(grant->checksum, e->checksum, sizeof(grant->checksum));
	return 0;
}

void
transfer_key_grant_clear(struct transfer_key_grant *g)
{
	if (g == NULL)
		return;
	free(g->path);
	memset(g, 0, sizeof(*g));
}
