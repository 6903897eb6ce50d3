/*
 * control: the effects of a request agent/request.c checked, as
 * docs/protocol.md says: a SendFile goes through the journal (run once,
 * replay after), the transfer fetch into a task directory of temp_dir, exec,
 * and the replies, in a task process of its own; a Cancel goes through the
 * journal to the process that holds the task. Replies leave through the
 * caller's struct control_out.
 */
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
#include "agent/copy.h"
#include "agent/exec.h"
#include "agent/journal.h"
#include "agent/request.h"
#include "agent/workdir.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/field.h"
#include "common/log.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/wire.h"
#include "transfer/fetch.h"

#define MODULE_SCRIPT "RunScript"
#define MODULE_AGENT "Agent"
#define MODULE_COPY "CopyFile"
#define MAX_REQUEST_BODY 0       /* requests carry no body */

struct conn {
	const struct control_env *env;
};


/* --- messages in and out */

/* The wire trace is the main process's, which writes the socket. */
static int
conn_send(struct conn *c, struct wire_msg *m)
{
	return c->env->out.send(c->env->out.arg, m);
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

/* The keys every reply about a push may end with: its Attempt echoed, Replayed=1. */
static size_t
add_echo(const char *kv[][2], size_t n, const struct request_task *t, int replayed)
{
	if (t->attempt_s != NULL) {
		kv[n][0] = "Attempt";
		kv[n++][1] = t->attempt_s;
	}
	if (replayed) {
		kv[n][0] = "Replayed";
		kv[n++][1] = "1";
	}
	return n;
}

static int
send_update(struct conn *c, const struct request_task *t, int code, int replayed)
{
	char code_s[16];
	snprintf(code_s, sizeof(code_s), "%d", code);
	const char *kv[][2] = {
		{"Reply", "StatusUpdate"},
		{"Filename", t->name},
		{"ID", t->id_s},
		{"Schedule-ID", t->schedule_s},
		{"Event-ID", t->event_s},
		{"Task-Sequence-ID", t->seq_s},
		{"Status-Code", code_s},
		{NULL, NULL},
		{NULL, NULL},
	};
	size_t n = 7;
	n = add_echo(kv, n, t, replayed);
	return send_reply(c, "status update", (const char *const (*)[2])kv, n, NULL, 0);
}

/* The result; out NULL: nothing ran (no Output-Size), else output_total is what the
 * script wrote before the cap (at least outlen). */
static int
send_final(struct conn *c, const struct request_task *t, int code, const char *module, const char *why,
    const char *out, size_t outlen, unsigned long long output_total, int replayed)
{
	char text[512], code_s[16];
	snprintf(code_s, sizeof(code_s), "%d", code);
	const char *kv[15][2] = {
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
		kv[n++][1] = request_one_line(text);
	}
	n = add_echo(kv, n, t, replayed);
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
refuse(struct conn *c, const struct request_task *t, int code, const char *why)
{
	log_task_s(LL_WARNING, t->event_s, t->seq_s, "refused (%d): %s", code, why);
	return send_final(c, t, code, MODULE_AGENT, why, NULL, 0, 0, 0);
}

/* --- the task directory: temp_dir/task-<event>-<seq>, owned by the run-as user (agent/workdir.c) */

static void
task_dir_name(char *buf, size_t size, const struct request_task *t)
{
	snprintf(buf, size, CONTROL_TASK_DIR_PREFIX "%lld-%d", t->event_id, request_journal_seq(t));
}

static void
task_dir_remove(int tempfd, const struct request_task *t)
{
	char name[64];
	task_dir_name(name, sizeof(name), t);
	workdir_remove(tempfd, name);
}

/* The task ended as it should: its directory and script are kept for this process's next task. */
static void
task_dir_give_back(int tempfd, const struct request_task *t)
{
	char name[64];
	task_dir_name(name, sizeof(name), t);
	workdir_give_back(tempfd, name, t->name);
}

/* The task's directory, ready; its fd, or -1 with err. */
static int
task_dir_make(int tempfd, const struct request_task *t, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char name[64];
	task_dir_name(name, sizeof(name), t);
	return workdir_take(tempfd, name, t->name, uid, gid, err, errlen);
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
	static const char *const modules[] = {MODULE_SCRIPT, MODULE_AGENT, MODULE_COPY};
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
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
replay(struct conn *c, const struct request_task *t, const struct journal_entry *e, int updates)
{
	char module[32];
	const char *why;
	split_result(e->result, module, sizeof(module), &why);
	log_task_s(LL_INFO, t->event_s, t->seq_s, "already ran, replaying code %d from the journal",
	    e->status_code);
	if (updates && (send_update(c, t, STATUS_DELIVERED, 1) == -1 || send_update(c, t, STATUS_STARTED, 1) == -1))
		return -1;
	return send_final(c, t, e->status_code, module, why, e->output, e->output_len,
	    e->output_total, 1);
}

/* Close a held task that never ran: drop it from the journal and answer code. */
static int
give_up(struct conn *c, const struct request_task *t, struct journal_entry *e, int code, const char *why)
{
	char err[256];
	if (journal_abandon(c->env->journal, e, err, sizeof(err)) == -1)
		log_task_s(LL_WARNING, t->event_s, t->seq_s, "%s", err);
	log_task_s(LL_WARNING, t->event_s, t->seq_s, "failed (%d): %s", code, why);
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

/* Fetch the file into a fresh task directory: 0, or give_up's answer (the task closed). */
static int
task_fetch(struct conn *c, const struct request_task *t, struct journal_entry *e, int tempfd,
    uid_t uid, gid_t gid, int *rc)
{
	const struct conf_agent *cf = c->env->conf;
	char err[1024], why[1100];
	int dfd = task_dir_make(tempfd, t, uid, gid, err, sizeof(err));
	if (dfd < 0) {
		*rc = give_up(c, t, e, STATUS_AGENT_ERROR, err);
		return -1;
	}
	const char *host = t->host != NULL && t->host[0] != '\0' ? t->host : c->env->peer_addr;
	log_debug("CTransfer::Fetch - fetching %s (%llu bytes) from %s:%d", t->name, t->size, host, t->port);
	const struct transfer_req req = {.host = host, .port = t->port, .key = t->key,
	    .event_id = t->event_id, .seq = t->seq, .size = t->size, .checksum = t->checksum,
	    .dirfd = dfd, .name = t->name, .mode = 0700, .uid = uid, .gid = gid,
	    .timeout_ms = CONTROL_FETCH_TIMEOUT_MS, .max_size = cf->max_script,
	    .no_sync = 1, /* the journal holds the task before the fetch: a script lost to a crash is not run again */
	    .reuse = t->name}; /* the last task's script of that name, when this process kept it */
	int r = transfer_fetch(c->env->fetch_ctx, &req, err, sizeof(err));
	OPENSSL_cleanse((char *)t->key, strlen(t->key));
	close(dfd);
	if (r == -1) {
		task_dir_remove(tempfd, t);
		snprintf(why, sizeof(why), "transfer from %s:%d: %s", host, t->port, err);
		*rc = give_up(c, t, e, STATUS_TRANSFER_FAILED, why);
		return -1;
	}
	if (send_update(c, t, STATUS_DELIVERED, 0) == -1) {
		/* the agent's main process is gone before anything ran: the task may be pushed again */
		task_dir_remove(tempfd, t);
		journal_abandon(c->env->journal, e, err, sizeof(err));
		*rc = -1;
		return -1;
	}
	return 0;
}

/* What the script's end says: code, module and why. */
static int
task_outcome(struct conn *c, const struct exec_req *req, int waited, const struct exec_result *r,
    const char *err, const char **module, char *why, size_t whylen)
{
	*module = MODULE_SCRIPT;
	why[0] = '\0';
	if (waited == -1) {
		*module = MODULE_AGENT;
		snprintf(why, whylen, "%s", err);
		return STATUS_AGENT_ERROR;
	}
	if (r->cancelled)
		snprintf(why, whylen, *c->env->stop ? "cancelled: agent stopping" : "cancelled");
	else if (r->timed_out)
		snprintf(why, whylen, "timed out after %lld ms", req->timeout_ms);
	else if (r->signal != 0)
		snprintf(why, whylen, "killed by signal %d (%s)", r->signal, strsignal(r->signal));
	return r->status_code;
}

/* Run the fetched script, journal its result, answer it. */
static int
task_exec(struct conn *c, const struct request_task *t, struct journal_entry *e, int tempfd,
    struct exec_req *req, long long t0)
{
	char err[1024], why[1100];
	const char *interp = t->interpreter != NULL && t->interpreter[0] != '\0' ? t->interpreter :
	    EXEC_DEFAULT_INTERPRETER;
	log_debug("CExecute ExecuteCmdLine() Calling ExecuteCmd. pszCmdExe=%s, pszCmdLine= \"%s\", user=%s, "
	    "bWait=true, timeout=%lld ms", interp, req->script, t->user, req->timeout_ms);
	struct exec_proc *p = NULL;
	int code = exec_start(req, &p, err, sizeof(err));
	if (code != 0) {
		task_dir_remove(tempfd, t);
		return give_up(c, t, e, code, err);
	}
	log_task_s(LL_INFO, t->event_s, t->seq_s, "started as %s, pid %ld", t->user,
	    (long)exec_proc_pid(p));
	if (journal_started(c->env->journal, e, (long)exec_proc_pid(p), (long)exec_proc_pgid(p), err,
		sizeof(err)) == -1)
		log_task_s(LL_WARNING, t->event_s, t->seq_s, "%s", err);
	/* a lost connection does not stop the script: its result goes to the journal for a replay */
	int connected = send_update(c, t, STATUS_STARTED, 0) == 0;
	struct exec_result r;
	memset(&r, 0, sizeof(r));
	const char *module;
	int waited = exec_wait(p, &r, err, sizeof(err));
	code = task_outcome(c, req, waited, &r, err, &module, why, sizeof(why));
	exec_proc_free(p);
	if (waited == -1)
		task_dir_remove(tempfd, t); /* not seen to end: nothing of it is handed on */
	else
		task_dir_give_back(tempfd, t);
	char stored[1200];
	snprintf(stored, sizeof(stored), "%s%s%s", module, why[0] != '\0' ? ": " : "", why);
	struct journal_result jr = {code, stored, r.output, r.output_len, r.output_total};
	if (journal_finish(c->env->journal, e, &jr, err, sizeof(err)) == -1)
		log_task_s(LL_WARNING, t->event_s, t->seq_s, "journal: %s", err);
	log_task_s(LL_INFO, t->event_s, t->seq_s, "ended with code %d (%s) in %lld ms%s%s", code,
	    code == 0 ? "Success" : "Failed", clock_mono_ms() - t0, why[0] != '\0' ? ": " : "", why);
	int rc = connected ? send_final(c, t, code, module, why, r.output, r.output_len,
	    r.output_total, 0) : -1;
	exec_result_clear(&r);
	return rc;
}

/* A CopyFile's Owner, when it gave one, as uid and gid (its primary group): 0, or -36 with why
 * when there is no such user here. */
static int
copy_owner(const struct request_task *t, uid_t *uid, gid_t *gid, char *why, size_t whylen)
{
	if (t->owner[0] == '\0')
		return 0;
	struct passwd *pw = getpwnam(t->owner);
	if (pw == NULL) {
		snprintf(why, whylen, "copy owner \"%s\" refused: no such user", t->owner);
		return STATUS_COPY_REFUSED;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Install the fetched file (a CopyFile task), journal the result, answer it. */
static int
task_copy(struct conn *c, const struct request_task *t, struct journal_entry *e, int tempfd,
    const char *src, uid_t uid, gid_t gid, long long t0)
{
	char why[1100], err[512], stored[1200];
	int code = copy_owner(t, &uid, &gid, why, sizeof(why));
	if (code == 0)
		code = copy_install(&c->env->conf->copy_allow, src, t->dest, (mode_t)t->mode, uid, gid,
		    why, sizeof(why));
	task_dir_give_back(tempfd, t);
	if (code == 0)
		why[0] = '\0';
	snprintf(stored, sizeof(stored), "%s%s%s", MODULE_COPY, why[0] != '\0' ? ": " : "", why);
	struct journal_result jr = {code, stored, NULL, 0, 0};
	if (journal_finish(c->env->journal, e, &jr, err, sizeof(err)) == -1)
		log_task_s(LL_WARNING, t->event_s, t->seq_s, "journal: %s", err);
	log_task_s(LL_INFO, t->event_s, t->seq_s, "copy to %s (mode %04o, %s) %s in %lld ms%s%s",
	    t->dest, (unsigned)t->mode, t->owner[0] != '\0' ? t->owner : t->user,
	    code == 0 ? "done" : "failed", clock_mono_ms() - t0,
	    why[0] != '\0' ? ": " : "", why);
	return send_final(c, t, code, MODULE_COPY, why, NULL, 0, 0, 0);
}

/* Fetch, run and answer a task this process holds. */
static int
run_task(struct conn *c, const struct request_task *t, struct journal_entry *e, uid_t uid, gid_t gid)
{
	const struct conf_agent *cf = c->env->conf;
	char why[1100], dirname[64], taskdir[PATH_MAX], script[PATH_MAX];
	long long t0 = clock_mono_ms();
	int rc = 0;

	int tempfd = open(cf->temp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tempfd < 0) {
		snprintf(why, sizeof(why), "temp dir %s: %s", cf->temp_dir, strerror(errno));
		return give_up(c, t, e, STATUS_AGENT_ERROR, why);
	}
	if (task_fetch(c, t, e, tempfd, uid, gid, &rc) == -1) {
		close(tempfd);
		return rc;
	}
	task_dir_name(dirname, sizeof(dirname), t);
	if (snprintf(taskdir, sizeof(taskdir), "%s/%s", cf->temp_dir, dirname) >= (int)sizeof(taskdir) ||
	    snprintf(script, sizeof(script), "%s/%s", taskdir, t->name) >= (int)sizeof(script)) {
		task_dir_remove(tempfd, t);
		close(tempfd);
		return give_up(c, t, e, STATUS_AGENT_ERROR, "script path too long");
	}
	if (t->copy) {
		rc = task_copy(c, t, e, tempfd, script, uid, gid, t0);
		close(tempfd);
		return rc;
	}
	const char *allow[cf->run_as_allow.n + 4];
	exec_allow_list(cf, allow, cf->run_as_allow.n + 4);
	struct cancel_arg ca = {e, c->env->stop};
	struct exec_req req = {
		.script = script, .interpreter = t->interpreter, .run_as = t->user, .allow = allow,
		.temp_dir = taskdir, .timeout_ms = t->timeout_ms > 0 ? t->timeout_ms : cf->timeout_ms,
		.grace_ms = cf->kill_grace_ms, .max_output = (size_t)cf->max_output,
		.event_id = t->event_id, .schedule_id = t->schedule_id, .computer_id = t->computer_id,
		.task_seq = t->seq, .cancel_requested = cancel_check, .cancel_arg = &ca,
	};
	rc = task_exec(c, t, e, tempfd, &req, t0);
	close(tempfd);
	return rc;
}

int
control_run_task(const struct control_env *env, const struct request_task *checked)
{
	struct conn cc = {.env = env}, *c = &cc;
	char err[512], why[700];
	struct request_task t = *checked;

	log_task_s(LL_INFO, t.event_s, t.seq_s, "SendFile from %s (%s), schedule %s, run as %s",
	    c->env->peer_name, c->env->peer_addr, t.schedule_s, t.user);
	struct passwd *pw = getpwnam(t.user);
	if (pw == NULL) {
		snprintf(why, sizeof(why), "run-as user \"%s\" refused: no such user", t.user);
		return refuse(c, &t, STATUS_RUNAS_REFUSED, why);
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;

	int updates_sent = 0;
	for (;;) {
		struct journal_entry *e = NULL;
		int b = journal_begin(c->env->journal, t.event_id, request_journal_seq(&t), &e, err,
		    sizeof(err));
		if (b == -1) {
			log_task_s(LL_WARNING, t.event_s, t.seq_s, "journal: %s", err);
			return send_final(c, &t, STATUS_AGENT_ERROR, MODULE_AGENT, err, NULL, 0, 0, 0);
		}
		if (b == JOURNAL_BEGIN_RUN || b == JOURNAL_BEGIN_REPLAY) {
			int rc = b == JOURNAL_BEGIN_RUN ? run_task(c, &t, e, uid, gid) :
			    replay(c, &t, e, !updates_sent);
			journal_entry_free(e);
			return rc;
		}
		/* another task process runs it (an earlier push): say so once, then wait for its result */
		journal_entry_free(e);
		if (!updates_sent) {
			log_task_s(LL_INFO, t.event_s, t.seq_s,
			    "already running in another process, waiting for its result");
			if (send_update(c, &t, STATUS_DELIVERED, 1) == -1 ||
			    send_update(c, &t, STATUS_STARTED, 1) == -1)
				return -1;
			updates_sent = 1;
		}
		if (*c->env->stop)
			return -1;
	}
}

int
control_orphan_reply(const struct control_env *env, const struct journal_entry *e)
{
	struct conn c = {.env = env};
	struct request_task t;
	char ev[24], seq[16], module[32];
	const char *why;
	memset(&t, 0, sizeof(t));
	snprintf(ev, sizeof(ev), "%lld", e->event_id);
	t.event_id = e->event_id;
	request_journal_split(e->task_seq, &t.seq, &t.retry);
	snprintf(seq, sizeof(seq), "%d", t.seq);
	t.event_s = ev;
	t.seq_s = seq;
	t.schedule_s = "";
	snprintf(t.name, sizeof(t.name), "?");
	split_result(e->result, module, sizeof(module), &why);
	return send_final(&c, &t, e->status_code, module, why, NULL, 0, 0, 0);
}

int
control_refuse(const struct control_env *env, const struct request_task *t, int code,
    const char *why)
{
	struct conn c = {.env = env};
	log_task_s(LL_INFO, t->event_s, t->seq_s, "SendFile from %s (%s), schedule %s, run as %s",
	    env->peer_name, env->peer_addr, t->schedule_s, t->user);
	return refuse(&c, t, code, why);
}

int
control_error(const struct control_env *env, const struct wire_msg *req, int code, const char *why)
{
	struct conn c = {.env = env};
	char text[512], code_s[16];
	const char *ev_s, *seq_s;
	snprintf(text, sizeof(text), "%s", why);
	snprintf(code_s, sizeof(code_s), "%d", code);
	const char *kv[5][2] = {{"Reply", "Error"}, {"Status-Code", code_s}, {"Error", request_one_line(text)}};
	size_t n = 3;
	if (req != NULL && request_ids(req, &ev_s, &seq_s)) {
		kv[n][0] = "Event-ID";
		kv[n++][1] = ev_s;
		kv[n][0] = "Task-Sequence-ID";
		kv[n++][1] = seq_s;
	}
	return send_reply(&c, "error", (const char *const (*)[2])kv, n, NULL, 0);
}

/*
 * The answer says what happened: Success only when the script was found
 * running and signalled (or, its supervising process having died, killed
 * here); else Failed with the reason.
 */
int
control_cancel(const struct control_env *env, const struct request_task *t)
{
	struct conn cc = {.env = env}, *c = &cc;
	char err[512], why[600];
	const char *ev_s = t->event_s, *seq_s = t->seq_s;
	long pgid = 0;
	int rc = journal_request_cancel(c->env->journal, t->event_id, request_journal_seq(t), &pgid,
	    err, sizeof(err));
	const char *kv[5][2] = {{"Reply", "Cancel"}, {"Event-ID", ev_s}, {"Task-Sequence-ID", seq_s}};
	char code_s[16];
	why[0] = '\0';
	if (rc == JOURNAL_RUNNING && pgid > 0 && kill(-(pid_t)pgid, SIGTERM) == -1) {
		if (errno == ESRCH) {
			/* its holder reaps it and records its result */
			snprintf(why, sizeof(why), "not running: the script had just ended");
		} else {
			log_task_s(LL_WARNING, ev_s, seq_s, "kill process group %ld: %s", pgid, strerror(errno));
			snprintf(why, sizeof(why), "process group %ld could not be signalled: %s", pgid,
			    strerror(errno));
		}
	} else if (rc == JOURNAL_DONE) {
		struct journal_entry *e = NULL;
		if (journal_read(c->env->journal, t->event_id, request_journal_seq(t), &e, err,
			sizeof(err)) == 1 &&
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
		log_task_s(LL_DETAIL, ev_s, seq_s, "cancel: %s", err);
		snprintf(why, sizeof(why), "not running");
	}
	if (why[0] == '\0') {
		/* a live holder's exec_wait sees the request too, and sends SIGKILL after the grace */
		if (rc == JOURNAL_CANCEL_KILLED)
			log_task_s(LL_WARNING, ev_s, seq_s, "cancel requested by %s (%s): the process that ran "
			    "it had died, its script was killed", c->env->peer_name, c->env->peer_addr);
		else if (pgid > 0)
			log_task_s(LL_INFO, ev_s, seq_s, "cancel requested by %s (%s), process group %ld",
			    c->env->peer_name, c->env->peer_addr, pgid);
		else /* its script's group not recorded yet: the holder reads the request */
			log_task_s(LL_INFO, ev_s, seq_s, "cancel requested by %s (%s), recorded for the "
			    "process that runs it", c->env->peer_name, c->env->peer_addr);
		snprintf(code_s, sizeof(code_s), "%d", STATUS_CANCELLED);
		kv[3][0] = "Result";
		kv[3][1] = "Success";
		kv[4][0] = "Status-Code";
		kv[4][1] = code_s;
	} else {
		log_task_s(LL_INFO, ev_s, seq_s, "cancel requested by %s: %s", c->env->peer_addr, why);
		kv[3][0] = "Result";
		kv[3][1] = "Failed";
		kv[4][0] = "Error";
		kv[4][1] = request_one_line(why);
	}
	return send_reply(c, "cancel", (const char *const (*)[2])kv, 5, NULL, 0);
}

void
control_task_dir_remove(const char *temp_dir, long long event_id, int task_seq)
{
	struct request_task t;
	memset(&t, 0, sizeof(t));
	t.event_id = event_id;
	request_journal_split(task_seq, &t.seq, &t.retry);
	int tempfd = open(temp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tempfd < 0)
		return;
	task_dir_remove(tempfd, &t);
	close(tempfd);
}

void
control_spares_drop(const char *temp_dir, long pid)
{
	int tempfd = open(temp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tempfd < 0)
		return;
	if (pid > 0)
		workdir_drop_spare(tempfd, pid);
	else
		workdir_drop_spares(tempfd);
	close(tempfd);
}
