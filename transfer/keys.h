/*
 * transfer keys: the one-time keys of the file-transfer channel. Each is 128
 * random bits (32 hex characters), bound to (event, task sequence) and to a
 * file (path, size, sha256), single use, and expires after a TTL.
 * The store owns its entries and wipes every secret before freeing it;
 * transfer_keys_take copies what the caller needs into its own struct.
 */
#ifndef PGFLEET_TRANSFER_KEYS_H
#define PGFLEET_TRANSFER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define TRANSFER_KEY_HEX 32            /* characters of a key */
#define TRANSFER_KEY_TTL_MS 30000      /* default lifetime */
#define TRANSFER_KEY_KEEP_MS 60000     /* spent or expired keys kept at least this long, to name the refusal */
#define TRANSFER_CHECKSUM_MAX 72       /* "sha256:" + 64 hex + NUL */

struct transfer_keys;

/* What a key grants: filled by transfer_keys_take; path is malloc'd (transfer_key_grant_clear frees it). */
struct transfer_key_grant {
	long long event_id;
	int seq;
	char *path;
	uint64_t size;
	char checksum[TRANSFER_CHECKSUM_MAX];
};

/* ttl_ms <= 0 means TRANSFER_KEY_TTL_MS. NULL when out of memory. */
struct transfer_keys *transfer_keys_new(long long ttl_ms);
void transfer_keys_free(struct transfer_keys *k);
/* Tests: a clock in ms (default CLOCK_MONOTONIC). */
void transfer_keys_set_clock(struct transfer_keys *k, long long (*now_ms)(void *), void *arg);
/* Tests: the allocator of the store's entry table (to check that freed memory holds no key). */
void transfer_keys_set_allocator(void *(*alloc)(size_t), void (*release)(void *));

/*
 * A new key for (event_id, seq) granting path (size bytes, checksum
 * "sha256:<hex>"); the key is written to key_hex (TRANSFER_KEY_HEX + 1 bytes).
 * 0, or -1 with the reason in err.
 */
int transfer_keys_add(struct transfer_keys *k, long long event_id, int seq, const char *path, uint64_t size,
    const char *checksum, char *key_hex, char *err, size_t errlen);
/*
 * Use a key presented by a peer for (event_id, seq). Compared in constant
 * time. A key is spent by its first use, right or wrong task. Refusals:
 * "transfer key is malformed", "transfer key is unknown", "transfer key was
 * already used", "transfer key has expired", "transfer key belongs to another
 * task". 0 with *grant filled, or -1 with the reason in err.
 */
int transfer_keys_take(struct transfer_keys *k, const char *key_hex, long long event_id, int seq,
    struct transfer_key_grant *grant, char *err, size_t errlen);
void transfer_key_grant_clear(struct transfer_key_grant *g);
/*
 * Drop entries past their expiry plus max(TTL, TRANSFER_KEY_KEEP_MS): until
 * then a spent or expired key is refused by name rather than as "unknown".
 */
void transfer_keys_prune(struct transfer_keys *k);
/* Entries held, live or spent (tests, stats). */
int transfer_keys_count(const struct transfer_keys *k);

#endif
