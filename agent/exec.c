/*
 * exec: fork one script into its own session, drop to the run-as user, and
 * collect its output and exit status under a timeout. Every user lookup,
 * allocation and formatting happens in the parent before fork; the child
 * only makes async-signal-safe calls and reports a failure before exec as
 * (stage, errno) on a close-on-exec pipe.
 */
#include "agent/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/field.h"
#include "common/fsutil.h"
#include "common/status.h"

#define EXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define TRUNC_MARK "[pgfleet: output truncated, %llu bytes dropped]\n"
#define CANCEL_POLL_MS 50
#define REAP_POLL_MS 20  /* when pidfd_open is not available */
#define DRAIN_MS 200     /* reading what is left after the main process exited */

struct exec_proc {
	pid_t pid;
	int out_fd;   /* read end of the output pipe, -1 once closed */
	int pidfd;    /* -1 when the kernel has none */
	int reaped;
	long long start_ms;
	long long timeout_ms;
	long long grace_ms;
	size_t max_output;
	int (*cancel_requested)(void *);
	void *cancel_arg;
	volatile sig_atomic_t cancel;
};

/* What the child reports when it fails before exec. */
enum child_stage {
	STAGE_SETSID = 1, STAGE_DEVNULL, STAGE_DUP, STAGE_CHDIR, STAGE_SETGROUPS,
	STAGE_SETGID, STAGE_SETUID, STAGE_REGAIN, STAGE_EXEC,
};

struct child_report {
	int stage;
	int err;
};

struct ring {
	char *buf;
	size_t cap;
	size_t start; /* oldest byte */
	size_t len;
	unsigned long long total;
};


static int
on_list(const char *const *list, const char *name)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* The passwd entry of name: 1 found (buf to free), 0 none, -1 error. */
static int
lookup_user(const char *name, struct passwd *pw, char **buf)
{
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = sz > 0 ? (size_t)sz : 16384;
	for (;;) {
		struct passwd *res = NULL;
		*buf = malloc(size);
		if (*buf == NULL)
			return -1;
		int rc = getpwnam_r(name, pw, *buf, size, &res);
		if (rc == ERANGE && size < (1 << 20)) {
			free(*buf);
			size *= 2;
			continue;
		}
		if (rc == 0 && res != NULL)
			return 1;
		free(*buf);
		*buf = NULL;
		if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
			return 0;
		errno = rc;
		return -1;
	}
}

static gid_t *
user_groups(const char *name, gid_t gid, int *n)
{
	int cap = 32;
	for (;;) {
		gid_t *g = calloc((size_t)cap, sizeof(*g));
		if (g == NULL)
			return NULL;
		int got = cap;
		if (getgrouplist(name, gid, g, &got) >= 0) {
			*n = got;
			return g;
		}
		free(g);
		if (got <= cap || cap >= 65536) {
			/* Lookup failed outright: the primary group only. */
			g = malloc(sizeof(*g));
			if (g == NULL)
				return NULL;
			g[0] = gid;
			*n = 1;
			return g;
		}
		cap = got;
	}
}

static void
free_strv(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Append one formatted string to env; -1 when out of memory. */
static int __attribute__((format(printf, 3, 4)))
env_add(char **env, int *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0 || (env[*n] = malloc((size_t)len + 1)) == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(env[*n], (size_t)len + 1, fmt, ap);
	va_end(ap);
	(*n)++;
	return 0;
}

static char **
build_env(const struct exec_req *req, const struct passwd *pw)
{
	enum { NENV = 11 };
	char **env = calloc(NENV + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	const char *shell = pw->pw_shell != NULL && pw->pw_shell[0] != '\0' ? pw->pw_shell : "/bin/sh";
	const char *home = pw->pw_dir != NULL && pw->pw_dir[0] != '\0' ? pw->pw_dir : "/";
	int n = 0;
	if (env_add(env, &n, "PATH=%s", EXEC_PATH) < 0 ||
	    env_add(env, &n, "HOME=%s", home) < 0 ||
	    env_add(env, &n, "USER=%s", pw->pw_name) < 0 ||
	    env_add(env, &n, "LOGNAME=%s", pw->pw_name) < 0 ||
	    env_add(env, &n, "SHELL=%s", shell) < 0 ||
	    env_add(env, &n, "LANG=C.UTF-8") < 0 ||
	    env_add(env, &n, "TMPDIR=%s", req->temp_dir) < 0 ||
	    env_add(env, &n, "PGFLEET_EVENT_ID=%lld", req->event_id) < 0 ||
	    env_add(env, &n, "PGFLEET_SCHEDULE_ID=%lld", req->schedule_id) < 0 ||
	    env_add(env, &n, "PGFLEET_TASK_SEQ=%d", req->task_seq) < 0 ||
	    env_add(env, &n, "PGFLEET_COMPUTER_ID=%lld", req->computer_id) < 0) {
		free_strv(env);
		return NULL;
	}
	return env;
}

/* Child side: report (stage, errno) and leave without running anything of ours. */
static void __attribute__((noreturn))
child_fail(int fd, int stage, int e)
{
	struct child_report rep = {stage, e};
	ssize_t w;
	do
		w = write(fd, &rep, sizeof(rep));
	while (w < 0 && errno == EINTR);
	_exit(127);
}

/*
 * A descriptor that polls readable when pid exits, or -1: then exec_wait
 * polls every REAP_POLL_MS. Tried once per process, so a kernel (or valgrind)
 * without pidfd_open is asked only once.
 */
static int
open_pidfd(pid_t pid)
{
	static int unsupported;
#ifdef SYS_pidfd_open
	if (!unsupported) {
		int fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd >= 0) {
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
			return fd;
		}
		if (errno == ENOSYS)
			unsupported = 1;
	}
#else
	(void)pid;
	unsupported = 1;
#endif
	return -1;
}

struct child_args {
	const char *interp;
	char *const *argv;
	char *const *envp;
	const char *temp_dir;
	int do_switch;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	int out_w;
	int rep_w;
	void *keep; /* the parent's allocation not otherwise named here */
};

/*
 * The child's view of the parent's allocations: reachable from here until
 * exec or _exit, so leak checkers do not report the copies the child drops.
 */
static const struct child_args *volatile child_keep;

/*
 * glibc refuses sigaction on the two signals it keeps for itself (32, 33),
 * yet they may come ignored from whoever started us (GNU make does this)
 * and an ignored signal survives exec: reset them with the raw system call.
 */
static void
reset_reserved_signal(int sig)
{
#if defined(SYS_rt_sigaction) && (defined(__x86_64__) || defined(__aarch64__) || defined(__riscv))
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		unsigned long mask;
	} k = {SIG_DFL, 0, NULL, 0};
	(void)syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof(k.mask));
#else
	(void)sig;
#endif
}

/*
 * The signals whose disposition is not the default in this process: the child
 * resets only these (a system call per signal is dear on some virtual machines,
 * and there are 64). Found once per process, before its first spawn, and again
 * after exec_signals_changed: the task processes set their handlers first.
 */
static struct {
	pid_t pid;      /* the process they were found in; 0 before */
	int n;
	int sig[NSIG];
} nondefault;

void
exec_signals_changed(void)
{
	nondefault.pid = 0;
}

static void
find_nondefault_signals(void)
{
	pid_t me = getpid();
	if (nondefault.pid == me)
		return;
	nondefault.n = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;
		/* glibc's own two (EINVAL) are reset whatever they are */
		if (sigaction(sig, NULL, &old) < 0 ? errno == EINVAL :
		    (old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL)
			nondefault.sig[nondefault.n++] = sig;
	}
	nondefault.pid = me;
}

/* Runs in the child of spawn_child; never returns. */
static void __attribute__((noreturn))
child_run(const struct child_args *a)
{
	int rep = a->rep_w;
	child_keep = a;
	if (setsid() < 0)
		child_fail(rep, STAGE_SETSID, errno);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < nondefault.n; i++)
		if (sigaction(nondefault.sig[i], &sa, NULL) < 0 && errno == EINVAL)
			reset_reserved_signal(nondefault.sig[i]);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* Lift our three descriptors above 0..2 before placing them. */
	int efd = fcntl(rep, F_DUPFD_CLOEXEC, 3);
	if (efd < 0)
		child_fail(rep, STAGE_DUP, errno);
	rep = efd;
	int ofd = fcntl(a->out_w, F_DUPFD_CLOEXEC, 3);
	if (ofd < 0)
		child_fail(rep, STAGE_DUP, errno);
	int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nfd < 0)
		child_fail(rep, STAGE_DEVNULL, errno);
	if (nfd < 3) {
		int hi = fcntl(nfd, F_DUPFD_CLOEXEC, 3);
		if (hi < 0)
			child_fail(rep, STAGE_DUP, errno);
		nfd = hi;
	}
	if (dup2(nfd, 0) < 0 || dup2(ofd, 1) < 0 || dup2(ofd, 2) < 0)
		child_fail(rep, STAGE_DUP, errno);
	if (rep != 3) {
		if (dup3(rep, 3, O_CLOEXEC) < 0)
			child_fail(rep, STAGE_DUP, errno);
		rep = 3;
	}
	fsutil_close_from(4);
	umask(022);

	if (chdir(a->temp_dir) < 0)
		child_fail(rep, STAGE_CHDIR, errno);
	if (a->do_switch) {
		if (setgroups((size_t)a->ngroups, a->groups) < 0)
			child_fail(rep, STAGE_SETGROUPS, errno);
		if (setgid(a->gid) < 0)
			child_fail(rep, STAGE_SETGID, errno);
		if (setuid(a->uid) < 0)
			child_fail(rep, STAGE_SETUID, errno);
		if (getuid() != a->uid || geteuid() != a->uid || getgid() != a->gid ||
		    getegid() != a->gid)
			child_fail(rep, STAGE_SETUID, EPERM);
		if (a->uid != 0 && setuid(0) == 0)
			child_fail(rep, STAGE_REGAIN, 0);
	}
	execve(a->interp, a->argv, a->envp);
	child_fail(rep, STAGE_EXEC, errno);
}

#if !defined(__SANITIZE_ADDRESS__)
static int
child_entry(void *arg)
{
	child_run(arg);
}
#endif

#define CHILD_STACK (64 * 1024)

/*
 * The script's process, sharing our memory until its execve or _exit, as posix_spawn
 * makes it (CLONE_VM | CLONE_VFORK: we wait meanwhile): no page tables copied, and none
 * of ours left write-protected to fault page by page afterwards, which a fork of the task
 * process cost on every task. child_run makes system calls only and touches nothing of
 * ours. Every signal is blocked across it: a handler of ours must not run in the child,
 * which sets each one not at its default back to it (find_nondefault_signals) before it
 * unblocks them. The stack is mapped once per process. -1 with errno when it fails.
 * Built with AddressSanitizer, a fork: its run-time library cannot follow a child running
 * on a stack of its own in our memory (stale red zones of an earlier child's stack, and a
 * warning at every call that does not return).
 */
static pid_t
spawn_child(struct child_args *ca)
{
	find_nondefault_signals();
#if defined(__SANITIZE_ADDRESS__)
	pid_t forked = fork();
	if (forked == 0)
		child_run(ca);
	return forked;
#else
	/* kept for the process's next spawns: the parent waits while the child uses it (vfork) */
	static void *stack;
	static pid_t stack_pid;
	if (stack == NULL || stack_pid != getpid()) {
		stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			stack = NULL;
			return -1;
		}
		stack_pid = getpid();
	}
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(child_entry, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, ca);
	int e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return pid;
#endif
}

static void
describe_child_failure(const struct child_report *rep, const struct exec_req *req,
    const char *interp, char *err, size_t errlen)
{
	const char *why = strerror(rep->err);
	switch (rep->stage) {
	case STAGE_SETSID:
		snprintf(err, errlen, "script %s: setsid: %s", req->script, why);
		break;
	case STAGE_DEVNULL:
		snprintf(err, errlen, "script %s: open /dev/null: %s", req->script, why);
		break;
	case STAGE_DUP:
		snprintf(err, errlen, "script %s: dup2: %s", req->script, why);
		break;
	case STAGE_CHDIR:
		snprintf(err, errlen, "script %s: chdir %s as %s: %s", req->script, req->temp_dir,
		    req->run_as, why);
		break;
	case STAGE_SETGROUPS:
		snprintf(err, errlen, "script %s: setgroups for %s: %s", req->script, req->run_as, why);
		break;
	case STAGE_SETGID:
		snprintf(err, errlen, "script %s: setgid for %s: %s", req->script, req->run_as, why);
		break;
	case STAGE_SETUID:
		snprintf(err, errlen, "script %s: setuid to %s: %s", req->script, req->run_as, why);
		break;
	case STAGE_REGAIN:
		snprintf(err, errlen, "script %s: setuid(0) still succeeds after switching to %s",
		    req->script, req->run_as);
		break;
	case STAGE_EXEC:
		snprintf(err, errlen, "script %s: exec %s: %s", req->script, interp, why);
		break;
	default:
		snprintf(err, errlen, "script %s: child failed before exec", req->script);
		break;
	}
}

/* The run-as checks; 0 or STATUS_RUNAS_REFUSED/STATUS_AGENT_ERROR with err. */
static int
check_run_as(const struct exec_req *req, struct passwd *pw, char **pwbuf, char *err, size_t errlen)
{
	const char *user = req->run_as;
	if (user == NULL || user[0] == '\0') {
		snprintf(err, errlen, "run-as user is empty");
		return STATUS_RUNAS_REFUSED;
	}
	if (!on_list(req->allow, user)) {
		if (strcmp(user, "root") == 0)
			snprintf(err, errlen, "run-as user \"root\" refused: root is not allowed on this agent");
		else
			snprintf(err, errlen, "run-as user \"%s\" refused: not on this agent's allow-list", user);
		return STATUS_RUNAS_REFUSED;
	}
	int found = lookup_user(user, pw, pwbuf);
	if (found < 0) {
		snprintf(err, errlen, "run-as user \"%s\": user lookup failed: %s", user, strerror(errno));
		return STATUS_AGENT_ERROR;
	}
	if (found == 0) {
		snprintf(err, errlen, "run-as user \"%s\" refused: no such user", user);
		return STATUS_RUNAS_REFUSED;
	}
	if (pw->pw_uid == 0 && !on_list(req->allow, "root")) {
		snprintf(err, errlen, "run-as user \"%s\" refused: it is uid 0 and root is not allowed on this agent",
		    user);
		goto refused;
	}
	if (geteuid() != 0 && pw->pw_uid != geteuid()) {
		snprintf(err, errlen, "run-as user \"%s\" refused: the agent runs as uid %ld, not root, "
		    "and cannot switch users", user, (long)geteuid());
		goto refused;
	}
	return 0;
refused:
	free(*pwbuf);
	*pwbuf = NULL;
	return STATUS_RUNAS_REFUSED;
}

/*
 * What exec_start can check before anything is created: a script and a temp dir,
 * the interpreter split into argv (ibuf holds its words; the script is last),
 * the output cap and the timeouts. 0, or STATUS_AGENT_ERROR with err.
 */
static int
check_req(const struct exec_req *req, char *ibuf, size_t ibuflen, char **argv, size_t *max_output,
    char *err, size_t errlen)
{
	int argc;
	if (req->script == NULL || req->script[0] == '\0' || req->temp_dir == NULL ||
	    req->temp_dir[0] == '\0') {
		snprintf(err, errlen, "exec request needs a script and a temp dir");
		return STATUS_AGENT_ERROR;
	}
	const char *interp = req->interpreter != NULL && req->interpreter[0] != '\0' ?
	    req->interpreter : EXEC_DEFAULT_INTERPRETER;
	/* "/usr/bin/env python3": words on spaces, no shell (common/field.h), then the script */
	if (field_check(FIELD_INTERPRETER, interp, err, errlen) == -1 ||
	    field_interpreter_split(interp, ibuf, ibuflen, argv, &argc, err, errlen) == -1)
		return STATUS_AGENT_ERROR;
	argv[argc] = (char *)req->script;
	argv[argc + 1] = NULL;
	*max_output = req->max_output != 0 ? req->max_output : EXEC_DEFAULT_MAX_OUTPUT;
	if (*max_output < EXEC_MIN_MAX_OUTPUT) {
		snprintf(err, errlen, "max output %zu is below %d bytes", *max_output, EXEC_MIN_MAX_OUTPUT);
		return STATUS_AGENT_ERROR;
	}
	if (req->timeout_ms < 0 || req->grace_ms < 0) {
		snprintf(err, errlen, "timeout and grace period must not be negative");
		return STATUS_AGENT_ERROR;
	}
	return 0;
}

/*
 * Wait for the child's exec (end of file on rep_r: close-on-exec did it) or its
 * failure report, which reaps it. Closes rep_r. 0 once it runs the script, or -1
 * with err.
 */
static int
wait_exec(int rep_r, pid_t pid, const struct exec_req *req, const char *interp, char *err,
    size_t errlen)
{
	struct child_report rep;
	ssize_t n;
	do
		n = read(rep_r, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(rep_r);
	if (n == 0)
		return 0;
	int st;
	if (n < 0)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(rep))
		describe_child_failure(&rep, req, interp, err, errlen);
	else
		snprintf(err, errlen, "script %s: child failed before exec", req->script);
	return -1;
}

/* The script runs: p takes the output pipe's read end and the request's limits. */
static void
proc_running(struct exec_proc *p, int out_fd, const struct exec_req *req, size_t max_output)
{
	p->out_fd = out_fd;
	(void)fcntl(p->out_fd, F_SETFL, fcntl(p->out_fd, F_GETFL) | O_NONBLOCK);
	p->pidfd = open_pidfd(p->pid);
	p->timeout_ms = req->timeout_ms;
	p->grace_ms = req->grace_ms != 0 ? req->grace_ms : EXEC_DEFAULT_GRACE_MS;
	p->max_output = max_output;
	p->cancel_requested = req->cancel_requested;
	p->cancel_arg = req->cancel_arg;
}

void
exec_warm_users(const char *name)
{
	struct passwd pw;
	char *buf = NULL;
	if (name == NULL || lookup_user(name, &pw, &buf) != 1)
		return;
	int n = 0;
	free(user_groups(name, pw.pw_gid, &n));
	free(buf);
}

int
exec_start(const struct exec_req *req, struct exec_proc **out, char *err, size_t errlen)
{
	char ibuf[FIELD_INTERPRETER_MAX + 1], *argv[FIELD_INTERPRETER_WORDS + 2];
	size_t max_output;
	*out = NULL;
	int rc = check_req(req, ibuf, sizeof(ibuf), argv, &max_output, err, errlen);
	if (rc != 0)
		return rc;
	struct passwd pw;
	char *pwbuf = NULL;
	if ((rc = check_run_as(req, &pw, &pwbuf, err, errlen)) != 0)
		return rc;

	int ngroups = 0;
	gid_t *groups = NULL;
	char **envp = NULL;
	struct exec_proc *p = NULL;
	int outp[2] = {-1, -1}, repp[2] = {-1, -1};
	int do_switch = geteuid() == 0;

	if (do_switch && (groups = user_groups(pw.pw_name, pw.pw_gid, &ngroups)) == NULL)
		goto nomem;
	if ((envp = build_env(req, &pw)) == NULL)
		goto nomem;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	p->out_fd = -1;
	p->pidfd = -1;
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(repp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "script %s: pipe: %s", req->script, strerror(errno));
		goto fail;
	}

	struct child_args ca = {
		.interp = argv[0], .argv = argv, .envp = envp, .temp_dir = req->temp_dir,
		.do_switch = do_switch, .uid = pw.pw_uid, .gid = pw.pw_gid,
		.groups = groups, .ngroups = ngroups, .out_w = outp[1], .rep_w = repp[1],
		.keep = p,
	};
	p->start_ms = clock_mono_ms();
	pid_t pid = spawn_child(&ca);
	if (pid < 0) {
		snprintf(err, errlen, "script %s: clone: %s", req->script, strerror(errno));
		goto fail;
	}

	close(outp[1]);
	close(repp[1]);
	outp[1] = repp[1] = -1;
	p->pid = pid;
	const char *interp = req->interpreter != NULL && req->interpreter[0] != '\0' ?
	    req->interpreter : EXEC_DEFAULT_INTERPRETER;
	int ran = wait_exec(repp[0], pid, req, interp, err, errlen);
	repp[0] = -1;
	if (ran == -1)
		goto fail;

	proc_running(p, outp[0], req, max_output);
	free(groups);
	free_strv(envp);
	free(pwbuf);
	*out = p;
	return 0;

nomem:
	snprintf(err, errlen, "script %s: out of memory", req->script);
fail:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (repp[i] >= 0)
			close(repp[i]);
	}
	free(p);
	free(groups);
	free_strv(envp);
	free(pwbuf);
	return STATUS_AGENT_ERROR;
}

pid_t
exec_proc_pid(const struct exec_proc *p)
{
	return p->pid;
}

pid_t
exec_proc_pgid(const struct exec_proc *p)
{
	return p->pid; /* setsid() made the child its group's leader */
}

void
exec_cancel(struct exec_proc *p)
{
	p->cancel = 1;
	if (!p->reaped)
		(void)kill(-p->pid, SIGTERM);
}

static void
ring_put(struct ring *r, const char *data, size_t n)
{
	r->total += n;
	if (n >= r->cap) {
		memcpy(r->buf, data + (n - r->cap), r->cap);
		r->start = 0;
		r->len = r->cap;
		return;
	}
	size_t w = (r->start + r->len) % r->cap;
	size_t first = r->cap - w < n ? r->cap - w : n;
	memcpy(r->buf + w, data, first);
	memcpy(r->buf, data + first, n - first);
	if (r->len + n > r->cap) {
		r->start = (r->start + (r->len + n - r->cap)) % r->cap;
		r->len = r->cap;
	} else {
		r->len += n;
	}
}

/* Copy the ring's last n bytes to dst. */
static void
ring_tail(const struct ring *r, char *dst, size_t n)
{
	size_t from = (r->start + (r->len - n)) % r->cap;
	size_t first = r->cap - from < n ? r->cap - from : n;
	memcpy(dst, r->buf + from, first);
	memcpy(dst + first, r->buf, n - first);
}

/* The kept output: all of it, or a mark and the tail, max_output bytes at most. */
static char *
ring_finish(const struct ring *r, size_t *len)
{
	char *out = malloc(r->cap + 1);
	if (out == NULL)
		return NULL;
	if (r->total <= r->cap) {
		ring_tail(r, out, r->len);
		*len = r->len;
	} else {
		size_t marklen = 0;
		unsigned long long dropped = 0;
		for (int i = 0; i < 3; i++) {
			dropped = r->total - (r->cap - marklen);
			marklen = (size_t)snprintf(NULL, 0, TRUNC_MARK, dropped);
		}
		dropped = r->total - (r->cap - marklen);
		snprintf(out, r->cap + 1, TRUNC_MARK, dropped);
		ring_tail(r, out + marklen, r->cap - marklen);
		*len = r->cap;
	}
	out[*len] = '\0';
	return out;
}

/* Read what the pipe has now; closes it at end of file. -1 on a read error. */
static int
drain_pipe(struct exec_proc *p, struct ring *ring)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(p->out_fd, buf, sizeof(buf));
		if (n > 0) {
			ring_put(ring, buf, (size_t)n);
			continue;
		}
		if (n == 0) {
			close(p->out_fd);
			p->out_fd = -1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
}

/* 1 when the main process has exited (not reaped yet), 0 if not, -1 on error. */
static int
has_exited(struct exec_proc *p)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == EINTR ? 0 : -1;
	return si.si_pid == p->pid;
}

/* Kill the group while the unreaped leader still reserves its id, then reap. */
static int
kill_and_reap(struct exec_proc *p, int *status)
{
	(void)kill(-p->pid, SIGKILL);
	pid_t w;
	do
		w = waitpid(p->pid, status, 0);
	while (w < 0 && errno == EINTR);
	p->reaped = 1;
	if (p->pidfd >= 0) {
		close(p->pidfd);
		p->pidfd = -1;
	}
	return w == p->pid ? 0 : -1;
}

static long long
min_wait(long long cur, long long at, long long now)
{
	long long d = at - now;
	if (d < 0)
		d = 0;
	return cur < 0 || d < cur ? d : cur;
}

/* Where exec_wait is: its deadlines (monotonic ms, -1 for none) and what happened. */
struct wait_state {
	long long deadline, kill_at, drain_until, next_cancel_check;
	int terminating, killed, exited, status, cancelled, timed_out;
};

/* Has the script ended? Then its group is killed and reaped, its pipe drained a while. */
static int
wait_exited(struct exec_proc *p, struct wait_state *w, long long now, char *err, size_t errlen)
{
	if (w->exited)
		return 0;
	int e = has_exited(p);
	if (e < 0) {
		snprintf(err, errlen, "process %ld: waitid: %s", (long)p->pid, strerror(errno));
		return -1;
	}
	if (e) {
		/* Whatever it left behind in its group dies with it. */
		w->exited = 1;
		if (kill_and_reap(p, &w->status) < 0) {
			snprintf(err, errlen, "process %ld: waitpid: %s", (long)p->pid, strerror(errno));
			return -1;
		}
		w->drain_until = now + DRAIN_MS;
	}
	return 0;
}

/* A cancel or the timeout: SIGTERM to the group, SIGKILL after the grace period. */
static void
wait_decide(struct exec_proc *p, struct wait_state *w, long long now)
{
	if (!w->exited && !w->terminating) {
		int want_cancel = p->cancel;
		if (!want_cancel && p->cancel_requested != NULL && now >= w->next_cancel_check) {
			want_cancel = p->cancel_requested(p->cancel_arg) != 0;
			w->next_cancel_check = now + CANCEL_POLL_MS;
		}
		if (want_cancel)
			w->cancelled = 1;
		else if (w->deadline >= 0 && now >= w->deadline)
			w->timed_out = 1;
		if (w->cancelled || w->timed_out) {
			(void)kill(-p->pid, SIGTERM);
			w->terminating = 1;
			w->kill_at = now + p->grace_ms;
		}
	}
	if (!w->exited && w->terminating && !w->killed && now >= w->kill_at) {
		(void)kill(-p->pid, SIGKILL);
		w->killed = 1;
	}
}

/* Wait for output, the exit or the next deadline; output goes into ring. 0 or -1 with err. */
static int
wait_poll(struct exec_proc *p, const struct wait_state *w, struct ring *ring, long long now,
    char *err, size_t errlen)
{
	long long tmo = -1;
	if (w->exited) {
		tmo = min_wait(tmo, w->drain_until, now);
	} else {
		if (!w->terminating && w->deadline >= 0)
			tmo = min_wait(tmo, w->deadline, now);
		if (w->terminating && !w->killed)
			tmo = min_wait(tmo, w->kill_at, now);
		if (!w->terminating && p->cancel_requested != NULL)
			tmo = min_wait(tmo, w->next_cancel_check, now);
		if (p->pidfd < 0)
			tmo = min_wait(tmo, now + REAP_POLL_MS, now);
	}
	struct pollfd pfd[2];
	int nfds = 0, out_ix = -1;
	if (p->out_fd >= 0) {
		pfd[nfds].fd = p->out_fd;
		pfd[nfds].events = POLLIN;
		out_ix = nfds++;
	}
	if (!w->exited && p->pidfd >= 0) {
		pfd[nfds].fd = p->pidfd;
		pfd[nfds].events = POLLIN;
		nfds++;
	}
	int pr = poll(pfd, (nfds_t)nfds, tmo > INT_MAX ? INT_MAX : (int)tmo);
	if (pr < 0 && errno != EINTR) {
		snprintf(err, errlen, "process %ld: poll: %s", (long)p->pid, strerror(errno));
		return -1;
	}
	if (pr > 0 && out_ix >= 0 && (pfd[out_ix].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
	    drain_pipe(p, ring) < 0) {
		snprintf(err, errlen, "process %ld: read output: %s", (long)p->pid, strerror(errno));
		return -1;
	}
	return 0;
}

/* The ended script's result: its code (or cancelled, timed out, killed) and output. */
static int
wait_result(struct exec_proc *p, const struct wait_state *w, struct ring *ring,
    struct exec_result *r, char *err, size_t errlen)
{
	int cancelled = w->cancelled;
	r->duration_ms = clock_mono_ms() - p->start_ms;
	if (WIFEXITED(w->status))
		r->exit_code = WEXITSTATUS(w->status);
	else if (WIFSIGNALED(w->status))
		r->signal = WTERMSIG(w->status);
	/* A group killed from outside after a cancel request counts as cancelled. */
	if (!cancelled && (p->cancel || (r->signal != 0 && p->cancel_requested != NULL &&
	    p->cancel_requested(p->cancel_arg) != 0)))
		cancelled = 1;
	r->cancelled = cancelled;
	r->timed_out = w->timed_out && !cancelled;
	if (r->cancelled)
		r->status_code = STATUS_CANCELLED;
	else if (r->timed_out)
		r->status_code = STATUS_TIMEOUT;
	else if (r->exit_code >= 0)
		r->status_code = r->exit_code;
	else
		r->status_code = STATUS_KILLED;
	r->output = ring_finish(ring, &r->output_len);
	r->output_total = ring->total;
	if (r->output == NULL) {
		snprintf(err, errlen, "process %ld: out of memory", (long)p->pid);
		return -1;
	}
	return 0;
}

int
exec_wait(struct exec_proc *p, struct exec_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	if (p->reaped) {
		snprintf(err, errlen, "process %ld was already waited for", (long)p->pid);
		return -1;
	}
	struct ring ring = {.cap = p->max_output};
	if ((ring.buf = malloc(ring.cap)) == NULL) {
		int st;
		kill_and_reap(p, &st);
		snprintf(err, errlen, "process %ld: out of memory", (long)p->pid);
		return -1;
	}
	struct wait_state w = {.deadline = p->timeout_ms > 0 ? p->start_ms + p->timeout_ms : -1,
	    .kill_at = -1, .drain_until = -1};
	for (;;) {
		long long now = clock_mono_ms();
		if (wait_exited(p, &w, now, err, errlen) == -1)
			goto failed;
		if (w.exited && (p->out_fd < 0 || now >= w.drain_until))
			break;
		wait_decide(p, &w, now);
		if (wait_poll(p, &w, &ring, now, err, errlen) == -1)
			goto failed;
	}
	if (p->out_fd >= 0) {
		(void)drain_pipe(p, &ring);
		if (p->out_fd >= 0) {
			close(p->out_fd);
			p->out_fd = -1;
		}
	}
	int rc = wait_result(p, &w, &ring, r, err, errlen);
	free(ring.buf);
	return rc;
failed:
	if (!p->reaped)
		kill_and_reap(p, &w.status);
	free(ring.buf);
	return -1;
}

void
exec_proc_free(struct exec_proc *p)
{
	if (p == NULL)
		return;
	if (!p->reaped) {
		int st;
		kill_and_reap(p, &st);
	}
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

void
exec_result_clear(struct exec_result *r)
{
	free(r->output);
	r->output = NULL;
	r->output_len = 0;
}

static int
matches(const char *want, const char *have)
{
	if (want == NULL || want[0] == '\0')
		return 1;
	return have != NULL && strcasecmp(want, have) == 0;
}

int
exec_check_requirements(const char *os_required, const char *boot_env,
    const char *my_os, const char *my_boot_env, char *err, size_t errlen)
{
	if (!matches(os_required, my_os)) {
		snprintf(err, errlen, "os \"%s\" required, this computer runs \"%s\"", os_required,
		    my_os != NULL ? my_os : "");
		return STATUS_REQUIREMENTS;
	}
	if (!matches(boot_env, my_boot_env)) {
		snprintf(err, errlen, "boot env \"%s\" required, this computer is in \"%s\"", boot_env,
		    my_boot_env != NULL ? my_boot_env : "");
		return STATUS_REQUIREMENTS;
	}
	return 0;
}
