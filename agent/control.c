/*
 * control: one control connection of the agent, message by message as
 * docs/protocol.md says: SendFile is checked (names, size, computer, run-as,
 * requirements) before anything is fetched or run, then goes through the
 * journal (run once, replay after), the transfer fetch into a task directory
 * of temp_dir, exec, and the replies; Cancel goes through the journal to the
 * process that holds the task.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/control.h"
#include "agent/exec.h"
#include "agent/journal.h"
#include "common/conf.h"
#include "common/field.h"
#include "common/log.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/wire.h"
#include "transfer/fetch.h"

#define MODULE_SCRIPT "RunScript"
#define MODULE_AGENT "Agent"
#define MAX_REQUEST_BODY 0       /* requests carry no body */

struct conn {
	SSL *ssl;
	int fd;
	const struct control_env *env;
	struct wire_parser *parser;
	char buf[16384];
	size_t off, len;
};

static long long
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
control_temp_name(const char *value, int quoted, char *out, size_t outlen, char *err, size_t errlen)
{
	if (value == NULL || strncmp(value, "temp:", 5) != 0) {
		snprintf(err, errlen, "file name \"%s\" refused: not temp:<name>", value != NULL ? value : "");
		return -1;
	}
	const char *p = value + 5;
	size_t n = strlen(p);
	if (quoted && n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (n == 0) {
		snprintf(err, errlen, "file name \"%s\" refused: empty", value);
		return -1;
	}
	if (n > CONTROL_MAX_NAME || n + 1 > outlen) {
		snprintf(err, errlen, "file name refused: longer than %d bytes", CONTROL_MAX_NAME);
		return -1;
	}
	if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
		snprintf(err, errlen, "file name \"%s\" refused: not a file name", value);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '/') {
			snprintf(err, errlen, "file name \"%s\" refused: '/' in a base name", value);
			return -1;
		}
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			snprintf(err, errlen, "file name \"%s\" refused: control or quote character", value);
			return -1;
		}
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Strict decimal in [lo, hi]; 0 or -1. */
static int
parse_num(const char *s, long long lo, long long hi, long long *v)
{
	if (s == NULL || *s == '\0')
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

/* A value safe for the wire: CR and LF become spaces. In place. */
static char *
one_line(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return s;
}

/* --- messages in and out */

static int
conn_send(struct conn *c, struct wire_msg *m)
{
	char err[256];
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL) {
		log_warnx("connection %s: reply over the header limit", c->env->peer_addr);
		return -1;
	}
	if (log_enabled(LL_TRACE)) {
		char *dump = wire_dump(m);
		log_trace("Socket: Sent on socket (%d) - %zu chars sent to %s (%s).\n%s", c->fd, len,
		    c->env->peer_name, c->env->peer_addr, dump);
		free(dump);
	}
	int rc = tls_write_all(c->ssl, buf, len, CONTROL_IO_TIMEOUT_MS, err, sizeof(err));
	wire_buf_free(buf, len);
	if (rc == -1)
		log_warnx("connection %s: send: %s", c->env->peer_addr, err);
	return rc;
}

/* Wait until the connection has data: 1, 0 on idle limit or stop. */
static int
conn_wait_readable(struct conn *c)
{
	long long deadline = mono_ms() + CONTROL_IDLE_MS;
	while (SSL_pending(c->ssl) == 0) {
		if (*c->env->stop)
			return 0;
		long long left = deadline - mono_ms();
		if (left <= 0) {
			log_detail("connection %s: idle for %d ms, closed", c->env->peer_addr, CONTROL_IDLE_MS);
			return 0;
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r = poll(&p, 1, left < 500 ? (int)left : 500);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
	return 1;
}

enum read_status { READ_MSG, READ_CLOSED, READ_BAD };

/*
 * The next message: READ_MSG with *out, READ_CLOSED (peer closed, error, stop,
 * or the message not whole within message_timeout of its first byte: a peer
 * that trickles a byte now and then is dropped), READ_BAD (parse error in err).
 */
static enum read_status
conn_read(struct conn *c, struct wire_msg **out, char *err, size_t errlen)
{
	long long limit = c->env->conf->message_timeout_ms;
	long long deadline = -1; /* set once the message has begun */
	*out = NULL;
	for (;;) {
		if (c->off < c->len) {
			if (deadline < 0)
				deadline = mono_ms() + limit;
			size_t used = 0;
			enum wire_status st = wire_feed(c->parser, c->buf + c->off, c->len - c->off, &used);
			c->off += used;
			if (st == WIRE_ERROR) {
				snprintf(err, errlen, "%s", wire_parser_error(c->parser));
				return READ_BAD;
			}
			if (st == WIRE_DONE) {
				*out = wire_parser_take(c->parser);
				if (log_enabled(LL_TRACE)) {
					char *dump = wire_dump(*out);
					log_trace("Socket: Received on socket (%d) from %s (%s).\n%s", c->fd,
					    c->env->peer_name, c->env->peer_addr, dump);
					free(dump);
				}
				return READ_MSG;
			}
			continue;
		}
		c->off = c->len = 0;
		if (deadline < 0) {
			if (!conn_wait_readable(c))
				return READ_CLOSED;
			deadline = mono_ms() + limit;
		}
		long long left = deadline - mono_ms();
		ssize_t n = left > 0 ? tls_read_some(c->ssl, c->buf, sizeof(c->buf), left, err, errlen) : -1;
		if (n == 0)
			return READ_CLOSED;
		if (n < 0) {
			if (mono_ms() >= deadline)
				log_warnx("connection %s (%s): request not complete within %lld ms of its first "
				    "byte (message_timeout), closed", c->env->peer_name, c->env->peer_addr, limit);
			else
				log_debug("connection %s: %s", c->env->peer_addr, err);
			return READ_CLOSED;
		}
		c->len = (size_t)n;
	}
}

/*
 * Build a reply from (key, value) pairs and an optional body, and send it. A
 * reply that cannot be built is not sent half-built: it is logged and the
 * connection closed (-1), as a failed send is.
 */
static int
send_reply(struct conn *c, const char *what, const char *const (*kv)[2], size_t n, const char *body,
    size_t bodylen)
{
	char err[256];
	struct wire_msg *m = wire_msg_new();
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wire_add(m, kv[i][0], kv[i][1], err, sizeof(err));
	if (rc == 0 && body != NULL && bodylen > 0 && wire_set_body(m, body, bodylen) == -1) {
		snprintf(err, sizeof(err), "body of %zu bytes refused", bodylen);
		rc = -1;
	}
	if (rc == -1)
		log_warnx("connection %s: %s reply could not be built: %s", c->env->peer_addr, what, err);
	else
		rc = conn_send(c, m);
	wire_msg_free(m);
	return rc;
}

static int
send_error(struct conn *c, int code, const char *why)
{
	char text[512], code_s[16];
	snprintf(text, sizeof(text), "%s", why);
	snprintf(code_s, sizeof(code_s), "%d", code);
	const char *const kv[][2] = {{"Reply", "Error"}, {"Status-Code", code_s}, {"Error", one_line(text)}};
	return send_reply(c, "error", kv, 3, NULL, 0);
}

static int
send_update(struct conn *c, const struct control_task *t, int code, int replayed)
{
	char code_s[16];
	snprintf(code_s, sizeof(code_s), "%d", code);
	const char *const kv[][2] = {
		{"Reply", "StatusUpdate"},
		{"Filename", t->name},
		{"ID", t->id_s},
		{"Schedule-ID", t->schedule_s},
		{"Event-ID", t->event_s},
		{"Task-Sequence-ID", t->seq_s},
		{"Status-Code", code_s},
		{"Replayed", "1"},
	};
	return send_reply(c, "status update", kv, replayed ? 8 : 7, NULL, 0);
}

/* The result; out NULL: nothing ran (no Output-Size), else output_total is what the
 * script wrote before the cap (at least outlen). */
static int
send_final(struct conn *c, const struct control_task *t, int code, const char *module, const char *why,
    const char *out, size_t outlen, unsigned long long output_total, int replayed)
{
	char text[512], code_s[16];
	snprintf(code_s, sizeof(code_s), "%d", code);
	const char *kv[14][2] = {
		{"Reply", "SendFile"},
		{"Event", "Execute"},
		{"Result", code == 0 ? "Success" : "Failed"},
		{"Schedule-ID", t->schedule_s},
		{"Event-ID", t->event_s},
		{"Status-Code", code_s},
		{"Status-Module", module},
		{"SystemUser-ID", t->user},
		{"Task-Sequence-ID", t->seq_s},
		{"User-ID", ""},
	};
	size_t n = 10;
	if (why != NULL && why[0] != '\0') {
		snprintf(text, sizeof(text), "%s", why);
		kv[n][0] = "Error";
		kv[n++][1] = one_line(text);
	}
	if (replayed) {
		kv[n][0] = "Replayed";
		kv[n++][1] = "1";
	}
	char size_s[32];
	if (out != NULL) {
		snprintf(size_s, sizeof(size_s), "%llu",
		    output_total > outlen ? output_total : (unsigned long long)outlen);
		kv[n][0] = "Output-Size";
		kv[n++][1] = size_s;
	}
	return send_reply(c, "result", (const char *const (*)[2])kv, n, out, outlen);
}

/* A refusal before anything was fetched or run. */
static int
refuse(struct conn *c, const struct control_task *t, int code, const char *why)
{
	log_warnx("event %s task %s: refused (%d): %s", t->event_s, t->seq_s, code, why);
	return send_final(c, t, code, MODULE_AGENT, why, NULL, 0, 0, 0);
}

/* --- the task directory: temp_dir/task-<event>-<seq>, owned by the run-as user */

/* Remove everything below dirfd without following a symlink; closes dirfd. */
static void
remove_below(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	if (d == NULL) {
		close(dirfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			continue;
		int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			remove_below(sub);
			(void)unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

static void
task_dir_name(char *buf, size_t size, const struct control_task *t)
{
	snprintf(buf, size, CONTROL_TASK_DIR_PREFIX "%lld-%d", t->event_id, t->seq);
}

static void
task_dir_remove(int tempfd, const struct control_task *t)
{
	char name[64];
	task_dir_name(name, sizeof(name), t);
	int fd = openat(tempfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		remove_below(fd);
	(void)unlinkat(tempfd, name, AT_REMOVEDIR);
}

/* A fresh task directory; its fd, or -1 with err. */
static int
task_dir_make(int tempfd, const struct control_task *t, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char name[64];
	task_dir_name(name, sizeof(name), t);
	task_dir_remove(tempfd, t); /* a leftover of an agent that died: the journal says nothing runs it */
	if (mkdirat(tempfd, name, 0700) < 0) {
		snprintf(err, errlen, "task directory %s: %s", name, strerror(errno));
		return -1;
	}
	int fd = openat(tempfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (geteuid() == 0 && fchown(fd, uid, gid) < 0)) {
		snprintf(err, errlen, "task directory %s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		task_dir_remove(tempfd, t);
		return -1;
	}
	return fd;
}

/* --- SendFile */

struct cancel_arg {
	struct journal_entry *entry;
	volatile sig_atomic_t *stop;
};

static int
cancel_check(void *arg)
{
	struct cancel_arg *a = arg;
	return *a->stop || journal_entry_cancelled(a->entry);
}

/* The journal's result text: "<module>" or "<module>: <error>". */
static void
split_result(const char *stored, char *module, size_t msize, const char **why)
{
	const char *r = stored != NULL ? stored : "";
	static const char *const modules[] = {MODULE_SCRIPT, MODULE_AGENT};
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(modules[i]);
		if (strncmp(r, modules[i], n) == 0 && (r[n] == '\0' || strncmp(r + n, ": ", 2) == 0)) {
			snprintf(module, msize, "%s", modules[i]);
			*why = r[n] == '\0' ? "" : r + n + 2;
			return;
		}
	}
	snprintf(module, msize, "%s", MODULE_AGENT); /* e.g. the journal's own text for an orphan */
	*why = r;
}

static int
replay(struct conn *c, const struct control_task *t, const struct journal_entry *e, int updates)
{
	char module[32];
	const char *why;
	split_result(e->result, module, sizeof(module), &why);
	log_info("event %s task %s: already ran, replaying code %d from the journal", t->event_s, t->seq_s,
	    e->status_code);
	if (updates && (send_update(c, t, STATUS_DELIVERED, 1) == -1 || send_update(c, t, STATUS_STARTED, 1) == -1))
		return -1;
	return send_final(c, t, e->status_code, module, why, e->output, e->output_len,
	    e->output_total, 1);
}

/* Close a held task that never ran: drop it from the journal and answer code. */
static int
give_up(struct conn *c, const struct control_task *t, struct journal_entry *e, int code, const char *why)
{
	char err[256];
	if (journal_abandon(c->env->journal, e, err, sizeof(err)) == -1)
		log_warnx("event %s task %s: %s", t->event_s, t->seq_s, err);
	log_warnx("event %s task %s: failed (%d): %s", t->event_s, t->seq_s, code, why);
	return send_final(c, t, code, MODULE_AGENT, why, NULL, 0, 0, 0);
}

static void
exec_allow_list(const struct conf_agent *cf, const char **allow, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < cf->run_as_allow.n && n + 3 < max; i++)
		allow[n++] = cf->run_as_allow.v[i];
	if (cf->run_as_default != NULL)
		allow[n++] = cf->run_as_default;
	if (cf->run_as_allow_root)
		allow[n++] = "root";
	allow[n] = NULL;
}

/* Fetch, run and answer a task this process holds. */
static int
run_task(struct conn *c, const struct control_task *t, struct journal_entry *e, uid_t uid, gid_t gid)
{
	const struct conf_agent *cf = c->env->conf;
	char err[1024], why[1100], dirname[64], taskdir[PATH_MAX], script[PATH_MAX];
	long long t0 = mono_ms();

	int tempfd = open(cf->temp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tempfd < 0) {
		snprintf(why, sizeof(why), "temp dir %s: %s", cf->temp_dir, strerror(errno));
		return give_up(c, t, e, STATUS_AGENT_ERROR, why);
	}
	int dfd = task_dir_make(tempfd, t, uid, gid, err, sizeof(err));
	if (dfd < 0) {
		close(tempfd);
		return give_up(c, t, e, STATUS_AGENT_ERROR, err);
	}
	const char *host = t->host != NULL && t->host[0] != '\0' ? t->host : c->env->peer_addr;
	log_debug("CTransfer::Fetch - fetching %s (%llu bytes) from %s:%d", t->name, t->size, host, t->port);
	int rc = transfer_fetch(c->env->fetch_ctx, host, t->port, t->key, t->event_id, t->seq, t->size,
	    t->checksum, dfd, t->name, 0700, uid, gid, CONTROL_FETCH_TIMEOUT_MS, cf->max_script, err,
	    sizeof(err));
	OPENSSL_cleanse((char *)t->key, strlen(t->key));
	close(dfd);
	if (rc == -1) {
		task_dir_remove(tempfd, t);
		close(tempfd);
		snprintf(why, sizeof(why), "transfer from %s:%d: %s", host, t->port, err);
		return give_up(c, t, e, STATUS_TRANSFER_FAILED, why);
	}
	if (send_update(c, t, STATUS_DELIVERED, 0) == -1) {
		/* the worker is gone before anything ran: the task may be pushed again */
		task_dir_remove(tempfd, t);
		close(tempfd);
		journal_abandon(c->env->journal, e, err, sizeof(err));
		return -1;
	}

	task_dir_name(dirname, sizeof(dirname), t);
	if (snprintf(taskdir, sizeof(taskdir), "%s/%s", cf->temp_dir, dirname) >= (int)sizeof(taskdir) ||
	    snprintf(script, sizeof(script), "%s/%s", taskdir, t->name) >= (int)sizeof(script)) {
		task_dir_remove(tempfd, t);
		close(tempfd);
		return give_up(c, t, e, STATUS_AGENT_ERROR, "script path too long");
	}
	const char *allow[cf->run_as_allow.n + 4];
	exec_allow_list(cf, allow, cf->run_as_allow.n + 4);
	struct cancel_arg ca = {e, c->env->stop};
	struct exec_req req = {
		.script = script,
		.interpreter = t->interpreter,
		.run_as = t->user,
		.allow = allow,
		.temp_dir = taskdir,
		.timeout_ms = t->timeout_ms > 0 ? t->timeout_ms : cf->timeout_ms,
		.grace_ms = cf->kill_grace_ms,
		.max_output = (size_t)cf->max_output,
		.event_id = t->event_id,
		.schedule_id = t->schedule_id,
		.computer_id = t->computer_id,
		.task_seq = t->seq,
		.cancel_requested = cancel_check,
		.cancel_arg = &ca,
	};
	const char *interp = t->interpreter != NULL && t->interpreter[0] != '\0' ? t->interpreter :
	    EXEC_DEFAULT_INTERPRETER;
	log_debug("CExecute ExecuteCmdLine() Calling ExecuteCmd. pszCmdExe=%s, pszCmdLine= \"%s\", user=%s, "
	    "bWait=true, timeout=%lld ms", interp, script, t->user, req.timeout_ms);
	struct exec_proc *p = NULL;
	int code = exec_start(&req, &p, err, sizeof(err));
	if (code != 0) {
		task_dir_remove(tempfd, t);
		close(tempfd);
		return give_up(c, t, e, code, err);
	}
	log_info("event %s task %s: started as %s, pid %ld", t->event_s, t->seq_s, t->user,
	    (long)exec_proc_pid(p));
	if (journal_started(c->env->journal, e, (long)exec_proc_pid(p), (long)exec_proc_pgid(p), err,
		sizeof(err)) == -1)
		log_warnx("event %s task %s: %s", t->event_s, t->seq_s, err);
	/* a lost worker does not stop the script: its result goes to the journal for a replay */
	int connected = send_update(c, t, STATUS_STARTED, 0) == 0;

	struct exec_result r;
	memset(&r, 0, sizeof(r));
	const char *module = MODULE_SCRIPT;
	why[0] = '\0';
	if (exec_wait(p, &r, err, sizeof(err)) == -1) {
		code = STATUS_AGENT_ERROR;
		module = MODULE_AGENT;
		snprintf(why, sizeof(why), "%s", err);
	} else {
		code = r.status_code;
		if (r.cancelled)
			snprintf(why, sizeof(why), *c->env->stop ? "cancelled: agent stopping" : "cancelled");
		else if (r.timed_out)
			snprintf(why, sizeof(why), "timed out after %lld ms", req.timeout_ms);
		else if (r.signal != 0)
			snprintf(why, sizeof(why), "killed by signal %d (%s)", r.signal, strsignal(r.signal));
	}
	exec_proc_free(p);
	task_dir_remove(tempfd, t);
	close(tempfd);

	char stored[1200];
	snprintf(stored, sizeof(stored), "%s%s%s", module, why[0] != '\0' ? ": " : "", why);
	struct journal_result jr = {code, stored, r.output, r.output_len, r.output_total};
	if (journal_finish(c->env->journal, e, &jr, err, sizeof(err)) == -1)
		log_warnx("event %s task %s: journal: %s", t->event_s, t->seq_s, err);
	log_info("event %s task %s: ended with code %d (%s) in %lld ms%s%s", t->event_s, t->seq_s, code,
	    code == 0 ? "Success" : "Failed", mono_ms() - t0, why[0] != '\0' ? ": " : "", why);
	rc = connected ? send_final(c, t, code, module, why, r.output, r.output_len,
	    r.output_total, 0) : -1;
	exec_result_clear(&r);
	return rc;
}

/*
 * Every key whose absence the agent once filled with a default is required: a
 * worker that failed to add Run-As must not get run_as.default (root) for it.
 * An empty Run-As, OS-Required or Boot-Env, or a Timeout of 0, still asks for
 * the agent's default or no requirement, on purpose. Transfer-Host alone stays
 * optional (the control connection's address).
 */
static const char *const sendfile_required[] = {
	"Filename", "Size", "Port", "Key", "Checksum", "Execute", "Task-Type", "Interpreter",
	"OS-Required", "Boot-Env", "Run-As", "Timeout", "Schedule-ID", "Event-ID", "Task-Sequence-ID", "ID",
};

/* Strict decimal of a key in [lo, hi]: 0, or -1 naming the key in why. */
static int
key_num(const struct wire_msg *m, const char *key, long long lo, long long hi, long long *v, char *why,
    size_t whylen)
{
	if (parse_num(wire_get(m, key), lo, hi, v) == -1) {
		snprintf(why, whylen, "SendFile: %s is not a valid number", key);
		return -1;
	}
	return 0;
}

static enum control_verdict
check_cancel(const struct wire_msg *m, struct control_task *t, int *code, char *why, size_t whylen)
{
	long long seq;
	t->event_s = wire_get(m, "Event-ID");
	t->seq_s = wire_get(m, "Task-Sequence-ID");
	if (parse_num(t->event_s, 0, LLONG_MAX, &t->event_id) == -1 ||
	    parse_num(t->seq_s, 0, INT_MAX, &seq) == -1) {
		*code = STATUS_PROTOCOL;
		snprintf(why, whylen, "Cancel needs a numeric Event-ID and Task-Sequence-ID");
		return CONTROL_BAD;
	}
	t->seq = (int)seq;
	return CONTROL_ACT;
}

static enum control_verdict
check_sendfile(const struct wire_msg *m, const struct conf_agent *cf, struct control_task *t, int *code,
    char *why, size_t whylen)
{
	char err[512], exec_name[CONTROL_MAX_NAME + 1];
	long long v;

	*code = STATUS_PROTOCOL;
	for (size_t i = 0; i < sizeof(sendfile_required) / sizeof(sendfile_required[0]); i++) {
		if (wire_get(m, sendfile_required[i]) == NULL) {
			snprintf(why, whylen, "SendFile without %s", sendfile_required[i]);
			return CONTROL_BAD;
		}
	}
	t->schedule_s = wire_get(m, "Schedule-ID");
	t->event_s = wire_get(m, "Event-ID");
	t->seq_s = wire_get(m, "Task-Sequence-ID");
	t->id_s = wire_get(m, "ID");
	t->host = wire_get(m, "Transfer-Host");
	t->key = wire_get(m, "Key");
	t->checksum = wire_get(m, "Checksum");
	t->interpreter = wire_get(m, "Interpreter");
	if (key_num(m, "Event-ID", 0, LLONG_MAX, &t->event_id, why, whylen) == -1 ||
	    key_num(m, "Task-Sequence-ID", 0, INT_MAX, &v, why, whylen) == -1)
		return CONTROL_BAD;
	t->seq = (int)v;
	if (key_num(m, "Schedule-ID", 0, LLONG_MAX, &t->schedule_id, why, whylen) == -1 ||
	    key_num(m, "Size", 0, LLONG_MAX, &v, why, whylen) == -1)
		return CONTROL_BAD;
	t->size = (unsigned long long)v;
	if (key_num(m, "Port", 1, 65535, &v, why, whylen) == -1)
		return CONTROL_BAD;
	t->port = (int)v;
	if (key_num(m, "Timeout", 0, LLONG_MAX, &t->timeout_ms, why, whylen) == -1 ||
	    key_num(m, "ID", 0, LLONG_MAX, &t->computer_id, why, whylen) == -1)
		return CONTROL_BAD;
	/* the name is needed in replies before it is checked: keep a safe form */
	snprintf(t->name, sizeof(t->name), "%s", "?");
	const char *ru = wire_get(m, "Run-As");
	const char *user = ru[0] != '\0' ? ru : cf->run_as_default != NULL ? cf->run_as_default : "";
	snprintf(t->user, sizeof(t->user), "%s", user);

	if (cf->computer_id != 0 && t->computer_id != cf->computer_id) {
		snprintf(why, whylen, "message for computer %s, this agent is computer %lld", t->id_s,
		    cf->computer_id);
		return CONTROL_REFUSE;
	}
	*code = STATUS_FILE_REFUSED;
	if (control_temp_name(wire_get(m, "Filename"), 0, t->name, sizeof(t->name), why, whylen) == -1) {
		snprintf(t->name, sizeof(t->name), "%s", "?");
		return CONTROL_REFUSE;
	}
	if (control_temp_name(wire_get(m, "Execute"), 1, exec_name, sizeof(exec_name), why, whylen) == -1)
		return CONTROL_REFUSE;
	if (strcmp(exec_name, t->name) != 0) {
		snprintf(why, whylen, "Execute names \"%s\", not the file sent (\"%s\")", exec_name, t->name);
		return CONTROL_REFUSE;
	}
	if (t->size > cf->max_script) {
		snprintf(why, whylen, "script of %llu bytes refused: max_script is %llu", t->size, cf->max_script);
		return CONTROL_REFUSE;
	}
	const char *tt = wire_get(m, "Task-Type");
	if (strcmp(tt, "RunScript") != 0) {
		*code = STATUS_PROTOCOL;
		snprintf(why, whylen, "Task-Type %s is not supported", tt);
		return CONTROL_REFUSE;
	}
	*code = STATUS_RUNAS_REFUSED;
	if (ru[0] != '\0' && field_check(FIELD_RUN_AS, ru, err, sizeof(err)) == -1) {
		snprintf(why, whylen, "run-as user refused: %s", err);
		return CONTROL_REFUSE;
	}
	if (strlen(user) >= sizeof(t->user) || !conf_agent_user_allowed(cf, t->user)) {
		snprintf(why, whylen, "run-as user \"%s\" refused: not allowed on this agent", t->user);
		return CONTROL_REFUSE;
	}
	/* the rule exec_start splits it by: refused here, before anything is fetched */
	*code = STATUS_AGENT_ERROR;
	if (field_check(FIELD_INTERPRETER, t->interpreter, why, whylen) == -1)
		return CONTROL_REFUSE;
	*code = STATUS_REQUIREMENTS;
	if (exec_check_requirements(wire_get(m, "OS-Required"), wire_get(m, "Boot-Env"), cf->os, cf->boot_env,
		why, whylen) != 0)
		return CONTROL_REFUSE;
	*code = 0;
	return CONTROL_ACT;
}

enum control_verdict
control_check_request(const struct wire_msg *m, const struct conf_agent *cf, struct control_task *t,
    int *code, char *why, size_t whylen)
{
	enum control_verdict v;
	const char *req = wire_get(m, "Request");

	memset(t, 0, sizeof(*t));
	*code = 0;
	why[0] = '\0';
	if (req != NULL && strcmp(req, "SendFile") == 0) {
		t->kind = CONTROL_SENDFILE;
		v = check_sendfile(m, cf, t, code, why, whylen);
	} else if (req != NULL && strcmp(req, "Cancel") == 0) {
		t->kind = CONTROL_CANCEL;
		v = check_cancel(m, t, code, why, whylen);
	} else {
		*code = STATUS_PROTOCOL;
		snprintf(why, whylen, "unknown request \"%s\"", req != NULL ? req : "");
		v = CONTROL_BAD;
	}
	one_line(why);
	return v;
}

/* A checked SendFile (CONTROL_ACT or CONTROL_REFUSE): 0 to go on serving, -1 to close the connection. */
static int
handle_sendfile(struct conn *c, const struct control_task *checked, enum control_verdict v, int code,
    const char *why_refused)
{
	char err[512], why[700];
	struct control_task t = *checked;

	log_info("event %s task %s: SendFile from %s (%s), schedule %s, run as %s", t.event_s, t.seq_s,
	    c->env->peer_name, c->env->peer_addr, t.schedule_s, t.user);
	if (v == CONTROL_REFUSE)
		return refuse(c, &t, code, why_refused) == -1 ? -1 : 0;
	struct passwd *pw = getpwnam(t.user);
	if (pw == NULL) {
		snprintf(why, sizeof(why), "run-as user \"%s\" refused: no such user", t.user);
		return refuse(c, &t, STATUS_RUNAS_REFUSED, why) == -1 ? -1 : 0;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;

	int updates_sent = 0;
	for (;;) {
		struct journal_entry *e = NULL;
		int b = journal_begin(c->env->journal, t.event_id, t.seq, &e, err, sizeof(err));
		if (b == -1) {
			log_warnx("event %s task %s: journal: %s", t.event_s, t.seq_s, err);
			return send_final(c, &t, STATUS_AGENT_ERROR, MODULE_AGENT, err, NULL, 0, 0, 0) == -1 ? -1 : 0;
		}
		if (b == JOURNAL_BEGIN_RUN) {
			int rc = run_task(c, &t, e, uid, gid);
			journal_entry_free(e);
			return rc;
		}
		if (b == JOURNAL_BEGIN_REPLAY) {
			int rc = replay(c, &t, e, !updates_sent);
			journal_entry_free(e);
			return rc;
		}
		/* another connection's process runs it: say so once, then wait for its result */
		journal_entry_free(e);
		if (!updates_sent) {
			log_info("event %s task %s: already running in another process, waiting for its result",
			    t.event_s, t.seq_s);
			if (send_update(c, &t, STATUS_DELIVERED, 1) == -1 ||
			    send_update(c, &t, STATUS_STARTED, 1) == -1)
				return -1;
			updates_sent = 1;
		}
		if (*c->env->stop)
			return -1;
	}
}

/*
 * The answer says what happened: Success only when the script was found
 * running and signalled (or, its supervising process having died, killed
 * here); else Failed with the reason.
 */
static int
handle_cancel(struct conn *c, const struct control_task *t)
{
	char err[512], why[600];
	const char *ev_s = t->event_s, *seq_s = t->seq_s;
	long pgid = 0;
	int rc = journal_request_cancel(c->env->journal, t->event_id, t->seq, &pgid, err, sizeof(err));
	const char *kv[5][2] = {{"Reply", "Cancel"}, {"Event-ID", ev_s}, {"Task-Sequence-ID", seq_s}};
	char code_s[16];
	why[0] = '\0';
	if (rc == JOURNAL_RUNNING && pgid > 0 && kill(-(pid_t)pgid, SIGTERM) == -1) {
		if (errno == ESRCH) {
			/* its holder reaps it and records its result */
			snprintf(why, sizeof(why), "not running: the script had just ended");
		} else {
			log_warn("event %s task %s: kill process group %ld", ev_s, seq_s, pgid);
			snprintf(why, sizeof(why), "process group %ld could not be signalled: %s", pgid,
			    strerror(errno));
		}
	} else if (rc == JOURNAL_DONE) {
		struct journal_entry *e = NULL;
		if (journal_read(c->env->journal, t->event_id, t->seq, &e, err, sizeof(err)) == 1 &&
		    e->state == JOURNAL_DONE) {
			char module[32];
			const char *text;
			split_result(e->result, module, sizeof(module), &text);
			snprintf(why, sizeof(why), "not running: ended with code %d%s%s%s", e->status_code,
			    text[0] != '\0' ? " (" : "", text, text[0] != '\0' ? ")" : "");
		} else
			snprintf(why, sizeof(why), "not running: ended");
		journal_entry_free(e);
	} else if (rc == -1) {
		log_detail("event %s task %s: cancel: %s", ev_s, seq_s, err);
		snprintf(why, sizeof(why), "not running");
	}
	if (why[0] == '\0') {
		/* a live holder's exec_wait sees the request too, and sends SIGKILL after the grace */
		if (rc == JOURNAL_CANCEL_KILLED)
			log_warnx("event %s task %s: cancel requested by %s (%s): the process that ran it had "
			    "died, its script was killed", ev_s, seq_s, c->env->peer_name, c->env->peer_addr);
		else
			log_info("event %s task %s: cancel requested by %s (%s), process group %ld", ev_s, seq_s,
			    c->env->peer_name, c->env->peer_addr, pgid);
		snprintf(code_s, sizeof(code_s), "%d", STATUS_CANCELLED);
		kv[3][0] = "Result";
		kv[3][1] = "Success";
		kv[4][0] = "Status-Code";
		kv[4][1] = code_s;
	} else {
		log_info("event %s task %s: cancel requested by %s: %s", ev_s, seq_s, c->env->peer_addr, why);
		kv[3][0] = "Result";
		kv[3][1] = "Failed";
		kv[4][0] = "Error";
		kv[4][1] = one_line(why);
	}
	return send_reply(c, "cancel", (const char *const (*)[2])kv, 5, NULL, 0);
}

void
control_serve(SSL *ssl, int fd, const struct control_env *env)
{
	struct conn c = {.ssl = ssl, .fd = fd, .env = env};
	char err[512], why[600];

	c.parser = wire_parser_new(MAX_REQUEST_BODY);
	for (;;) {
		struct wire_msg *m = NULL;
		enum read_status st = conn_read(&c, &m, err, sizeof(err));
		if (st == READ_CLOSED)
			break;
		if (st == READ_BAD) {
			snprintf(why, sizeof(why), "bad message: %s", err);
			log_warnx("connection %s (%s): %s", env->peer_name, env->peer_addr, why);
			send_error(&c, STATUS_PROTOCOL, why);
			break;
		}
		struct control_task t;
		int code, rc;
		enum control_verdict v = control_check_request(m, env->conf, &t, &code, why, sizeof(why));
		if (v == CONTROL_BAD) {
			log_warnx("connection %s (%s): %s", env->peer_name, env->peer_addr, why);
			send_error(&c, code, why);
			rc = -1;
		} else if (t.kind == CONTROL_SENDFILE) {
			rc = handle_sendfile(&c, &t, v, code, why);
		} else {
			rc = handle_cancel(&c, &t);
		}
		wire_msg_free(m);
		if (rc == -1)
			break;
	}
	wire_parser_free(c.parser);
}

void
control_task_dir_remove(const char *temp_dir, long long event_id, int task_seq)
{
	struct control_task t;
	memset(&t, 0, sizeof(t));
	t.event_id = event_id;
	t.seq = task_seq;
	int tempfd = open(temp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tempfd < 0)
		return;
	task_dir_remove(tempfd, &t);
	close(tempfd);
}
