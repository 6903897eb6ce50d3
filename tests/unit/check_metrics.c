/* Unit tests for common/metrics: shared counters across fork, histograms, the
 * per-process session gauge, a task's timeline, the Prometheus text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"

static char *
render(void)
{
	static char *buf;
	size_t len;
	free(buf);
	buf = NULL;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(metrics_write(f), 0);
	fclose(f);
	return buf;
}

static void
setup(void)
{
	ck_assert_int_eq(metrics_init(), 0);
}

static void
teardown(void)
{
	metrics_free();
}

START_TEST(test_metrics_off_before_init_is_a_no_op)
{
	metrics_free();
	metrics_add(MC_EVENTS_CLAIMED, 5);
	metrics_observe(MH_CLAIM, 0.1);
	metrics_sessions(1);
	ck_assert_int_eq(metrics_counter(MC_EVENTS_CLAIMED), 0);
	ck_assert_int_eq(metrics_init(), 0);
}
END_TEST

START_TEST(test_metrics_counters_survive_a_forked_writer)
{
	metrics_add(MC_EVENTS_CLAIMED, 2);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		metrics_add(MC_EVENTS_CLAIMED, 3);
		metrics_add(MC_TRANSFER_BYTES, 1000);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(metrics_counter(MC_EVENTS_CLAIMED), 5);
	char *t = render();
	ck_assert_ptr_nonnull(strstr(t, "# TYPE pgfleet_events_claimed_total counter\n"
	    "pgfleet_events_claimed_total 5\n"));
	ck_assert_ptr_nonnull(strstr(t, "\npgfleet_transfer_bytes_total 1000\n"));
}
END_TEST

START_TEST(test_metrics_histogram_buckets_are_cumulative)
{
	metrics_observe(MH_CLAIM_BATCH, 1);
	metrics_observe(MH_CLAIM_BATCH, 7);
	metrics_observe(MH_CLAIM_BATCH, 7);
	metrics_observe(MH_CLAIM_BATCH, 5000);
	char *t = render();
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_claim_batch_size_bucket{le=\"1\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_claim_batch_size_bucket{le=\"5\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_claim_batch_size_bucket{le=\"10\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_claim_batch_size_bucket{le=\"1000\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_claim_batch_size_bucket{le=\"+Inf\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_claim_batch_size_sum 5015.000000\n"));
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_claim_batch_size_count 4\n"));
}
END_TEST

START_TEST(test_metrics_sessions_of_a_dead_process_do_not_count)
{
	metrics_sessions(2);
	int up[2], down[2]; /* child -> parent "counted", parent -> child "exit now" */
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;
		metrics_sessions(5);
		if (write(up[1], "x", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	char c;
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	ck_assert_ptr_nonnull(strstr(render(), "\npgfleet_sessions_open 7\n"));
	ck_assert_int_eq(write(down[1], "y", 1), 1);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_ptr_nonnull(strstr(render(), "\npgfleet_sessions_open 2\n"));
	metrics_sessions(-2);
	ck_assert_ptr_nonnull(strstr(render(), "\npgfleet_sessions_open 0\n"));
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}
END_TEST

START_TEST(test_metrics_task_timeline_counts_outcomes_once)
{
	struct metrics_task t = {.due_ms = clock_wall_ms() - 2000};
	metrics_task_status(&t, STATUS_DELIVERED, NULL);
	metrics_task_status(&t, STATUS_STARTED, NULL);
	metrics_task_status(&t, 0, "Success");
	metrics_task_status(&t, STATUS_STARTED, NULL);
	metrics_task_status(&t, 3, "Failed");
	metrics_task_status(&t, -1, "Failed");
	char *tx = render();
	ck_assert_ptr_nonnull(strstr(tx, "pgfleet_tasks_total{outcome=\"success\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(tx, "pgfleet_tasks_total{outcome=\"failure\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(tx, "pgfleet_tasks_total{outcome=\"error\"} 1\n"));
	/* dispatch once per attempt: about 2 s; two tasks timed */
	ck_assert_ptr_nonnull(strstr(tx, "pgfleet_dispatch_latency_seconds_count 1\n"));
	ck_assert_ptr_nonnull(strstr(tx, "pgfleet_dispatch_latency_seconds_bucket{le=\"1\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(tx, "pgfleet_task_duration_seconds_count 2\n"));
}
END_TEST

START_TEST(test_metrics_events_finished_by_result_and_code)
{
	metrics_event_finished(0, 0);
	metrics_event_finished(0, 0);
	metrics_event_finished(1, -4);
	char *t = render();
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_events_finished_total{result=\"done\",code=\"0\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "pgfleet_events_finished_total{result=\"failed\",code=\"-4\"} 1\n"));
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_metrics_off_before_init_is_a_no_op);
	tcase_add_test(tc, test_metrics_counters_survive_a_forked_writer);
	tcase_add_test(tc, test_metrics_histogram_buckets_are_cumulative);
	tcase_add_test(tc, test_metrics_sessions_of_a_dead_process_do_not_count);
	tcase_add_test(tc, test_metrics_task_timeline_counts_outcomes_once);
	tcase_add_test(tc, test_metrics_events_finished_by_result_and_code);
	suite_add_tcase(s, tc);
	return s;
}
