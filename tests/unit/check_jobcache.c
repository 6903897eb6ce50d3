/*
 * Unit tests for worker/jobcache: a fan-out shares one definition, held entries
 * stay, unused ones are kept up to a count (least recently used out) and
 * dropped once idle; a copy-file task's destination is part of the definition
 * (and freed with it: valgrind).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "worker/jobcache.h"

/* n tasks with seq 0.. and a script each, as the loader makes them. */
static struct job_task *
tasks(int n)
{
	struct job_task *t = calloc((size_t)n + 1, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < n; i++) {
		t[i].seq = i;
		t[i].script = strdup("true");
		t[i].success = calloc(1, sizeof(int));
		t[i].nsuccess = 1;
	}
	return t;
}

START_TEST(test_jobcache_fan_out_shares_one_definition)
{
	struct jobcache *c = jobcache_new(4, 60000);
	ck_assert_ptr_null(jobcache_get(c, 7, 1, 0));
	const struct jobdef *d = jobcache_put(c, 7, 1, tasks(2), 2, 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->ntasks, 2);
	ck_assert_str_eq(d->tasks[1].script, "true");
	/* 1,000 sessions of the same job: one entry */
	const struct jobdef *held[1000];
	for (int i = 0; i < 1000; i++) {
		held[i] = jobcache_get(c, 7, 1, i);
		ck_assert_ptr_eq(held[i], d);
	}
	ck_assert_int_eq(jobcache_size(c), 1);
	ck_assert_int_eq(jobcache_unused(c), 0);
	/* another version is another definition */
	ck_assert_ptr_null(jobcache_get(c, 7, 2, 0));
	ck_assert_ptr_null(jobcache_get(c, 8, 1, 0));
	for (int i = 0; i < 1000; i++)
		jobcache_release(c, held[i], 1000);
	jobcache_release(c, d, 1000);
	ck_assert_int_eq(jobcache_unused(c), 1);
	ck_assert_ptr_eq(jobcache_get(c, 7, 1, 2000), d);
	jobcache_release(c, d, 2000);
	jobcache_release(c, NULL, 2000);
	jobcache_free(c);
}
END_TEST

START_TEST(test_jobcache_keeps_held_entries_and_drops_lru_unused)
{
	struct jobcache *c = jobcache_new(2, 60000);
	const struct jobdef *a = jobcache_put(c, 1, 1, tasks(1), 1, 10);
	const struct jobdef *b = jobcache_put(c, 2, 1, tasks(1), 1, 20);
	const struct jobdef *d = jobcache_put(c, 3, 1, tasks(1), 1, 30);
	const struct jobdef *e = jobcache_put(c, 4, 1, tasks(1), 1, 40);
	ck_assert_int_eq(jobcache_size(c), 4); /* all held: none may go */
	jobcache_release(c, b, 50);
	jobcache_release(c, a, 60);
	jobcache_release(c, d, 70); /* three unused, two kept: b (released first) goes */
	ck_assert_int_eq(jobcache_size(c), 3);
	ck_assert_int_eq(jobcache_unused(c), 2);
	ck_assert_ptr_null(jobcache_get(c, 2, 1, 80));
	const struct jobdef *a2 = jobcache_get(c, 1, 1, 80);
	ck_assert_ptr_eq(a2, a);
	jobcache_release(c, a2, 90);
	jobcache_release(c, e, 100); /* d is now the least recently used */
	ck_assert_ptr_null(jobcache_get(c, 3, 1, 110));
	ck_assert_int_eq(jobcache_size(c), 2);
	jobcache_free(c);
}
END_TEST

START_TEST(test_jobcache_drops_unused_entries_once_idle)
{
	struct jobcache *c = jobcache_new(8, 1000);
	const struct jobdef *a = jobcache_put(c, 1, 1, tasks(3), 3, 0);
	/* held, it never goes idle */
	ck_assert_ptr_eq(jobcache_get(c, 1, 1, 5000), a);
	jobcache_release(c, a, 5000);
	jobcache_release(c, a, 5000);
	ck_assert_int_eq(jobcache_unused(c), 1);
	ck_assert_ptr_eq(jobcache_get(c, 1, 1, 5999), a);
	jobcache_release(c, a, 6000);
	/* unused for idle_ms: read again (a version edited by hand is seen) */
	ck_assert_ptr_null(jobcache_get(c, 1, 1, 7000));
	ck_assert_int_eq(jobcache_size(c), 0);
	jobcache_free(c);
}
END_TEST

START_TEST(test_jobcache_second_load_of_a_held_version_keeps_the_first)
{
	struct jobcache *c = jobcache_new(8, 60000);
	const struct jobdef *a = jobcache_put(c, 1, 1, tasks(1), 1, 0);
	const struct jobdef *b = jobcache_put(c, 1, 1, tasks(2), 2, 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(b->ntasks, 1);
	ck_assert_int_eq(jobcache_size(c), 1);
	jobcache_release(c, a, 1);
	jobcache_release(c, b, 1);
	/* unused: a new load replaces it */
	const struct jobdef *d = jobcache_put(c, 1, 1, tasks(2), 2, 2);
	ck_assert_int_eq(d->ntasks, 2);
	ck_assert_int_eq(jobcache_size(c), 1);
	/* a version without tasks is a definition too (its events end done) */
	const struct jobdef *z = jobcache_put(c, 9, 1, NULL, 0, 3);
	ck_assert_ptr_nonnull(z);
	ck_assert_int_eq(z->ntasks, 0);
	jobcache_free(c); /* frees held entries too */
}
END_TEST

START_TEST(test_jobcache_keeps_a_copy_tasks_type_destination_and_retries)
{
	struct jobcache *c = jobcache_new(1, 60000);
	struct job_task *t = tasks(2);
	t[1].copy = 1;
	t[1].copy_dest = strdup("/etc/motd");
	t[1].copy_mode = 0644;
	t[0].retry_count = 3;
	const struct jobdef *d = jobcache_put(c, 9, 4, t, 2, 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->tasks[0].copy, 0);
	ck_assert_ptr_null(d->tasks[0].copy_dest);
	ck_assert_int_eq(d->tasks[0].retry_count, 3);
	ck_assert_int_eq(d->tasks[1].copy, 1);
	ck_assert_str_eq(d->tasks[1].copy_dest, "/etc/motd");
	ck_assert_int_eq(d->tasks[1].copy_mode, 0644);
	/* loaded twice while held: the second copy is freed, the first kept */
	struct job_task *again = tasks(2);
	again[1].copy_dest = strdup("/etc/other");
	ck_assert_ptr_eq(jobcache_put(c, 9, 4, again, 2, 1), d);
	ck_assert_str_eq(d->tasks[1].copy_dest, "/etc/motd");
	jobcache_release(c, d, 2);
	jobcache_release(c, d, 2);
	jobcache_free(c);
}
END_TEST

Suite *
jobcache_suite(void)
{
	Suite *s = suite_create("jobcache");
	TCase *tc = tcase_create("cache");
	tcase_add_test(tc, test_jobcache_fan_out_shares_one_definition);
	tcase_add_test(tc, test_jobcache_keeps_held_entries_and_drops_lru_unused);
	tcase_add_test(tc, test_jobcache_drops_unused_entries_once_idle);
	tcase_add_test(tc, test_jobcache_second_load_of_a_held_version_keeps_the_first);
	tcase_add_test(tc, test_jobcache_keeps_a_copy_tasks_type_destination_and_retries);
	suite_add_tcase(s, tc);
	return s;
}
