/*
 * transfer fetch: the agent side of the file-transfer channel, blocking.
 * Connects back to the worker's transfer port (TLS, the server must chain to
 * the CA), presents the one-time key, and writes exactly Size bytes
 * atomically (temp file, checksum, fsync, rename) into a directory.
 * Keeps one TLS session per server host to resume on the next fetch; the
 * cache is this module's (transfer_fetch_forget_sessions frees it).
 * The process must ignore SIGPIPE.
 */
#ifndef PGFLEET_TRANSFER_FETCH_H
#define PGFLEET_TRANSFER_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/*
 * Fetch the file of (event_id, seq) with key from host:port into
 * dirfd/final_name (a base name) with mode, owner uid and group gid
 * ((uid_t)-1 / (gid_t)-1 leave them). size and checksum ("sha256:<hex>") are
 * what the SendFile message announced; the server must agree, and the bytes
 * must match. timeout_ms bounds the connect and handshake together, the
 * request, and the whole reply header (however it trickles in), then each
 * wait for file data. size above max_size is refused before connecting.
 * 0, or -1 with the reason in err and nothing left in the directory.
 */
int transfer_fetch(SSL_CTX *ctx, const char *host, int port, const char *key, long long event_id, int seq,
    uint64_t size, const char *checksum, int dirfd, const char *final_name, mode_t mode, uid_t uid, gid_t gid,
    long long timeout_ms, size_t max_size, char *err, size_t errlen);
/* 1 when the last successful transfer_fetch resumed a TLS session, else 0. */
int transfer_fetch_resumed(void);
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
