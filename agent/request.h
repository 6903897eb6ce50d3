/*
 * request: the agent's pure reading of a scheduler's message (docs/protocol.md):
 * which request, its keys and numbers, and the agent's policy on them (computer,
 * file names, size, task type, run-as, interpreter, requirements), without any
 * I/O. The strings a struct request_task points to live in the message.
 */
#ifndef PGFLEET_REQUEST_H
#define PGFLEET_REQUEST_H

#include <stddef.h>

#include "common/field.h"

#define REQUEST_MAX_NAME 128          /* bytes of a temp: file name */
#define REQUEST_MAX_USER FIELD_RUN_AS_MAX

struct conf_agent;
struct wire_msg;

enum request_kind { REQUEST_SENDFILE = 1, REQUEST_CANCEL = 2 };

/*
 * A retry of a task (Retry=N, N > 0) is a new run, not a replay of the failed one: the
 * journal knows a task by (event, seq + N * REQUEST_RETRY_STRIDE), and a Retry needs a
 * seq below the stride (a job has at most 1000 tasks).
 */
#define REQUEST_MAX_RETRY 100
#define REQUEST_RETRY_STRIDE 1000

/* What a request asks for, as request_check read it. Strings point into the message. */
struct request_task {
	enum request_kind kind;
	long long event_id;
	int seq;
	const char *event_s, *seq_s;
	/* SendFile only */
	long long schedule_id;
	long long computer_id;
	unsigned long long size;
	int port;
	long long timeout_ms;             /* 0: the agent's timeout */
	char name[REQUEST_MAX_NAME + 1];  /* "?" until Filename is checked */
	char user[REQUEST_MAX_USER + 1];  /* Run-As, or run_as.default when empty */
	const char *schedule_s, *id_s;
	const char *attempt_s;            /* Attempt when the SendFile had one: echoed in replies */
	int retry;                        /* Retry (0 when absent): the task's retry number */
	int copy;                         /* Task-Type=CopyFile: install at dest, run nothing */
	const char *dest;                 /* CopyFile: Destination */
	int mode;                         /* CopyFile: Mode (octal in the message) */
	char owner[REQUEST_MAX_USER + 1]; /* CopyFile: Owner, "" (absent): the run-as user */
	const char *host, *key, *checksum, *interpreter;
};

enum request_verdict {
	REQUEST_ACT = 0,    /* do it: a SendFile still needs its run-as user to exist */
	REQUEST_REFUSE = 1, /* a SendFile refused: a final Reply=SendFile with code and why */
	REQUEST_BAD = 2,    /* a protocol error: Reply=Error with code and why */
};

/*
 * Check a request against the agent's config, in the order the agent answers:
 * Request, required keys, numbers, computer (expect_id: the ID the scheduler
 * gave in Reply=Hello, else the config's computer_id; 0: unchecked), file
 * names, size, task type, run-as, interpreter, requirements. Pure: fills t as
 * far as it got, and on REQUEST_REFUSE or REQUEST_BAD sets *code (a negative
 * status) and why (one line).
 */
enum request_verdict request_check(const struct wire_msg *m, const struct conf_agent *cf,
    long long expect_id, struct request_task *t, int *code, char *why, size_t whylen);

/* The journal's task key of t (seq + retry * REQUEST_RETRY_STRIDE). */
int request_journal_seq(const struct request_task *t);
/* A journal task key back into seq and retry. */
void request_journal_split(int key, int *seq, int *retry);

/*
 * A Filename or Execute value: "temp:<basename>", or for Execute also
 * "temp:\"<basename>\"" (quoted 1). The base name goes to out (at least
 * REQUEST_MAX_NAME + 1 bytes). Refused: another prefix, empty, ".", "..",
 * '/', control characters, quotes inside, longer than REQUEST_MAX_NAME.
 * 0, or -1 with the reason in err.
 */
int request_temp_name(const char *value, int quoted, char *out, size_t outlen, char *err, size_t errlen);

/*
 * The Event-ID and Task-Sequence-ID of a message when both are valid numbers
 * (for a Reply=Error to name the task): 1 with *event_s and *seq_s pointing
 * into m, else 0.
 */
int request_ids(const struct wire_msg *m, const char **event_s, const char **seq_s);

/* CR and LF become spaces, in place: a value safe for the wire. Returns s. */
char *request_one_line(char *s);

#endif
