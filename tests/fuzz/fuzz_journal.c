/*
 * libFuzzer target for the agent journal's entry files (make fuzz): each
 * input is the content of the entry of event 7 task 1. It is parsed by
 * journal_entry_parse, then written as 7-1.j in a private journal under
 * $TMPDIR and read the way the agent does: journal_request_cancel while this
 * process holds the task's lock (its byte of journal.lock: a live holder), then
 * journal_begin. Nothing
 * is run or signalled. Besides the sanitizers it checks: a parsed entry has a
 * known state, pids that fit a pid_t and, when done, its output; a cancel
 * never hands out a process group below 2 (kill(-1) signals every process);
 * the file path agrees with the pure parser; an entry left running is closed
 * as interrupted, and what journal_begin wrote reads back the same.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/journal.h"
#include "common/log.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EVENT 7
#define SEQ 1
#define MAX_OUTPUT 64

static char dir[4096];
static struct journal *jr;

static void
jpath(char *buf, size_t size, const char *suffix)
{
	snprintf(buf, size, "%s/%d-%d%s", dir, EVENT, SEQ, suffix);
}

static void
remove_files(void)
{
	static const char *const suffixes[] = {".j", ".j.tmp", ".lock", ".cancel"};
	char p[4200];
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		jpath(p, sizeof(p), suffixes[i]);
		unlink(p);
	}
}

static void
cleanup(void)
{
	char p[4200];
	journal_free(jr);
	remove_files();
	snprintf(p, sizeof(p), "%s/journal.lock", dir);
	unlink(p);
	rmdir(dir);
}

static void
setup(void)
{
	char err[512];
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/pgfleet-fuzz-journal-XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	if ((jr = journal_open(dir, MAX_OUTPUT, 1, err, sizeof(err))) == NULL)
		abort();
	atexit(cleanup);
	log_setlevel(LL_ERROR);
}

static int
same_entry(const struct journal_entry *a, const struct journal_entry *b)
{
	if (a->state != b->state || a->status_code != b->status_code || a->pid != b->pid ||
	    a->pgid != b->pgid || a->cancel_requested != b->cancel_requested ||
	    a->started_ms != b->started_ms || a->finished_ms != b->finished_ms ||
	    a->output_len != b->output_len)
		return 0;
	if ((a->result == NULL) != (b->result == NULL) || (a->output == NULL) != (b->output == NULL))
		return 0;
	if (a->result != NULL && strcmp(a->result, b->result) != 0)
		return 0;
	return a->output == NULL || memcmp(a->output, b->output, a->output_len) == 0;
}

static void
check_parsed(const struct journal_entry *e, const uint8_t *data, size_t size)
{
	if (e->state == JOURNAL_DONE) {
		if (e->result == NULL || e->output == NULL || e->output[e->output_len] != '\0' ||
		    e->output_len > size || memcmp(e->output, data + size - e->output_len, e->output_len) != 0)
			abort();
	} else if (e->state == JOURNAL_RUNNING) {
		if (e->result != NULL || e->output != NULL || e->output_len != 0)
			abort();
	} else {
		abort();
	}
	if (e->pid < 0 || e->pid > INT_MAX || e->pgid < 0 || e->pgid > INT_MAX ||
	    (e->cancel_requested != 0 && e->cancel_requested != 1))
		abort();
}

static void
write_entry_file(const uint8_t *data, size_t size)
{
	char p[4200];
	jpath(p, sizeof(p), ".j");
	FILE *fp = fopen(p, "w");
	if (fp == NULL || fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
		abort();
}

/* journal_request_cancel with this process as the live holder of the task. */
static void
cancel_as_holder(int parsed, const struct journal_entry *pe, const char *why)
{
	char p[4200], err[1024];
	long pgid = -1;
	snprintf(p, sizeof(p), "%s/journal.lock", dir);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
	    .l_start = (off_t)journal_lock_offset(EVENT, SEQ), .l_len = 1};
	if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) != 0)
		abort();
	int rc = journal_request_cancel(jr, EVENT, SEQ, &pgid, err, sizeof(err));
	close(fd);
	if (!parsed) {
		if (rc != -1 || pgid != 0 || strstr(err, "7-1.j: ") == NULL || strstr(err, why) == NULL)
			abort();
		return;
	}
	if (pe->state == JOURNAL_DONE ? (rc != JOURNAL_DONE || pgid != 0) :
	    (rc != JOURNAL_RUNNING || pgid < 0 || pgid == 1 || pgid > INT_MAX ||
	    (pgid != 0 && pgid != pe->pgid)))
		abort();
}

static void
begin_as_agent(int parsed, const struct journal_entry *pe, const char *why)
{
	char err[1024];
	struct journal_entry *e = NULL, *again = NULL;
	int rc = journal_begin(jr, EVENT, SEQ, &e, err, sizeof(err));
	if (!parsed) {
		if (rc != -1 || e != NULL || strstr(err, "7-1.j: ") == NULL || strstr(err, why) == NULL)
			abort();
		return;
	}
	if (rc != JOURNAL_BEGIN_REPLAY || e == NULL || e->state != JOURNAL_DONE)
		abort();
	if (pe->state == JOURNAL_DONE) {
		/* the stored result as it was, cancel flag included */
		if (!same_entry(e, pe))
			abort();
	} else {
		/* left running by a dead holder: closed as an orphan (killed, or ended
		 * unknown), never run again */
		if ((e->status_code != STATUS_AGENT_ERROR && e->status_code != STATUS_KILLED) ||
		    e->result == NULL || e->output_len != 0)
			abort();
		/* what it wrote reads back the same */
		if (journal_begin(jr, EVENT, SEQ, &again, err, sizeof(err)) != JOURNAL_BEGIN_REPLAY ||
		    !same_entry(e, again))
			abort();
		journal_entry_free(again);
	}
	journal_entry_free(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_entry pe = {.event_id = EVENT, .task_seq = SEQ, .lock_fd = -1};
	char why[256];

	if (dir[0] == '\0')
		setup();
	why[0] = '\0';
	int parsed = journal_entry_parse((const char *)data, size, &pe, why, sizeof(why)) == 0;
	if (parsed)
		check_parsed(&pe, data, size);
	else if (why[0] == '\0' || pe.result != NULL || pe.output != NULL)
		abort();

	/* A file larger than the journal reads is refused before it is parsed. */
	if (size <= MAX_OUTPUT + 4096 + 4096) {
		write_entry_file(data, size);
		cancel_as_holder(parsed, &pe, why);
		begin_as_agent(parsed, &pe, why);
		remove_files();
	}
	free(pe.result);
	free(pe.output);
	return 0;
}
