/* Unit tests for transfer/keys: one-time, expiring, task-bound transfer keys. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "transfer/keys.h"

static char err[256];
static long long fake_now;

static long long
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static struct transfer_keys *
keys_with_clock(long long ttl)
{
	struct transfer_keys *k = transfer_keys_new(ttl);
	ck_assert_ptr_nonnull(k);
	fake_now = 1000000;
	transfer_keys_set_clock(k, fake_clock, NULL);
	return k;
}

static const char *SUM = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

START_TEST(test_transfer_keys_are_32_lowercase_hex_and_distinct)
{
	struct transfer_keys *k = keys_with_clock(1000);
	char a[TRANSFER_KEY_HEX + 1], b[TRANSFER_KEY_HEX + 1];
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/spool/1.sh", 6, SUM, a, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/spool/1.sh", 6, SUM, b, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 32);
	ck_assert_str_ne(a, b);
	transfer_keys_free(k);
}
END_TEST

START_TEST(test_transfer_keys_grant_once_then_refuse_reuse)
{
	struct transfer_keys *k = keys_with_clock(1000);
	char hex[TRANSFER_KEY_HEX + 1];
	struct transfer_key_grant g;
	ck_assert_int_eq(transfer_keys_add(k, 5000001, 2, "/spool/5000001.sh", 42, SUM, hex, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_take(k, hex, 5000001, 2, &g, err, sizeof(err)), 0);
	ck_assert_str_eq(g.path, "/spool/5000001.sh");
	ck_assert_int_eq(g.event_id, 5000001);
	ck_assert_int_eq(g.seq, 2);
	ck_assert_uint_eq(g.size, 42);
	ck_assert_str_eq(g.checksum, SUM);
	transfer_key_grant_clear(&g);
	ck_assert_ptr_null(g.path);
	ck_assert_int_eq(transfer_keys_take(k, hex, 5000001, 2, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key was already used");
	ck_assert_ptr_null(g.path);
	transfer_keys_free(k);
}
END_TEST

START_TEST(test_transfer_keys_accept_uppercase_hex)
{
	struct transfer_keys *k = keys_with_clock(1000);
	char hex[TRANSFER_KEY_HEX + 1];
	struct transfer_key_grant g;
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, hex, err, sizeof(err)), 0);
	for (char *p = hex; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	ck_assert_int_eq(transfer_keys_take(k, hex, 1, 0, &g, err, sizeof(err)), 0);
	transfer_key_grant_clear(&g);
	transfer_keys_free(k);
}
END_TEST

START_TEST(test_transfer_keys_expire_after_ttl)
{
	struct transfer_keys *k = keys_with_clock(30000);
	char a[TRANSFER_KEY_HEX + 1], b[TRANSFER_KEY_HEX + 1];
	struct transfer_key_grant g;
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, a, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, b, err, sizeof(err)), 0);
	fake_now += 29999;
	ck_assert_int_eq(transfer_keys_take(k, a, 1, 0, &g, err, sizeof(err)), 0);
	transfer_key_grant_clear(&g);
	fake_now += 1;
	ck_assert_int_eq(transfer_keys_take(k, b, 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key has expired");
	ck_assert_int_eq(transfer_keys_take(k, b, 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key has expired");
	transfer_keys_free(k);
}
END_TEST

START_TEST(test_transfer_keys_default_ttl_is_30s)
{
	struct transfer_keys *k = keys_with_clock(0);
	char a[TRANSFER_KEY_HEX + 1], b[TRANSFER_KEY_HEX + 1];
	struct transfer_key_grant g;
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, a, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, b, err, sizeof(err)), 0);
	fake_now += TRANSFER_KEY_TTL_MS - 1;
	ck_assert_int_eq(transfer_keys_take(k, a, 1, 0, &g, err, sizeof(err)), 0);
	transfer_key_grant_clear(&g);
	fake_now += 1;
	ck_assert_int_eq(transfer_keys_take(k, b, 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key has expired");
	transfer_keys_free(k);
}
END_TEST

START_TEST(test_transfer_keys_bound_to_event_and_seq)
{
	struct transfer_keys *k = keys_with_clock(1000);
	char a[TRANSFER_KEY_HEX + 1], b[TRANSFER_KEY_HEX + 1];
	struct transfer_key_grant g;
	ck_assert_int_eq(transfer_keys_add(k, 10, 1, "/f", 1, SUM, a, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_add(k, 10, 1, "/f", 1, SUM, b, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_take(k, a, 11, 1, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key belongs to another task");
	/* a key shown for the wrong task is spent: it leaked */
	ck_assert_int_eq(transfer_keys_take(k, a, 10, 1, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key was already used");
	ck_assert_int_eq(transfer_keys_take(k, b, 10, 2, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key belongs to another task");
	transfer_keys_free(k);
}
END_TEST

START_TEST(test_transfer_keys_refuse_unknown_and_malformed_keys)
{
	struct transfer_keys *k = keys_with_clock(1000);
	char a[TRANSFER_KEY_HEX + 1];
	struct transfer_key_grant g;
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, a, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_take(k, "00000000000000000000000000000000", 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key is unknown");
	ck_assert_int_eq(transfer_keys_take(k, "404d6", 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key is malformed");
	ck_assert_int_eq(transfer_keys_take(k, "zz000000000000000000000000000000", 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key is malformed");
	ck_assert_int_eq(transfer_keys_take(k, NULL, 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key is malformed");
	/* the real key is still good after those attempts */
	ck_assert_int_eq(transfer_keys_take(k, a, 1, 0, &g, err, sizeof(err)), 0);
	transfer_key_grant_clear(&g);
	transfer_keys_free(k);
}
END_TEST

START_TEST(test_transfer_keys_add_refuses_bad_arguments)
{
	struct transfer_keys *k = keys_with_clock(1000);
	char a[TRANSFER_KEY_HEX + 1];
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "", 1, SUM, a, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key: no file path");
	char longsum[100];
	memset(longsum, 'a', sizeof(longsum) - 1);
	longsum[sizeof(longsum) - 1] = '\0';
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, longsum, a, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key: bad checksum");
	ck_assert_int_eq(transfer_keys_count(k), 0);
	transfer_keys_free(k);
}
END_TEST

START_TEST(test_transfer_keys_prune_drops_old_entries)
{
	struct transfer_keys *k = keys_with_clock(1000);
	char a[TRANSFER_KEY_HEX + 1], b[TRANSFER_KEY_HEX + 1];
	struct transfer_key_grant g;
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, a, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_take(k, a, 1, 0, &g, err, sizeof(err)), 0);
	transfer_key_grant_clear(&g);
	fake_now += 5000;
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, b, err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_count(k), 2);
	/* a: expiry + TRANSFER_KEY_KEEP_MS passed; b: expired, still told apart */
	fake_now += TRANSFER_KEY_KEEP_MS - 4000;
	transfer_keys_prune(k);
	ck_assert_int_eq(transfer_keys_count(k), 1);
	ck_assert_int_eq(transfer_keys_take(k, a, 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key is unknown");
	ck_assert_int_eq(transfer_keys_take(k, b, 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key has expired");
	fake_now += 5000;
	transfer_keys_prune(k);
	ck_assert_int_eq(transfer_keys_count(k), 0);
	transfer_keys_free(k);
}
END_TEST

/* The table as a ring that wraps and grows while wrapped, and thousands of keys: each found
 * by its own chain, once, for its own task; pruned from the oldest end only. */
START_TEST(test_transfer_keys_ring_wraps_grows_and_finds_every_key)
{
	enum { MANY = 5000 };
	static char keys[MANY][TRANSFER_KEY_HEX + 1];
	struct transfer_keys *k = keys_with_clock(1000); /* a 1 s TTL: kept 60 s after it */
	struct transfer_key_grant g;
	long long t0 = fake_now, keep = TRANSFER_KEY_KEEP_MS;
	/* 20 made at t0, 20 at t0 + 10 s: the first 20 go, the ring's head moves to slot 20 */
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(transfer_keys_add(k, i, 0, "/f", 1, SUM, keys[i], err, sizeof(err)), 0);
	fake_now = t0 + 10000;
	for (int i = 20; i < 40; i++)
		ck_assert_int_eq(transfer_keys_add(k, i, 0, "/f", 1, SUM, keys[i], err, sizeof(err)), 0);
	fake_now = t0 + 1000 + keep;
	transfer_keys_prune(k);
	ck_assert_int_eq(transfer_keys_count(k), 20);
	/* 30 more: past slot 63 of the 64 the table has, so they wrap, then it grows wrapped */
	for (int i = 40; i < 70; i++)
		ck_assert_int_eq(transfer_keys_add(k, i, 1, "/f", 1, SUM, keys[i], err, sizeof(err)), 0);
	fake_now += 500;
	for (int i = 70; i < MANY; i++)
		ck_assert_int_eq(transfer_keys_add(k, i, 2, "/f", 1, SUM, keys[i], err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_count(k), MANY - 20);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(transfer_keys_take(k, keys[i], i, 0, &g, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "transfer key is unknown");
	}
	for (int i = 20; i < 40; i++) {
		ck_assert_int_eq(transfer_keys_take(k, keys[i], i, 0, &g, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "transfer key has expired");
	}
	/* newest first, each once; the key of another task is refused and spent */
	for (int i = MANY - 1; i >= 40; i--) {
		int seq = i < 70 ? 1 : 2;
		if (i % 1000 == 7) {
			ck_assert_int_eq(transfer_keys_take(k, keys[i], i + 1, seq, &g, err, sizeof(err)), -1);
			ck_assert_str_eq(err, "transfer key belongs to another task");
			continue;
		}
		ck_assert_int_eq(transfer_keys_take(k, keys[i], i, seq, &g, err, sizeof(err)), 0);
		ck_assert_int_eq(g.event_id, i);
		ck_assert_int_eq(g.seq, seq);
		transfer_key_grant_clear(&g);
		ck_assert_int_eq(transfer_keys_take(k, keys[i], i, seq, &g, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "transfer key was already used");
	}
	ck_assert_int_eq(transfer_keys_take(k, "ffffffffffffffffffffffffffffffff", 1, 0, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key is unknown");
	/* pruned oldest first: 20..39, then 40..69, then the rest */
	fake_now = t0 + 11000 + keep - 1;
	transfer_keys_prune(k);
	ck_assert_int_eq(transfer_keys_count(k), MANY - 20);
	fake_now += 1;
	transfer_keys_prune(k);
	ck_assert_int_eq(transfer_keys_count(k), MANY - 40);
	fake_now = t0 + 2000 + 2 * keep;
	transfer_keys_prune(k);
	ck_assert_int_eq(transfer_keys_count(k), MANY - 70);
	ck_assert_int_eq(transfer_keys_take(k, keys[MANY - 1], MANY - 1, 2, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "transfer key has expired");
	fake_now += 500;
	transfer_keys_prune(k);
	ck_assert_int_eq(transfer_keys_count(k), 0);
	/* empty again, and used again */
	ck_assert_int_eq(transfer_keys_add(k, 1, 0, "/f", 1, SUM, keys[0], err, sizeof(err)), 0);
	ck_assert_int_eq(transfer_keys_take(k, keys[0], 1, 0, &g, err, sizeof(err)), 0);
	transfer_key_grant_clear(&g);
	transfer_keys_free(k);
}
END_TEST

/* An allocator that checks, at release, that the block holds none of the keys handed out. */
#define MAXSEEN 64
static char seen[MAXSEEN][TRANSFER_KEY_HEX + 1];
static int nseen, releases, leaked_secret;

static void *
spy_alloc(size_t n)
{
	size_t *p = malloc(sizeof(size_t) * 2 + n);
	if (p == NULL)
		return NULL;
	p[0] = n;
	return p + 2;
}

static void
spy_release(void *ptr)
{
	if (ptr == NULL)
		return;
	size_t *p = (size_t *)ptr - 2;
	for (int i = 0; i < nseen; i++)
		if (memmem(ptr, p[0], seen[i], TRANSFER_KEY_HEX) != NULL)
			leaked_secret = 1;
	releases++;
	free(p);
}

START_TEST(test_transfer_keys_wiped_on_free_and_growth)
{
	nseen = releases = leaked_secret = 0;
	transfer_keys_set_allocator(spy_alloc, spy_release);
	struct transfer_keys *k = keys_with_clock(1000);
	/* past the first table of 16: the old table is released when it grows */
	for (int i = 0; i < 40; i++) {
		ck_assert_int_eq(transfer_keys_add(k, i, 0, "/f", 1, SUM, seen[nseen], err, sizeof(err)), 0);
		nseen++;
	}
	ck_assert_int_ge(releases, 2);
	ck_assert_int_eq(leaked_secret, 0);
	transfer_keys_free(k);
	ck_assert_int_ge(releases, 3);
	ck_assert_int_eq(leaked_secret, 0);
	transfer_keys_set_allocator(NULL, NULL);
}
END_TEST

START_TEST(test_transfer_keys_spy_detects_unwiped_memory)
{
	/* the spy itself works: a block still holding a key is caught */
	nseen = releases = leaked_secret = 0;
	memcpy(seen[nseen++], "0123456789abcdef0123456789abcdef", TRANSFER_KEY_HEX + 1);
	char *b = spy_alloc(64);
	memset(b, 0, 64);
	memcpy(b + 10, seen[0], TRANSFER_KEY_HEX);
	spy_release(b);
	ck_assert_int_eq(leaked_secret, 1);
}
END_TEST

START_TEST(test_transfer_keys_free_null_is_fine)
{
	transfer_keys_free(NULL);
	transfer_key_grant_clear(NULL);
}
END_TEST

Suite *
transfer_keys_suite(void)
{
	Suite *s = suite_create("transfer_keys");
	TCase *tc = tcase_create("keys");
	tcase_add_test(tc, test_transfer_keys_are_32_lowercase_hex_and_distinct);
	tcase_add_test(tc, test_transfer_keys_grant_once_then_refuse_reuse);
	tcase_add_test(tc, test_transfer_keys_accept_uppercase_hex);
	tcase_add_test(tc, test_transfer_keys_expire_after_ttl);
	tcase_add_test(tc, test_transfer_keys_default_ttl_is_30s);
	tcase_add_test(tc, test_transfer_keys_bound_to_event_and_seq);
	tcase_add_test(tc, test_transfer_keys_refuse_unknown_and_malformed_keys);
	tcase_add_test(tc, test_transfer_keys_add_refuses_bad_arguments);
	tcase_add_test(tc, test_transfer_keys_prune_drops_old_entries);
	tcase_add_test(tc, test_transfer_keys_ring_wraps_grows_and_finds_every_key);
	tcase_add_test(tc, test_transfer_keys_wiped_on_free_and_growth);
	tcase_add_test(tc, test_transfer_keys_spy_detects_unwiped_memory);
	tcase_add_test(tc, test_transfer_keys_free_null_is_fine);
	suite_add_tcase(s, tc);
	return s;
}
