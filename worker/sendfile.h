/*
 * sendfile: the worker's Request=SendFile message (docs/protocol.md), built from
 * one task's values with every value checked (common/field.h) and every key's
 * add checked: a task whose message cannot be built is never sent half-built.
 * sendfile_build returns a wire_msg the caller frees with wire_msg_free.
 */
#ifndef PGFLEET_SENDFILE_H
#define PGFLEET_SENDFILE_H

#include <stddef.h>
#include <stdint.h>

struct wire_msg;

struct sendfile_req {
	long long now;             /* Date and FileStamp (Unix time) */
	size_t size;               /* the rendered script's bytes */
	int port;                  /* the worker's transfer port */
	const char *transfer_host; /* the scheduler's transfer.advertise */
	const char *key;           /* one-time transfer key, hex */
	const char *checksum;      /* sha256:<hex> */
	const char *interpreter;   /* NULL: /bin/sh */
	const char *os_required;   /* NULL or "": no requirement */
	const char *boot_env;      /* NULL or "": no requirement */
	const char *run_as;        /* NULL or "": the agent's run_as.default, asked for by Run-As= */
	long long timeout_ms;      /* 0: the agent's timeout */
	int64_t schedule_id;
	int64_t event_id;
	int seq;
	int attempt;
	int retry;                 /* the task's retries so far; > 0 adds Retry (a new run, not a replay) */
	const char *copy_dest;     /* NULL: RunScript; else CopyFile to this path (Destination) */
	int copy_mode;             /* CopyFile: Mode, octal */
	const char *copy_owner;    /* CopyFile: Owner; NULL or "": the Run-As user */
	int64_t computer_id;
};

/*
 * Build the message into *out. Returns 0, or -1 with *out NULL and the reason in
 * err, e.g. run_as "nobody\nx" holds a control character.
 */
int sendfile_build(const struct sendfile_req *r, struct wire_msg **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
