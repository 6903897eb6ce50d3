/*
 * Unit tests for agent/journal: begin/finish/replay, replay after a restart,
 * a crash between run and reply, concurrent begins from forked processes,
 * cancel requests (down to a running script), prune, corrupt entry files.
 * Forked children always leave with _exit so they never run the rest of the suite.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/exec.h"
#include "agent/journal.h"
#include "agent/jpool.h"
#include "common/clock.h"
#include "common/status.h"

static char jdir[PATH_MAX];
static char err[1024];
/* Keeps a crashing child's allocations reachable until its _exit (quiet under valgrind). */
static void *volatile child_keep[2];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
setup(void)
{
	strcpy(jdir, "/tmp/pgfleet-journal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(jdir));
	err[0] = '\0';
}

static void
teardown(void)
{
	nftw(jdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}


static struct journal *
open_journal(long long wait_ms)
{
	struct journal *j = journal_open(jdir, 0, wait_ms, err, sizeof(err));
	ck_assert_msg(j != NULL, "journal_open: %s", err);
	return j;
}

static void
jpath(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", jdir, name);
}

static int
jexists(const char *name)
{
	char path[PATH_MAX + 64];
	jpath(path, sizeof(path), name);
	return access(path, F_OK) == 0;
}

static void
jwrite(const char *name, const char *data, size_t len)
{
	char path[PATH_MAX + 64];
	jpath(path, sizeof(path), name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The file's text (NUL-terminated, binary-safe length not needed here). */
static char *
jread(const char *name)
{
	char path[PATH_MAX + 64];
	jpath(path, sizeof(path), name);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	char *buf = calloc(1, 1 << 17);
	ck_assert_ptr_nonnull(buf);
	size_t n = fread(buf, 1, (1 << 17) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
jage(const char *name, long long seconds)
{
	char path[PATH_MAX + 64];
	jpath(path, sizeof(path), name);
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= seconds;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
finish(struct journal *j, struct journal_entry *e, int code, const char *result,
    const char *out, size_t outlen)
{
	struct journal_result res = {code, result, out, outlen, outlen};
	ck_assert_msg(journal_finish(j, e, &res, err, sizeof(err)) == 0, "journal_finish: %s", err);
}

/* For forked children: no ck_assert there (a failure would run the suite on in the child). */
static int
child_touch(const char *name)
{
	char path[PATH_MAX + 64];
	jpath(path, sizeof(path), name);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* For forked children: wait until the parent creates name (10 s deadline); 0 when it did. */
static int
child_wait_for(const char *name)
{
	for (int i = 0; i < 2000; i++) {
		if (jexists(name))
			return 0;
		usleep(5000);
	}
	return -1;
}

static void
touch(const char *name)
{
	ck_assert_int_eq(child_touch(name), 0);
}

static void
wait_child_ok(pid_t pid)
{
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed: status %d", st);
}

static void
wait_for_file(const char *name)
{
	for (int i = 0; i < 2000 && !jexists(name); i++)
		usleep(5000);
	ck_assert_msg(jexists(name), "%s never appeared", name);
}

START_TEST(test_journal_begin_finish_then_replay)
{
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 700001, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	ck_assert_int_eq(e->state, JOURNAL_RUNNING);
	ck_assert_int_gt(e->started_ms, 0);
	char *text = jread("700001-0.j");
	ck_assert_ptr_nonnull(strstr(text, "\nState=running\n"));
	free(text);
	ck_assert_int_eq(journal_started(j, e, 4242, 4242, err, sizeof(err)), 0);
	finish(j, e, 0, "Success", "hello\n", 6);
	ck_assert_int_eq(e->state, JOURNAL_DONE);
	journal_entry_free(e);

	ck_assert_int_eq(journal_begin(j, 700001, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->state, JOURNAL_DONE);
	ck_assert_int_eq(e->status_code, 0);
	ck_assert_str_eq(e->result, "Success");
	ck_assert_str_eq(e->output, "hello\n");
	ck_assert_uint_eq(e->output_len, 6);
	ck_assert_int_eq(e->pid, 4242);
	ck_assert_int_eq(e->pgid, 4242);
	ck_assert_int_eq(e->cancel_requested, 0);
	ck_assert_int_ge(e->finished_ms, e->started_ms);
	journal_entry_free(e);

	/* Another sequence of the same event is a different task. */
	ck_assert_int_eq(journal_begin(j, 700001, 1, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_replays_after_reopen)
{
	static const char out[] = "line 1\n\0binary\xff\nlast";
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 5, 3, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 42, "Failed", out, sizeof(out) - 1);
	journal_entry_free(e);
	journal_free(j);

	/* A new journal object: what an agent restart sees. */
	j = open_journal(0);
	ck_assert_int_eq(journal_begin(j, 5, 3, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, 42);
	ck_assert_str_eq(e->result, "Failed");
	ck_assert_uint_eq(e->output_len, sizeof(out) - 1);
	ck_assert_int_eq(memcmp(e->output, out, sizeof(out) - 1), 0);
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_crash_between_run_and_reply_is_never_rerun)
{
	/* A connection process begins the task, records its start, and dies before finishing. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct journal *cj = journal_open(jdir, 0, 0, err, sizeof(err));
		struct journal_entry *ce = NULL;
		if (cj == NULL || journal_begin(cj, 77, 0, &ce, err, sizeof(err)) != JOURNAL_BEGIN_RUN ||
		    journal_started(cj, ce, 31337, 31337, err, sizeof(err)) < 0)
			_exit(1);
		child_keep[0] = cj;
		child_keep[1] = ce;
		_exit(0);
	}
	wait_child_ok(pid);

	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 77, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->state, JOURNAL_DONE);
	ck_assert_int_eq(e->status_code, STATUS_AGENT_ERROR);
	/* 31337 was never the child's child: not recorded as verifiable, never signalled */
	ck_assert_int_eq(e->proc_start, 0);
	ck_assert_msg(strncmp(e->result, "interrupted: " JOURNAL_CAUSE_DIED "; ", 13 + strlen(JOURNAL_CAUSE_DIED) + 2) == 0,
	    "result: %s", e->result);
	ck_assert_str_eq(e->output, "");
	ck_assert_int_eq(e->pgid, 31337);
	journal_entry_free(e);
	char *text = jread("77-0.j");
	ck_assert_ptr_nonnull(strstr(text, "\nState=done\nStatus-Code=-12\n"));
	free(text);

	/* And the same again after yet another restart: stored, not recomputed. */
	journal_free(j);
	j = open_journal(0);
	ck_assert_int_eq(journal_begin(j, 77, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, STATUS_AGENT_ERROR);
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_released_unfinished_entry_is_interrupted)
{
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 78, 2, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	journal_entry_free(e); /* released without journal_finish */
	ck_assert_int_eq(journal_begin(j, 78, 2, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, STATUS_AGENT_ERROR);
	ck_assert_str_eq(e->result, "interrupted: " JOURNAL_CAUSE_DIED " before the script was recorded as started");
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_concurrent_begin_waits_for_result)
{
	/*
	 * The child holds the task until this process is about to ask for it, then a
	 * while longer; the second begin waits and gets the child's result. Whether it
	 * waited or came late, only the child's result may come back: never RUN or BUSY.
	 */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct journal *cj = journal_open(jdir, 0, 0, err, sizeof(err));
		struct journal_entry *ce = NULL;
		struct journal_result res = {42, "Failed", "from the child\n", 15, 15};
		int ok = cj != NULL && journal_begin(cj, 9001, 1, &ce, err, sizeof(err)) == JOURNAL_BEGIN_RUN;
		if (ok) {
			ok = child_touch("begun") == 0 && child_wait_for("asking") == 0;
			usleep(300000);
			ok = ok && journal_finish(cj, ce, &res, err, sizeof(err)) == 0;
		}
		journal_entry_free(ce);
		journal_free(cj);
		_exit(ok ? 0 : 1);
	}
	wait_for_file("begun");
	struct journal *j = open_journal(10000);
	struct journal_entry *e = NULL;
	touch("asking");
	int rc = journal_begin(j, 9001, 1, &e, err, sizeof(err));
	wait_child_ok(pid);
	ck_assert_int_eq(rc, JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, 42);
	ck_assert_str_eq(e->result, "Failed");
	ck_assert_str_eq(e->output, "from the child\n");
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_busy_when_holder_outlives_wait)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct journal *cj = journal_open(jdir, 0, 0, err, sizeof(err));
		struct journal_entry *ce = NULL;
		struct journal_result res = {0, "Success", NULL, 0, 0};
		int ok = cj != NULL && journal_begin(cj, 9002, 0, &ce, err, sizeof(err)) == JOURNAL_BEGIN_RUN &&
		    journal_started(cj, ce, 555, 555, err, sizeof(err)) == 0;
		if (ok) {
			/* held until the parent has seen BUSY */
			ok = child_touch("begun") == 0 && child_wait_for("seen-busy") == 0;
			ok = ok && journal_finish(cj, ce, &res, err, sizeof(err)) == 0;
		}
		journal_entry_free(ce);
		journal_free(cj);
		_exit(ok ? 0 : 1);
	}
	wait_for_file("begun");
	struct journal *j = open_journal(100);
	struct journal_entry *e = NULL;
	long long t0 = clock_mono_ms();
	int rc = journal_begin(j, 9002, 0, &e, err, sizeof(err));
	long long waited = clock_mono_ms() - t0;
	touch("seen-busy");
	ck_assert_int_eq(rc, JOURNAL_BEGIN_BUSY);
	ck_assert_int_ge(waited, 100);
	ck_assert_int_eq(e->state, JOURNAL_RUNNING);
	ck_assert_int_eq(e->pgid, 555);
	ck_assert_ptr_null(e->result);
	/* A snapshot is not held: it cannot be finished from here. */
	struct journal_result res = {1, "Failed", NULL, 0, 0};
	ck_assert_int_eq(journal_finish(j, e, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "event 9002 task 0: not held by this process");
	journal_entry_free(e);
	wait_child_ok(pid);
	ck_assert_int_eq(journal_begin(j, 9002, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, 0);
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

/* What /proc/<pid>/stat says: 1 with *p, 0 no such process. */
static int
proc_of(long pid, struct journal_proc *p)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return journal_parse_proc_stat(buf, n, p) == 0;
}

START_TEST(test_journal_lock_offsets_are_one_byte_per_task)
{
	/* exact where every key the agent makes falls: seq + retry * stride < 2^17 */
	ck_assert(journal_lock_offset(0, 0) == 0);
	ck_assert(journal_lock_offset(1, 0) == 1LL << 20);
	ck_assert(journal_lock_offset(1, 100999) == (1LL << 20) + 100999);
	ck_assert(journal_lock_offset(2, 0) != journal_lock_offset(1, 1));
	ck_assert(journal_lock_offset((1LL << 42) - 1, (1 << 20) - 1) == (1LL << 62) - 1);
	/* beyond: hashed into [2^62, 2^63 - 2], never onto an exact one, never past off_t */
	long long big[] = {1LL << 42, LLONG_MAX, LLONG_MAX - 1, 5LL << 50};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		for (int seq = 0; seq < 3; seq++) {
			long long off = journal_lock_offset(big[i], seq);
			ck_assert(off >= 1LL << 62 && off <= LLONG_MAX - 1);
		}
		ck_assert(journal_lock_offset(big[i], 0) != journal_lock_offset(big[i], 1));
	}
	ck_assert(journal_lock_offset(7, INT_MAX) >= 1LL << 62);
}
END_TEST

START_TEST(test_journal_started_writes_in_place)
{
	/* the script's pid goes over the entry file itself: no new file (inode) per task */
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL, *r = NULL;
	char path[PATH_MAX + 64];
	struct stat a, b;
	jpath(path, sizeof(path), "9005-2.j");
	ck_assert_int_eq(journal_begin(j, 9005, 2, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	ck_assert_int_eq(stat(path, &a), 0);
	ck_assert_int_eq(journal_started(j, e, 123456, 123456, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &b), 0);
	ck_assert(a.st_ino == b.st_ino);
	ck_assert(a.st_size == b.st_size);
	ck_assert_int_eq(journal_read(j, 9005, 2, &r, err, sizeof(err)), 1);
	ck_assert_int_eq(r->pid, 123456);
	ck_assert_int_eq(r->pgid, 123456);
	ck_assert_int_eq(r->state, JOURNAL_RUNNING);
	journal_entry_free(r);
	/* the largest numbers still fit their width */
	ck_assert_int_eq(journal_started(j, e, INT_MAX, INT_MAX, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &b), 0);
	ck_assert(a.st_ino == b.st_ino);
	ck_assert_int_eq(journal_read(j, 9005, 2, &r, err, sizeof(err)), 1);
	ck_assert_int_eq(r->pid, INT_MAX);
	journal_entry_free(r);
	/* the end too, fsync'd: the file grows in place */
	finish(j, e, 0, "Success", "out\n", 4);
	journal_entry_free(e);
	ck_assert_int_eq(stat(path, &b), 0);
	ck_assert(a.st_ino == b.st_ino);
	ck_assert_int_eq(journal_read(j, 9005, 2, &r, err, sizeof(err)), 1);
	ck_assert_int_eq(r->state, JOURNAL_DONE);
	ck_assert_str_eq(r->output, "out\n");
	journal_entry_free(r);

	/* a shorter end (an orphan closed with less than it had) cuts the file */
	ck_assert_int_eq(journal_begin(j, 9005, 3, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	static const char big[] = "0123456789012345678901234567890123456789";
	finish(j, e, 0, "Success", big, sizeof(big) - 1);
	journal_entry_free(e);
	ck_assert_int_eq(journal_read(j, 9005, 3, &r, err, sizeof(err)), 1);
	ck_assert_uint_eq(r->output_len, sizeof(big) - 1);
	journal_entry_free(r);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_holders_in_one_process_exclude_each_other)
{
	/* Two journals opened by one process: the lock belongs to each open of the lock file. */
	struct journal *a = open_journal(0), *b = open_journal(50);
	struct journal_entry *ea = NULL, *eb = NULL, *en = NULL;
	ck_assert_int_eq(journal_begin(a, 9003, 0, &ea, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	ck_assert_int_eq(journal_begin(b, 9003, 0, &eb, err, sizeof(err)), JOURNAL_BEGIN_BUSY);
	journal_entry_free(eb);
	/* the neighbours of its byte are other tasks, free */
	ck_assert_int_eq(journal_begin(b, 9003, 1, &en, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(b, en, 0, "Success", NULL, 0);
	journal_entry_free(en);
	ck_assert_int_eq(journal_begin(b, 9004, 0, &en, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(b, en, 0, "Success", NULL, 0);
	journal_entry_free(en);
	finish(a, ea, 3, "Failed", NULL, 0);
	journal_entry_free(ea);
	ck_assert_int_eq(journal_begin(b, 9003, 0, &eb, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(eb->status_code, 3);
	journal_entry_free(eb);
	journal_free(a);
	journal_free(b);
}
END_TEST

START_TEST(test_journal_cancel_request)
{
	struct journal *j = open_journal(0);
	struct journal *other = open_journal(0); /* another connection: its own descriptors */
	struct journal_entry *e = NULL;
	long pgid = -1;
	ck_assert_int_eq(journal_request_cancel(other, 1, 9, &pgid, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "event 1 task 9: not in the journal");

	ck_assert_int_eq(journal_begin(j, 1, 9, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	/* Before the script started: recorded, nothing to signal yet. */
	ck_assert_int_eq(journal_entry_cancelled(e), 0);
	ck_assert_int_eq(journal_request_cancel(other, 1, 9, &pgid, err, sizeof(err)), JOURNAL_RUNNING);
	ck_assert_int_eq(pgid, 0);
	ck_assert_int_eq(journal_entry_cancelled(e), 1);
	/* A pid that is not the script as recorded (not our child: no start time) is not
	 * handed out: the holder's watch of the request stops the script. */
	ck_assert_int_eq(journal_started(j, e, 777, 777, err, sizeof(err)), 0);
	ck_assert_int_eq(journal_request_cancel(other, 1, 9, &pgid, err, sizeof(err)), JOURNAL_RUNNING);
	ck_assert_int_eq(pgid, 0);
	/* The script as recorded, a leader of its own group: its group is handed out. */
	int gate[2];
	ck_assert_int_eq(pipe(gate), 0);
	pid_t script = fork();
	ck_assert_int_ge(script, 0);
	if (script == 0) {
		char c;
		close(gate[1]);
		journal_entry_free(e); /* this process's copies (the lock stays the parent's) */
		journal_free(j);
		journal_free(other);
		if (setsid() < 0)
			_exit(1);
		/* until the parent closes its end */
		_exit(read(gate[0], &c, 1) < 0 ? 1 : 0);
	}
	close(gate[0]);
	struct journal_proc seen;
	for (int i = 0; i < 500; i++) { /* until the child leads its group: setsid done */
		if (proc_of(script, &seen) && seen.pgrp == script)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(journal_started(j, e, script, script, err, sizeof(err)), 0);
	ck_assert_int_eq(journal_request_cancel(other, 1, 9, &pgid, err, sizeof(err)), JOURNAL_RUNNING);
	ck_assert_int_eq(pgid, script);
	close(gate[1]);
	int st;
	ck_assert_int_eq(waitpid(script, &st, 0), script);
	finish(j, e, STATUS_CANCELLED, "Failed", NULL, 0);
	journal_entry_free(e);
	ck_assert_int_eq(jexists("1-9.cancel"), 0);

	ck_assert_int_eq(journal_request_cancel(other, 1, 9, &pgid, err, sizeof(err)), JOURNAL_DONE);
	ck_assert_int_eq(pgid, 0);
	ck_assert_int_eq(journal_begin(other, 1, 9, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, STATUS_CANCELLED);
	ck_assert_int_eq(e->cancel_requested, 1);
	journal_entry_free(e);

	/*
	 * A task whose holder is gone: no pgid handed out (it may have been reused);
	 * 888 was never our child, so it is not signalled either: closed as interrupted.
	 */
	ck_assert_int_eq(journal_begin(j, 2, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	ck_assert_int_eq(journal_started(j, e, 888, 888, err, sizeof(err)), 0);
	journal_entry_free(e);
	ck_assert_int_eq(journal_request_cancel(other, 2, 0, &pgid, err, sizeof(err)), JOURNAL_DONE);
	ck_assert_int_eq(pgid, 0);
	ck_assert_int_eq(journal_read(other, 2, 0, &e, err, sizeof(err)), 1);
	ck_assert_int_eq(e->state, JOURNAL_DONE);
	ck_assert_int_eq(e->status_code, STATUS_AGENT_ERROR);
	ck_assert_int_eq(e->cancel_requested, 1);
	journal_entry_free(e);
	ck_assert_int_eq(jexists("2-0.cancel"), 0);
	ck_assert_int_eq(journal_read(other, 2, 1, &e, err, sizeof(err)), 0);
	ck_assert_ptr_null(e);
	journal_free(other);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_cancel_reaches_running_script)
{
	char script[PATH_MAX + 64];
	jpath(script, sizeof(script), "rx.sh");
	static const char body[] = "echo started\n: > rx.started\nsleep 1000\n";
	jwrite("rx.sh", body, sizeof(body) - 1);
	ck_assert_int_eq(chmod(script, 0700), 0);
	const char *allow[] = {NULL, NULL};
	char user[256];
	struct passwd *pw = getpwuid(geteuid());
	ck_assert_ptr_nonnull(pw);
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	allow[0] = user;

	struct journal *j = open_journal(0);
	struct journal *other = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 3, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	struct exec_req req = {
		.script = script, .run_as = user, .allow = allow, .temp_dir = jdir,
		.timeout_ms = 5000, .grace_ms = 200, .max_output = 1024,
		.cancel_requested = journal_entry_cancelled, .cancel_arg = e,
	};
	struct exec_proc *p = NULL;
	ck_assert_msg(exec_start(&req, &p, err, sizeof(err)) == 0, "exec_start: %s", err);
	ck_assert_int_eq(journal_started(j, e, exec_proc_pid(p), exec_proc_pgid(p), err, sizeof(err)), 0);
	/* the script has printed "started" once it creates rx.started: cancel after that */
	wait_for_file("rx.started");
	long pgid = 0;
	ck_assert_int_eq(journal_request_cancel(other, 3, 0, &pgid, err, sizeof(err)), JOURNAL_RUNNING);
	ck_assert_int_eq(pgid, exec_proc_pgid(p));

	struct exec_result r;
	ck_assert_int_eq(exec_wait(p, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.status_code, STATUS_CANCELLED);
	finish(j, e, r.status_code, "Failed", r.output, r.output_len);
	exec_result_clear(&r);
	exec_proc_free(p);
	journal_entry_free(e);

	ck_assert_int_eq(journal_begin(other, 3, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, STATUS_CANCELLED);
	ck_assert_int_eq(e->cancel_requested, 1);
	ck_assert_str_eq(e->output, "started\n");
	journal_entry_free(e);
	journal_free(other);
	journal_free(j);
}
END_TEST

static ino_t
jino(const char *name)
{
	char path[PATH_MAX + 64];
	struct stat st;
	jpath(path, sizeof(path), name);
	return lstat(path, &st) == 0 ? st.st_ino : 0;
}

static off_t
jsize(const char *name)
{
	char path[PATH_MAX + 64];
	struct stat st;
	jpath(path, sizeof(path), name);
	return lstat(path, &st) == 0 ? st.st_size : -1;
}

/* A pruned entry's file goes to free/, emptied, and the next new entry is that inode. */
START_TEST(test_journal_prune_pools_old_entries_for_new_ones)
{
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 20, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 0, "Success", "some output\n", 12);
	journal_entry_free(e);
	ino_t old = jino("20-0.j");
	ck_assert_uint_ne(old, 0);
	jage("20-0.j", 2 * 86400);
	ck_assert_int_eq(journal_prune(j, 86400000LL, 0, err, sizeof(err)), 1);
	ck_assert_int_eq(jexists("20-0.j"), 0);
	ck_assert_uint_eq(jino("free/20-0.j"), old);     /* kept, not freed */
	ck_assert_int_eq(jsize("free/20-0.j"), 0);        /* nothing of the old result in it */
	/* the next task's entry is written into that inode; the pool is empty again */
	ck_assert_int_eq(journal_begin(j, 21, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	ck_assert_uint_eq(jino("21-0.j"), old);
	ck_assert_int_eq(jexists("free/20-0.j"), 0);
	finish(j, e, 7, "Failed", "x", 1);
	journal_entry_free(e);
	ck_assert_int_eq(journal_begin(j, 21, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, 7); /* read back whole from the reused file */
	ck_assert_str_eq(e->output, "x");
	journal_entry_free(e);
	/* the pruned task is unknown again: run, in a new file since the pool is empty */
	ck_assert_int_eq(journal_begin(j, 20, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

/* A full pool (JPOOL_MAX files) takes no more: the pruned entry is freed as before. */
START_TEST(test_journal_prune_frees_when_the_pool_is_full)
{
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	char name[64];
	ck_assert_int_eq(journal_begin(j, 30, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 0, "Success", NULL, 0);
	journal_entry_free(e);
	jage("30-0.j", 2 * 86400);
	for (int i = 0; i < JPOOL_MAX; i++) {
		snprintf(name, sizeof(name), "free/p%d", i);
		jwrite(name, "", 0);
	}
	ck_assert_int_eq(journal_prune(j, 86400000LL, 0, err, sizeof(err)), 1);
	ck_assert_int_eq(jexists("30-0.j"), 0);
	ck_assert_int_eq(jexists("free/30-0.j"), 0);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_prune_removes_old_entries_only)
{
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL, *held = NULL;
	/* 10-0: done, two days old. 11-0: done, fresh. 12-0: old but still held. 13-0: a stray
	 * lock file of a journal written before the lock file was shared. */
	ck_assert_int_eq(journal_begin(j, 10, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 0, "Success", NULL, 0);
	journal_entry_free(e);
	ck_assert_int_eq(journal_begin(j, 11, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 0, "Success", NULL, 0);
	journal_entry_free(e);
	ck_assert_int_eq(journal_begin(j, 12, 0, &held, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	jwrite("13-0.lock", "", 0);
	jwrite("unrelated.txt", "x", 1);
	jage("10-0.j", 2 * 86400);
	jage("12-0.j", 2 * 86400);
	jage("13-0.lock", 2 * 86400);
	jage("unrelated.txt", 2 * 86400);

	ck_assert_int_eq(journal_prune(j, 86400000LL, 0, err, sizeof(err)), 1);
	ck_assert_int_eq(jexists("10-0.j"), 0);
	ck_assert_int_eq(jexists("10-0.lock"), 0);
	ck_assert_int_eq(jexists("11-0.j"), 1);
	ck_assert_int_eq(jexists("12-0.j"), 1);
	ck_assert_int_eq(jexists("12-0.lock"), 0); /* held by a byte of journal.lock, no file */
	ck_assert_int_eq(jexists("journal.lock"), 1);
	ck_assert_int_eq(jexists("13-0.lock"), 0); /* a stray of an older journal's: removed */
	ck_assert_int_eq(jexists("unrelated.txt"), 1);

	/* Once pruned, the task is unknown again. */
	ck_assert_int_eq(journal_begin(j, 10, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	journal_entry_free(e);
	finish(j, held, 0, "Success", NULL, 0);
	journal_entry_free(held);
	journal_free(j);
}
END_TEST

/* Past keep entries the oldest go first, whatever their age; a task still held stays. */
START_TEST(test_journal_prune_keeps_the_newest_entries)
{
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL, *held = NULL;
	/* 40-0 .. 44-0 done, 40-0 the oldest by its last write; 45-0 held, older than all */
	ck_assert_int_eq(journal_begin(j, 45, 0, &held, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	for (int ev = 40; ev < 45; ev++) {
		ck_assert_int_eq(journal_begin(j, ev, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
		finish(j, e, 0, "Success", NULL, 0);
		journal_entry_free(e);
	}
	char name[32];
	for (int ev = 40; ev < 45; ev++) {
		snprintf(name, sizeof(name), "%d-0.j", ev);
		jage(name, 100 - ev); /* 40-0: 60 s old ... 44-0: 56 s */
	}
	jage("45-0.j", 120);
	/* 6 entries, keep 3: the three oldest (45-0, 40-0, 41-0) would go; 45-0 is held */
	ck_assert_int_eq(journal_prune(j, 86400000LL, 3, err, sizeof(err)), 2);
	ck_assert_int_eq(jexists("40-0.j"), 0);
	ck_assert_int_eq(jexists("41-0.j"), 0);
	ck_assert_int_eq(jexists("42-0.j"), 1);
	ck_assert_int_eq(jexists("43-0.j"), 1);
	ck_assert_int_eq(jexists("44-0.j"), 1);
	ck_assert_int_eq(jexists("45-0.j"), 1);
	/* under the cap: nothing more */
	ck_assert_int_eq(journal_prune(j, 86400000LL, 4, err, sizeof(err)), 0);
	/* keep 0: the age rule alone */
	ck_assert_int_eq(journal_prune(j, 86400000LL, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(jexists("42-0.j"), 1);
	/* a pruned task is unknown again; a kept one is replayed */
	ck_assert_int_eq(journal_begin(j, 40, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	journal_entry_free(e);
	ck_assert_int_eq(journal_begin(j, 44, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	journal_entry_free(e);
	finish(j, held, 0, "Success", NULL, 0);
	journal_entry_free(held);
	journal_free(j);
}
END_TEST

static void
assert_corrupt(struct journal *j, const char *content, const char *reason)
{
	jwrite("9-0.j", content, strlen(content));
	struct journal_entry *e = (struct journal_entry *)&e;
	char want[PATH_MAX + 512];
	snprintf(want, sizeof(want), "journal entry %s/9-0.j: %s", jdir, reason);
	ck_assert_int_eq(journal_begin(j, 9, 0, &e, err, sizeof(err)), -1);
	ck_assert_ptr_null(e);
	ck_assert_str_eq(err, want);
	long pgid;
	ck_assert_int_eq(journal_request_cancel(j, 9, 0, &pgid, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	/* Left as it was for an operator to look at. */
	char *text = jread("9-0.j");
	ck_assert_str_eq(text, content);
	free(text);
}

#define HEAD "pgfleet-journal 1\nEvent-ID=9\nTask-Sequence-ID=0\nState=done\nStatus-Code=0\n" \
	"Result=Success\nPID=1\nPGID=1\nCancel-Requested=0\nStarted=1\nFinished=2\n"

START_TEST(test_journal_reports_corrupt_entries)
{
	struct journal *j = open_journal(0);
	assert_corrupt(j, "", "not a pgfleet journal entry (bad first line)");
	assert_corrupt(j, "garbage\n", "not a pgfleet journal entry (bad first line)");
	assert_corrupt(j, HEAD "Output-Length=3\n", "header not terminated by an empty line");
	assert_corrupt(j, HEAD "Output-Length=3\n\nab", "output is 2 bytes, Output-Length says 3");
	assert_corrupt(j, HEAD "Output-Length=x\n\n", "line 12: Output-Length is not a number");
	assert_corrupt(j, HEAD "\n", "key Output-Length is missing");
	assert_corrupt(j, HEAD "Output-Length=0\nPID=2\n\n", "line 13: duplicate key \"PID\"");
	assert_corrupt(j, HEAD "Color=blue\n\n", "line 12: unknown key \"Color\"");
	assert_corrupt(j, HEAD "no equals\n\n", "line 12: no '=' in line");
	assert_corrupt(j, "pgfleet-journal 1\nEvent-ID=8\nTask-Sequence-ID=0\nState=done\nStatus-Code=0\n"
	    "Result=\nPID=1\nPGID=1\nCancel-Requested=0\nStarted=1\nFinished=2\nOutput-Length=0\n\n",
	    "entry is for event 8 task 0");
	assert_corrupt(j, "pgfleet-journal 1\nEvent-ID=9\nTask-Sequence-ID=0\nState=lost\n\n",
	    "line 4: unknown state \"lost\"");
	/* A sound entry in the same place reads fine. */
	jwrite("9-0.j", HEAD "Output-Length=2\n\nok", strlen(HEAD) + 19);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 9, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_str_eq(e->output, "ok");
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

/* A PGID reaches kill(-pgid) as a pid_t: one that does not fit is refused, not truncated. */
START_TEST(test_journal_digest_shows_a_torn_entry)
{
	/* an entry written over in place and cut short by a power cut fails its Digest */
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 9, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 0, "Success", "all of it\n", 10);
	journal_entry_free(e);
	char *text = jread("9-0.j");
	char *out = strstr(text, "\n\nall of it");
	ck_assert_ptr_nonnull(out);
	memcpy(out + 2, "ALL", 3); /* the output changed under a valid header */
	assert_corrupt(j, text, "Digest does not match the entry (a write was torn)");
	/* a digest that is not one */
	char *d = strstr(text, "Digest=");
	ck_assert_ptr_nonnull(d);
	memcpy(d + 7, "XYZ", 3);
	assert_corrupt(j, text, "line 15: Digest is not 16 hexadecimal digits");
	free(text);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_refuses_pid_out_of_range)
{
	struct journal *j = open_journal(0);
	static const char *const bad[] = {"PID=1\nPGID=4294967297\n", "PID=1\nPGID=-5\n",
		"PID=-1\nPGID=1\n", "PID=2147483648\nPGID=1\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char content[512];
		snprintf(content, sizeof(content), "pgfleet-journal 1\nEvent-ID=9\nTask-Sequence-ID=0\n"
		    "State=running\nStatus-Code=0\nResult=\n%sCancel-Requested=0\nStarted=1\nFinished=0\n"
		    "Output-Length=0\n\n", bad[i]);
		assert_corrupt(j, content, "PID or PGID out of range");
	}
	journal_free(j);
}
END_TEST

/* PGID 1 (or 0) from the entry would make the canceller's kill(-pgid) signal every process. */
START_TEST(test_journal_cancel_never_hands_out_group_one)
{
	struct journal *j = open_journal(0);
	struct journal *other = open_journal(0);
	struct journal_entry *e = NULL;
	long pgid = -1;
	ck_assert_int_eq(journal_begin(j, 3, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	ck_assert_int_eq(journal_started(j, e, 1, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(journal_request_cancel(other, 3, 0, &pgid, err, sizeof(err)), JOURNAL_RUNNING);
	ck_assert_int_eq(pgid, 0);
	journal_entry_free(e);
	journal_free(other);
	journal_free(j);
}
END_TEST

/* The pure parser: what journal_begin reads, without a file. */
START_TEST(test_journal_entry_parse_without_io)
{
	struct journal_entry e = {.event_id = 9, .task_seq = 0, .lock_fd = -1};
	char why[256];
	const char ok[] = HEAD "Output-Length=2\n\nok";
	ck_assert_int_eq(journal_entry_parse(ok, sizeof(ok) - 1, &e, why, sizeof(why)), 0);
	ck_assert_int_eq(e.state, JOURNAL_DONE);
	ck_assert_str_eq(e.result, "Success");
	ck_assert_uint_eq(e.output_len, 2);
	ck_assert_str_eq(e.output, "ok");
	ck_assert_int_eq(e.pgid, 1);
	/* refused: e keeps what it had */
	const char other[] = HEAD "Output-Length=1\n\nok";
	ck_assert_int_eq(journal_entry_parse(other, sizeof(other) - 1, &e, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "output is 2 bytes, Output-Length says 1");
	ck_assert_str_eq(e.output, "ok");
	e.event_id = 10;
	ck_assert_int_eq(journal_entry_parse(ok, sizeof(ok) - 1, &e, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "entry is for event 9 task 0");
	free(e.result);
	free(e.output);
}
END_TEST

START_TEST(test_journal_caps_output_and_flattens_result)
{
	struct journal *j = journal_open(jdir, 16, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 4, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 1, "two\nlines\r", "0123456789abcdefghijklmnopqrstuvwxyz", 36);
	journal_entry_free(e);
	ck_assert_int_eq(journal_begin(j, 4, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_str_eq(e->output, "klmnopqrstuvwxyz");
	ck_assert_str_eq(e->result, "two lines ");
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_keeps_output_size_before_the_cap)
{
	struct journal *j = journal_open(jdir, 16, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 6, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	/* the script wrote 100000 bytes; exec kept 36 of them, the journal keeps 16 */
	struct journal_result res = {1, "Failed", "0123456789abcdefghijklmnopqrstuvwxyz", 36, 100000};
	ck_assert_int_eq(journal_finish(j, e, &res, err, sizeof(err)), 0);
	journal_entry_free(e);
	char *text = jread("6-0.j");
	ck_assert_ptr_nonnull(strstr(text, "\nOutput-Length=16\nOutput-Size=100000\nDigest="));
	free(text);
	ck_assert_int_eq(journal_begin(j, 6, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_uint_eq(e->output_len, 16);
	ck_assert_uint_eq(e->output_total, 100000);
	journal_entry_free(e);

	/* a total below what was kept is the kept length */
	ck_assert_int_eq(journal_begin(j, 6, 1, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	struct journal_result small = {0, "Success", "abc", 3, 1};
	ck_assert_int_eq(journal_finish(j, e, &small, err, sizeof(err)), 0);
	ck_assert_uint_eq(e->output_total, 3);
	journal_entry_free(e);

	/* an entry written before Output-Size existed: the kept length */
	jwrite("9-0.j", HEAD "Output-Length=2\n\nok", strlen(HEAD) + 19);
	ck_assert_int_eq(journal_begin(j, 9, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_uint_eq(e->output_total, 2);
	journal_entry_free(e);
	assert_corrupt(j, HEAD "Output-Length=2\nOutput-Size=1\n\nok",
	    "Output-Size 1 is below Output-Length 2");
	journal_free(j);
}
END_TEST

START_TEST(test_journal_refuses_misuse)
{
	char path[PATH_MAX + 64];
	jwrite("file", "x", 1);
	jpath(path, sizeof(path), "file/sub");
	ck_assert_ptr_null(journal_open(path, 0, 0, err, sizeof(err)));
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "journal directory %s: Not a directory", path);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(journal_open("", 0, 0, err, sizeof(err)));
	ck_assert_str_eq(err, "journal directory is not set");

	/* A missing directory is created, mode 0700. */
	jpath(path, sizeof(path), "sub");
	struct journal *j = journal_open(path, 0, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);

	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, -1, 0, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "event -1 task 0: ids must not be negative");
	ck_assert_int_eq(journal_begin(j, 6, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 0, "Success", NULL, 0);
	ck_assert_int_eq(journal_started(j, e, 1, 1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "event 6 task 0: not held by this process");
	struct journal_result res = {0, "Success", NULL, 0, 0};
	ck_assert_int_eq(journal_finish(j, e, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "event 6 task 0: not held by this process");
	journal_entry_free(e);
	journal_free(j);
	journal_free(NULL);
	journal_entry_free(NULL);
}
END_TEST

START_TEST(test_journal_abandoned_task_runs_again)
{
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 800001, 2, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	ck_assert(jexists("800001-2.j"));
	ck_assert_int_eq(journal_abandon(j, e, err, sizeof(err)), 0);
	ck_assert(!jexists("800001-2.j"));
	/* no longer held: a second abandon or a finish is misuse */
	ck_assert_int_eq(journal_abandon(j, e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "event 800001 task 2: not held by this process");
	journal_entry_free(e);
	/* pushed again: run, not replayed as interrupted */
	ck_assert_int_eq(journal_begin(j, 800001, 2, &e, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, e, 0, "Success", NULL, 0);
	journal_entry_free(e);
	ck_assert_int_eq(journal_begin(j, 800001, 2, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, 0);
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_parse_proc_stat_reads_state_group_and_start)
{
	struct journal_proc p;
	/* a comm holding ") " and spaces: fields count from the last ')' */
	static const char stat[] = "4242 (a) b (c) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
	    "987654321 123 45 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
	ck_assert_int_eq(journal_parse_proc_stat(stat, sizeof(stat) - 1, &p), 0);
	ck_assert_int_eq(p.state, 'S');
	ck_assert_int_eq(p.pgrp, 4240);
	ck_assert_uint_eq(p.start, 987654321ULL);
	static const char zombie[] = "7 (sh) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
	ck_assert_int_eq(journal_parse_proc_stat(zombie, sizeof(zombie) - 1, &p), 0);
	ck_assert_int_eq(p.state, 'Z');
	ck_assert_uint_eq(p.start, 55);
	static const char *const bad[] = {
		"", "4242 sh S 1", "4242 (sh)", "4242 (sh) S 1 2 3", "4242 (sh) SS 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		"4242 (sh) S 1 x 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", "4242 (sh) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5",
		"4242 (sh) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(journal_parse_proc_stat(bad[i], strlen(bad[i]), &p) == -1, "accepted: %s", bad[i]);
	/* this very process */
	FILE *f = fopen("/proc/self/stat", "r");
	ck_assert_ptr_nonnull(f);
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ck_assert_int_eq(journal_parse_proc_stat(buf, n, &p), 0);
	ck_assert_int_eq(p.pgrp, (long)getpgrp());
	ck_assert_uint_gt(p.start, 0);
}
END_TEST

START_TEST(test_journal_orphan_decides_kill_only_for_the_recorded_process)
{
	struct journal_proc live = {'S', 500, 9000}, zombie = {'Z', 500, 9000}, other = {'R', 500, 9001};
	ck_assert_int_eq(journal_orphan_decide(0, 0, NULL), JOURNAL_ORPHAN_NOT_STARTED);
	ck_assert_int_eq(journal_orphan_decide(0, 9000, &live), JOURNAL_ORPHAN_NOT_STARTED);
	ck_assert_int_eq(journal_orphan_decide(500, 9000, NULL), JOURNAL_ORPHAN_ENDED);
	ck_assert_int_eq(journal_orphan_decide(500, 9000, &zombie), JOURNAL_ORPHAN_ENDED);
	/* the pid now names a process started at another time: ours ended */
	ck_assert_int_eq(journal_orphan_decide(500, 9000, &other), JOURNAL_ORPHAN_ENDED);
	/* nothing recorded to tell it by: never signalled */
	ck_assert_int_eq(journal_orphan_decide(500, 0, &live), JOURNAL_ORPHAN_UNVERIFIED);
	ck_assert_int_eq(journal_orphan_decide(500, 0, NULL), JOURNAL_ORPHAN_ENDED);
	ck_assert_int_eq(journal_orphan_decide(500, 9000, &live), JOURNAL_ORPHAN_KILL);
}
END_TEST

START_TEST(test_journal_orphan_result_says_what_happened)
{
	char buf[512];
	const char *cause = "its connection process died";
	ck_assert_int_eq(journal_orphan_result(JOURNAL_ORPHAN_KILL, 1, 0, 321, cause, buf, sizeof(buf)),
	    STATUS_KILLED);
	ck_assert_str_eq(buf, "killed: its connection process died; process group 321 killed with SIGKILL");
	ck_assert_int_eq(journal_orphan_result(JOURNAL_ORPHAN_KILL, 0, 0, 321, cause, buf, sizeof(buf)),
	    STATUS_KILLED);
	ck_assert_str_eq(buf, "killed: its connection process died; process group 321 killed with SIGKILL, "
	    "not yet ended when last looked at");
	ck_assert_int_eq(journal_orphan_result(JOURNAL_ORPHAN_KILL, 1, 1, 321, cause, buf, sizeof(buf)),
	    STATUS_CANCELLED);
	ck_assert_str_eq(buf, "cancelled: its connection process died; process group 321 killed with SIGKILL");
	ck_assert_int_eq(journal_orphan_result(JOURNAL_ORPHAN_ENDED, 1, 1, 321, cause, buf, sizeof(buf)),
	    STATUS_AGENT_ERROR);
	ck_assert_str_eq(buf, "interrupted: its connection process died; the script had ended, its exit "
	    "status and output are unknown");
	ck_assert_int_eq(journal_orphan_result(JOURNAL_ORPHAN_UNVERIFIED, 1, 0, 321, cause, buf, sizeof(buf)),
	    STATUS_AGENT_ERROR);
	ck_assert_str_eq(buf, "interrupted: its connection process died; process 321 could not be shown to be "
	    "its script and was not signalled");
	ck_assert_int_eq(journal_orphan_result(JOURNAL_ORPHAN_NOT_STARTED, 1, 0, 0, cause, buf, sizeof(buf)),
	    STATUS_AGENT_ERROR);
	ck_assert_str_eq(buf, "interrupted: its connection process died before the script was recorded as started");
}
END_TEST

/* Running, not a zombie: the process the journal names. */
static int
proc_running(long pid)
{
	struct journal_proc p;
	return proc_of(pid, &p) && p.state != 'Z' && p.state != 'X';
}

/* Does pid have a descriptor open on the journal's directory or a file in it? */
static int
holds_journal(long pid)
{
	char path[64], fd[PATH_MAX + 64], target[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	int held = 0;
	struct dirent *de;
	while (!held && (de = readdir(d)) != NULL) {
		snprintf(fd, sizeof(fd), "%s/%s", path, de->d_name);
		ssize_t n = readlink(fd, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			held = strncmp(target, jdir, strlen(jdir)) == 0;
		}
	}
	closedir(d);
	return held;
}

/*
 * Wait (deadline 10 s) until pid has exec'd and closed the descriptors it
 * inherited across fork, the journal's lock among them (they are
 * close-on-exec): until then the entry would look held by a live process.
 * The kernel shows the new executable a moment before it closes them, so
 * both are waited for.
 */
static void
wait_exec(long pid)
{
	char path[64], self[PATH_MAX], exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
	for (int i = 0; i < 1000; i++) {
		n = readlink(path, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			if (strcmp(exe, self) != 0 && !holds_journal(pid))
				return;
		}
		usleep(10000);
	}
	ck_abort_msg("process %ld did not exec within 10 s", pid);
}

/* Does a process of group pgid run (zombies do not count)? */
static int
group_running(long pgid)
{
	DIR *d = opendir("/proc");
	ck_assert_ptr_nonnull(d);
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		char path[64], buf[1024];
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		struct journal_proc p;
		found = journal_parse_proc_stat(buf, n, &p) == 0 && p.pgrp == pgid && p.state != 'Z' &&
		    p.state != 'X';
	}
	closedir(d);
	return found;
}

/*
 * What a killed connection process leaves: a child begins (event, seq),
 * starts "sh -c 'sleep 60 & sleep 60'" (two processes in one group) in its
 * own session, records it, and dies. Returns the orphaned script's pid,
 * running, with its start time in the journal.
 */
static long
leave_orphan(long long event_id, int seq)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct journal *cj = journal_open(jdir, 0, 0, err, sizeof(err));
		struct journal_entry *ce = NULL;
		if (cj == NULL || journal_begin(cj, event_id, seq, &ce, err, sizeof(err)) != JOURNAL_BEGIN_RUN)
			_exit(1);
		pid_t s = fork();
		if (s == 0) {
			setsid();
			execl("/bin/sh", "sh", "-c", "sleep 60 & sleep 60", (char *)NULL);
			_exit(127);
		}
		if (s < 0 || journal_started(cj, ce, s, s, err, sizeof(err)) < 0)
			_exit(1);
		child_keep[0] = cj;
		child_keep[1] = ce;
		_exit(0); /* as kill -9 would: the lock is released, the entry stays running */
	}
	wait_child_ok(pid);
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_read(j, event_id, seq, &e, err, sizeof(err)), 1);
	ck_assert_int_eq(e->state, JOURNAL_RUNNING);
	ck_assert_int_gt(e->pid, 0);
	ck_assert_int_eq(e->pgid, e->pid);
	ck_assert_uint_gt(e->proc_start, 0);
	long spid = e->pid;
	journal_entry_free(e);
	journal_free(j);
	ck_assert_msg(proc_running(spid), "the orphaned script %ld does not run", spid);
	wait_exec(spid);
	return spid;
}

static int closed_count;
static long long closed_event;

static void
count_closed(void *arg, const struct journal_entry *e)
{
	(void)arg;
	closed_count++;
	closed_event = e->event_id;
	ck_assert_int_eq(e->state, JOURNAL_DONE);
	ck_assert_int_lt(e->lock_fd, 0);
}

START_TEST(test_journal_close_orphans_kills_the_script_and_records_it)
{
	long spid = leave_orphan(61, 0);
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL, *held = NULL, *done = NULL;
	/* a task a live holder runs, and one done, are left as they are */
	ck_assert_int_eq(journal_begin(j, 62, 0, &held, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	ck_assert_int_eq(journal_begin(j, 63, 0, &done, err, sizeof(err)), JOURNAL_BEGIN_RUN);
	finish(j, done, 0, "RunScript", NULL, 0);
	journal_entry_free(done);
	struct journal *other = open_journal(0); /* the listener: its own descriptors */
	closed_count = 0;
	ck_assert_int_eq(journal_close_orphans(other, "its connection process died", count_closed, NULL, err,
	    sizeof(err)), 1);
	ck_assert_int_eq(closed_count, 1);
	ck_assert_int_eq(closed_event, 61);
	ck_assert_msg(!proc_running(spid), "the orphaned script %ld still runs", spid);
	ck_assert_msg(!group_running(spid), "a process of the orphaned group %ld still runs", spid);
	ck_assert_int_eq(journal_read(other, 61, 0, &e, err, sizeof(err)), 1);
	ck_assert_int_eq(e->state, JOURNAL_DONE);
	ck_assert_int_eq(e->status_code, STATUS_KILLED);
	char want[256];
	snprintf(want, sizeof(want), "killed: its connection process died; process group %ld killed with SIGKILL",
	    spid);
	ck_assert_str_eq(e->result, want);
	journal_entry_free(e);
	/* a second pass finds nothing; the held task is still held */
	ck_assert_int_eq(journal_close_orphans(other, "its connection process died", NULL, NULL, err,
	    sizeof(err)), 0);
	finish(j, held, 0, "RunScript", NULL, 0);
	journal_entry_free(held);
	/* pushed again: replayed, never run */
	ck_assert_int_eq(journal_begin(j, 61, 0, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_int_eq(e->status_code, STATUS_KILLED);
	journal_entry_free(e);
	journal_free(other);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_begin_kills_an_orphan_it_meets)
{
	long spid = leave_orphan(64, 1);
	struct journal *j = open_journal(0);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_begin(j, 64, 1, &e, err, sizeof(err)), JOURNAL_BEGIN_REPLAY);
	ck_assert_msg(!proc_running(spid), "the orphaned script %ld still runs", spid);
	ck_assert_int_eq(e->status_code, STATUS_KILLED);
	ck_assert_ptr_nonnull(strstr(e->result, "killed: " JOURNAL_CAUSE_DIED "; process group"));
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_cancel_of_an_orphan_kills_it_and_says_so)
{
	long spid = leave_orphan(65, 0);
	struct journal *j = open_journal(0);
	long pgid = -1;
	ck_assert_int_eq(journal_request_cancel(j, 65, 0, &pgid, err, sizeof(err)), JOURNAL_CANCEL_KILLED);
	ck_assert_int_eq(pgid, 0);
	ck_assert_msg(!proc_running(spid), "the orphaned script %ld still runs", spid);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_read(j, 65, 0, &e, err, sizeof(err)), 1);
	ck_assert_int_eq(e->status_code, STATUS_CANCELLED);
	ck_assert_int_eq(e->cancel_requested, 1);
	ck_assert_ptr_nonnull(strstr(e->result, "cancelled: " JOURNAL_CAUSE_DIED));
	journal_entry_free(e);
	ck_assert_int_eq(jexists("65-0.cancel"), 0);
	/* asked again: it has ended */
	ck_assert_int_eq(journal_request_cancel(j, 65, 0, &pgid, err, sizeof(err)), JOURNAL_DONE);
	journal_free(j);
}
END_TEST

START_TEST(test_journal_orphan_whose_script_ended_is_not_signalled)
{
	long spid = leave_orphan(66, 0);
	/*
	 * the script ends by itself before anyone looks (as if the holder died just after it):
	 * its whole group, so that no "sleep 60" outlives the test holding the runner's output
	 */
	ck_assert_int_eq(kill(-(pid_t)spid, SIGKILL), 0);
	for (int i = 0; i < 1000 && (proc_running(spid) || group_running(spid)); i++)
		usleep(10000);
	ck_assert(!proc_running(spid));
	ck_assert_msg(!group_running(spid), "a process of the script's group %ld still runs", spid);
	struct journal *j = open_journal(0);
	long pgid = -1;
	ck_assert_int_eq(journal_request_cancel(j, 66, 0, &pgid, err, sizeof(err)), JOURNAL_DONE);
	struct journal_entry *e = NULL;
	ck_assert_int_eq(journal_read(j, 66, 0, &e, err, sizeof(err)), 1);
	ck_assert_int_eq(e->status_code, STATUS_AGENT_ERROR);
	ck_assert_str_eq(e->result, "interrupted: " JOURNAL_CAUSE_DIED "; the script had ended, its exit status "
	    "and output are unknown");
	journal_entry_free(e);
	journal_free(j);
}
END_TEST

Suite *
journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_journal_begin_finish_then_replay);
	tcase_add_test(tc, test_journal_replays_after_reopen);
	tcase_add_test(tc, test_journal_crash_between_run_and_reply_is_never_rerun);
	tcase_add_test(tc, test_journal_released_unfinished_entry_is_interrupted);
	tcase_add_test(tc, test_journal_concurrent_begin_waits_for_result);
	tcase_add_test(tc, test_journal_busy_when_holder_outlives_wait);
	tcase_add_test(tc, test_journal_lock_offsets_are_one_byte_per_task);
	tcase_add_test(tc, test_journal_holders_in_one_process_exclude_each_other);
	tcase_add_test(tc, test_journal_started_writes_in_place);
	tcase_add_test(tc, test_journal_digest_shows_a_torn_entry);
	tcase_add_test(tc, test_journal_cancel_request);
	tcase_add_test(tc, test_journal_cancel_reaches_running_script);
	tcase_add_test(tc, test_journal_prune_removes_old_entries_only);
	tcase_add_test(tc, test_journal_prune_keeps_the_newest_entries);
	tcase_add_test(tc, test_journal_prune_pools_old_entries_for_new_ones);
	tcase_add_test(tc, test_journal_prune_frees_when_the_pool_is_full);
	tcase_add_test(tc, test_journal_reports_corrupt_entries);
	tcase_add_test(tc, test_journal_caps_output_and_flattens_result);
	tcase_add_test(tc, test_journal_keeps_output_size_before_the_cap);
	tcase_add_test(tc, test_journal_refuses_pid_out_of_range);
	tcase_add_test(tc, test_journal_cancel_never_hands_out_group_one);
	tcase_add_test(tc, test_journal_entry_parse_without_io);
	tcase_add_test(tc, test_journal_refuses_misuse);
	tcase_add_test(tc, test_journal_abandoned_task_runs_again);
	tcase_add_test(tc, test_journal_parse_proc_stat_reads_state_group_and_start);
	tcase_add_test(tc, test_journal_orphan_decides_kill_only_for_the_recorded_process);
	tcase_add_test(tc, test_journal_orphan_result_says_what_happened);
	tcase_add_test(tc, test_journal_close_orphans_kills_the_script_and_records_it);
	tcase_add_test(tc, test_journal_begin_kills_an_orphan_it_meets);
	tcase_add_test(tc, test_journal_cancel_of_an_orphan_kills_it_and_says_so);
	tcase_add_test(tc, test_journal_orphan_whose_script_ended_is_not_signalled);
	suite_add_tcase(s, tc);
	return s;
}
