/*
 * exec: run one script as the requested user in its own session and process
 * group, with a reduced environment, output captured (tail kept, bounded) and a
 * timeout that kills the whole group (SIGTERM, a grace period, then SIGKILL).
 * exec_start returns a struct exec_proc the caller frees with exec_proc_free;
 * exec_wait fills a struct exec_result whose output exec_result_clear frees.
 */
#ifndef PGFLEET_EXEC_H
#define PGFLEET_EXEC_H

#include <stddef.h>
#include <sys/types.h>

#define EXEC_DEFAULT_INTERPRETER "/bin/sh"
#define EXEC_DEFAULT_MAX_OUTPUT (64 * 1024)
#define EXEC_DEFAULT_GRACE_MS 5000
#define EXEC_MIN_MAX_OUTPUT 128

struct exec_req {
	const char *script;       /* path of the script to run (given to the interpreter) */
	const char *interpreter;  /* "/usr/bin/env python3": words on spaces, the first an absolute
	                           * path (field_interpreter_split); NULL or "" means /bin/sh */
	const char *run_as;       /* user name; must be on allow */
	const char *const *allow; /* NULL-terminated run-as allow-list; uid 0 needs "root" on it */
	const char *temp_dir;     /* working directory and TMPDIR of the script */
	long long timeout_ms;     /* 0: no timeout */
	long long grace_ms;       /* between SIGTERM and SIGKILL; 0: EXEC_DEFAULT_GRACE_MS */
	size_t max_output;        /* bytes of output kept (the tail); 0: EXEC_DEFAULT_MAX_OUTPUT */
	long long event_id;       /* exported as PGFLEET_EVENT_ID, and so on */
	long long schedule_id;
	long long computer_id;
	int task_seq;
	/*
	 * Optional: asked while the script runs (about every 50 ms) and when it
	 * dies by a signal; a non-zero answer cancels it (how a cancel requested
	 * by another process, e.g. through the journal, reaches exec_wait).
	 */
	int (*cancel_requested)(void *arg);
	void *cancel_arg;
};

struct exec_result {
	int status_code;      /* 0..255 exit code, or STATUS_TIMEOUT/KILLED/CANCELLED */
	int exit_code;        /* -1 when it did not exit by itself */
	int signal;           /* the signal that ended it, 0 if none */
	int timed_out;
	int cancelled;
	char *output;         /* NUL-terminated, at most max_output bytes; caller frees (exec_result_clear) */
	size_t output_len;
	unsigned long long output_total; /* bytes the script wrote in all */
	long long duration_ms;
};

struct exec_proc;

/*
 * Start the script. Returns 0 with *out set, or a negative status code with
 * err filled and nothing left running: STATUS_RUNAS_REFUSED (user not on the
 * allow-list, root not allowed, unknown user, or the agent cannot switch to
 * it: nothing forked) or STATUS_AGENT_ERROR (bad request, fork, or the child
 * failed before or at exec: chdir, setuid, interpreter missing).
 */
/*
 * Look name up once (its user and groups) in the agent itself, so that the name
 * service's modules (nsswitch.conf) are loaded before any task process is forked:
 * each task's own lookups then skip loading them again. Nothing when it fails.
 */
void exec_warm_users(const char *name);
/*
 * The script's process resets to their default the signals that were not at it in this
 * process at its first exec_start, or at the last call of this (found again then): call
 * it after changing a signal's disposition in a process that has run scripts.
 */
void exec_signals_changed(void);
int exec_start(const struct exec_req *req, struct exec_proc **out, char *err, size_t errlen);
pid_t exec_proc_pid(const struct exec_proc *p);
/* The script's process group (its pid); kill(-pgid, sig) reaches every descendant left in it. */
pid_t exec_proc_pgid(const struct exec_proc *p);
/* Cancel: SIGTERM to the group now, SIGKILL after the grace period. Async-signal-safe. */
void exec_cancel(struct exec_proc *p);
/*
 * Collect output until the script ends (or its timeout kills it) and reap it;
 * the group is killed as soon as the main process exits so that a background
 * child holding the output pipe cannot hang us. Returns 0 with r filled, -1
 * with err on an internal failure (the group is then killed and reaped too).
 */
int exec_wait(struct exec_proc *p, struct exec_result *r, char *err, size_t errlen);
/* Free; a group still running is killed with SIGKILL and reaped first. NULL is fine. */
void exec_proc_free(struct exec_proc *p);
void exec_result_clear(struct exec_result *r);

/*
 * OS-Required and Boot-Env against this computer's (case-insensitive, an
 * empty or NULL requirement matches anything). Returns 0, or
 * STATUS_REQUIREMENTS with the reason in err.
 */
int exec_check_requirements(const char *os_required, const char *boot_env,
    const char *my_os, const char *my_boot_env, char *err, size_t errlen);

#endif
