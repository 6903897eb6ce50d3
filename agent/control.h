/*
 * control: what the agent does with a request agent/request.c has checked
 * (docs/protocol.md): a SendFile runs in a task process of its own
 * (control_run_task: journal, fetch into a task directory, exec, replies);
 * a Cancel, a refusal and a protocol error are answered at once by the
 * agent's main process. Replies leave through the caller's struct
 * control_out (the connection, or the pipe from a task process to the main
 * process). Blocking. Nothing here is freed by the caller except what it
 * passed in.
 */
#ifndef PGFLEET_CONTROL_H
#define PGFLEET_CONTROL_H

#include <signal.h>
#include <stddef.h>

#include <openssl/ssl.h>

#define CONTROL_FETCH_TIMEOUT_MS 30000
#define CONTROL_TASK_DIR_PREFIX "task-" /* temp_dir/task-<event>-<seq>/<name> */

struct conf_agent;
struct journal;
struct request_task;
struct wire_msg;

struct control_out {
	/* Send one whole message: 0, or -1 when it could not be (a task runs on regardless). */
	int (*send)(void *arg, const struct wire_msg *m);
	void *arg;
};

struct control_env {
	const struct conf_agent *conf;
	struct journal *journal;
	SSL_CTX *fetch_ctx;               /* client context for transfer_fetch */
	const char *peer_addr;            /* the scheduler's numeric address: Transfer-Host by default */
	const char *peer_name;            /* its certificate name */
	volatile sig_atomic_t *stop;      /* non-zero: the agent is stopping (a running script is cancelled) */
	struct control_out out;
};

/*
 * A task process's work: a SendFile request_check accepted (REQUEST_ACT), run
 * to its end through the journal. 0, or -1 when a reply could not be sent.
 */
int control_run_task(const struct control_env *env, const struct request_task *t);
/* A SendFile refused (REQUEST_REFUSE): its final Reply=SendFile with code and why. */
int control_refuse(const struct control_env *env, const struct request_task *t, int code,
    const char *why);
/* A protocol error (REQUEST_BAD): Reply=Error, naming req's task when it has valid ids. */
int control_error(const struct control_env *env, const struct wire_msg *req, int code,
    const char *why);
/* A Cancel: through the journal to the task's process group; Reply=Cancel says what happened. */
int control_cancel(const struct control_env *env, const struct request_task *t);

/*
 * The final reply of a task whose task process died and which the journal has just
 * closed (an orphan): what it recorded, so that the scheduler need not wait for it.
 */
struct journal_entry;
int control_orphan_reply(const struct control_env *env, const struct journal_entry *e);

/*
 * Remove temp_dir/task-<event>-<key> and what is in it (a task whose script
 * was killed after its task process died left it). Quiet when missing. task_seq
 * is the journal's task key (request_journal_seq: seq, or seq + 1000 * Retry).
 */
void control_task_dir_remove(const char *temp_dir, long long event_id, int task_seq);
/*
 * Remove the directory task process pid kept for its next task (temp_dir/spare-<pid>,
 * agent/workdir.h): it exits. pid 0: every such directory (the agent starts).
 */
void control_spares_drop(const char *temp_dir, long pid);

#endif
