/*
 * transfer keys: a small table of one-time keys. Linear scans are fine: a
 * worker holds a key per transfer in flight (hundreds), and every lookup
 * compares against all of them in constant time per entry.
 */
#include "transfer/keys.h"

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
	long long expires;
	long long event_id;
	int seq;
	char *path;
	uint64_t size;
	char checksum[TRANSFER_CHECKSUM_MAX];
};

struct transfer_keys {
	struct key_entry *e;
	int n, cap;
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

void
transfer_keys_free(struct transfer_keys *k)
{
	if (k == NULL)
		return;
	for (int i = 0; i < k->n; i++)
		entry_clear(&k->e[i]);
	if (k->e != NULL) {
		OPENSSL_cleanse(k->e, (size_t)k->cap * sizeof(*k->e));
		keys_release(k->e);
	}
	free(k);
}

void
transfer_keys_prune(struct transfer_keys *k)
{
	long long now = k->now(k->now_arg);
	long long keep = k->ttl > TRANSFER_KEY_KEEP_MS ? k->ttl : TRANSFER_KEY_KEEP_MS;
	int j = 0;
	for (int i = 0; i < k->n; i++) {
		if (now >= k->e[i].expires + keep) {
			entry_clear(&k->e[i]);
			continue;
		}
		if (i != j) {
			k->e[j] = k->e[i];
			OPENSSL_cleanse(&k->e[i], sizeof(k->e[i]));
		}
		j++;
	}
	k->n = j;
}

int
transfer_keys_count(const struct transfer_keys *k)
{
	return k->n;
}

/* Grow without realloc, so no copy of a key is left behind in freed memory. */
static int
grow(struct transfer_keys *k)
{
	int cap = k->cap == 0 ? 16 : k->cap * 2;
	struct key_entry *e = keys_alloc((size_t)cap * sizeof(*e));
	if (e == NULL)
		return -1;
	memset(e, 0, (size_t)cap * sizeof(*e));
	if (k->e != NULL) {
		memcpy(e, k->e, (size_t)k->n * sizeof(*e));
		OPENSSL_cleanse(k->e, (size_t)k->cap * sizeof(*k->e));
		keys_release(k->e);
	}
	k->e = e;
	k->cap = cap;
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
	struct key_entry *e = &k->e[k->n++];
	memset(e, 0, sizeof(*e));
	util_hex(raw, sizeof(raw), e->hex);
	OPENSSL_cleanse(raw, sizeof(raw));
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
	for (int i = 0; i < k->n; i++)
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
