/*
 * Unit tests for common/gate: the pre-TLS budget of a listener (the worker's
 * transfer port and agent listener): a limit per address refused at once, a
 * total where an idle connection (or a stale handshake) makes room and a
 * handshake under way is never closed for a newcomer, and leaving the budget;
 * with a pause callback, a budget full of handshakes under way pauses its owner
 * (which stops accepting) until there is room; refusals logged once per address,
 * then counted and reported once a minute (the report fired by hand).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

#include <event2/event.h>

#include "common/gate.h"
#include "common/log.h"

static struct gate_entry *evicted[8];
static int nevicted;

static void
evict(struct gate_entry *e, const char *why)
{
	ck_assert_ptr_nonnull(strstr(why, " closed"));
	evicted[nevicted++] = e;
}

/* entries whose hello has come: a flag per entry, set by the test */
static int hello[8];
static struct gate_entry *entries;

static int
started(const struct gate_entry *e)
{
	return hello[e - entries];
}

START_TEST(test_gate_limits_per_source_and_evicts_the_oldest_idle)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "agents", 3, 2);
	struct gate_entry e[6];
	memset(e, 0, sizeof(e));
	nevicted = 0;
	ck_assert_int_eq(gate_enter_at(g, &e[0], "10.0.0.1", evict, 0), 0);
	ck_assert_int_eq(gate_enter_at(g, &e[1], "10.0.0.1", evict, 1), 0);
	/* a third from the same address is refused, not counted */
	ck_assert_int_eq(gate_enter_at(g, &e[2], "10.0.0.1", evict, 2), -1);
	ck_assert_int_eq(gate_count(g), 2);
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.2", evict, 3), 0);
	/* the budget is full of connections that never sent a hello: the oldest (e[0]) is
	 * closed to make room once it has had GATE_IDLE_MIN_MS */
	ck_assert_int_eq(gate_enter_at(g, &e[4], "10.0.0.3", evict, GATE_IDLE_MIN_MS - 1), -1);
	ck_assert_int_eq(gate_enter_at(g, &e[4], "10.0.0.3", evict, GATE_IDLE_MIN_MS), 0);
	ck_assert_int_eq(nevicted, 1);
	ck_assert_ptr_eq(evicted[0], &e[0]);
	ck_assert_int_eq(e[0].in, 0);
	ck_assert_int_eq(gate_count(g), 3);
	/* a finished handshake leaves the budget, twice is harmless */
	gate_leave(g, &e[1]);
	gate_leave(g, &e[1]);
	ck_assert_int_eq(gate_count(g), 2);
	ck_assert_int_eq(gate_enter_at(g, &e[5], "10.0.0.1", evict, 1000), 0);
	ck_assert_int_eq(nevicted, 1);
	gate_refused(g, "10.0.0.9", "a failed handshake");
	gate_free(g);
	event_base_free(base);
}
END_TEST

START_TEST(test_gate_keeps_handshakes_under_way)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "transfer", 3, 3);
	struct gate_entry e[6];
	memset(e, 0, sizeof(e));
	memset(hello, 0, sizeof(hello));
	entries = e;
	nevicted = 0;
	gate_set_stale(g, 1000);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(gate_enter_at(g, &e[i], "10.0.0.1", evict, 100 + i), 0);
		e[i].started = started;
	}
	/* all three have sent their hello and are young: the newcomer is refused, nobody closed */
	hello[0] = hello[1] = hello[2] = 1;
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.2", evict, 500), -1);
	ck_assert_int_eq(nevicted, 0);
	ck_assert_int_eq(gate_count(g), 3);
	/* one of them (not the oldest) has not sent its hello: not yet an idle connect */
	hello[1] = 0;
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.2", evict, 100 + GATE_IDLE_MIN_MS), -1);
	ck_assert_int_eq(nevicted, 0);
	/* past GATE_IDLE_MIN_MS it is, and makes room */
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.2", evict, 101 + GATE_IDLE_MIN_MS), 0);
	e[3].started = started;
	hello[3] = 1;
	ck_assert_int_eq(nevicted, 1);
	ck_assert_ptr_eq(evicted[0], &e[1]);
	ck_assert_int_eq(e[1].in, 0);
	/* full of handshakes under way again; once the oldest is stale, it makes room */
	ck_assert_int_eq(gate_enter_at(g, &e[4], "10.0.0.3", evict, 1099), -1);
	ck_assert_int_eq(gate_enter_at(g, &e[4], "10.0.0.3", evict, 1100), 0);
	ck_assert_int_eq(nevicted, 2);
	ck_assert_ptr_eq(evicted[1], &e[0]);
	ck_assert_int_eq(gate_count(g), 3);
	gate_free(g);
	event_base_free(base);
}
END_TEST

static int pauses[8], npauses;

static void
on_pause(void *arg, int paused)
{
	ck_assert_ptr_eq(arg, &npauses);
	pauses[npauses++] = paused;
}

START_TEST(test_gate_pauses_while_full_of_handshakes)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "agents", 2, 2);
	struct gate_entry e[4];
	memset(e, 0, sizeof(e));
	memset(hello, 0, sizeof(hello));
	entries = e;
	npauses = 0;
	gate_set_pause(g, on_pause, &npauses);
	long long now = clock_mono_ms();
	ck_assert_int_eq(gate_enter_at(g, &e[0], "10.0.0.1", evict, now), 0);
	e[0].started = started;
	hello[0] = 1;
	ck_assert_int_eq(npauses, 0);
	ck_assert_int_eq(gate_enter_at(g, &e[1], "10.0.0.2", evict, now), 0);
	e[1].started = started;
	hello[1] = 1;
	/* full, nobody idle or stale: the owner stops accepting */
	ck_assert_int_eq(npauses, 1);
	ck_assert_int_eq(pauses[0], 1);
	ck_assert_int_eq(gate_paused(g), 1);
	/* a handshake done: room, accepting again */
	gate_leave(g, &e[0]);
	ck_assert_int_eq(npauses, 2);
	ck_assert_int_eq(pauses[1], 0);
	ck_assert_int_eq(gate_paused(g), 0);
	/* full again, and this time one never sends its hello: once it is idle
	 * (GATE_IDLE_MIN_MS), the owner accepts again so that a newcomer may close it */
	now = clock_mono_ms();
	ck_assert_int_eq(gate_enter_at(g, &e[2], "10.0.0.3", evict, now), 0);
	ck_assert_int_eq(npauses, 3);
	ck_assert_int_eq(pauses[2], 1);
	long long deadline = now + 10000;
	while (gate_paused(g) && clock_mono_ms() < deadline)
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(gate_paused(g), 0);
	ck_assert_int_eq(npauses, 4);
	ck_assert_int_eq(pauses[3], 0);
	ck_assert_int_ge(clock_mono_ms() - now, GATE_IDLE_MIN_MS);
	/* handshakes under way that grow stale are not closed for newcomers: still paused */
	gate_leave(g, &e[2]);
	gate_set_stale(g, 1);
	now = clock_mono_ms();
	ck_assert_int_eq(gate_enter_at(g, &e[3], "10.0.0.4", evict, now), 0);
	e[3].started = started;
	hello[3] = 1;
	ck_assert_int_eq(gate_paused(g), 1); /* e[1], stale, is no victim */
	/* the rechecks of the next 300 ms find no room either */
	while (clock_mono_ms() - now < 300)
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(gate_paused(g), 1);
	gate_free(g);
	event_base_free(base);
}
END_TEST

/* The log goes to a file of our own; log_text reads it back without each line's time. */
static char logpath[64];

static void
log_to_file(void)
{
	snprintf(logpath, sizeof(logpath), "/tmp/pgfleet-gatelog-XXXXXX");
	int fd = mkstemp(logpath);
	ck_assert_int_ne(fd, -1);
	close(fd);
	ck_assert_int_eq(log_init(LL_DETAIL, logpath), 0);
}

static char *
log_text(void)
{
	static char text[16384];
	char line[512];
	size_t len = 0;
	FILE *f = fopen(logpath, "r");
	ck_assert_ptr_nonnull(f);
	text[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *rest = strchr(line, ' '); /* "2026-05-01T12:00:00.123Z WARNING [pid] ..." */
		ck_assert_ptr_nonnull(rest);
		ck_assert_uint_lt(len + strlen(rest + 1), sizeof(text));
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s", rest + 1);
	}
	fclose(f);
	return text;
}

static void
log_done(void)
{
	log_close();
	unlink(logpath);
}

START_TEST(test_gate_reports_refusals_once_a_minute)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "transfer", 64, 2);
	struct gate_entry e[3];
	memset(e, 0, sizeof(e));
	log_to_file();
	/* 10.0.0.1 holds its 2; three more refused by the per-address limit: the first is
	 * logged, the other two counted. 10.0.0.2: one failed handshake, logged */
	ck_assert_int_eq(gate_enter_at(g, &e[0], "10.0.0.1", evict, 0), 0);
	ck_assert_int_eq(gate_enter_at(g, &e[1], "10.0.0.1", evict, 1), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(gate_enter_at(g, &e[2], "10.0.0.1", evict, 2 + i), -1);
	gate_refused(g, "10.0.0.2", "tls handshake: no certificate");
	gate_report_refusals(g);
	/* the next minute: 10.0.0.2 had no refusal counted, so it was forgotten and its next
	 * refusal is logged at once; 10.0.0.1's are still counted */
	gate_refused(g, "10.0.0.2", "tls handshake: no certificate");
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(gate_enter_at(g, &e[2], "10.0.0.1", evict, 10 + i), -1);
	gate_report_refusals(g);
	/* a quiet minute reports nothing and forgets 10.0.0.1: its next refusal is logged */
	gate_report_refusals(g);
	ck_assert_int_eq(gate_enter_at(g, &e[2], "10.0.0.1", evict, 20), -1);
	ck_assert_int_eq(gate_enter_at(g, &e[2], "10.0.0.1", evict, 21), -1); /* one counted */
	gate_report_refusals(g);

	char want[1024];
	int pid = (int)getpid();
	snprintf(want, sizeof(want),
	    "WARNING [%d] transfer: connection from 10.0.0.1 refused: 2 connections without tls from it (limit 2)\n"
	    "WARNING [%d] transfer: connection from 10.0.0.2 refused: tls handshake: no certificate\n"
	    "WARNING [%d] transfer: 2 connections refused from 10.0.0.1 in the last minute\n"
	    "WARNING [%d] transfer: connection from 10.0.0.2 refused: tls handshake: no certificate\n"
	    "WARNING [%d] transfer: 4 connections refused from 10.0.0.1 in the last minute\n"
	    "WARNING [%d] transfer: connection from 10.0.0.1 refused: 2 connections without tls from it (limit 2)\n"
	    "WARNING [%d] transfer: 1 connection refused from 10.0.0.1 in the last minute\n",
	    pid, pid, pid, pid, pid, pid, pid);
	ck_assert_str_eq(log_text(), want);
	log_done();
	gate_free(g);
	event_base_free(base);
}
END_TEST

START_TEST(test_gate_counts_refusals_from_more_addresses_than_it_tracks)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "agents", 64, 16);
	log_to_file();
	/* 64 addresses fill the table of refusing addresses, each logged once, then counted */
	char host[32], want[16384];
	size_t len = 0;
	int pid = (int)getpid();
	for (int i = 0; i < 64; i++) {
		snprintf(host, sizeof(host), "10.1.0.%d", i);
		for (int k = 0; k < 3; k++)
			gate_refused(g, host, "tls handshake: unknown ca");
		len += (size_t)snprintf(want + len, sizeof(want) - len, "WARNING [%d] agents: connection from "
		    "%s refused: tls handshake: unknown ca\n", pid, host);
	}
	/* more addresses: the first is logged, saying so; all of theirs are counted together */
	gate_refused(g, "10.2.0.1", "tls handshake: unknown ca");
	gate_refused(g, "10.2.0.2", "tls handshake: unknown ca");
	gate_refused(g, "10.2.0.1", "tls handshake: unknown ca");
	len += (size_t)snprintf(want + len, sizeof(want) - len, "WARNING [%d] agents: connection from "
	    "10.2.0.1 refused: tls handshake: unknown ca (refusals from more addresses are counted)\n", pid);
	gate_report_refusals(g);
	for (int i = 0; i < 64; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "WARNING [%d] agents: 2 connections "
		    "refused from 10.1.0.%d in the last minute\n", pid, i);
	len += (size_t)snprintf(want + len, sizeof(want) - len, "WARNING [%d] agents: 2 connections "
	    "refused from other addresses in the last minute\n", pid);
	ck_assert_uint_lt(len, sizeof(want));
	ck_assert_str_eq(log_text(), want);
	log_done();
	gate_free(g);
	event_base_free(base);
}
END_TEST

Suite *
gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_gate_limits_per_source_and_evicts_the_oldest_idle);
	tcase_add_test(tc, test_gate_keeps_handshakes_under_way);
	tcase_add_test(tc, test_gate_pauses_while_full_of_handshakes);
	tcase_add_test(tc, test_gate_reports_refusals_once_a_minute);
	tcase_add_test(tc, test_gate_counts_refusals_from_more_addresses_than_it_tracks);
	suite_add_tcase(s, tc);
	return s;
}
