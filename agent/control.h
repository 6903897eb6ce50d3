/*
 * control: the agent's side of the control channel (docs/protocol.md): reads
 * Request=SendFile and Request=Cancel on one accepted, verified TLS
 * connection, checks them, fetches, runs through exec and the journal, and
 * sends Reply=StatusUpdate / Reply=SendFile / Reply=Cancel / Reply=Error.
 * Blocking; one connection per process. Nothing here is freed by the caller
 * except what it passed in (the SSL stays the caller's).
 */
#ifndef PGFLEET_CONTROL_H
#define PGFLEET_CONTROL_H

#include <signal.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "common/field.h"

#define CONTROL_MAX_NAME 128          /* bytes of a temp: file name */
#define CONTROL_IDLE_MS 300000        /* a connection silent this long between requests is closed */
#define CONTROL_IO_TIMEOUT_MS 30000   /* one message's read or write */
#define CONTROL_FETCH_TIMEOUT_MS 30000
#define CONTROL_TASK_DIR_PREFIX "task-" /* temp_dir/task-<event>-<seq>/<name> */
#define CONTROL_MAX_USER FIELD_RUN_AS_MAX

struct conf_agent;
struct journal;
struct wire_msg;

struct control_env {
	const struct conf_agent *conf;
	struct journal *journal;
	SSL_CTX *fetch_ctx;               /* client context for transfer_fetch */
	const char *peer_addr;            /* numeric address of the control peer */
	const char *peer_name;            /* its certificate name */
	volatile sig_atomic_t *stop;      /* non-zero: the agent is stopping */
};

/*
 * Serve requests on ssl (socket fd) until the peer closes, a protocol error,
 * the idle limit, or *stop between requests. A running script is cancelled
 * when *stop becomes non-zero. Does not close ssl.
 */
void control_serve(SSL *ssl, int fd, const struct control_env *env);

enum control_kind { CONTROL_SENDFILE = 1, CONTROL_CANCEL = 2 };

/* What a request asks for, as control_check_request read it. Strings point into the message. */
struct control_task {
	enum control_kind kind;
	long long event_id;
	int seq;
	const char *event_s, *seq_s;
	/* SendFile only */
	long long schedule_id;
	long long computer_id;
	unsigned long long size;
	int port;
	long long timeout_ms;             /* 0: the agent's timeout */
	char name[CONTROL_MAX_NAME + 1];  /* "?" until Filename is checked */
	char user[CONTROL_MAX_USER + 1];  /* Run-As, or run_as.default when empty */
	const char *schedule_s, *id_s;
	const char *host, *key, *checksum, *interpreter;
};

enum control_verdict {
	CONTROL_ACT = 0,    /* do it: a SendFile still needs its run-as user to exist */
	CONTROL_REFUSE = 1, /* a SendFile refused: a final Reply=SendFile with code and why; serve on */
	CONTROL_BAD = 2,    /* a protocol error: Reply=Error with code and why, then close */
};

/*
 * Check a request against the agent's config, in the order the agent answers:
 * Request, required keys, numbers, computer, file names, size, task type,
 * run-as, interpreter, requirements. Pure (no I/O, no user lookup): fills t
 * as far as it got, and on CONTROL_REFUSE or CONTROL_BAD sets *code (a
 * negative status) and why (one line).
 */
enum control_verdict control_check_request(const struct wire_msg *m, const struct conf_agent *cf,
    struct control_task *t, int *code, char *why, size_t whylen);

/*
 * A Filename or Execute value: "temp:<basename>", or for Execute also
 * "temp:\"<basename>\"" (quoted 1). The base name goes to out (at least
 * CONTROL_MAX_NAME + 1 bytes). Refused: another prefix, empty, ".", "..",
 * '/', control characters, quotes inside, longer than CONTROL_MAX_NAME.
 * 0, or -1 with the reason in err.
 */
int control_temp_name(const char *value, int quoted, char *out, size_t outlen, char *err, size_t errlen);

/*
 * Remove temp_dir/task-<event>-<seq> and what is in it (a task whose script
 * was killed after its connection process died left it). Quiet when missing.
 */
void control_task_dir_remove(const char *temp_dir, long long event_id, int task_seq);

#endif
