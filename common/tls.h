/*
 * tls: OpenSSL 3 contexts for pgfleet (TLS 1.3 only, mutual certificates
 * chained to one CA, session tickets for resumption), peer-name checks and
 * small blocking helpers (poll-based timeouts) for the agent side. No policy
 * beyond that: callers decide which names they accept.
 * Contexts are the caller's (SSL_CTX_free); tls_connect_blocking and
 * tls_accept_blocking hand back an SSL the caller ends with tls_close.
 */
#ifndef PGFLEET_TLS_H
#define PGFLEET_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/*
 * A server context: requires a client certificate chained to ca. ca, cert
 * and key are PEM file paths. NULL with the reason in err.
 */
SSL_CTX *tls_server_ctx(const char *ca, const char *cert, const char *key, char *err, size_t errlen);
/*
 * A client context: the server's certificate must chain to ca; presents cert.
 * cert and key both NULL: the caller gives each connection its own
 * (SSL_use_certificate, SSL_use_PrivateKey), as the fleet simulator does.
 */
SSL_CTX *tls_client_ctx(const char *ca, const char *cert, const char *key, char *err, size_t errlen);
/* A server context that asks for a client certificate but accepts none (enrolment: a
 * presented one must still chain to the CA). */
void tls_ctx_client_cert_optional(SSL_CTX *ctx);
/*
 * Server: keep up to max sessions in this process's memory and hand out
 * tickets that name them (TLS 1.3 stateful tickets) instead of tickets that
 * carry the session, sealed. A resumption then finds the session, its
 * peer's certificate already decoded, where a sealed ticket has it decoded
 * again: with OpenSSL 3 that decoding was half of what a resumed handshake
 * cost the server. One ticket per full handshake (a session held each); a
 * resumption of a session younger than half its timeout gets none, and the
 * client resumes that session again (no ticket to make, send, store and
 * later evict per fetch; the client has none to take in). The oldest
 * sessions go first when max is reached.
 */
void tls_ctx_keep_sessions(SSL_CTX *ctx, long max);
/*
 * Client: offer session s (NULL: none) on ssl, not yet connected. A copy is
 * offered: OpenSSL marks a TLS 1.3 session it resumed as not resumable (a
 * ticket is meant for one use), and a server that keeps sessions sends no new
 * ticket on a resumption (above), so s must stay good for the next connection.
 */
void tls_offer_session(SSL *ssl, SSL_SESSION *s);
/*
 * A connection about to be freed without a TLS shutdown of its own (a
 * bufferevent's): its session stays resumable. OpenSSL drops from its
 * cache the session of a connection freed before it sent its shutdown.
 */
void tls_keep_session(SSL *ssl);

/* The peer certificate's CN, or its first DNS SAN when it has no CN. 0, or -1 when none. */
int tls_peer_name(SSL *ssl, char *buf, size_t size);
/*
 * The peer certificate must name expected (a DNS SAN, or the CN when it has
 * no DNS SAN, as X509_check_host does; or an IP SAN when expected is an
 * address). 0, or -1 with the reason in err.
 */
int tls_check_peer_name(SSL *ssl, const char *expected, char *err, size_t errlen);
/* 1 when the peer's CN or one of its DNS SANs equals one of names (case-insensitive), else 0. */
int tls_peer_allowed(SSL *ssl, const char *const *names, int n);
/*
 * Certificate roles. pgfleet pki writes the role into the subject's OU:
 * TLS_ROLE_SCHEDULER for schedulers (they push tasks and serve files),
 * TLS_ROLE_AGENT for computers. Only the CA signs, so the role is the CA's word.
 */
#define TLS_ROLE_SCHEDULER "scheduler"
#define TLS_ROLE_AGENT "agent"
/* The certificate's role (its OU). 0, or -1 when it has none. */
int tls_cert_role(X509 *c, char *buf, size_t size);
/*
 * Every handshake on ctx fails unless the peer's certificate has role (a
 * string literal, kept by pointer): an agent's certificate can never push a
 * task, and a scheduler's can never pose as a computer. 0, or -1 with err.
 */
int tls_ctx_require_peer_role(SSL_CTX *ctx, const char *role, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/*
 * Why the handshake on ssl refused the peer's role (the text also put on
 * OpenSSL's error queue), or NULL. Valid while ssl lives: for event-driven
 * callers, which see only error codes.
 */
const char *tls_role_refusal(const SSL *ssl);
/*
 * One line for a failed handshake from OpenSSL error codes an event-driven
 * caller collected (bufferevent_get_openssl_error): the role refusal's text,
 * each reason, and the verify result. "" when there is nothing to say.
 */
void tls_describe(SSL *ssl, const unsigned long *codes, int n, char *buf, size_t size);
/* Drain OpenSSL's error queue into one line ("" when empty). Returns buf. */
char *tls_error_string(char *buf, size_t size);

/*
 * Blocking helpers. Sockets are non-blocking underneath; each call waits
 * with poll() at most timeout_ms in all (timeout_ms < 0: no limit).
 */
/*
 * Connect to host:port, handshake, and when expected_name is not NULL check
 * the peer's name. resume (may be NULL) is a session to offer. On success
 * *out and *fd_out are set; 0, or -1 with the reason in err.
 */
int tls_connect_blocking(SSL_CTX *ctx, const char *host, int port, long long timeout_ms,
    const char *expected_name, SSL_SESSION *resume, SSL **out, int *fd_out, char *err, size_t errlen);
/*
 * The same, and *refused (when not NULL) says 1 when it failed because the
 * server closed or reset the connection during the handshake without a TLS
 * alert: how a server out of room for unauthenticated connections turns one
 * away, so the caller may try again later. A certificate refusal is not that.
 */
int tls_connect_refusable(SSL_CTX *ctx, const char *host, int port, long long timeout_ms,
    const char *expected_name, SSL_SESSION *resume, SSL **out, int *fd_out, int *refused, char *err,
    size_t errlen);
/* Handshake as server on an accepted socket fd (made non-blocking; closed on failure). */
int tls_accept_blocking(SSL_CTX *ctx, int fd, long long timeout_ms, SSL **out, char *err, size_t errlen);
/* Write all len bytes. 0, or -1 with the reason in err. */
int tls_write_all(SSL *ssl, const void *buf, size_t len, long long timeout_ms, char *err, size_t errlen);
/* Read up to len bytes: >0 bytes read, 0 on a clean close (close_notify), -1 with err. */
ssize_t tls_read_some(SSL *ssl, void *buf, size_t len, long long timeout_ms, char *err, size_t errlen);
/* Read exactly len bytes: 0, or -1 with err (an early close is an error). */
int tls_read_all(SSL *ssl, void *buf, size_t len, long long timeout_ms, char *err, size_t errlen);
/* Send close_notify (best effort, no wait), free ssl and close its socket. NULL is fine. */
void tls_close(SSL *ssl);
/*
 * Turn Nagle off on a TCP socket (TCP_NODELAY): our messages are small
 * request/reply blocks sent as separate TLS records, which Nagle would hold
 * back until the peer's delayed ACK (40 ms on Linux). 0, or -1 (errno set;
 * callers may ignore it: the connection works either way, only slower).
 */
int tls_set_nodelay(int fd);
/* 1 once a server-side handshake has read the peer's ClientHello (the pre-TLS budget's probe). */
int tls_hello_seen(const SSL *ssl);

#endif
