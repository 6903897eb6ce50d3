/*
 * journal: one entry file per task, "<event>-<seq>.j". It is made when the task
 * begins (temp file, fsync, rename, directory fsync), then written over in place
 * by the process that made it (rewrite_entry): the script's pid (fixed-width
 * numbers: the same length; not fsync'd) and the task's end (fsync'd). A file
 * made and another freed per write were the costliest steps of a task on an ext4
 * without a journal (docs/performance.md); the Digest, the header's last line,
 * shows a file torn by a power cut during a write in place. An orphan's entry,
 * written by another process, is still replaced whole. The process running a task
 * holds a lock on one byte of "journal.lock" (an open file description lock,
 * F_OFD_SETLK: released when that process dies), the byte of the task
 * (journal_lock_offset): a running entry whose byte nobody holds was left by a
 * process that died. One lock file for every task, made once.
 * "<event>-<seq>.cancel" is a cancel request from another process (a file of its
 * own, so it never races with the holder's rewrites of the entry). Journals
 * written before held "<event>-<seq>.lock" files (flock): prune removes them.
 *
 * Entry format: "pgfleet-journal 1", Key=Value lines, an empty line, then
 * Output-Length bytes of output. Output-Size (bytes the script wrote before the cap)
 * may be missing: entries written before it existed mean Output-Length. Script-Start
 * may be missing too (entries written before it existed): read as 0, unknown. So
 * may Digest (FNV-1a, 16 hex digits, of the bytes before its line and of the
 * output): checked when there.
 *
 * Orphans (a running entry whose lock nobody holds) are closed by whoever
 * meets one first, under its lock: the main process when a task process
 * dies or at start, a begin, or a cancel. Their scripts are killed rather than
 * adopted: see docs/agent.md.
 */
#include "agent/journal.h"
#include "agent/jpool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/wire.h"

#define MAGIC "pgfleet-journal 1\n"
#define MAX_RESULT 4096
#define NAME_MAX_LEN 64

struct journal {
	char *dir;
	int dirfd;
	size_t max_output;
	long long wait_ms;
	struct jpool pool;        /* pruned entries' inodes, for new ones (agent/jpool.h) */
	int pool_count;           /* files in the pool during a prune */
};



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
	jpool_open(&j->pool, fd);
	j->max_output = max_output != 0 ? max_output : JOURNAL_DEFAULT_MAX_OUTPUT;
	j->wait_ms = wait_ms > 0 ? wait_ms : JOURNAL_DEFAULT_WAIT_MS;
	return j;
}

void
journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	jpool_close(&j->pool);
	close(j->dirfd);
	free(j->dir);
	free(j);
}

int
journal_fds(const struct journal *j, int fds[2])
{
	fds[0] = j->dirfd;
	fds[1] = j->pool.dirfd;
	return fds[1] >= 0 ? 2 : 1;
}

static void
entry_clear_result(struct journal_entry *e)
{
	free(e->result);
	free(e->output);
	e->result = NULL;
	e->output = NULL;
	e->output_len = 0;
	e->output_total = 0;
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

/* FNV-1a, 64 bits, continued from h: the digest of an entry (not a defence, a tear detector). */
static uint64_t
fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV_BASIS 0xcbf29ce484222325ULL
#define DIGEST_KEY "\nDigest="

/* The digest of an entry: its bytes before the Digest line, then its output. */
static uint64_t
entry_digest(const char *head, size_t headlen, const char *out, size_t outlen)
{
	return fnv1a(fnv1a(FNV_BASIS, head, headlen), out, outlen);
}

/* Exactly 16 lower-case hexadecimal digits into *v (the bits of a uint64_t). */
static int
parse_digest(const char *s, long long *v)
{
	uint64_t x = 0;
	size_t n = strlen(s);
	if (n != 16)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		x = x << 4 | (uint64_t)d;
	}
	memcpy(v, &x, sizeof(x));
	return 0;
}

enum key_ix {
	K_EVENT, K_SEQ, K_STATE, K_STATUS, K_RESULT, K_PID, K_PGID, K_PSTART, K_CANCEL, K_STARTED,
	K_FINISHED, K_OUTLEN, K_OUTSIZE, K_DIGEST, K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"Event-ID", "Task-Sequence-ID", "State", "Status-Code", "Result", "PID", "PGID",
	"Script-Start", "Cancel-Requested", "Started", "Finished", "Output-Length", "Output-Size",
	"Digest",
};

/*
 * The header of an entry (after the first line, so key n is on line n + 2)
 * through the wire codec: each key known and at most once, numbers in num, the result pointed at in the
 * message. *body_at is where the output begins. The message (or NULL with why).
 */
static struct wire_msg *
read_header(const char *buf, size_t len, size_t *body_at, long long num[K_COUNT],
    int seen[K_COUNT], char *why, size_t whylen)
{
	struct wire_parser *wp = wire_parser_new(0);
	size_t used = 0;
	if (wp == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	enum wire_status st = wire_feed(wp, buf, len, &used);
	if (st != WIRE_DONE) {
		const char *e = wire_parser_error(wp);
		int line = 0, off = 0;
		/* the codec counts from the line after the first */
		if (st == WIRE_ERROR && sscanf(e, "line %d: %n", &line, &off) == 1 && off > 0)
			snprintf(why, whylen, "line %d: %s", line + 1, e + off);
		else
			snprintf(why, whylen, "%s", st == WIRE_ERROR ? e :
			    "header not terminated by an empty line");
		wire_parser_free(wp);
		return NULL;
	}
	struct wire_msg *m = wire_parser_take(wp);
	wire_parser_free(wp);
	*body_at = used;
	for (int n = 0; m != NULL && n < m->nkeys; n++) {
		const char *key = m->keys[n], *v = m->values[n];
		int k = -1;
		for (int i = 0; i < K_COUNT; i++)
			if (strcmp(key_names[i], key) == 0)
				k = i;
		if (k < 0)
			snprintf(why, whylen, "line %d: unknown key \"%.40s\"", n + 2, key);
		else if (k == K_STATE && strcmp(v, "running") != 0 && strcmp(v, "done") != 0)
			snprintf(why, whylen, "line %d: unknown state \"%.40s\"", n + 2, v);
		else if (k == K_DIGEST && parse_digest(v, &num[k]) < 0)
			snprintf(why, whylen, "line %d: Digest is not 16 hexadecimal digits", n + 2);
		else if (k != K_STATE && k != K_RESULT && k != K_DIGEST && parse_ll(v, strlen(v), &num[k]) < 0)
			snprintf(why, whylen, "line %d: %s is not a number", n + 2, key_names[k]);
		else {
			if (k == K_STATE)
				num[k] = strcmp(v, "running") == 0 ? JOURNAL_RUNNING : JOURNAL_DONE;
			seen[k] = 1;
			continue;
		}
		wire_msg_free(m);
		return NULL;
	}
	if (m == NULL)
		snprintf(why, whylen, "out of memory");
	return m;
}

/* Every required key there, and the values consistent with e and the output's length. */
static int
check_entry(const long long num[K_COUNT], const int seen[K_COUNT], const struct journal_entry *e,
    size_t outlen, char *why, size_t whylen)
{
	for (int i = 0; i < K_COUNT; i++) {
		if (!seen[i] && i != K_OUTSIZE && i != K_PSTART && i != K_DIGEST) {
			snprintf(why, whylen, "key %s is missing", key_names[i]);
			return -1;
		}
	}
	if (num[K_EVENT] != e->event_id || num[K_SEQ] != e->task_seq) {
		snprintf(why, whylen, "entry is for event %lld task %lld", num[K_EVENT], num[K_SEQ]);
		return -1;
	}
	if (num[K_OUTSIZE] < num[K_OUTLEN]) {
		snprintf(why, whylen, "Output-Size %lld is below Output-Length %lld", num[K_OUTSIZE],
		    num[K_OUTLEN]);
		return -1;
	}
	if (num[K_OUTLEN] < 0 || (unsigned long long)num[K_OUTLEN] != outlen) {
		snprintf(why, whylen, "output is %zu bytes, Output-Length says %lld", outlen,
		    num[K_OUTLEN]);
		return -1;
	}
	if (num[K_STATUS] < INT_MIN || num[K_STATUS] > INT_MAX || num[K_CANCEL] < 0 ||
	    num[K_CANCEL] > 1 || num[K_PSTART] < 0) {
		snprintf(why, whylen, "Status-Code, Script-Start or Cancel-Requested out of range");
		return -1;
	}
	/* a PGID reaches kill(-pgid): (pid_t)4294967297 would be -1, every process */
	if (num[K_PID] < 0 || num[K_PID] > INT_MAX || num[K_PGID] < 0 || num[K_PGID] > INT_MAX) {
		snprintf(why, whylen, "PID or PGID out of range");
		return -1;
	}
	return 0;
}

/* Parse an entry file's bytes into e (result and output allocated). 0, or -1 with why. */
static int
parse_entry(const char *buf, size_t len, struct journal_entry *e, char *why, size_t whylen)
{
	size_t ml = strlen(MAGIC), at = 0;
	long long num[K_COUNT] = {0};
	int seen[K_COUNT] = {0};
	if (len < ml || memcmp(buf, MAGIC, ml) != 0) {
		snprintf(why, whylen, "not a pgfleet journal entry (bad first line)");
		return -1;
	}
	struct wire_msg *m = read_header(buf + ml, len - ml, &at, num, seen, why, whylen);
	if (m == NULL)
		return -1;
	size_t pos = ml + at;
	if (!seen[K_OUTSIZE])
		num[K_OUTSIZE] = num[K_OUTLEN];
	if (seen[K_DIGEST]) {
		/* the last line of the header; written over in place, a torn file shows here */
		const char *d = memmem(buf, pos, DIGEST_KEY, strlen(DIGEST_KEY));
		uint64_t want;
		memcpy(&want, &num[K_DIGEST], sizeof(want));
		if (d == NULL || entry_digest(buf, (size_t)(d - buf) + 1, buf + pos, len - pos) != want) {
			snprintf(why, whylen, "Digest does not match the entry (a write was torn)");
			wire_msg_free(m);
			return -1;
		}
	}
	if (check_entry(num, seen, e, len - pos, why, whylen) == -1) {
		wire_msg_free(m);
		return -1;
	}
	entry_clear_result(e);
	e->state = (enum journal_state)num[K_STATE];
	e->status_code = (int)num[K_STATUS];
	e->pid = (long)num[K_PID];
	e->pgid = (long)num[K_PGID];
	e->proc_start = (unsigned long long)num[K_PSTART];
	e->cancel_requested = (int)num[K_CANCEL];
	e->started_ms = num[K_STARTED];
	e->finished_ms = num[K_FINISHED];
	int rc = 0;
	if (e->state == JOURNAL_DONE) {
		const char *result = wire_get(m, key_names[K_RESULT]);
		e->result = strdup(result != NULL ? result : "");
		e->output = malloc(len - pos + 1);
		if (e->result == NULL || e->output == NULL) {
			entry_clear_result(e);
			snprintf(why, whylen, "out of memory");
			rc = -1;
		} else {
			memcpy(e->output, buf + pos, len - pos);
			e->output[len - pos] = '\0';
			e->output_len = len - pos;
			e->output_total = (unsigned long long)num[K_OUTSIZE];
		}
	}
	wire_msg_free(m);
	return rc;
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
read_entry_once(struct journal *j, struct journal_entry *e, char *err, size_t errlen)
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

/*
 * read_entry_once, read again a few times when the file does not parse: its holder
 * writes it in place (rewrite_entry), so a read without the task's lock may catch a
 * write half done (the Digest or the lengths show it). A file still torn after
 * READ_TRIES is what it says it is.
 */
#define READ_TRIES 4
#define READ_RETRY_US 2000
static int
read_entry(struct journal *j, struct journal_entry *e, char *err, size_t errlen)
{
	int rc = read_entry_once(j, e, err, errlen);
	for (int i = 1; rc < 0 && i < READ_TRIES; i++) {
		usleep(READ_RETRY_US);
		rc = read_entry_once(j, e, err, errlen);
	}
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

/*
 * The bytes of e's entry file (malloc'd, *len set), or NULL when out of memory. PID,
 * PGID and Script-Start have fixed widths: journal_started writes them over the file
 * in place, which keeps its length.
 */
static char *
render_entry(const struct journal_entry *e, size_t *len)
{
	const char *result = e->result != NULL ? e->result : "";
	size_t outlen = e->state == JOURNAL_DONE ? e->output_len : 0;
	const char *fmt = MAGIC "Event-ID=%lld\nTask-Sequence-ID=%d\nState=%s\nStatus-Code=%d\n"
	    "Result=%s\nPID=%010ld\nPGID=%010ld\nScript-Start=%020llu\nCancel-Requested=%d\n"
	    "Started=%lld\nFinished=%lld\nOutput-Length=%zu\nOutput-Size=%llu\n";
	const char *state = e->state == JOURNAL_DONE ? "done" : "running";
	unsigned long long total = e->output_total > outlen ? e->output_total : outlen;
	int hl = snprintf(NULL, 0, fmt, e->event_id, e->task_seq, state, e->status_code, result,
	    e->pid, e->pgid, e->proc_start, e->cancel_requested, e->started_ms, e->finished_ms, outlen, total);
	/* then "Digest=" 16 hex digits, a newline and the empty line */
	size_t dl = strlen("Digest=") + 16 + 2;
	char *buf = hl < 0 ? NULL : malloc((size_t)hl + dl + 1 + outlen);
	if (buf == NULL)
		return NULL;
	snprintf(buf, (size_t)hl + 1, fmt, e->event_id, e->task_seq, state, e->status_code, result,
	    e->pid, e->pgid, e->proc_start, e->cancel_requested, e->started_ms, e->finished_ms, outlen, total);
	const char *out = outlen > 0 ? e->output : "";
	unsigned long long digest = entry_digest(buf, (size_t)hl, out, outlen);
	snprintf(buf + hl, dl + 1, "Digest=%016llx\n\n", digest);
	if (outlen > 0)
		memcpy(buf + hl + dl, e->output, outlen);
	*len = (size_t)hl + dl + outlen;
	return buf;
}

/*
 * Replace the entry file: temp file, fsync, rename, directory fsync; without them when
 * !durable (the rename alone: whole for every process on this machine, maybe not after
 * a power cut, where a torn entry fails the next read and so never lets the task run again).
 */
static int
write_entry_how(struct journal *j, struct journal_entry *e, int durable, char *err,
    size_t errlen)
{
	char name[NAME_MAX_LEN], tmp[NAME_MAX_LEN];
	file_name(name, sizeof(name), e->event_id, e->task_seq, ".j");
	file_name(tmp, sizeof(tmp), e->event_id, e->task_seq, ".j.tmp");
	size_t len = 0;
	char *buf = render_entry(e, &len);
	if (buf == NULL) {
		snprintf(err, errlen, "journal entry %s/%s: out of memory", j->dir, name);
		return -1;
	}

	const char *step = "open";
	(void)jpool_take(&j->pool, j->dirfd, tmp); /* an inode of a pruned entry, when there is one */
	int fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	step = "write";
	if (write_all(fd, buf, len) < 0)
		goto fail;
	step = "fsync";
	if (durable && fsync(fd) < 0)
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
	if (durable && fsync(j->dirfd) < 0)
		goto fail;
	e->written_len = len;
	free(buf);
	return 0;
fail:
	snprintf(err, errlen, "journal entry %s/%s: %s: %s", j->dir, name, step, strerror(errno));
	e->written_len = 0;
	if (fd >= 0)
		close(fd);
	(void)unlinkat(j->dirfd, tmp, 0);
	free(buf);
	return -1;
}

/*
 * Write e over its entry file in place, which makes no new file: on ext4, an inode
 * made and another freed per write were the dearest steps of a task. Not durable:
 * only when the bytes keep the file's length (the fixed-width numbers changed), else
 * the file is replaced. Durable (fsync): at any length, the file cut to it; a power
 * cut in the middle may leave a torn file, which its Digest then shows (the task is
 * answered with an agent error, never run again). Where this process did not write
 * the file itself (an orphan's, closed by another), it is replaced as before.
 */
static int
rewrite_entry(struct journal *j, struct journal_entry *e, int durable, char *err, size_t errlen)
{
	size_t len = 0;
	char *buf = render_entry(e, &len);
	if (buf == NULL || e->written_len == 0 || (!durable && len != e->written_len)) {
		free(buf);
		return write_entry_how(j, e, durable, err, errlen);
	}
	char name[NAME_MAX_LEN];
	file_name(name, sizeof(name), e->event_id, e->task_seq, ".j");
	const char *step = "open";
	int fd = openat(j->dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t w = -1;
	if (fd < 0)
		goto fail;
	step = "write in place";
	w = pwrite(fd, buf, len, 0);
	if (w != (ssize_t)len) {
		if (w >= 0)
			errno = EIO; /* a short write to a regular file: no space left, as good as */
		goto fail;
	}
	step = "truncate";
	if (len < e->written_len && ftruncate(fd, (off_t)len) < 0)
		goto fail;
	step = "fsync";
	if (durable && fsync(fd) < 0)
		goto fail;
	step = "close";
	int rc = close(fd);
	fd = -1;
	if (rc < 0)
		goto fail;
	e->written_len = len;
	free(buf);
	return 0;
fail:
	snprintf(err, errlen, "journal entry %s/%s: %s: %s", j->dir, name, step, strerror(errno));
	e->written_len = 0; /* unknown now: the next write replaces the file */
	if (fd >= 0)
		close(fd);
	free(buf);
	return -1;
}

static int
write_entry(struct journal *j, struct journal_entry *e, char *err, size_t errlen)
{
	return write_entry_how(j, e, 1, err, errlen);
}

#define LOCK_FILE "journal.lock"

/*
 * The byte of journal.lock that stands for (event, seq): exact below 2^42 events and
 * 2^20 sequences (every key request_task_key makes: seq + retry * stride < 2^17), so
 * two tasks never share one; beyond, a hash into the upper half of the offsets, where
 * two tasks share a byte by a chance of 1 in 2^62 (one then waits for the other).
 */
long long
journal_lock_offset(long long event_id, int task_seq)
{
	if (event_id >= 0 && event_id < (1LL << 42) && task_seq >= 0 && task_seq < (1 << 20))
		return (event_id << 20) | task_seq;
	uint64_t h = (uint64_t)event_id * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(unsigned)task_seq;
	h ^= h >> 31;
	h *= 0xBF58476D1CE4E5B9ULL;
	h ^= h >> 29;
	/* below 2^63 - 1: the locked byte's end must still be an off_t */
	return (long long)((h % ((1ULL << 62) - 1)) | (1ULL << 62));
}

/*
 * Take the task's lock, waiting up to wait_ms: the fd (closing it releases the lock),
 * -2 on timeout, or -1 with err. Each call opens journal.lock anew: the lock belongs
 * to that open file description, so two holders in one process still exclude each
 * other, as two processes do.
 */
static int
lock_task(struct journal *j, long long event_id, int task_seq, long long wait_ms,
    char *err, size_t errlen)
{
	int fd = openat(j->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "journal lock %s/%s: %s", j->dir, LOCK_FILE, strerror(errno));
		return -1;
	}
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)journal_lock_offset(event_id, task_seq),
		.l_len = 1,
	};
	long long deadline = clock_mono_ms() + wait_ms;
	useconds_t nap = 5000;
	while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			snprintf(err, errlen, "journal lock %s/%s: " LOG_TASK_FMT "%s", j->dir, LOCK_FILE,
			    LOG_TASK_ARGS(event_id, task_seq), strerror(errno));
			close(fd);
			return -1;
		}
		if (clock_mono_ms() >= deadline) {
			close(fd);
			return -2;
		}
		usleep(nap);
		if (nap < 100000)
			nap *= 2;
	}
	return fd;
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
	e->finished_ms = clock_wall_ms();
	if (cancel_file_exists(j, e->event_id, e->task_seq))
		e->cancel_requested = 1;
	if (rewrite_entry(j, e, 1, err, errlen) < 0)
		return -1;
	char name[NAME_MAX_LEN];
	file_name(name, sizeof(name), e->event_id, e->task_seq, ".cancel");
	(void)unlinkat(j->dirfd, name, 0);
	close(e->lock_fd);
	e->lock_fd = -1;
	return 0;
}

/* --- orphans */

int
journal_parse_proc_stat(const char *buf, size_t len, struct journal_proc *out)
{
	/* "pid (comm) S ppid pgrp ... starttime(22nd)": comm may hold ") ", so from the last ')' */
	const char *close = NULL;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == ')')
			close = buf + i;
	if (close == NULL || (size_t)(close - buf) + 2 >= len || close[1] != ' ')
		return -1;
	char tmp[1024];
	size_t n = len - (size_t)(close + 2 - buf);
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, close + 2, n);
	tmp[n] = '\0';
	/* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime cutime cstime priority nice threads itrealvalue starttime */
	char *save = NULL, *f = strtok_r(tmp, " \n", &save);
	for (int field = 3; f != NULL; field++, f = strtok_r(NULL, " \n", &save)) {
		long long v;
		if (field == 3) {
			if (strlen(f) != 1)
				return -1;
			out->state = f[0];
		} else if (field == 5) {
			if (parse_ll(f, strlen(f), &v) < 0)
				return -1;
			out->pgrp = (long)v;
		} else if (field == 22) {
			char *end;
			errno = 0;
			unsigned long long st = strtoull(f, &end, 10);
			if (errno != 0 || *end != '\0' || f[0] < '0' || f[0] > '9')
				return -1;
			out->start = st;
			return 0;
		}
	}
	return -1;
}

/* /proc/<pid>/stat of a live (or zombie) process: 1 read, 0 no such process or unreadable. */
static int
proc_read(long pid, struct journal_proc *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 && journal_parse_proc_stat(buf, (size_t)n, out) == 0;
}

enum journal_orphan
journal_orphan_decide(long pid, unsigned long long recorded_start, const struct journal_proc *seen)
{
	if (pid <= 0)
		return JOURNAL_ORPHAN_NOT_STARTED;
	if (seen == NULL || seen->state == 'Z' || seen->state == 'X')
		return JOURNAL_ORPHAN_ENDED;
	if (recorded_start == 0)
		return JOURNAL_ORPHAN_UNVERIFIED;
	if (seen->start != recorded_start)
		return JOURNAL_ORPHAN_ENDED; /* the pid went to another process */
	return JOURNAL_ORPHAN_KILL;
}

int
journal_orphan_result(enum journal_orphan what, int gone, int cancelled, long pgid,
    const char *cause, char *buf, size_t size)
{
	switch (what) {
	case JOURNAL_ORPHAN_KILL:
		snprintf(buf, size, "%s: %s; process group %ld killed with SIGKILL%s",
		    cancelled ? "cancelled" : "killed", cause, pgid,
		    gone ? "" : ", not yet ended when last looked at");
		return cancelled ? STATUS_CANCELLED : STATUS_KILLED;
	case JOURNAL_ORPHAN_ENDED:
		snprintf(buf, size, "interrupted: %s; the script had ended, its exit status and output are unknown",
		    cause);
		return STATUS_AGENT_ERROR;
	case JOURNAL_ORPHAN_UNVERIFIED:
		snprintf(buf, size, "interrupted: %s; process %ld could not be shown to be its script and was "
		    "not signalled", cause, pgid);
		return STATUS_AGENT_ERROR;
	case JOURNAL_ORPHAN_NOT_STARTED:
	default:
		snprintf(buf, size, "interrupted: %s before the script was recorded as started", cause);
		return STATUS_AGENT_ERROR;
	}
}

/* Does a process of group pgid still run (zombies do not count)? */
static int
group_running(long pgid)
{
	DIR *d = opendir("/proc");
	if (d == NULL)
		return 0;
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d)) != NULL) {
		long long pid;
		struct journal_proc p;
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    parse_ll(de->d_name, strlen(de->d_name), &pid) < 0)
			continue;
		found = proc_read((long)pid, &p) && p.pgrp == pgid && p.state != 'Z' && p.state != 'X';
	}
	closedir(d);
	return found;
}

/*
 * Wait up to ms for the script (pid, its start time) to be gone, or a zombie,
 * or another process, and for no process of its group pgid to run: 1 gone,
 * 0 not yet.
 */
static int
wait_gone(long pid, unsigned long long start, long pgid, long long ms)
{
	long long deadline = clock_mono_ms() + ms;
	for (;;) {
		struct journal_proc p;
		if ((!proc_read(pid, &p) || p.state == 'Z' || p.state == 'X' || p.start != start) &&
		    (pgid <= 0 || !group_running(pgid)))
			return 1;
		if (clock_mono_ms() >= deadline)
			return 0;
		usleep(10000);
	}
}

/*
 * Close a held running entry whose previous holder died: kill its script if
 * it still runs, store what happened. Returns the decision, or -1 with err.
 */
static int
close_orphan_locked(struct journal *j, struct journal_entry *e, const char *cause, int cancelled,
    char *err, size_t errlen)
{
	struct journal_proc seen;
	int found = e->pid > 0 && proc_read(e->pid, &seen);
	enum journal_orphan what = journal_orphan_decide(e->pid, e->proc_start, found ? &seen : NULL);
	int gone = 1;
	if (what == JOURNAL_ORPHAN_KILL) {
		/* the leader is alive, so its group id (its pid) cannot have been reused */
		long group = e->pgid == e->pid ? e->pgid : 0;
		/* never group or pid 1: kill(-1) signals every process, pid 1 is init */
		if (group > 1)
			(void)kill(-(pid_t)group, SIGKILL);
		if (e->pid > 1)
			(void)kill((pid_t)e->pid, SIGKILL);
		gone = wait_gone(e->pid, e->proc_start, group, JOURNAL_ORPHAN_KILL_WAIT_MS);
	}
	char text[512];
	long who = what == JOURNAL_ORPHAN_KILL ? e->pgid : e->pid;
	int code = journal_orphan_result(what, gone, cancelled, who, cause, text, sizeof(text));
	entry_clear_result(e);
	e->status_code = code;
	if ((e->result = strdup(text)) == NULL || (e->output = strdup("")) == NULL) {
		entry_clear_result(e);
		snprintf(err, errlen, LOG_TASK_FMT "out of memory", LOG_TASK_ARGS(e->event_id, e->task_seq));
		return -1;
	}
	if (finish_locked(j, e, err, errlen) < 0) {
		e->state = JOURNAL_RUNNING;
		return -1;
	}
	return (int)what;
}

int
journal_begin(struct journal *j, long long event_id, int task_seq,
    struct journal_entry **out, char *err, size_t errlen)
{
	*out = NULL;
	if (event_id < 0 || task_seq < 0) {
		snprintf(err, errlen, LOG_TASK_FMT "ids must not be negative", LOG_TASK_ARGS(event_id, task_seq));
		return -1;
	}
	struct journal_entry *e = entry_new(j, event_id, task_seq);
	if (e == NULL) {
		snprintf(err, errlen, LOG_TASK_FMT "out of memory", LOG_TASK_ARGS(event_id, task_seq));
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
		e->started_ms = clock_wall_ms();
		if (write_entry(j, e, err, errlen) < 0)
			goto fail;
		*out = e;
		return JOURNAL_BEGIN_RUN;
	}
	if (e->state == JOURNAL_RUNNING) {
		/* Its holder died between run and reply: never run it again. */
		if (close_orphan_locked(j, e, JOURNAL_CAUSE_DIED, 0, err, errlen) < 0)
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
		snprintf(err, errlen, LOG_TASK_FMT "not held by this process",
		    LOG_TASK_ARGS(e->event_id, e->task_seq));
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
	e->proc_start = 0;
	/* only our own child (alive, or a zombie not reaped yet) is surely the process named pid */
	siginfo_t si;
	struct journal_proc p;
	if (pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    proc_read(pid, &p))
		e->proc_start = p.start;
	/* not fsync'd: the script's pid matters only while this machine stays up (an orphan
	 * of a dead task process is found by it); after a power cut nothing of it runs, and
	 * the entry durable since journal_begin says "running" all the same */
	return rewrite_entry(j, e, 0, err, errlen);
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
	unsigned long long total = res->output_total > ol ? res->output_total : ol;
	const char *out = res->output;
	if (ol > j->max_output) {
		out += ol - j->max_output;
		ol = j->max_output;
	}
	e->result = strndup(result, rl);
	e->output = malloc(ol + 1);
	if (e->result == NULL || e->output == NULL) {
		entry_clear_result(e);
		snprintf(err, errlen, LOG_TASK_FMT "out of memory", LOG_TASK_ARGS(e->event_id, e->task_seq));
		return -1;
	}
	for (size_t i = 0; i < rl; i++)
		if (e->result[i] == '\n' || e->result[i] == '\r')
			e->result[i] = ' ';
	if (ol > 0)
		memcpy(e->output, out, ol);
	e->output[ol] = '\0';
	e->output_len = ol;
	e->output_total = total;
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
		snprintf(err, errlen, LOG_TASK_FMT "out of memory", LOG_TASK_ARGS(event_id, task_seq));
		return -1;
	}
	int rc = read_entry(j, e, err, errlen);
	if (rc == 0) {
		snprintf(err, errlen, LOG_TASK_FMT "not in the journal", LOG_TASK_ARGS(event_id, task_seq));
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
	int lfd = lock_task(j, event_id, task_seq, 0, err, errlen);
	if (lfd == -1) {
		rc = -1;
		goto out;
	}
	if (lfd >= 0) {
		/* Its holder is gone: nobody else will act on the request. Close it here. */
		e->lock_fd = lfd;
		rc = read_entry(j, e, err, errlen);
		if (rc == 1 && e->state == JOURNAL_RUNNING) {
			int what = close_orphan_locked(j, e, JOURNAL_CAUSE_DIED, 1, err, errlen);
			rc = what < 0 ? -1 : what == JOURNAL_ORPHAN_KILL ? JOURNAL_CANCEL_KILLED : JOURNAL_DONE;
		} else if (rc == 1) {
			rc = JOURNAL_DONE;
		} else if (rc == 0) {
			snprintf(err, errlen, LOG_TASK_FMT "not in the journal", LOG_TASK_ARGS(event_id, task_seq));
			rc = -1;
		}
		goto out;
	}
	/* Signal only a group whose holder is alive (else the pgid may be reused), never
	 * 1 (kill(-1) would signal every process), and only the script as recorded: its
	 * holder writes the numbers in place (journal_started), so what was read may mix
	 * two writes; a leader with that pid, start time and group is surely the script. */
	struct journal_proc seen;
	if (e->pgid > 1 && e->pid == e->pgid && e->proc_start != 0 && proc_read(e->pid, &seen) &&
	    seen.start == e->proc_start && seen.pgrp == e->pgid && seen.state != 'Z' &&
	    seen.state != 'X')
		*pgid = e->pgid;
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

int
journal_read(struct journal *j, long long event_id, int task_seq, struct journal_entry **out,
    char *err, size_t errlen)
{
	*out = NULL;
	struct journal_entry *e = entry_new(j, event_id, task_seq);
	if (e == NULL) {
		snprintf(err, errlen, LOG_TASK_FMT "out of memory", LOG_TASK_ARGS(event_id, task_seq));
		return -1;
	}
	int rc = read_entry(j, e, err, errlen);
	if (rc == 1)
		*out = e;
	else
		journal_entry_free(e);
	return rc;
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

/*
 * Remove one task's files unless a live process holds it: 1 entry removed, 0 not, -1 error.
 * The directory is not fsync'd: the caller does that once for all it removed (an entry that
 * comes back after a power cut is only an old one, forgotten at the next prune).
 */
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
		int pooled = i == 2 ? jpool_put(&j->pool, j->dirfd, name, &j->pool_count) : 0;
		if (pooled == 1) {
			removed = 1;
			continue;
		}
		if (unlinkat(j->dirfd, name, 0) == 0) {
			if (i == 2)
				removed = 1;
		} else if (errno != ENOENT) {
			snprintf(err, errlen, "journal %s/%s: unlink: %s", j->dir, name, strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	return removed;
}

/* An entry the age rule kept, for the count rule: oldest first. */
struct kept {
	long long mtime_ms;
	long long event_id;
	int task_seq;
};

static int
kept_cmp(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;
	if (x->mtime_ms != y->mtime_ms)
		return x->mtime_ms < y->mtime_ms ? -1 : 1;
	if (x->event_id != y->event_id)
		return x->event_id < y->event_id ? -1 : 1;
	return (x->task_seq > y->task_seq) - (x->task_seq < y->task_seq);
}

/* Remember an entry kept by age; -1 when out of memory. */
static int
kept_add(struct kept **v, size_t *n, size_t *cap, long long mtime_ms, long long ev, int seq)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct kept *nv = realloc(*v, ncap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = (struct kept){mtime_ms, ev, seq};
	return 0;
}

int
journal_prune(struct journal *j, long long older_than_ms, long long keep, char *err,
    size_t errlen)
{
	int dfd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (d == NULL) {
		snprintf(err, errlen, "journal directory %s: %s", j->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	long long cutoff = clock_wall_ms() - older_than_ms;
	int count = 0;
	struct kept *kept = NULL;
	size_t nkept = 0, capkept = 0;
	j->pool_count = jpool_count(&j->pool);
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
		if (mtime >= cutoff) {
			if (keep > 0 && strcmp(suffix, ".j") == 0 &&
			    kept_add(&kept, &nkept, &capkept, mtime, ev, seq) < 0) {
				snprintf(err, errlen, "journal %s: prune: out of memory", j->dir);
				closedir(d);
				free(kept);
				return -1;
			}
			continue;
		}
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
			free(kept);
			return -1;
		}
		count += rc;
	}
	closedir(d);
	/* Past keep entries the oldest go, whatever their age (a task still held stays). */
	if (keep > 0 && nkept > (size_t)keep) {
		qsort(kept, nkept, sizeof(*kept), kept_cmp);
		for (size_t i = 0; i < nkept - (size_t)keep; i++) {
			int rc = remove_task(j, kept[i].event_id, kept[i].task_seq, err, errlen);
			if (rc < 0) {
				free(kept);
				return -1;
			}
			count += rc;
		}
	}
	free(kept);
	if (count > 0)
		(void)fsync(j->dirfd);
	return count;
}

/* Is this entry file's state running? Reads its first bytes only (the state is on line 4). */
static int
entry_running(struct journal *j, const char *name)
{
	char buf[512];
	int fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "\nState=running\n") != NULL;
}

int
journal_close_orphans(struct journal *j, const char *cause,
    void (*closed)(void *arg, const struct journal_entry *e), void *arg, char *err, size_t errlen)
{
	int dfd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (d == NULL) {
		snprintf(err, errlen, "journal directory %s: %s", j->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	int count = 0, failed = 0;
	char why[512];
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		long long ev;
		int seq;
		const char *suffix;
		if (parse_name(de->d_name, &ev, &seq, &suffix) < 0 || strcmp(suffix, ".j") != 0 ||
		    !entry_running(j, de->d_name))
			continue;
		int fd = lock_task(j, ev, seq, 0, why, sizeof(why));
		if (fd == -2)
			continue; /* a live process holds it */
		struct journal_entry *e = fd < 0 ? NULL : entry_new(j, ev, seq);
		int rc = -1;
		if (fd >= 0 && e == NULL) {
			close(fd);
			snprintf(why, sizeof(why), LOG_TASK_FMT "out of memory", LOG_TASK_ARGS(ev, seq));
		} else if (e != NULL) {
			e->lock_fd = fd;
			rc = read_entry(j, e, why, sizeof(why));
			if (rc == 1 && e->state == JOURNAL_RUNNING) {
				rc = close_orphan_locked(j, e, cause, 0, why, sizeof(why));
				if (rc >= 0) {
					count++;
					if (closed != NULL)
						closed(arg, e);
				}
			}
		}
		if (rc < 0 && !failed) {
			failed = 1;
			snprintf(err, errlen, "%s", why);
		}
		journal_entry_free(e);
	}
	closedir(d);
	return failed ? -1 : count;
}
