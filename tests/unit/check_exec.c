/*
 * Unit tests for agent/exec: exit codes, output capture and cap, timeout and
 * the whole process group, signals, cancel, run-as checks, environment,
 * requirements. Scripts are real /bin/sh scripts in a temp dir; timeouts
 * are a few hundred ms so the suite stays fast.
 */
#include <check.h>
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
#include <unistd.h>

#include "agent/exec.h"
#include "common/status.h"

static char tdir[PATH_MAX];
static char script[PATH_MAX + 16];
static char self_user[256];
static const char *allow_self[2];
static char err[512];

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
	strcpy(tdir, "/tmp/pgfleet-exec-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	/* Readable by nobody for the run-as test. */
	ck_assert_int_eq(chmod(tdir, 0755), 0);
	snprintf(script, sizeof(script), "%s/rx.sh", tdir);
	struct passwd *pw = getpwuid(geteuid());
	ck_assert_ptr_nonnull(pw);
	snprintf(self_user, sizeof(self_user), "%s", pw->pw_name);
	allow_self[0] = self_user;
	allow_self[1] = NULL;
	err[0] = '\0';
}

static void
teardown(void)
{
	nftw(tdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
under_valgrind(void)
{
	return getenv("PGFLEET_UNDER_VALGRIND") != NULL;
}

/*
 * Timeout of the tests of the timeout. exec_wait alone acts on the deadline: such a
 * test starts the script, waits (wait_file) until the script has reached its point
 * (started a grandchild, printed a line) and only then calls exec_wait, so however
 * slow the machine the timeout finds the script there. No test bounds a duration
 * from above: a status code says what happened.
 */
#define TIMEOUT_MS 300

static void
write_script(const char *body)
{
	FILE *f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fputs(body, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(script, 0755), 0);
}

static void
default_req(struct exec_req *req)
{
	memset(req, 0, sizeof(*req));
	req->script = script;
	req->run_as = self_user;
	req->allow = allow_self;
	req->temp_dir = tdir;
	req->timeout_ms = 5000;
	req->grace_ms = 200;
	req->max_output = 4096;
	req->event_id = 700001;
	req->schedule_id = 100000001;
	req->computer_id = 5000011;
	req->task_seq = 2;
}

/* Run req to the end; the script must start. */
static void
run_req(const struct exec_req *req, struct exec_result *r)
{
	struct exec_proc *p = NULL;
	int rc = exec_start(req, &p, err, sizeof(err));
	ck_assert_msg(rc == 0, "exec_start: %d %s", rc, err);
	ck_assert_int_eq(exec_wait(p, r, err, sizeof(err)), 0);
	exec_proc_free(p);
}

static void
run_body(const char *body, struct exec_result *r)
{
	struct exec_req req;
	default_req(&req);
	write_script(body);
	run_req(&req, r);
}

static void
path_in_tdir(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tdir, name);
}

static pid_t
read_pid_file(const char *name)
{
	char path[PATH_MAX + 64];
	path_in_tdir(path, sizeof(path), name);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	long v = 0;
	ck_assert_int_eq(fscanf(f, "%ld", &v), 1);
	fclose(f);
	ck_assert_int_gt(v, 1);
	return (pid_t)v;
}

/* Dead: gone, or a zombie nobody reaped yet (pid 1 in a container may not). */
static int
pid_dead(pid_t pid)
{
	char path[64], buf[512];
	for (int i = 0; i < 100; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return 1;
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			return 1;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *rp = strrchr(buf, ')');
		if (rp != NULL && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
			return 1;
		usleep(10000);
	}
	return 0;
}

static int
file_exists(void *arg)
{
	return access((const char *)arg, F_OK) == 0;
}

/* Wait up to 20 s for the file name in the temp dir (written by rename: whole when seen). */
static void
wait_file(const char *name)
{
	char path[PATH_MAX + 64];
	path_in_tdir(path, sizeof(path), name);
	for (int i = 0; i < 2000; i++) {
		if (access(path, F_OK) == 0)
			return;
		usleep(10000);
	}
	ck_abort_msg("%s not written within 20 s", path);
}

/* Start req, wait until the script has written ready_file, then run it to the end. */
static void
run_req_when(const struct exec_req *req, const char *ready_file, struct exec_result *r)
{
	struct exec_proc *p = NULL;
	int rc = exec_start(req, &p, err, sizeof(err));
	ck_assert_msg(rc == 0, "exec_start: %d %s", rc, err);
	wait_file(ready_file);
	ck_assert_int_eq(exec_wait(p, r, err, sizeof(err)), 0);
	exec_proc_free(p);
}

START_TEST(test_exec_passes_exit_codes_through)
{
	static const int codes[] = {0, 1, 42, 255};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char body[64];
		struct exec_result r;
		snprintf(body, sizeof(body), "exit %d\n", codes[i]);
		run_body(body, &r);
		ck_assert_int_eq(r.status_code, codes[i]);
		ck_assert_int_eq(r.exit_code, codes[i]);
		ck_assert_int_eq(r.signal, 0);
		ck_assert_int_eq(r.timed_out, 0);
		ck_assert_int_eq(r.cancelled, 0);
		ck_assert_uint_eq(r.output_len, 0);
		ck_assert_str_eq(r.output, "");
		exec_result_clear(&r);
	}
}
END_TEST

START_TEST(test_exec_captures_stdout_and_stderr_together)
{
	struct exec_result r;
	run_body("echo out1\necho err1 >&2\necho out2\n", &r);
	ck_assert_int_eq(r.status_code, 0);
	ck_assert_str_eq(r.output, "out1\nerr1\nout2\n");
	ck_assert_uint_eq(r.output_len, 15);
	ck_assert_uint_eq(r.output_total, 15);
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_caps_output_keeping_tail_with_mark)
{
	/* What `seq 1 200000` prints, built here to compare the kept tail. */
	size_t cap = 64 * 1024;
	size_t full_size = 0;
	for (int i = 1; i <= 200000; i++)
		full_size += (size_t)snprintf(NULL, 0, "%d\n", i);
	ck_assert_uint_gt(full_size, 1024 * 1024);
	char *full = malloc(full_size + 1);
	ck_assert_ptr_nonnull(full);
	size_t off = 0;
	for (int i = 1; i <= 200000; i++)
		off += (size_t)snprintf(full + off, full_size + 1 - off, "%d\n", i);

	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.max_output = cap;
	write_script("seq 1 200000\n");
	run_req(&req, &r);
	ck_assert_int_eq(r.status_code, 0);
	ck_assert_uint_eq(r.output_total, full_size);
	ck_assert_uint_eq(r.output_len, cap);
	ck_assert_uint_eq(strlen(r.output), cap);

	unsigned long long dropped = 0;
	int marklen = 0;
	ck_assert_int_eq(sscanf(r.output, "[pgfleet: output truncated, %llu bytes dropped]\n%n",
	    &dropped, &marklen), 1);
	ck_assert_int_gt(marklen, 0);
	size_t tail = cap - (size_t)marklen;
	ck_assert_uint_eq(dropped + tail, full_size);
	ck_assert_int_eq(memcmp(r.output + marklen, full + full_size - tail, tail), 0);
	ck_assert_str_eq(r.output + cap - 7, "200000\n");
	exec_result_clear(&r);
	free(full);
}
END_TEST

START_TEST(test_exec_output_exactly_at_cap_is_not_marked)
{
	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.max_output = 200;
	write_script("head -c 200 /dev/zero | tr '\\0' x\n");
	run_req(&req, &r);
	ck_assert_uint_eq(r.output_len, 200);
	ck_assert_uint_eq(r.output_total, 200);
	ck_assert_int_eq(r.output[0], 'x');
	ck_assert_int_eq(r.output[199], 'x');
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_timeout_kills_grandchildren)
{
	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.timeout_ms = TIMEOUT_MS;
	req.grace_ms = 200;
	/* "started" is in the pipe before gc.pid exists */
	write_script("sleep 1000 >/dev/null 2>&1 &\necho started\necho $! > gc.tmp; mv gc.tmp gc.pid\nsleep 1000\n");
	run_req_when(&req, "gc.pid", &r);
	ck_assert_int_eq(r.status_code, STATUS_TIMEOUT);
	ck_assert_int_eq(r.timed_out, 1);
	ck_assert_int_eq(r.cancelled, 0);
	ck_assert_int_eq(r.signal, SIGTERM);
	ck_assert_int_ge(r.duration_ms, TIMEOUT_MS);
	ck_assert_str_eq(r.output, "started\n");
	ck_assert_msg(pid_dead(read_pid_file("gc.pid")), "grandchild still alive");
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_timeout_escalates_to_sigkill_when_term_ignored)
{
	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.timeout_ms = TIMEOUT_MS;
	req.grace_ms = 200;
	write_script("trap '' TERM\nsleep 1000 >/dev/null 2>&1 &\necho $! > gc.tmp; mv gc.tmp gc.pid\nsleep 1000\n");
	run_req_when(&req, "gc.pid", &r);
	ck_assert_int_eq(r.status_code, STATUS_TIMEOUT);
	ck_assert_int_eq(r.timed_out, 1);
	ck_assert_int_eq(r.signal, SIGKILL);
	ck_assert_int_ge(r.duration_ms, TIMEOUT_MS + 200);
	ck_assert_msg(pid_dead(read_pid_file("gc.pid")), "grandchild ignoring SIGTERM still alive");
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_grandchild_holding_pipe_does_not_hang)
{
	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.timeout_ms = 5000;
	write_script("sleep 1000 &\necho $! > gc.tmp; mv gc.tmp gc.pid\necho done\nexit 3\n");
	run_req(&req, &r);
	ck_assert_int_eq(r.status_code, 3);
	ck_assert_str_eq(r.output, "done\n");
	ck_assert_msg(pid_dead(read_pid_file("gc.pid")), "background child still alive");
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_reports_kill_by_signal)
{
	struct exec_result r;
	run_body("echo before\nkill -9 $$\necho after\n", &r);
	ck_assert_int_eq(r.status_code, STATUS_KILLED);
	ck_assert_int_eq(r.signal, 9);
	ck_assert_int_eq(r.exit_code, -1);
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_int_eq(r.cancelled, 0);
	ck_assert_str_eq(r.output, "before\n");
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_cancel_by_pgid_from_other_process)
{
	char flag[PATH_MAX + 64];
	path_in_tdir(flag, sizeof(flag), "cancel.flag");
	struct exec_req req;
	struct exec_result r;
	struct exec_proc *p = NULL;
	default_req(&req);
	req.timeout_ms = 5000;
	req.cancel_requested = file_exists;
	req.cancel_arg = flag;
	write_script("sleep 1000 >/dev/null 2>&1 &\necho $! > gc.tmp; mv gc.tmp gc.pid\nsleep 1000\n");
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), 0);
	pid_t pgid = exec_proc_pgid(p);
	ck_assert_int_eq(pgid, exec_proc_pid(p));
	ck_assert_int_eq(getpgid(exec_proc_pid(p)), pgid);

	/* Another process (as another agent connection would) records the request and kills the group. */
	pid_t helper = fork();
	ck_assert_int_ge(helper, 0);
	if (helper == 0) {
		/* once the script has started its grandchild (10 s deadline) */
		char gc[PATH_MAX + 64];
		path_in_tdir(gc, sizeof(gc), "gc.pid");
		for (int i = 0; i < 1000 && access(gc, F_OK) != 0; i++)
			usleep(10000);
		int fd = open(flag, O_WRONLY | O_CREAT, 0600);
		if (fd >= 0)
			close(fd);
		kill(-pgid, SIGTERM);
		_exit(fd >= 0 ? 0 : 1);
	}
	ck_assert_int_eq(exec_wait(p, &r, err, sizeof(err)), 0);
	int st;
	ck_assert_int_eq(waitpid(helper, &st, 0), helper);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(r.status_code, STATUS_CANCELLED);
	ck_assert_int_eq(r.cancelled, 1);
	ck_assert_msg(pid_dead(read_pid_file("gc.pid")), "grandchild still alive");
	exec_result_clear(&r);
	exec_proc_free(p);
}
END_TEST

START_TEST(test_exec_cancel_request_seen_by_polling)
{
	/* The request alone (no kill from outside): exec_wait kills the group itself. */
	char flag[PATH_MAX + 64];
	path_in_tdir(flag, sizeof(flag), "cancel.flag");
	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.cancel_requested = file_exists;
	req.cancel_arg = flag;
	write_script("touch cancel.flag\nsleep 1000\n");
	run_req(&req, &r);
	ck_assert_int_eq(r.status_code, STATUS_CANCELLED);
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_cancel_in_process)
{
	struct exec_req req;
	struct exec_result r;
	struct exec_proc *p = NULL;
	default_req(&req);
	write_script("sleep 1000\n");
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), 0);
	exec_cancel(p);
	ck_assert_int_eq(exec_wait(p, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.status_code, STATUS_CANCELLED);
	ck_assert_int_eq(r.signal, SIGTERM);
	exec_result_clear(&r);
	exec_proc_free(p);
}
END_TEST

/* A refused start: negative code, no process, and the script's side effect absent. */
static void
assert_refused(struct exec_req *req, const char *message)
{
	char effect[PATH_MAX + 64];
	path_in_tdir(effect, sizeof(effect), "effect");
	write_script("touch effect\n");
	struct exec_proc *p = (struct exec_proc *)&p;
	ck_assert_int_eq(exec_start(req, &p, err, sizeof(err)), STATUS_RUNAS_REFUSED);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(err, message);
	usleep(50000);
	ck_assert_int_eq(access(effect, F_OK), -1);
}

START_TEST(test_exec_refuses_user_not_on_allow_list)
{
	struct exec_req req;
	default_req(&req);
	req.run_as = strcmp(self_user, "daemon") != 0 ? "daemon" : "nobody";
	char msg[256];
	snprintf(msg, sizeof(msg), "run-as user \"%s\" refused: not on this agent's allow-list", req.run_as);
	assert_refused(&req, msg);
}
END_TEST

START_TEST(test_exec_refuses_root_when_root_not_allowed)
{
	static const char *const allow[] = {"nobody", "deploy", NULL};
	struct exec_req req;
	default_req(&req);
	req.run_as = "root";
	req.allow = allow;
	assert_refused(&req, "run-as user \"root\" refused: root is not allowed on this agent");
}
END_TEST

START_TEST(test_exec_refuses_unknown_user)
{
	static const char *const allow[] = {"pgfleet-no-such-user", NULL};
	struct exec_req req;
	default_req(&req);
	req.run_as = "pgfleet-no-such-user";
	req.allow = allow;
	assert_refused(&req, "run-as user \"pgfleet-no-such-user\" refused: no such user");
}
END_TEST

START_TEST(test_exec_refuses_empty_user)
{
	struct exec_req req;
	default_req(&req);
	req.run_as = "";
	assert_refused(&req, "run-as user is empty");
}
END_TEST

START_TEST(test_exec_runs_as_nobody_or_refuses_when_not_root)
{
	static const char *const allow[] = {"root", "nobody", NULL};
	struct passwd *pw = getpwnam("nobody");
	ck_assert_ptr_nonnull(pw);
	struct exec_req req;
	default_req(&req);
	req.run_as = "nobody";
	req.allow = allow;
	if (geteuid() != 0) {
		/* Not root: switching to another user is impossible and must be refused up front. */
		char msg[256];
		req.run_as = strcmp(self_user, "nobody") != 0 ? "nobody" : "root";
		snprintf(msg, sizeof(msg), "run-as user \"%s\" refused: the agent runs as uid %ld, "
		    "not root, and cannot switch users", req.run_as, (long)geteuid());
		assert_refused(&req, msg);
		return;
	}
	struct exec_result r;
	write_script("id -u\nid -g\nid -G\necho \"$HOME $USER $LOGNAME $SHELL\"\n");
	run_req(&req, &r);
	char want[512];
	snprintf(want, sizeof(want), "%ld\n%ld\n%ld\n%s nobody nobody %s\n", (long)pw->pw_uid,
	    (long)pw->pw_gid, (long)pw->pw_gid, pw->pw_dir, pw->pw_shell);
	ck_assert_int_eq(r.status_code, 0);
	ck_assert_str_eq(r.output, want);
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_environment_is_reduced)
{
	static const char *const names[] = {
		"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TMPDIR", "PGFLEET_EVENT_ID",
		"PGFLEET_SCHEDULE_ID", "PGFLEET_TASK_SEQ", "PGFLEET_COMPUTER_ID",
		"PWD", /* set by the shell itself */
		NULL,
	};
	setenv("PGFLEET_TEST_LEAK", "secret", 1);
	struct exec_result r;
	run_body("env\n", &r);
	unsetenv("PGFLEET_TEST_LEAK");
	ck_assert_int_eq(r.status_code, 0);
	int seen = 0;
	char *save = NULL;
	for (char *line = strtok_r(r.output, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		ck_assert_msg(eq != NULL, "env line without '=': %s", line);
		size_t len = (size_t)(eq - line);
		int known = 0;
		for (int i = 0; names[i] != NULL; i++)
			if (strlen(names[i]) == len && strncmp(names[i], line, len) == 0)
				known = 1;
		ck_assert_msg(known, "unexpected variable in the script's environment: %s", line);
		seen++;
	}
	ck_assert_int_ge(seen, 11);
	exec_result_clear(&r);

	char want[PATH_MAX * 3 + 1024];
	snprintf(want, sizeof(want),
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	    "LANG=C.UTF-8\nTMPDIR=%s\nUSER=%s\nLOGNAME=%s\n"
	    "PGFLEET_EVENT_ID=700001\nPGFLEET_SCHEDULE_ID=100000001\n"
	    "PGFLEET_TASK_SEQ=2\nPGFLEET_COMPUTER_ID=5000011\ncwd=%s\n",
	    tdir, self_user, self_user, tdir);
	run_body("echo PATH=$PATH\necho LANG=$LANG\necho TMPDIR=$TMPDIR\necho USER=$USER\n"
	    "echo LOGNAME=$LOGNAME\necho PGFLEET_EVENT_ID=$PGFLEET_EVENT_ID\n"
	    "echo PGFLEET_SCHEDULE_ID=$PGFLEET_SCHEDULE_ID\necho PGFLEET_TASK_SEQ=$PGFLEET_TASK_SEQ\n"
	    "echo PGFLEET_COMPUTER_ID=$PGFLEET_COMPUTER_ID\necho cwd=$(pwd -P)\n", &r);
	ck_assert_str_eq(r.output, want);
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_child_gets_clean_descriptors_and_stdin)
{
	/* A descriptor leaked on purpose (no close-on-exec) must not reach the script. */
	int fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 9), 9);
	close(fd);
	struct exec_result r;
	run_body("if (exec 0<&9) 2>/dev/null; then echo fd9 open; else echo fd9 closed; fi\n"
	    "read line; echo read=$?\n", &r);
	close(9);
	ck_assert_int_eq(r.status_code, 0);
	ck_assert_str_eq(r.output, "fd9 closed\nread=1\n");
	exec_result_clear(&r);
}
END_TEST

static const char *
status_line(const char *text, const char *key, char *buf, size_t size)
{
	const char *l = strstr(text, key);
	ck_assert_msg(l != NULL, "%s not in /proc/self/status", key);
	size_t n = 1 + strcspn(l + 1, "\n");
	snprintf(buf, size, "%.*s", (int)n, l);
	return buf;
}

START_TEST(test_exec_child_gets_default_signals)
{
	/*
	 * A blocked and an ignored signal here; the interpreter (cat, reading its own status) has
	 * neither. A script ran before the change: what the first spawn found is found again.
	 */
	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.interpreter = "/bin/cat";
	req.script = "/proc/self/status";
	run_req(&req, &r);
	ck_assert_int_eq(r.status_code, 0);
	exec_result_clear(&r);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	struct sigaction ign, oldhup;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &ign, &oldhup);
	exec_signals_changed();
	run_req(&req, &r);
	sigprocmask(SIG_SETMASK, &old, NULL);
	sigaction(SIGHUP, &oldhup, NULL);
	exec_signals_changed();
	ck_assert_int_eq(r.status_code, 0);
	char line[128];
	unsigned long long ignored = ~0ULL;
	ck_assert_int_eq(sscanf(status_line(r.output, "\nSigIgn:", line, sizeof(line)), "\nSigIgn:\t%llx",
	    &ignored), 1);
	ck_assert_uint_eq(ignored, 0);
	/* valgrind does not hand the guest's signal mask to execve. */
	if (!under_valgrind())
		ck_assert_str_eq(status_line(r.output, "\nSigBlk:", line, sizeof(line)),
		    "\nSigBlk:\t0000000000000000");
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_script_runs_in_its_own_session)
{
	struct exec_result r;
	run_body("awk '{ print ($5 == $1 && $6 == $1) ? \"leader\" : \"not leader\" }' /proc/$$/stat\n",
	    &r);
	ck_assert_int_eq(r.status_code, 0);
	ck_assert_str_eq(r.output, "leader\n");
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_missing_interpreter_is_agent_error)
{
	struct exec_req req;
	struct exec_proc *p = NULL;
	default_req(&req);
	req.interpreter = "/nonexistent/pgfleet-sh";
	write_script("exit 0\n");
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), STATUS_AGENT_ERROR);
	ck_assert_ptr_null(p);
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "script %s: exec /nonexistent/pgfleet-sh: No such file or directory",
	    script);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_exec_named_interpreter_is_used)
{
	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.interpreter = "/bin/cat";
	write_script("exit 7\n");
	run_req(&req, &r);
	ck_assert_int_eq(r.status_code, 0);
	ck_assert_str_eq(r.output, "exit 7\n");
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_interpreter_with_arguments_is_split_without_a_shell)
{
	/* "/usr/bin/env sh" was once exec'd as one path: -12, no such file */
	struct exec_req req;
	struct exec_result r;
	default_req(&req);
	req.interpreter = "/usr/bin/env sh";
	write_script("echo \"ran by env, \\$0 is $(basename \"$0\")\"; exit 3\n");
	run_req(&req, &r);
	ck_assert_int_eq(r.status_code, 3);
	ck_assert_str_eq(r.output, "ran by env, $0 is rx.sh\n");
	exec_result_clear(&r);
	/* each word is one argument: -e reaches sh and stops the script at false */
	default_req(&req);
	req.interpreter = "  /bin/sh   -e ";
	write_script("false\necho not reached\n");
	run_req(&req, &r);
	ck_assert_int_eq(r.status_code, 1);
	ck_assert_str_eq(r.output, "");
	exec_result_clear(&r);
}
END_TEST

START_TEST(test_exec_refuses_bad_requests)
{
	struct exec_req req;
	struct exec_proc *p = NULL;
	default_req(&req);
	req.interpreter = "bash";
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), STATUS_AGENT_ERROR);
	ck_assert_str_eq(err, "interpreter \"bash\" must start with an absolute path (example: "
			      "/usr/bin/env python3)");
	default_req(&req);
	req.interpreter = "/bin/sh\t-e";
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), STATUS_AGENT_ERROR);
	ck_assert_str_eq(err, "interpreter \"/bin/sh\\t-e\" holds a control character (\\t)");
	default_req(&req);
	req.max_output = 10;
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), STATUS_AGENT_ERROR);
	ck_assert_str_eq(err, "max output 10 is below 128 bytes");
	default_req(&req);
	req.temp_dir = NULL;
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), STATUS_AGENT_ERROR);
	ck_assert_str_eq(err, "exec request needs a script and a temp dir");
	default_req(&req);
	req.timeout_ms = -1;
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), STATUS_AGENT_ERROR);
	ck_assert_str_eq(err, "timeout and grace period must not be negative");
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_exec_missing_temp_dir_is_agent_error)
{
	struct exec_req req;
	struct exec_proc *p = NULL;
	default_req(&req);
	req.temp_dir = "/nonexistent/pgfleet-temp";
	write_script("exit 0\n");
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), STATUS_AGENT_ERROR);
	ck_assert_ptr_null(p);
	char want[PATH_MAX + 512];
	snprintf(want, sizeof(want), "script %s: chdir /nonexistent/pgfleet-temp as %s: "
	    "No such file or directory", script, self_user);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_exec_requirements)
{
	ck_assert_int_eq(exec_check_requirements("linux", "PRODUCTION", "Linux", "Production", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(exec_check_requirements("", NULL, "Linux", "Production", err, sizeof(err)), 0);
	ck_assert_int_eq(exec_check_requirements("Windows", "", "Linux", "Production", err,
	    sizeof(err)), STATUS_REQUIREMENTS);
	ck_assert_str_eq(err, "os \"Windows\" required, this computer runs \"Linux\"");
	ck_assert_int_eq(exec_check_requirements(NULL, "Automation", "Linux", "Production", err,
	    sizeof(err)), STATUS_REQUIREMENTS);
	ck_assert_str_eq(err, "boot env \"Automation\" required, this computer is in \"Production\"");
	ck_assert_int_eq(exec_check_requirements(NULL, "Production", "Linux", NULL, err,
	    sizeof(err)), STATUS_REQUIREMENTS);
	ck_assert_str_eq(err, "boot env \"Production\" required, this computer is in \"\"");
}
END_TEST

START_TEST(test_exec_free_kills_a_running_group)
{
	struct exec_req req;
	struct exec_proc *p = NULL;
	default_req(&req);
	write_script("sleep 1000 >/dev/null 2>&1 &\necho $! > gc.tmp; mv gc.tmp gc.pid\nsleep 1000\n");
	ck_assert_int_eq(exec_start(&req, &p, err, sizeof(err)), 0);
	pid_t pid = exec_proc_pid(p);
	char path[PATH_MAX + 64];
	path_in_tdir(path, sizeof(path), "gc.pid");
	for (int i = 0; i < 1000 && access(path, F_OK) != 0; i++)
		usleep(10000);
	pid_t gc = read_pid_file("gc.pid");
	exec_proc_free(p);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_msg(pid_dead(gc), "grandchild survived exec_proc_free");
}
END_TEST

Suite *
exec_suite(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exec_passes_exit_codes_through);
	tcase_add_test(tc, test_exec_captures_stdout_and_stderr_together);
	tcase_add_test(tc, test_exec_caps_output_keeping_tail_with_mark);
	tcase_add_test(tc, test_exec_output_exactly_at_cap_is_not_marked);
	tcase_add_test(tc, test_exec_timeout_kills_grandchildren);
	tcase_add_test(tc, test_exec_timeout_escalates_to_sigkill_when_term_ignored);
	tcase_add_test(tc, test_exec_grandchild_holding_pipe_does_not_hang);
	tcase_add_test(tc, test_exec_reports_kill_by_signal);
	tcase_add_test(tc, test_exec_cancel_by_pgid_from_other_process);
	tcase_add_test(tc, test_exec_cancel_request_seen_by_polling);
	tcase_add_test(tc, test_exec_cancel_in_process);
	tcase_add_test(tc, test_exec_refuses_user_not_on_allow_list);
	tcase_add_test(tc, test_exec_refuses_root_when_root_not_allowed);
	tcase_add_test(tc, test_exec_refuses_unknown_user);
	tcase_add_test(tc, test_exec_refuses_empty_user);
	tcase_add_test(tc, test_exec_runs_as_nobody_or_refuses_when_not_root);
	tcase_add_test(tc, test_exec_environment_is_reduced);
	tcase_add_test(tc, test_exec_child_gets_clean_descriptors_and_stdin);
	tcase_add_test(tc, test_exec_child_gets_default_signals);
	tcase_add_test(tc, test_exec_script_runs_in_its_own_session);
	tcase_add_test(tc, test_exec_missing_interpreter_is_agent_error);
	tcase_add_test(tc, test_exec_named_interpreter_is_used);
	tcase_add_test(tc, test_exec_interpreter_with_arguments_is_split_without_a_shell);
	tcase_add_test(tc, test_exec_refuses_bad_requests);
	tcase_add_test(tc, test_exec_missing_temp_dir_is_agent_error);
	tcase_add_test(tc, test_exec_requirements);
	tcase_add_test(tc, test_exec_free_kills_a_running_group);
	suite_add_tcase(s, tc);
	return s;
}
