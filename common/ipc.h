/*
 * ipc: small typed messages between the scheduler parent and its workers over
 * a socketpair, framed as {type, len} + payload (OpenBSD imsg, much smaller).
 * Built on libevent evbuffers; no allocation the caller frees.
 */
#ifndef PGFLEET_IPC_H
#define PGFLEET_IPC_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define IPC_MAX_PAYLOAD 4096

enum ipc_type {
	IPC_EVENT = 1,  /* parent -> worker: run this claimed event (struct ipc_event) */
	IPC_CANCEL,     /* parent -> worker: cancel a running event (struct ipc_event_ref) */
	IPC_DRAIN,      /* parent -> worker: finish in-flight events, take no more */
	IPC_REOPEN,     /* parent -> worker: reopen the log file */
	IPC_DONE,       /* worker -> parent: event ended (struct ipc_done) */
	IPC_RELEASED,   /* worker -> parent: event handed back unfinished (struct ipc_event_ref) */
	IPC_READY,      /* worker -> parent: connected to the database, accepting events */
	IPC_AGENT_HELLO,  /* worker -> parent: a connection says it is a computer (ipc_agent_hello) */
	IPC_AGENT_ACCEPT, /* parent -> worker: it is, and is connected (ipc_agent_verdict) */
	IPC_AGENT_REFUSE, /* parent -> worker: refused, close it (ipc_agent_verdict, why) */
	IPC_AGENT_GONE,   /* worker -> parent: an accepted connection closed (ipc_agent_ref) */
	IPC_AGENT_DROP,   /* parent -> worker: close it, a newer one replaced it (ipc_agent_ref) */
	IPC_AGENT_SEEN,   /* worker -> parent: computers heard from since the last (ipc_agent_seen) */
	IPC_WAKE,         /* parent -> worker: send Request=Wake down a connection (ipc_wake) */
	IPC_TYPE_MAX
};

/* next_task_seq is the claim's: a worker resumes from the database's, which has moved on
 * when the event is handed to the successor of a worker that died. */
struct ipc_event {
	int64_t event_id;
	int64_t schedule_id;
	int64_t computer_id;
	int32_t next_task_seq;
	int32_t attempt;
	int32_t lost;    /* attempts before this one lost to a lease or a connection (max_attempts) */
	int32_t retry;   /* retries of the task at next_task_seq so far: its Retry header */
	int64_t link_id; /* the worker's connection of the computer's agent */
};

struct ipc_event_ref {
	int64_t event_id;
};

struct ipc_done {
	int64_t event_id;
	int32_t status_code;
	int32_t failed;  /* 1 when the event ended failed (or was not ours any more) */
	int32_t attempt; /* the attempt that ended: an event claimed again is held on */
	int32_t requeued; /* 1: handed back pending (its connection was lost), not ended */
};

#define IPC_NAME_MAX 64     /* a computer name (common/field.h) */
#define IPC_PEER_MAX 64     /* a numeric address */
#define IPC_VERSION_MAX 32
#define IPC_SERIAL_MAX 40   /* a certificate serial, upper-case hex (common/pki.h) */
#define IPC_HASH_MAX 71     /* "sha256:" and 64 hex digits */

/* Strings are NUL-terminated within their arrays. */
struct ipc_agent_hello {
	int64_t link_id;
	char name[IPC_NAME_MAX + 1];
	char peer[IPC_PEER_MAX + 1];
	char version[IPC_VERSION_MAX + 1];
	char serial[IPC_SERIAL_MAX + 1];    /* of the certificate it presented */
	char facts_hash[IPC_HASH_MAX + 1];  /* its Facts-Hash, "" when none */
	char pad[4];
};

struct ipc_agent_verdict {
	int64_t link_id;
	int64_t computer_id;  /* when accepted */
	int32_t want_facts;   /* when accepted: the scheduler lacks the agent's facts */
	int32_t pad;
	char why[240];        /* when refused: the Error of Reply=Hello */
};

struct ipc_agent_ref {
	int64_t link_id;
	int64_t computer_id;
};

#define IPC_SEEN_MAX 500
struct ipc_agent_seen {
	int32_t n;
	int32_t pad;
	int64_t ids[IPC_SEEN_MAX]; /* the computers; the first n are valid */
};

/* A wake-on-LAN for event_id's computer (target), sent by the relay's agent (its
 * connection link_id of the worker); mac and broadcast as wake_offline gave them. */
#define IPC_MAC_MAX 17   /* "aa:bb:cc:dd:ee:ff" */
#define IPC_IPV4_MAX 15  /* "255.255.255.255" */
struct ipc_wake {
	int64_t link_id;
	int64_t relay_id;    /* the relay's computer */
	int64_t event_id;
	char mac[IPC_MAC_MAX + 1];
	char broadcast[IPC_IPV4_MAX + 1];
	char target[IPC_NAME_MAX + 1];
	char pad[6];
};

struct ipc_msg {
	uint32_t type;
	uint32_t len;
	unsigned char payload[IPC_MAX_PAYLOAD];
};

/* Append one message to out. Returns 0, or -1 on a bad type or oversize payload. */
int ipc_compose(struct evbuffer *out, uint32_t type, const void *payload, size_t len);
/*
 * Take one whole message from in: 1 = got one, 0 = need more bytes,
 * -1 = malformed (bad type or length: a bug in our own process; err says which).
 */
int ipc_take(struct evbuffer *in, struct ipc_msg *msg, char *err, size_t errlen);
/* Copy a fixed-size payload out, checking its size. Returns 0 or -1. */
int ipc_get(const struct ipc_msg *msg, void *dst, size_t size);

#endif
