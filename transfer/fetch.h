/*
 * transfer fetch: the agent side of the file-transfer channel, blocking.
 * Connects back to the worker's transfer port (TLS, the server must chain to
 * the CA), presents the one-time key, and writes exactly Size bytes
 * atomically (temp file, checksum, fsync unless asked not to, rename) into a
 * directory.
 * Keeps one TLS session per server host to resume on the next fetch, and the
 * connection of the last good fetch for the next one to the same address; both
 * are this module's (transfer_fetch_forget_sessions, transfer_fetch_close_kept).
 * The process must ignore SIGPIPE.
 */
#ifndef PGFLEET_TRANSFER_FETCH_H
#define PGFLEET_TRANSFER_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* One fetch: the caller's strings, borrowed for the call. */
struct transfer_req {
	/* where from, and what the SendFile message announced */
	const char *host;
	int port;
	const char *key;        /* the one-time key, hex */
	long long event_id;
	int seq;
	uint64_t size;
	const char *checksum;   /* "sha256:<hex>" */
	/* where it lands: dirfd/name (a base name), mode, owner ((uid_t)-1 / (gid_t)-1 leave them) */
	int dirfd;
	const char *name;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	/* bounds the connect and handshake together, the request, and the whole reply
	 * header (however it trickles in), then each wait for file data */
	long long timeout_ms;
	size_t max_size;        /* a larger size is refused before connecting */
	int no_sync;            /* no fsync of the file and its rename: the caller needs it
				 * whole (the rename stays) but not durable, e.g. a script
				 * whose run a journal records before the fetch */
	const char *reuse;      /* or NULL: a file in dirfd to write over instead of a new temp
				 * file, when it is a regular file of uid with one link
				 * (fsutil_reuse_file); renamed to name at the end, like the
				 * temp file, and removed when the fetch fails */
};

/*
 * Fetch the file of r->(event_id, seq) with r->key from r->host:r->port into
 * r->dirfd/r->name. The server must agree with size and checksum, and the bytes
 * must match. 0, or -1 with the reason in err and nothing left in the directory.
 */
int transfer_fetch(SSL_CTX *ctx, const struct transfer_req *r, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/*
 * 1 when the last successful transfer_fetch resumed a TLS session, else 0 (also
 * 1 after a fetch on a kept connection: nothing was negotiated).
 */
int transfer_fetch_resumed(void);
/*
 * The connection of the last good fetch is kept (in this process, for FETCH_KEEP_MS)
 * and the next fetch from the same address uses it: 1 when the last fetch did.
 */
int transfer_fetch_kept(void);
/* Close the kept connection (before an idle wait, or on a reload). */
void transfer_fetch_close_kept(void);
/* Free every kept TLS session. */
void transfer_fetch_forget_sessions(void);
/*
 * Each kept session, serialized (DER), to cb: how a process that fetched hands
 * its sessions to another (the agent's task processes to its main process, whose
 * next task processes inherit them).
 */
void transfer_fetch_sessions_each(void (*cb)(const char *host, const unsigned char *der, size_t len,
    void *arg), void *arg);
/* Keep a session another process serialized, for host on ctx. 0, or -1 when it does not parse. */
int transfer_fetch_session_import(SSL_CTX *ctx, const char *host, const unsigned char *der, size_t len)
    __attribute__((warn_unused_result));

#endif
