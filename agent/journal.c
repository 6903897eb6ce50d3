/*
 * journal: one entry file per task, "<event>-<seq>.j", replaced atomically
 * (temp file, fsync, rename, directory fsync). "<event>-<seq>.lock" is held
 * with flock by the process running the task: a running entry whose lock
 * nobody holds was left by a process that died. "<event>-<seq>.cancel" is a
 * cancel request from another process (a file of its own, so it never races
 * with the holder's rewrites of the entry).
 *
 * Entry format: "pgfleet-journal 1", Key=Value lines, an empty line, then
 * Output-Length bytes of output.
 */
#include "agent/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/status.h"

#define MAGIC "pgfleet-journal 1\n"
#define MAX_RESULT 4096
#define NAME_MAX_LEN 64

struct journal {
	char *dir;
	int dirfd;
	size_t max_output;
	long long wait_ms;
};

static long long
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
file_name(char *buf, size_t size, long long event_id, int task_seq, const char *suffix)
{
	snprintf(buf, size, "%lld-%d%s", event_id, task_seq, suffix);
}

struct journal *
journal_open(const char *dir, size_t max_output, long long wait_ms, char *err, size_t errlen)
{
	if (dir == NULL || dir[0] == '\0') {
		snprintf(err, errlen, "journal directory is not set");
		return NULL;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "journal directory %s: %s", dir, strerror(errno));
		return NULL;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "journal directory %s: %s", dir, strerror(errno));
		return NULL;
	}
	struct journal *j = calloc(1, sizeof(*j));
	if (j == NULL || (j->dir = strdup(dir)) == NULL) {
		free(j);
		close(fd);
		snprintf(err, errlen, "journal directory %s: out of memory", dir);
		return NULL;
	}
	j->dirfd = fd;
	j->max_output = max_output != 0 ? max_output : JOURNAL_DEFAULT_MAX_OUTPUT;
	j->wait_ms = wait_ms > 0 ? wait_ms : JOURNAL_DEFAULT_WAIT_MS;
	return j;
}

void
journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	close(j->dirfd);
	free(j->dir);
	free(j);
}

static void
entry_clear_result(struct journal_entry *e)
{
	free(e->result);
	free(e->output);
	e->result = NULL;
	e->output = NULL;
	e->output_len = 0;
}

void
journal_entry_free(struct journal_entry *e)
{
	if (e == NULL)
		return;
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	entry_clear_result(e);
	free(e->cancel_path);
	free(e);
}

static struct journal_entry *
entry_new(const struct journal *j, long long event_id, int task_seq)
{
	struct journal_entry *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->event_id = event_id;
	e->task_seq = task_seq;
	e->state = JOURNAL_RUNNING;
	e->lock_fd = -1;
	char name[NAME_MAX_LEN];
	file_name(name, sizeof(name), event_id, task_seq, ".cancel");
	size_t n = strlen(j->dir) + 1 + strlen(name) + 1;
	if ((e->cancel_path = malloc(n)) == NULL) {
		free(e);
		return NULL;
	}
	snprintf(e->cancel_path, n, "%s/%s", j->dir, name);
	return e;
}

/* Strict decimal integer of exactly n characters. */
static int
parse_ll(const char *s, size_t n, long long *v)
{
	char buf[32];
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9')))
		return -1;
	*v = x;
	return 0;
}

enum key_ix {
	K_EVENT, K_SEQ, K_STATE, K_STATUS, K_RESULT, K_PID, K_PGID, K_CANCEL, K_STARTED,
	K_FINISHED, K_OUTLEN, K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"Event-ID", "Task-Sequence-ID", "State", "Status-Code", "Result", "PID", "PGID",
	"Cancel-Requested", "Started", "Finished", "Output-Length",
};

/* Parse an entry file's bytes into e (result and output allocated). 0, or -1 with why. */
static int
parse_entry(const char *buf, size_t len, struct journal_entry *e, char *why, size_t whylen)
{
	size_t ml = strlen(MAGIC);
	if (len < ml || memcmp(buf, MAGIC, ml) != 0) {
		snprintf(why, whylen, "not a pgfleet journal entry (bad first line)");
		return -1;
	}
	long long num[K_COUNT] = {0};
	const char *result = NULL;
	size_t result_len = 0;
	int seen[K_COUNT] = {0};
	size_t pos = ml;
	int line = 1;
	for (;;) {
		line++;
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (nl == NULL) {
			snprintf(why, whylen, "header not terminated by an empty line");
			return -1;
		}
		size_t ll = (size_t)(nl - (buf + pos));
		const char *l = buf + pos;
		pos += ll + 1;
		if (ll == 0)
			break;
		const char *eq = memchr(l, '=', ll);
		if (eq == NULL) {
			snprintf(why, whylen, "line %d has no '='", line);
			return -1;
		}
		size_t kl = (size_t)(eq - l);
		const char *v = eq + 1;
		size_t vl = ll - kl - 1;
		int k = -1;
		for (int i = 0; i < K_COUNT; i++)
			if (strlen(key_names[i]) == kl && memcmp(key_names[i], l, kl) == 0)
				k = i;
		if (k < 0) {
			snprintf(why, whylen, "line %d: unknown key \"%.*s\"", line, (int)(kl > 40 ? 40 : kl), l);
			return -1;
		}
		if (seen[k]) {
			snprintf(why, whylen, "line %d: duplicate key %s", line, key_names[k]);
			return -1;
		}
		seen[k] = 1;
		if (k == K_RESULT) {
			result = v;
			result_len = vl;
		} else if (k == K_STATE) {
			if (vl == 7 && memcmp(v, "running", 7) == 0)
				num[k] = JOURNAL_RUNNING;
			else if (vl == 4 && memcmp(v, "done", 4) == 0)
				num[k] = JOURNAL_DONE;
			else {
				snprintf(why, whylen, "line %d: unknown state \"%.*s\"", line,
				    (int)(vl > 40 ? 40 : vl), v);
				return -1;
			}
		} else if (parse_ll(v, vl, &num[k]) < 0) {
			snprintf(why, whylen, "line %d: %s is not a number", line, key_names[k]);
			return -1;
		}
	}
	for (int i = 0; i < K_COUNT; i++) {
		if (!seen[i]) {
			snprintf(why, whylen, "key %s is missing", key_names[i]);
			return -1;
		}
	}
	if (num[K_EVENT] != e->event_id || num[K_SEQ] != e->task_seq) {
		snprintf(why, whylen, "entry is for event %lld task %lld", num[K_EVENT], num[K_SEQ]);
		return -1;
	}
	if (num[K_OUTLEN] < 0 || (unsigned long long)num[K_OUTLEN] != len - pos) {
		snprintf(why, whylen, "output is %zu bytes, Output-Length says %lld", len - pos,
		    num[K_OUTLEN]);
		return -1;
	}
	if (num[K_STATUS] < INT_MIN || num[K_STATUS] > INT_MAX || num[K_CANCEL] < 0 ||
	    num[K_CANCEL] > 1) {
		snprintf(why, whylen, "Status-Code or Cancel-Requested out of range");
		return -1;
	}
	/* a PGID reaches kill(-pgid): (pid_t)4294967297 would be -1, every process */
	if (num[K_PID] < 0 || num[K_PID] > INT_MAX || num[K_PGID] < 0 || num[K_PGID] > INT_MAX) {
		snprintf(why, whylen, "PID or PGID out of range");
		return -1;
	}
	entry_clear_result(e);
	e->state = (enum journal_state)num[K_STATE];
	e->status_code = (int)num[K_STATUS];
	e->pid = (long)num[K_PID];
	e->pgid = (long)num[K_PGID];
	e->cancel_requested = (int)num[K_CANCEL];
	e->started_ms = num[K_STARTED];
	e->finished_ms = num[K_FINISHED];
	if (e->state == JOURNAL_DONE) {
		e->result = strndup(result, result_len);
		e->output = malloc(len - pos + 1);
		if (e->result == NULL || e->output == NULL) {
			entry_clear_result(e);
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		memcpy(e->output, buf + pos, len - pos);
		e->output[len - pos] = '\0';
		e->output_len = len - pos;
	}
	return 0;
}

int
journal_entry_parse(const char *buf, size_t len, struct journal_entry *e, char *why, size_t whylen)
{
	return parse_entry(buf, len, e, why, whylen);
}

/*
 * Load (event, seq) into e: 1 loaded, 0 no entry file, -1 with err (the file
 * named, and why).
 */
static int
read_entry(struct journal *j, struct journal_entry *e, char *err, size_t errlen)
{
	char name[NAME_MAX_LEN];
	file_name(name, sizeof(name), e->event_id, e->task_seq, ".j");
	int fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "journal entry %s/%s: %s", j->dir, name, strerror(errno));
		return -1;
	}
	struct stat st;
	char *buf = NULL;
	char why[256];
	int rc = -1;
	if (fstat(fd, &st) < 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		goto out;
	}
	size_t limit = j->max_output + MAX_RESULT + 4096;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > limit) {
		snprintf(why, sizeof(why), "not a regular file of at most %zu bytes", limit);
		goto out;
	}
	size_t size = (size_t)st.st_size, got = 0;
	if ((buf = malloc(size + 1)) == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		goto out;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, sizeof(why), "%s", n < 0 ? strerror(errno) : "file shrank while read");
			goto out;
		}
		got += (size_t)n;
	}
	if (parse_entry(buf, size, e, why, sizeof(why)) == 0)
		rc = 1;
out:
	if (rc < 0)
		snprintf(err, errlen, "journal entry %s/%s: %s", j->dir, name, why);
	free(buf);
	close(fd);
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Replace the entry file durably: temp file, fsync, rename, directory fsync. */
static int
write_entry(struct journal *j, const struct journal_entry *e, char *err, size_t errlen)
{
	char name[NAME_MAX_LEN], tmp[NAME_MAX_LEN];
	file_name(name, sizeof(name), e->event_id, e->task_seq, ".j");
	file_name(tmp, sizeof(tmp), e->event_id, e->task_seq, ".j.tmp");
	const char *result = e->result != NULL ? e->result : "";
	size_t outlen = e->state == JOURNAL_DONE ? e->output_len : 0;
	const char *fmt = MAGIC "Event-ID=%lld\nTask-Sequence-ID=%d\nState=%s\nStatus-Code=%d\n"
	    "Result=%s\nPID=%ld\nPGID=%ld\nCancel-Requested=%d\nStarted=%lld\nFinished=%lld\n"
	    "Output-Length=%zu\n\n";
	const char *state = e->state == JOURNAL_DONE ? "done" : "running";
	int hl = snprintf(NULL, 0, fmt, e->event_id, e->task_seq, state, e->status_code, result,
	    e->pid, e->pgid, e->cancel_requested, e->started_ms, e->finished_ms, outlen);
	char *buf = hl < 0 ? NULL : malloc((size_t)hl + 1 + outlen);
	if (buf == NULL) {
		snprintf(err, errlen, "journal entry %s/%s: out of memory", j->dir, name);
		return -1;
	}
	snprintf(buf, (size_t)hl + 1, fmt, e->event_id, e->task_seq, state, e->status_code, result,
	    e->pid, e->pgid, e->cancel_requested, e->started_ms, e->finished_ms, outlen);
	if (outlen > 0)
		memcpy(buf + hl, e->output, outlen);

	const char *step = "open";
	int fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	step = "write";
	if (write_all(fd, buf, (size_t)hl + outlen) < 0)
		goto fail;
	step = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	step = "close";
	int rc = close(fd);
	fd = -1;
	if (rc < 0)
		goto fail;
	step = "rename";
	if (renameat(j->dirfd, tmp, j->dirfd, name) < 0)
		goto fail;
	step = "directory fsync";
	if (fsync(j->dirfd) < 0)
		goto fail;
	free(buf);
	return 0;
fail:
	snprintf(err, errlen, "journal entry %s/%s: %s: %s", j->dir, name, step, strerror(errno));
	if (fd >= 0)
		close(fd);
	(void)unlinkat(j->dirfd, tmp, 0);
	free(buf);
	return -1;
}

/*
 * Take the task's lock, waiting up to wait_ms: the fd, -2 on timeout, or -1
 * with err. The lock file may be pruned between open and flock: then the
 * locked inode is no longer the file's and we start over.
 */
static int
lock_task(struct journal *j, long long event_id, int task_seq, long long wait_ms,
    char *err, size_t errlen)
{
	char name[NAME_MAX_LEN];
	file_name(name, sizeof(name), event_id, task_seq, ".lock");
	long long deadline = mono_ms() + wait_ms;
	for (;;) {
		int fd = openat(j->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			snprintf(err, errlen, "journal lock %s/%s: %s", j->dir, name, strerror(errno));
			return -1;
		}
		useconds_t nap = 5000;
		while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno != EWOULDBLOCK && errno != EINTR) {
				snprintf(err, errlen, "journal lock %s/%s: %s", j->dir, name,
				    strerror(errno));
				close(fd);
				return -1;
			}
			if (mono_ms() >= deadline) {
				close(fd);
				return -2;
			}
			usleep(nap);
			if (nap < 100000)
				nap *= 2;
		}
		struct stat a, b;
		if (fstat(fd, &a) == 0 && fstatat(j->dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return fd;
		close(fd);
	}
}

static int
cancel_file_exists(struct journal *j, long long event_id, int task_seq)
{
	char name[NAME_MAX_LEN];
	file_name(name, sizeof(name), event_id, task_seq, ".cancel");
	return faccessat(j->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Done: store, drop the cancel request, release the lock. */
static int
finish_locked(struct journal *j, struct journal_entry *e, char *err, size_t errlen)
{
	e->state = JOURNAL_DONE;
	e->finished_ms = wall_ms();
	if (cancel_file_exists(j, e->event_id, e->task_seq))
		e->cancel_requested = 1;
	if (write_entry(j, e, err, errlen) < 0)
		return -1;
	char name[NAME_MAX_LEN];
	file_name(name, sizeof(name), e->event_id, e->task_seq, ".cancel");
	(void)unlinkat(j->dirfd, name, 0);
	close(e->lock_fd);
	e->lock_fd = -1;
	return 0;
}

int
journal_begin(struct journal *j, long long event_id, int task_seq,
    struct journal_entry **out, char *err, size_t errlen)
{
	*out = NULL;
	if (event_id < 0 || task_seq < 0) {
		snprintf(err, errlen, "event %lld task %d: ids must not be negative", event_id, task_seq);
		return -1;
	}
	struct journal_entry *e = entry_new(j, event_id, task_seq);
	if (e == NULL) {
		snprintf(err, errlen, "event %lld task %d: out of memory", event_id, task_seq);
		return -1;
	}
	int fd = lock_task(j, event_id, task_seq, j->wait_ms, err, errlen);
	if (fd == -1)
		goto fail;
	if (fd == -2) {
		/* Still held by a live process: a snapshot of what it wrote. */
		if (read_entry(j, e, err, errlen) < 0)
			goto fail;
		*out = e;
		return e->state == JOURNAL_DONE ? JOURNAL_BEGIN_REPLAY : JOURNAL_BEGIN_BUSY;
	}
	e->lock_fd = fd;
	int rc = read_entry(j, e, err, errlen);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		e->state = JOURNAL_RUNNING;
		e->started_ms = wall_ms();
		if (write_entry(j, e, err, errlen) < 0)
			goto fail;
		*out = e;
		return JOURNAL_BEGIN_RUN;
	}
	if (e->state == JOURNAL_RUNNING) {
		/* Its holder died between run and reply: never run it again. */
		entry_clear_result(e);
		e->status_code = STATUS_AGENT_ERROR;
		if ((e->result = strdup(JOURNAL_INTERRUPTED)) == NULL ||
		    (e->output = strdup("")) == NULL) {
			snprintf(err, errlen, "event %lld task %d: out of memory", event_id, task_seq);
			goto fail;
		}
		if (finish_locked(j, e, err, errlen) < 0)
			goto fail;
		*out = e;
		return JOURNAL_BEGIN_REPLAY;
	}
	close(e->lock_fd);
	e->lock_fd = -1;
	*out = e;
	return JOURNAL_BEGIN_REPLAY;
fail:
	journal_entry_free(e);
	return -1;
}

static int
check_held(const struct journal_entry *e, char *err, size_t errlen)
{
	if (e->lock_fd < 0 || e->state != JOURNAL_RUNNING) {
		snprintf(err, errlen, "event %lld task %d: not held by this process", e->event_id,
		    e->task_seq);
		return -1;
	}
	return 0;
}

int
journal_started(struct journal *j, struct journal_entry *e, long pid, long pgid,
    char *err, size_t errlen)
{
	if (check_held(e, err, errlen) < 0)
		return -1;
	e->pid = pid;
	e->pgid = pgid;
	return write_entry(j, e, err, errlen);
}

int
journal_finish(struct journal *j, struct journal_entry *e, const struct journal_result *res,
    char *err, size_t errlen)
{
	if (check_held(e, err, errlen) < 0)
		return -1;
	entry_clear_result(e);
	const char *result = res->result != NULL ? res->result : "";
	size_t rl = strnlen(result, MAX_RESULT);
	size_t ol = res->output != NULL ? res->output_len : 0;
	const char *out = res->output;
	if (ol > j->max_output) {
		out += ol - j->max_output;
		ol = j->max_output;
	}
	e->result = strndup(result, rl);
	e->output = malloc(ol + 1);
	if (e->result == NULL || e->output == NULL) {
		entry_clear_result(e);
		snprintf(err, errlen, "event %lld task %d: out of memory", e->event_id, e->task_seq);
		return -1;
	}
	for (size_t i = 0; i < rl; i++)
		if (e->result[i] == '\n' || e->result[i] == '\r')
			e->result[i] = ' ';
	if (ol > 0)
		memcpy(e->output, out, ol);
	e->output[ol] = '\0';
	e->output_len = ol;
	e->status_code = res->status_code;
	if (finish_locked(j, e, err, errlen) < 0) {
		e->state = JOURNAL_RUNNING;
		return -1;
	}
	return 0;
}

int
journal_abandon(struct journal *j, struct journal_entry *e, char *err, size_t errlen)
{
	if (check_held(e, err, errlen) < 0)
		return -1;
	static const char *const suffixes[] = {".j", ".cancel"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char name[NAME_MAX_LEN];
		file_name(name, sizeof(name), e->event_id, e->task_seq, suffixes[i]);
		if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "journal %s/%s: unlink: %s", j->dir, name, strerror(errno));
			return -1;
		}
	}
	if (fsync(j->dirfd) < 0) {
		snprintf(err, errlen, "journal %s: fsync: %s", j->dir, strerror(errno));
		return -1;
	}
	close(e->lock_fd);
	e->lock_fd = -1;
	return 0;
}

int
journal_entry_cancelled(void *entry)
{
	struct journal_entry *e = entry;
	if (!e->cancel_requested && e->cancel_path != NULL && access(e->cancel_path, F_OK) == 0)
		e->cancel_requested = 1;
	return e->cancel_requested;
}

int
journal_request_cancel(struct journal *j, long long event_id, int task_seq, long *pgid,
    char *err, size_t errlen)
{
	*pgid = 0;
	struct journal_entry *e = entry_new(j, event_id, task_seq);
	if (e == NULL) {
		snprintf(err, errlen, "event %lld task %d: out of memory", event_id, task_seq);
		return -1;
	}
	int rc = read_entry(j, e, err, errlen);
	if (rc == 0) {
		snprintf(err, errlen, "event %lld task %d: not in the journal", event_id, task_seq);
		rc = -1;
	}
	if (rc < 0)
		goto out;
	if (e->state == JOURNAL_DONE) {
		rc = JOURNAL_DONE;
		goto out;
	}
	char name[NAME_MAX_LEN];
	file_name(name, sizeof(name), event_id, task_seq, ".cancel");
	int fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fsync(fd) < 0 || fsync(j->dirfd) < 0) {
		snprintf(err, errlen, "journal cancel %s/%s: %s", j->dir, name, strerror(errno));
		if (fd >= 0)
			close(fd);
		rc = -1;
		goto out;
	}
	close(fd);
	/* Signal only a group whose holder is alive (else the pgid may be reused). */
	int lfd = lock_task(j, event_id, task_seq, 0, err, errlen);
	if (lfd == -1) {
		rc = -1;
		goto out;
	}
	if (lfd >= 0)
		close(lfd);
	else if (e->pgid > 1)
		*pgid = e->pgid; /* never 1: kill(-1) would signal every process */
	rc = JOURNAL_RUNNING;
	/* It may have finished meanwhile. */
	if (read_entry(j, e, err, errlen) == 1 && e->state == JOURNAL_DONE) {
		*pgid = 0;
		rc = JOURNAL_DONE;
	}
out:
	journal_entry_free(e);
	return rc < 0 ? -1 : rc;
}

/* "<event>-<seq><suffix>": 0 with the parts, -1 for a name that is not ours. */
static int
parse_name(const char *name, long long *event_id, int *task_seq, const char **suffix)
{
	const char *p = name;
	long long ev = 0, seq = 0;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (ev > (LLONG_MAX - 9) / 10)
			return -1;
		ev = ev * 10 + (*p++ - '0');
	}
	if (*p++ != '-' || *p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (seq > (INT_MAX - 9) / 10)
			return -1;
		seq = seq * 10 + (*p++ - '0');
	}
	if (strcmp(p, ".j") != 0 && strcmp(p, ".lock") != 0 && strcmp(p, ".cancel") != 0 &&
	    strcmp(p, ".j.tmp") != 0)
		return -1;
	*event_id = ev;
	*task_seq = (int)seq;
	*suffix = p;
	return 0;
}

/* Remove one task's files unless a live process holds it: 1 entry removed, 0 not, -1 error. */
static int
remove_task(struct journal *j, long long event_id, int task_seq, char *err, size_t errlen)
{
	int fd = lock_task(j, event_id, task_seq, 0, err, errlen);
	if (fd == -1)
		return -1;
	if (fd == -2)
		return 0;
	static const char *const suffixes[] = {".j.tmp", ".cancel", ".j", ".lock"};
	int removed = 0;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char name[NAME_MAX_LEN];
		file_name(name, sizeof(name), event_id, task_seq, suffixes[i]);
		if (unlinkat(j->dirfd, name, 0) == 0) {
			if (i == 2)
				removed = 1;
		} else if (errno != ENOENT) {
			snprintf(err, errlen, "journal %s/%s: unlink: %s", j->dir, name, strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (removed)
		(void)fsync(j->dirfd);
	close(fd);
	return removed;
}

int
journal_prune(struct journal *j, long long older_than_ms, char *err, size_t errlen)
{
	int dfd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (d == NULL) {
		snprintf(err, errlen, "journal directory %s: %s", j->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	long long cutoff = wall_ms() - older_than_ms;
	int count = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		long long ev;
		int seq;
		const char *suffix;
		if (parse_name(de->d_name, &ev, &seq, &suffix) < 0)
			continue;
		struct stat st;
		if (fstatat(j->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed with its entry already */
		long long mtime = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
		if (mtime >= cutoff)
			continue;
		if (strcmp(suffix, ".j") != 0) {
			/* A stray file: only when its entry is gone (else the entry decides). */
			char name[NAME_MAX_LEN];
			file_name(name, sizeof(name), ev, seq, ".j");
			if (faccessat(j->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
		}
		int rc = remove_task(j, ev, seq, err, errlen);
		if (rc < 0) {
			closedir(d);
			return -1;
		}
		count += rc;
	}
	closedir(d);
	return count;
}
