/*
 * tasks: the agent's task processes. A SendFile runs in a task process, not
 * in the main one (a script, a fetch or the journal never block the
 * connection); a task process runs one task at a time and waits for the next,
 * so that a task costs no fork of the agent (forked when none is idle; let go
 * beyond a few idle ones, after 500 tasks, and when the configuration or the
 * certificate changes). Each writes its replies as whole messages down a
 * socketpair; the main process forwards them to the scheduler on the
 * connection the SendFile came in on, and drops them when that connection is
 * gone (the journal keeps the result for a re-push). tasks_new returns a
 * struct freed with tasks_free.
 */
#ifndef PGFLEET_TASKS_H
#define PGFLEET_TASKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct event_base;
struct uplink;
struct control_env;
struct request_task;
struct tasks;
struct wire_msg;

#define TASKS_MAX 64 /* task processes at once */

/*
 * max_body: the largest reply a task may send (its output); fetch_ctx: the transfer
 * client context, for which the TLS sessions task processes hand back are kept (the next
 * task processes, forked from the main one, resume them); temp_dir: the agent's, where
 * a task process that died leaves the directory it kept (removed when it is reaped).
 * NULL when out of memory.
 */
struct tasks *tasks_new(struct event_base *base, struct uplink *u, SSL_CTX *fetch_ctx,
    size_t max_body, const char *temp_dir);
void tasks_free(struct tasks *ts);
/* A renewed certificate's context for the task processes started from now on (tasks_retire). */
void tasks_set_ctx(struct tasks *ts, SSL_CTX *fetch_ctx);
/* Let every task process go (a new configuration): idle ones now, busy ones after their task. */
void tasks_retire(struct tasks *ts);
/* Tasks running (handed to a task process and not ended, or whose process is exiting). */
int tasks_count(const struct tasks *ts);
/*
 * Hand t (request_check's reading of m) to an idle task process, or to a new one,
 * which runs control_run_task with its replies going to the main process;
 * close_fd (the connection's socket, or -1) is closed in a new child. 0, or -1
 * (fork, socketpair or the hand-over failed, logged).
 */
int tasks_spawn(struct tasks *ts, const struct control_env *env, const struct request_task *t,
    const struct wire_msg *m, int close_fd) __attribute__((warn_unused_result));
/*
 * Reap the exited ones; 1 when one of them died abnormally (its task may be an orphan).
 * A child that is not a task process goes to the tasks_on_other_child hook.
 */
int tasks_reap(struct tasks *ts);
/* The process's other children (a renewal, a journal prune), reaped here, told to fn. */
void tasks_on_other_child(struct tasks *ts, void (*fn)(void *arg, pid_t pid, int status), void *arg);
/*
 * At the agent's end: every task process's pipe closed (an idle one exits on it) and
 * each reaped as it exits, for up to wait_ms, so that none is left for init to reap.
 * Returns as tasks_reap does: 1 when one died abnormally.
 */
int tasks_let_go(struct tasks *ts, long long wait_ms);
/* Send sig to every task process. */
void tasks_signal(struct tasks *ts, int sig);
/* The processes not yet reaped. */
int tasks_alive(const struct tasks *ts);

#endif
