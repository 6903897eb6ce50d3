/*
 * tasks: fork, the pipe back, forwarding and reaping. A task's entry lives
 * until its process is reaped and its pipe has been read to the end, so that
 * a result written just before the exit is never lost.
 */
#include "agent/tasks.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "agent/control.h"
#include "agent/exec.h"
#include "agent/request.h"
#include "agent/uplink.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/wire.h"
#include "transfer/fetch.h"

#define CHILD_EXIT_LOST 3   /* the task ran, but a reply could not be handed on */
#define RUNNER_TASKS_MAX 500 /* a task process exits after this many tasks (anything it leaked goes) */
#define RUNNERS_IDLE_KEEP 4  /* idle task processes kept beyond this many are let go */
#define RUNNERS_MAX (2 * TASKS_MAX) /* entries: the busy ones and those exiting */

/*
 * A task process. It runs one task at a time, handed to it down its socketpair
 * (Local=Task, then the SendFile), answers with the task's replies, then
 * Local=Idle; it waits there for the next one, and exits when its pipe closes.
 */
struct task {
	struct tasks *ts;
	pid_t pid;                /* 0 once reaped */
	struct bufferevent *bev;  /* NULL once read to the end */
	struct wire_parser *parser;
	int busy;                 /* a task handed to it has not ended (no Local=Idle yet) */
	int retire;               /* let go once its task ends */
	int done;                 /* tasks it ran */
	uint64_t gen;             /* the connection its current SendFile came in on */
	char what[48];            /* "event E task S", for logs */
};

struct tasks {
	struct event_base *base;
	struct uplink *uplink;
	SSL_CTX *fetch_ctx;       /* the sessions task processes hand back are kept for it */
	size_t max_body;
	char temp_dir[PATH_MAX];  /* where a task process that died left its spare directory */
	struct task *v[RUNNERS_MAX];
	int n;
	void (*other)(void *arg, pid_t pid, int status); /* a child that is no task process */
	void *other_arg;
};

static volatile sig_atomic_t child_stop;

static void
on_child_term(int sig)
{
	(void)sig;
	child_stop = 1;
}

struct tasks *
tasks_new(struct event_base *base, struct uplink *u, SSL_CTX *fetch_ctx, size_t max_body,
    const char *temp_dir)
{
	struct tasks *ts = calloc(1, sizeof(*ts));
	if (ts == NULL)
		return NULL;
	ts->base = base;
	ts->fetch_ctx = fetch_ctx;
	ts->uplink = u;
	ts->max_body = max_body;
	snprintf(ts->temp_dir, sizeof(ts->temp_dir), "%s", temp_dir);
	return ts;
}

static void
task_close_pipe(struct task *t)
{
	if (t->bev != NULL)
		bufferevent_free(t->bev);
	t->bev = NULL;
	wire_parser_free(t->parser);
	t->parser = NULL;
	t->busy = 0;
}

/* Forget entries whose process is reaped and whose pipe is read to the end. */
static void
tasks_compact(struct tasks *ts)
{
	int k = 0;
	for (int i = 0; i < ts->n; i++) {
		if (ts->v[i]->pid != 0 || ts->v[i]->bev != NULL)
			ts->v[k++] = ts->v[i];
		else
			free(ts->v[i]);
	}
	ts->n = k;
}

void
tasks_free(struct tasks *ts)
{
	if (ts == NULL)
		return;
	for (int i = 0; i < ts->n; i++) {
		task_close_pipe(ts->v[i]);
		free(ts->v[i]);
	}
	free(ts);
}

/* Idle ones are let go now (their pipe closes: they exit), busy ones after their task. */
void
tasks_retire(struct tasks *ts)
{
	for (int i = 0; i < ts->n; i++) {
		ts->v[i]->retire = 1;
		if (!ts->v[i]->busy)
			task_close_pipe(ts->v[i]);
	}
}

void
tasks_set_ctx(struct tasks *ts, SSL_CTX *fetch_ctx)
{
	ts->fetch_ctx = fetch_ctx;
	tasks_retire(ts); /* they hold the old context */
}

/* Tasks running: handed to a process and not ended, or whose process is exiting. */
int
tasks_count(const struct tasks *ts)
{
	int n = 0;
	for (int i = 0; i < ts->n; i++)
		n += ts->v[i]->busy || (ts->v[i]->pid != 0 && ts->v[i]->bev == NULL);
	return n;
}

int
tasks_alive(const struct tasks *ts)
{
	int n = 0;
	for (int i = 0; i < ts->n; i++)
		n += ts->v[i]->pid != 0;
	return n;
}

static int
unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A TLS session the task process kept from its fetch: the next task processes resume it. */
static void
task_session(struct tasks *ts, const struct wire_msg *m)
{
	const char *host = wire_get(m, "Host"), *hex = wire_get(m, "Session");
	size_t n = hex != NULL ? strlen(hex) / 2 : 0;
	unsigned char *der = n > 0 ? malloc(n) : NULL;
	if (host == NULL || der == NULL) {
		free(der);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(der);
			return;
		}
		der[i] = (unsigned char)(hi << 4 | lo);
	}
	if (transfer_fetch_session_import(ts->fetch_ctx, host, der, n) == -1)
		log_debug("transfer session for %s from a task process does not parse", host);
	free(der);
}

/* Its task ended: kept for the next one, or let go. */
static void
task_idle(struct tasks *ts, struct task *t)
{
	int idle = 0;
	for (int i = 0; i < ts->n; i++)
		idle += ts->v[i]->bev != NULL && !ts->v[i]->busy;
	t->busy = 0;
	t->done++;
	log_debug("%s: task process %ld idle after %d tasks", t->what, (long)t->pid, t->done);
	snprintf(t->what, sizeof(t->what), "task process %ld", (long)t->pid);
	if (t->retire || t->done >= RUNNER_TASKS_MAX || idle >= RUNNERS_IDLE_KEEP)
		task_close_pipe(t);
}

/* A whole reply of a task: on to the scheduler, if its connection is still the one. */
static void
task_forward(struct tasks *ts, struct task *t, const struct wire_msg *m)
{
	const char *local = wire_get(m, "Local");
	if (local != NULL) {
		if (strcmp(local, "Session") == 0)
			task_session(ts, m);
		else if (strcmp(local, "Idle") == 0)
			task_idle(ts, t);
		return;
	}
	if (t->gen == uplink_generation(ts->uplink) && uplink_is_up(ts->uplink)) {
		if (uplink_send(ts->uplink, m) == 0)
			return;
	}
	const char *reply = wire_get(m, "Reply"), *code = wire_get(m, "Status-Code");
	log_detail("%s: Reply=%s Status-Code=%s not sent: its connection is gone (the journal "
	    "keeps the result for a re-push)", t->what, reply != NULL ? reply : "?",
	    code != NULL ? code : "?");
}

static void
task_read_cb(struct bufferevent *bev, void *arg)
{
	struct task *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[16384];
	int n;
	while (t->bev == bev && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n) {
			size_t used = 0;
			enum wire_status st = wire_feed(t->parser, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE)
				break;
			if (st == WIRE_ERROR) {
				/* our own child: a bug, but only its replies are lost */
				log_warnx("%s: bad message from its task process: %s", t->what,
				    wire_parser_error(t->parser));
				task_close_pipe(t);
				return;
			}
			struct wire_msg *m = wire_parser_take(t->parser);
			if (m == NULL)
				fatalx("out of memory");
			task_forward(t->ts, t, m);
			wire_msg_free(m);
			if (t->bev != bev)
				return; /* let go: freed with its parser */
		}
	}
}

static void
task_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct task *t = arg;
	(void)what;
	task_read_cb(bev, arg); /* whatever came before the end */
	if (t->busy)
		log_debug("%s: task process %ld ended its pipe during its task", t->what, (long)t->pid);
	task_close_pipe(t);
	tasks_compact(t->ts);
}

/* The task process's replies: whole messages, blocking, down the pipe. */
static int
pipe_send(void *arg, const struct wire_msg *m)
{
	int fd = *(int *)arg;
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL)
		return -1;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	wire_buf_free(buf, len);
	return off == len ? 0 : -1;
}

/* Hand a kept TLS session to the main process (Local=Session, never sent on). */
static void
send_session(const char *host, const unsigned char *der, size_t len, void *arg)
{
	char err[128], *hex = malloc(2 * len + 1);
	struct wire_msg *m = wire_msg_new();
	if (hex != NULL && m != NULL) {
		util_hex(der, len, hex);
		if (wire_add(m, "Local", "Session", err, sizeof(err)) == 0 &&
		    wire_add(m, "Host", host, err, sizeof(err)) == 0 &&
		    wire_add(m, "Session", hex, err, sizeof(err)) == 0)
			(void)pipe_send(arg, m);
	}
	wire_msg_free(m);
	free(hex);
}

/* Bytes read from the main process and not yet parsed. */
struct runner_in {
	char buf[16384];
	size_t off, len;
};

/* In a task process: the next whole message from the main process; NULL at its end or a stop. */
static struct wire_msg *
runner_read(int fd, struct wire_parser *p, struct runner_in *in)
{
	for (;;) {
		if (in->off < in->len) {
			size_t used = 0;
			enum wire_status st = wire_feed(p, in->buf + in->off, in->len - in->off, &used);
			in->off += used;
			if (st == WIRE_ERROR) {
				log_warnx("bad message from the agent's main process: %s",
				    wire_parser_error(p));
				return NULL;
			}
			if (st == WIRE_DONE)
				return wire_parser_take(p);
		}
		if (child_stop)
			return NULL;
		ssize_t n = read(fd, in->buf, sizeof(in->buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		in->off = 0;
		in->len = (size_t)n;
	}
}

/*
 * One task handed down the pipe: Local=Task (who pushed it), then the SendFile; run,
 * then Local=Idle. 1: done; 0: no task came (the pipe's end, a stop); -1: Local=Idle
 * could not be sent.
 */
static int
runner_task(const struct control_env *penv, int *fd, struct wire_parser *p, struct runner_in *in)
{
	struct wire_msg *who = runner_read(*fd, p, in), *m = who != NULL ? runner_read(*fd, p, in) : NULL;
	const char *local = who != NULL ? wire_get(who, "Local") : NULL;
	if (m == NULL || local == NULL || strcmp(local, "Task") != 0) {
		if (m != NULL)
			log_warnx("a task from the main process without Local=Task: ended");
		wire_msg_free(m);
		wire_msg_free(who);
		return 0;
	}
	struct control_env env = *penv;
	const char *cid = wire_get(who, "Computer-ID"), *name = wire_get(who, "Peer-Name"),
		   *addr = wire_get(who, "Peer-Addr");
	env.peer_name = name != NULL ? name : "?";
	env.peer_addr = addr != NULL ? addr : "?";
	struct request_task t;
	char why[600];
	int code;
	/* the main process checked it: the same check here only fills t from this copy */
	if (request_check(m, env.conf, cid != NULL ? atoll(cid) : 0, &t, &code, why, sizeof(why)) ==
		REQUEST_ACT && t.kind == REQUEST_SENDFILE)
		(void)control_run_task(&env, &t); /* a reply it could not send: the journal keeps it */
	else
		log_warnx("a task the main process handed on does not check here: %s", why);
	/* a fetch that resumed left the main process's copy good enough for the task
	 * processes it forks later: the sessions go back only after a full handshake */
	if (!transfer_fetch_resumed())
		transfer_fetch_sessions_each(send_session, fd);
	wire_msg_free(m);
	wire_msg_free(who);
	char err[64];
	struct wire_msg *idle = wire_msg_new();
	int sent = idle != NULL && wire_add(idle, "Local", "Idle", err, sizeof(err)) == 0 &&
	    pipe_send(fd, idle) == 0;
	wire_msg_free(idle);
	return sent ? 1 : -1;
}

/* In the child: its signals, then tasks until its pipe closes, a stop or its quota. */
static void __attribute__((noreturn))
task_child(struct tasks *ts, const struct control_env *penv, int fd, int close_fd)
{
	struct sigaction sa;
	sigset_t none;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child_term; /* no SA_RESTART: an idle read ends with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	exec_signals_changed();
	/* the connection belongs to the main process: a copy here would keep it open */
	if (close_fd >= 0)
		close(close_fd);
	for (int i = 0; i < ts->n; i++)
		if (ts->v[i]->bev != NULL)
			close(bufferevent_getfd(ts->v[i]->bev));
	log_procinit("task");
	struct control_env env = *penv;
	env.stop = &child_stop;
	env.out.send = pipe_send;
	env.out.arg = &fd;
	struct wire_parser *p = wire_parser_new(ts->max_body);
	struct runner_in *in = malloc(sizeof(*in));
	int rc = p != NULL && in != NULL ? 1 : 0;
	if (in != NULL)
		in->off = in->len = 0;
	for (int n = 0; rc == 1 && n < RUNNER_TASKS_MAX && !child_stop; n++)
		rc = runner_task(&env, &fd, p, in);
	if (p == NULL || in == NULL)
		log_warnx("task process: out of memory");
	wire_parser_free(p);
	free(in);
	transfer_fetch_close_kept(); /* a clean TLS close for the worker's transfer port */
	control_spares_drop(penv->conf->temp_dir, (long)getpid());
	log_close();
	_exit(rc == -1 ? CHILD_EXIT_LOST : 0);
}
/* A new task process, idle; NULL when it could not be started (logged). */
static struct task *
runner_fork(struct tasks *ts, const struct control_env *env, int close_fd)
{
	int sv[2];
	if (ts->n >= RUNNERS_MAX)
		return NULL;
	struct task *k = calloc(1, sizeof(*k));
	if (k == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warnx("task process: socketpair: %s", strerror(errno));
		free(k);
		return NULL;
	}
	pid_t pid = fork();
	if (pid == -1) {
		log_warnx("task process: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(k);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		task_child(ts, env, sv[1], close_fd);
	}
	close(sv[1]);
	evutil_make_socket_nonblocking(sv[0]);
	k->ts = ts;
	k->pid = pid;
	k->parser = wire_parser_new(ts->max_body);
	k->bev = bufferevent_socket_new(ts->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (k->parser == NULL || k->bev == NULL)
		fatalx("out of memory");
	bufferevent_setcb(k->bev, task_read_cb, NULL, task_event_cb, k);
	bufferevent_enable(k->bev, EV_READ);
	ts->v[ts->n++] = k;
	log_debug("task process %ld started", (long)pid);
	return k;
}

/* m down k's pipe, whole; 0 or -1. */
static int
runner_write(struct task *k, const struct wire_msg *m)
{
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL)
		return -1;
	int rc = bufferevent_write(k->bev, buf, len);
	wire_buf_free(buf, len);
	return rc;
}

/* A task process has ended with status st: logged, forgotten (its pipe is read on). 1 when
 * it ended as it should not (killed, or an exit code of failure). */
static int
runner_ended(struct task *t, pid_t pid, int st)
{
	const char *what = t != NULL ? t->what : "child";
	int bad = WIFSIGNALED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != CHILD_EXIT_LOST);
	if (WIFSIGNALED(st))
		log_warnx("%s: task process %ld killed by signal %d", what, (long)pid, WTERMSIG(st));
	else if (bad)
		log_warnx("%s: task process %ld exited with code %d", what, (long)pid,
		    WEXITSTATUS(st));
	else
		log_debug("%s: task process %ld exited with code %d", what, (long)pid, WEXITSTATUS(st));
	if (t != NULL) {
		t->pid = 0;
		if (bad) /* it could not remove the directory it kept for its next task */
			control_spares_drop(t->ts->temp_dir, (long)pid);
	}
	return bad;
}

/* An idle task process still there to take a task: one that died (killed while idle) and
 * whose closed pipe and SIGCHLD this loop has not handled yet is reaped now, not handed a
 * task it would never read. */
static int
runner_alive(struct task *t)
{
	int st;
	pid_t r = waitpid(t->pid, &st, WNOHANG);
	if (r == 0)
		return 1;
	if (r == t->pid)
		(void)runner_ended(t, r, st); /* idle: it held no task to close */
	else
		t->pid = 0; /* reaped already (ECHILD) */
	task_close_pipe(t);
	return 0;
}

int
tasks_spawn(struct tasks *ts, const struct control_env *env, const struct request_task *t,
    const struct wire_msg *m, int close_fd)
{
	struct task *k = NULL;
	for (int i = 0; i < ts->n && k == NULL; i++)
		if (ts->v[i]->pid != 0 && ts->v[i]->bev != NULL && !ts->v[i]->busy &&
		    !ts->v[i]->retire && runner_alive(ts->v[i]))
			k = ts->v[i];
	tasks_compact(ts);
	if (k == NULL && (k = runner_fork(ts, env, close_fd)) == NULL)
		return -1;
	char err[128], cid[24];
	snprintf(cid, sizeof(cid), "%lld", uplink_computer_id(ts->uplink));
	struct wire_msg *who = wire_msg_new();
	if (who == NULL || wire_add(who, "Local", "Task", err, sizeof(err)) == -1 ||
	    wire_add(who, "Computer-ID", cid, err, sizeof(err)) == -1 ||
	    wire_add(who, "Peer-Name", env->peer_name, err, sizeof(err)) == -1 ||
	    wire_add(who, "Peer-Addr", env->peer_addr, err, sizeof(err)) == -1 ||
	    runner_write(k, who) == -1 || runner_write(k, m) == -1) {
		log_task_s(LL_WARNING, t->event_s, t->seq_s, "not handed to task process %ld",
		    (long)k->pid);
		wire_msg_free(who);
		task_close_pipe(k); /* half a task may be in its pipe: it goes */
		return -1;
	}
	wire_msg_free(who);
	k->busy = 1;
	k->gen = uplink_generation(ts->uplink);
	snprintf(k->what, sizeof(k->what), "event %.16s task %.10s", t->event_s, t->seq_s);
	log_debug("%s: task process %ld", k->what, (long)k->pid);
	return 0;
}

int
tasks_reap(struct tasks *ts)
{
	int st, died = 0;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct task *t = NULL;
		for (int i = 0; i < ts->n && t == NULL; i++)
			if (ts->v[i]->pid == pid)
				t = ts->v[i];
		if (t == NULL && ts->other != NULL) {
			ts->other(ts->other_arg, pid, st); /* not a task process: its owner's */
			continue;
		}
		/* one that ended as it should released its task itself */
		died |= runner_ended(t, pid, st);
	}
	tasks_compact(ts);
	return died;
}

int
tasks_let_go(struct tasks *ts, long long wait_ms)
{
	/* shut down first: libevent closes a freed bufferevent's socket from its loop,
	 * which turns no more; the task process sees its end now */
	for (int i = 0; i < ts->n; i++) {
		if (ts->v[i]->bev != NULL)
			(void)shutdown(bufferevent_getfd(ts->v[i]->bev), SHUT_RDWR);
		task_close_pipe(ts->v[i]);
	}
	long long until = clock_mono_ms() + wait_ms;
	int died = tasks_reap(ts);
	while (tasks_alive(ts) > 0 && clock_mono_ms() < until) {
		struct timespec pause = {0, 10 * 1000 * 1000};
		nanosleep(&pause, NULL);
		died |= tasks_reap(ts);
	}
	return died;
}

void
tasks_on_other_child(struct tasks *ts, void (*fn)(void *arg, pid_t pid, int status), void *arg)
{
	ts->other = fn;
	ts->other_arg = arg;
}

void
tasks_signal(struct tasks *ts, int sig)
{
	for (int i = 0; i < ts->n; i++)
		if (ts->v[i]->pid != 0)
			kill(ts->v[i]->pid, sig);
}
