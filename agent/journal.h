/*
 * journal: (event id, task sequence) -> state and result, one small file per
 * task, written durably before the agent runs the task and before it sends the
 * result, so a task pushed twice runs once (the script's pid, journal_started,
 * is not fsync'd: see there). Safe across the agent's task processes (a lock on
 * the task's byte of one lock file, journal_lock_offset).
 * journal_open returns a struct journal freed with journal_free; journal_begin
 * returns a struct journal_entry freed with journal_entry_free.
 */
#ifndef PGFLEET_JOURNAL_H
#define PGFLEET_JOURNAL_H

#include <stddef.h>

#define JOURNAL_DEFAULT_MAX_OUTPUT (64 * 1024)
#define JOURNAL_DEFAULT_WAIT_MS 60000
#define JOURNAL_ORPHAN_KILL_WAIT_MS 2000 /* an orphan's SIGKILL'd script is waited for this long */
/* Why a running entry's holder is gone, when nothing more precise is known. */
#define JOURNAL_CAUSE_DIED "the process that ran it died"

enum journal_state {
	JOURNAL_RUNNING = 1,
	JOURNAL_DONE = 2,
};

/* What journal_begin decided. */
enum journal_begin {
	JOURNAL_BEGIN_RUN = 0,    /* new: run it, then journal_finish; this process holds the task */
	JOURNAL_BEGIN_REPLAY = 1, /* done already (or just closed as interrupted): send the stored result */
	JOURNAL_BEGIN_BUSY = 2,   /* another live process still runs it after the wait: entry is a snapshot */
};

struct journal_entry {
	long long event_id;
	int task_seq;
	enum journal_state state;
	int status_code;          /* valid when done */
	char *result;             /* when done: the result text; else NULL */
	char *output;             /* when done: output_len bytes, NUL-terminated; else NULL */
	size_t output_len;
	unsigned long long output_total; /* when done: bytes the script wrote before the cap */
	long pid;                 /* the script's pid, 0 before journal_started */
	long pgid;                /* its process group */
	unsigned long long proc_start; /* its start time (/proc/<pid>/stat, clock ticks since boot); 0 unknown */
	int cancel_requested;
	long long started_ms;     /* wall clock, ms since the epoch */
	long long finished_ms;    /* 0 while running */
	/* private */
	int lock_fd;              /* >= 0 while this process holds the task */
	size_t written_len;       /* bytes of the entry file as this process last wrote it; 0 unknown */
	char *cancel_path;
};

struct journal_result {
	int status_code;
	const char *result;       /* one line: newlines become spaces */
	const char *output;       /* may be NULL; the tail of max_output bytes is kept */
	size_t output_len;
	unsigned long long output_total; /* bytes the script wrote in all; below output_len: output_len */
};

struct journal;

/*
 * Open (creating it, mode 0700, if missing) the journal directory. max_output
 * 0 means JOURNAL_DEFAULT_MAX_OUTPUT; wait_ms 0 means JOURNAL_DEFAULT_WAIT_MS,
 * how long journal_begin waits for a task another process is running.
 */
struct journal *journal_open(const char *dir, size_t max_output, long long wait_ms,
    char *err, size_t errlen);
void journal_free(struct journal *j);

/*
 * Decide, atomically across processes, what to do with (event, seq): returns
 * an enum journal_begin with *out set, or -1 with err (a corrupt entry file is
 * named with the reason; nothing is run or changed then). An entry left
 * running by a process that died is never run again: it is closed as an
 * orphan (journal_close_orphans, cause JOURNAL_CAUSE_DIED) and replayed.
 */
int journal_begin(struct journal *j, long long event_id, int task_seq,
    struct journal_entry **out, char *err, size_t errlen);
/*
 * Record the script's pid and process group (for cancel); written over the
 * entry in place (the numbers have fixed widths, so the file keeps its length and
 * no new file is made) and not fsync'd (they matter only while the machine stays
 * up). When pid
 * is the caller's child its start time is recorded too (from /proc), so that
 * an orphaned script can later be told from another process given the same
 * pid; a pid that is not the caller's child is never signalled as an orphan.
 */
int journal_started(struct journal *j, struct journal_entry *e, long pid, long pgid,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/* Store the result durably (fsync of file and directory), then let the task go. */
int journal_finish(struct journal *j, struct journal_entry *e, const struct journal_result *res,
    char *err, size_t errlen);
/*
 * Nothing ran (the transfer failed, or the script could not be started): drop
 * the held task's entry, so that the same (event, seq) pushed again is run
 * rather than replayed; e is no longer held afterwards (free it). 0, or -1
 * with err (the entry then stays and is closed as interrupted by the next begin).
 */
int journal_abandon(struct journal *j, struct journal_entry *e, char *err, size_t errlen);
/*
 * Has a cancel been requested for this held task? Shaped for exec_req's
 * cancel_requested callback (arg: the struct journal_entry).
 */
int journal_entry_cancelled(void *entry);
/*
 * Ask for (event, seq) to be cancelled (from any process). Returns
 * JOURNAL_RUNNING with *pgid set when a live process holds it and its script is
 * seen running as recorded: a group leader with the recorded pid, start time and
 * group (so a value read while the holder rewrote it is never signalled); else 0
 * (not started yet, group 0 or 1, not shown to be the script: the holder's own
 * watch of the request stops it), JOURNAL_DONE when it had already finished (journal_read tells
 * how), JOURNAL_CANCEL_KILLED when its holder had died while its script still
 * ran: this call killed the script's group and recorded the task as
 * STATUS_CANCELLED; or -1 with err (not in the journal, corrupt entry, I/O).
 * A task whose holder had died and whose script had ended is closed as an
 * orphan and answered JOURNAL_DONE. The live holder's exec_wait sees the
 * request within about 50 ms and kills the group itself.
 */
#define JOURNAL_CANCEL_KILLED 3
int journal_request_cancel(struct journal *j, long long event_id, int task_seq, long *pgid,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * A snapshot of (event, seq) as stored, without taking it: 1 with *out (free
 * with journal_entry_free), 0 when it is not in the journal, -1 with err.
 */
int journal_read(struct journal *j, long long event_id, int task_seq, struct journal_entry **out,
    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Orphans: a running entry whose holder died (a task process killed,
 * the whole agent killed). Its script may still run, unsupervised: nobody
 * enforces its timeout, reads its output or can collect its exit status. It
 * is killed at once (SIGKILL to its group, when /proc shows the very process
 * recorded by journal_started) and the entry closed with a result saying
 * what happened; it is never run again.
 */
enum journal_orphan {
	JOURNAL_ORPHAN_NOT_STARTED = 1, /* no script was recorded as started: nothing to signal */
	JOURNAL_ORPHAN_ENDED,           /* the script is gone (or a zombie): its exit status is unknown */
	JOURNAL_ORPHAN_UNVERIFIED,      /* its pid runs but cannot be shown to be the script: not signalled */
	JOURNAL_ORPHAN_KILL,            /* the script still runs: kill its group */
};

/* What /proc/<pid>/stat says of a process. */
struct journal_proc {
	char state;                     /* 'R', 'S', 'Z'... */
	long pgrp;
	unsigned long long start;       /* clock ticks since boot */
};

/* Parse the text of /proc/<pid>/stat (len bytes). 0, or -1 when it is not that. Pure. */
int journal_parse_proc_stat(const char *buf, size_t len, struct journal_proc *out)
    __attribute__((warn_unused_result));
/*
 * Decide from the recorded pid and start time and what /proc shows now (seen
 * NULL: no such process). A process with another start time is another
 * process: the script ended. Pure.
 */
enum journal_orphan journal_orphan_decide(long pid, unsigned long long recorded_start,
    const struct journal_proc *seen);
/*
 * The status code and result text (into buf) an orphan is closed with: what
 * was decided, whether a killed script is gone, whether a cancel killed it,
 * its process group, and the cause ("its task process died"). Pure.
 */
int journal_orphan_result(enum journal_orphan what, int gone, int cancelled, long pgid,
    const char *cause, char *buf, size_t size);
/*
 * Close every orphan in the journal (a task held by a live process is left
 * alone), killing its script as above; closed(arg, e) is called for each one
 * closed (e done, no longer held). Returns how many, or -1 with err (the
 * first failure; the other orphans are still closed).
 */
int journal_close_orphans(struct journal *j, const char *cause,
    void (*closed)(void *arg, const struct journal_entry *e), void *arg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The descriptors j holds (its directory, its pool's) into fds; returns how many. */
int journal_fds(const struct journal *j, int fds[2]);
/*
 * Remove entries (and stray files) not modified for older_than_ms, then, when
  * keep > 0 and more than keep entries are left, the oldest (by their last
 * write) until keep are left; a task still held by a live process is kept.
 * Reads the whole directory (the agent runs it in a child process). Returns
 * the number of entries removed, or -1 with err.
 */
int journal_prune(struct journal *j, long long older_than_ms, long long keep, char *err,
    size_t errlen) __attribute__((warn_unused_result));
/*
 * The bytes of an entry file into e, for the task e->event_id, e->task_seq
 * (refused when the file names another): the fields read replace e's, and
 * when the state is done e->result and e->output are allocated (freed with
 * e). 0, or -1 with why (nothing in e changed). No I/O: what journal_begin
 * and journal_request_cancel apply to the file they read.
 */
int journal_entry_parse(const char *buf, size_t len, struct journal_entry *e, char *why, size_t whylen)
    __attribute__((warn_unused_result));
/*
 * The byte of the journal's lock file that the holder of (event, seq) locks: one of
 * its own for every event id below 2^42 and sequence below 2^20, a hash above. Pure.
 */
long long journal_lock_offset(long long event_id, int task_seq);
/* Free; a task still held is released unfinished (as a crash would). NULL is fine. */
void journal_entry_free(struct journal_entry *e);

#endif
