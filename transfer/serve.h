/*
 * transfer serve: the worker side of the file-transfer channel. Listens on
 * the first free port of a range, accepts TLS (client certificate required),
 * reads a Request=Fetch, checks its one-time key and streams the file from
 * disk in bounded chunks; the agent may send its next Request=Fetch on the same
 * connection (TRANSFER_KEEP_MS). Connections that have not finished the TLS
 * handshake get a small budget of their own (a total, a limit per source
 * address and a short deadline), so an unauthenticated flood cannot take the
 * slots of the agents; refusals are logged at most once a minute per address. Event-driven (libevent); the owner keeps the
 * event_base, the SSL_CTX and the key store, and frees the server with
 * transfer_serve_free. The process must ignore SIGPIPE.
 */
#ifndef PGFLEET_TRANSFER_SERVE_H
#define PGFLEET_TRANSFER_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "transfer/keys.h"

#define TRANSFER_REQUEST_TIMEOUT_MS 10000 /* from accept to a complete request */
#define TRANSFER_IDLE_TIMEOUT_MS 60000    /* no progress while sending */
#define TRANSFER_MAX_CONNECTIONS 1024     /* past the TLS handshake; kept ones are closed first */
/* A connection whose file went out whole waits this long for the same agent's next
 * Request=Fetch (an agent's task process fetches task after task on one connection). */
#define TRANSFER_KEEP_MS 5000
/* Connections that have not finished the TLS handshake have their own budget. */
#define TRANSFER_PRETLS_MAX 64            /* at once; a new one closes the oldest */
#define TRANSFER_PRETLS_PER_SOURCE 16     /* at once from one address; more are refused */
#define TRANSFER_HANDSHAKE_TIMEOUT_MS 2000 /* accept to handshake done */

/* One connection's outcome, passed to the owner's callback (valid during the call only). */
struct transfer_result {
	long long event_id;   /* as the request claimed; -1 when no request was read */
	int seq;              /* likewise, -1 */
	int authorized;       /* the key was accepted */
	int ok;               /* every byte sent, and the peer closed cleanly, asked for its next
	                       * file or kept the connection quiet */
	uint64_t bytes;       /* file bytes handed to TLS */
	const char *peer;     /* peer certificate name, "" before the handshake */
	const char *addr;     /* peer address */
	const char *error;    /* NULL when ok */
};

typedef void (*transfer_serve_cb)(const struct transfer_result *r, void *arg);

struct transfer_serve;

/*
 * Bind the first free port in [port_lo, port_hi] on bind_addr (an IPv4 or
 * IPv6 literal; NULL: all IPv4 addresses) and start accepting. NULL with the
 * reason in err.
 */
struct transfer_serve *transfer_serve_new(struct event_base *base, SSL_CTX *ctx, int port_lo, int port_hi,
    const char *bind_addr, struct transfer_keys *keys, char *err, size_t errlen);
/* Called once per transfer (a connection's end, or its next request). Must not free the server. */
void transfer_serve_set_callback(struct transfer_serve *s, transfer_serve_cb cb, void *arg);
/* request_ms: accept to complete request; idle_ms: no progress while sending. <= 0 keeps the default. */
void transfer_serve_set_timeouts(struct transfer_serve *s, long long request_ms, long long idle_ms);
/* The pre-TLS budget (see TRANSFER_PRETLS_*); <= 0 keeps the default. */
void transfer_serve_set_pretls(struct transfer_serve *s, int max, int per_source, long long handshake_ms);
/* End every kept connection (its transfer done, reported ok) now: the owner is done with them. */
void transfer_serve_release_kept(struct transfer_serve *s);
int transfer_serve_port(const struct transfer_serve *s);
/* Connections open now. */
int transfer_serve_active(const struct transfer_serve *s);
/* Close the listener and every connection (no callbacks). NULL is fine. */
void transfer_serve_free(struct transfer_serve *s);

/* Size and "sha256:<hex>" of a file, read in chunks. 0, or -1 with err. */
int transfer_file_checksum(const char *path, uint64_t *size, char *checksum, size_t cslen, char *err, size_t errlen);

#endif
