/*
 * tls: OpenSSL contexts (TLS 1.3 only, mutual certificates), peer-name
 * checks and poll()-based blocking helpers used by the agent side.
 */
#include "common/clock.h"
#include "common/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/util.h"

#define TLS_SID_CTX "pgfleet"

char *
tls_error_string(char *buf, size_t size)
{
	size_t off = 0;
	unsigned long e;
	const char *data;
	int flags;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		char one[256];
		ERR_error_string_n(e, one, sizeof(one));
		/* keep the reason only: "error:0A000086:SSL routines::certificate verify failed" */
		const char *reason = strrchr(one, ':');
		reason = reason != NULL ? reason + 1 : one;
		/* our own errors (verify_role) are their text alone */
		if (ERR_GET_LIB(e) == ERR_LIB_USER && (flags & ERR_TXT_STRING) && data != NULL) {
			reason = data;
			data = NULL;
		}
		if (off < size - 1) {
			int n = snprintf(buf + off, size - off, "%s%s", off > 0 ? "; " : "", reason);
			if (n > 0)
				off += (size_t)n;
		}
		if ((flags & ERR_TXT_STRING) && data != NULL && data[0] != '\0' && off < size - 1) {
			int n = snprintf(buf + off, size - off, " (%s)", data);
			if (n > 0)
				off += (size_t)n;
		}
	}
	if (off >= size)
		buf[size - 1] = '\0';
	if (buf[0] == '\0')
		snprintf(buf, size, "unknown tls error");
	return buf;
}

static SSL_CTX *
ctx_new(int server, const char *ca, const char *cert, const char *key, char *err, size_t errlen)
{
	char why[512];

	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "tls context: %s", tls_error_string(why, sizeof(why)));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		snprintf(err, errlen, "tls context: cannot restrict to TLS 1.3: %s", tls_error_string(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_load_verify_file(ctx, ca) != 1) {
		snprintf(err, errlen, "tls ca %s: %s", ca, tls_error_string(why, sizeof(why)));
		goto fail;
	}
	if (!server && cert == NULL && key == NULL)
		goto no_cert; /* none yet (enrolment), or one per connection: SSL_use_certificate */
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "tls certificate %s: %s", cert, tls_error_string(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "tls key %s: %s", key, tls_error_string(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls key %s does not match certificate %s", key, cert);
		ERR_clear_error();
		goto fail;
	}
no_cert:
	SSL_CTX_set_verify_depth(ctx, 4);
	/* RELEASE_BUFFERS: an idle connection holds no 16 KiB read and write buffers (a
	 * scheduler's worker keeps thousands of agents' connections open and quiet) */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_RELEASE_BUFFERS);
	if (server) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
		if (names == NULL) {
			snprintf(err, errlen, "tls ca %s: %s", ca, tls_error_string(why, sizeof(why)));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		/* resumption with client certificates needs a session id context */
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)TLS_SID_CTX, sizeof(TLS_SID_CTX) - 1);
		SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 2);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		/* the caller keeps the sessions it wants to resume */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_server_ctx(const char *ca, const char *cert, const char *key, char *err, size_t errlen)
{
	return ctx_new(1, ca, cert, key, err, errlen);
}

SSL_CTX *
tls_client_ctx(const char *ca, const char *cert, const char *key, char *err, size_t errlen)
{
	return ctx_new(0, ca, cert, key, err, errlen);
}

void
tls_ctx_client_cert_optional(SSL_CTX *ctx)
{
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
}

/*
 * The info callback of a server that keeps sessions: a handshake that resumed
 * a session in the first half of its life sends no new ticket (the state
 * machine reads num_tickets after the client's Finished, long after the
 * ClientHello decided the resumption). The client resumes the same session
 * again: without early data OpenSSL does not drop a stateful session on use,
 * and the DHE of every resumption keeps each connection's keys its own.
 */
static void
keep_sessions_info(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if ((where & SSL_CB_ACCEPT_LOOP) == 0 || !SSL_session_reused(ssl))
		return;
	const SSL_SESSION *s = SSL_get_session(ssl);
	if (s == NULL)
		return;
	long age = (long)time(NULL) - SSL_SESSION_get_time(s);
	if (age >= 0 && age < SSL_SESSION_get_timeout(s) / 2)
		(void)SSL_set_num_tickets((SSL *)ssl, 0); /* the callback's const is OpenSSL's */
}

void
tls_ctx_keep_sessions(SSL_CTX *ctx, long max)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET); /* TLS 1.3: stateful tickets */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, max);
	/* one ticket per full handshake, and per resumption of a session past half its life */
	(void)SSL_CTX_set_num_tickets(ctx, 1); /* fails only for a value it cannot hold */
	SSL_CTX_set_info_callback(ctx, keep_sessions_info);
}

void
tls_offer_session(SSL *ssl, SSL_SESSION *s)
{
	if (s == NULL)
		return;
	/* a client that resumed a TLS 1.3 session marks it spent: the copy is spent, s stays good
	 * (a copy that cannot be made: no session offered, a full handshake) */
	SSL_SESSION *copy = SSL_SESSION_dup(s);
	if (copy == NULL) {
		ERR_clear_error();
		return;
	}
	(void)SSL_set_session(ssl, copy); /* fails only for a session of another method */
	SSL_SESSION_free(copy);           /* ssl holds its own reference */
}

void
tls_keep_session(SSL *ssl)
{
	if (ssl != NULL && SSL_is_init_finished(ssl))
		SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
}

/* An ASN1 string as a C string; -1 when it holds a NUL or does not fit. */
static int
asn1_copy(const ASN1_STRING *s, char *buf, size_t size)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, s);
	if (n < 0)
		return -1;
	if ((size_t)n >= size || memchr(utf8, '\0', (size_t)n) != NULL) {
		OPENSSL_free(utf8);
		return -1;
	}
	memcpy(buf, utf8, (size_t)n);
	buf[n] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

static int
cert_cn(X509 *c, char *buf, size_t size)
{
	X509_NAME *subj = X509_get_subject_name(c);
	int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (i < 0)
		return -1;
	return asn1_copy(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)), buf, size);
}

int
tls_cert_role(X509 *c, char *buf, size_t size)
{
	X509_NAME *subj = X509_get_subject_name(c);
	int i = X509_NAME_get_index_by_NID(subj, NID_organizationalUnitName, -1);
	if (i < 0)
		return -1;
	return asn1_copy(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)), buf, size);
}

static int role_index = -1;
static int refusal_index = -1; /* on an SSL: the text of its role refusal, malloc'd */

static void
refusal_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

/* Kept on the SSL too: an event-driven caller sees only error codes, not this text. */
static void
keep_refusal(SSL *ssl, const char *text)
{
	if (ssl == NULL || refusal_index < 0)
		return;
	char *copy = strdup(text);
	if (copy == NULL)
		return;
	free(SSL_get_ex_data(ssl, refusal_index));
	if (SSL_set_ex_data(ssl, refusal_index, copy) != 1)
		free(copy);
}

const char *
tls_role_refusal(const SSL *ssl)
{
	return refusal_index >= 0 && ssl != NULL ? SSL_get_ex_data(ssl, refusal_index) : NULL;
}

void
tls_describe(SSL *ssl, const unsigned long *codes, int n, char *buf, size_t size)
{
	size_t off = 0;
	if (size == 0)
		return;
	buf[0] = '\0';
	const char *role = tls_role_refusal(ssl);
	if (role != NULL)
		off = (size_t)snprintf(buf, size, "%s", role);
	for (int i = 0; i < n && off < size; i++) {
		/* the role text is above; a system error (a refused connect) is the caller's to say */
		if (ERR_GET_LIB(codes[i]) == ERR_LIB_USER || ERR_GET_LIB(codes[i]) == ERR_LIB_SYS ||
		    ERR_reason_error_string(codes[i]) == NULL)
			continue; /* libevent's own codes ("reason(1)") say nothing either */
		char one[256];
		ERR_error_string_n(codes[i], one, sizeof(one));
		const char *reason = strrchr(one, ':');
		off += (size_t)snprintf(buf + off, size - off, "%s%s", off > 0 ? "; " : "",
		    reason != NULL ? reason + 1 : one);
	}
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (v != X509_V_OK && v != X509_V_ERR_APPLICATION_VERIFICATION && off < size)
		snprintf(buf + off, size - off, "%s%s", off > 0 ? ": " : "", X509_verify_cert_error_string(v));
}

/* The leaf must carry the role its context requires (tls_ctx_require_peer_role). */
static int
verify_role(int ok, X509_STORE_CTX *x)
{
	if (!ok || X509_STORE_CTX_get_error_depth(x) != 0)
		return ok;
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	const char *want = ssl != NULL ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), role_index) : NULL;
	X509 *c = X509_STORE_CTX_get_current_cert(x);
	char role[64], name[128];
	if (want == NULL || c == NULL)
		return ok;
	int has = tls_cert_role(c, role, sizeof(role)) == 0;
	if (has && strcmp(role, want) == 0)
		return 1;
	if (cert_cn(c, name, sizeof(name)) == -1)
		snprintf(name, sizeof(name), "?");
	char text[400];
	if (has)
		snprintf(text, sizeof(text), "certificate \"%s\" has role %s, not %s", name, role, want);
	else
		snprintf(text, sizeof(text), "certificate \"%s\" has no pgfleet role, %s needed "
		    "(reissue it: pgfleet pki issue %s --role %s)", name, want, name, want);
	ERR_raise_data(ERR_LIB_USER, 1, "%s", text);
	keep_refusal(ssl, text);
	X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

int
tls_ctx_require_peer_role(SSL_CTX *ctx, const char *role, char *err, size_t errlen)
{
	if (role_index < 0)
		role_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (refusal_index < 0)
		refusal_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, refusal_free);
	if (role_index < 0 || SSL_CTX_set_ex_data(ctx, role_index, (void *)role) != 1) {
		snprintf(err, errlen, "tls context: cannot keep the peer role");
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_role);
	return 0;
}

int
tls_peer_name(SSL *ssl, char *buf, size_t size)
{
	X509 *c = SSL_get0_peer_certificate(ssl);
	if (c == NULL || size == 0)
		return -1;
	if (cert_cn(c, buf, size) == 0)
		return 0;
	GENERAL_NAMES *sans = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
	int rc = -1;
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_DNS && asn1_copy(g->d.dNSName, buf, size) == 0) {
			rc = 0;
			break;
		}
	}
	GENERAL_NAMES_free(sans);
	return rc;
}

int
tls_check_peer_name(SSL *ssl, const char *expected, char *err, size_t errlen)
{
	X509 *c = SSL_get0_peer_certificate(ssl);
	unsigned char addr[16];
	char name[256];

	if (c == NULL) {
		snprintf(err, errlen, "peer sent no certificate");
		return -1;
	}
	if (expected == NULL || expected[0] == '\0') {
		snprintf(err, errlen, "no expected peer name given");
		return -1;
	}
	int ok;
	if (inet_pton(AF_INET, expected, addr) == 1 || inet_pton(AF_INET6, expected, addr) == 1)
		ok = X509_check_ip_asc(c, expected, 0) == 1;
	else
		ok = X509_check_host(c, expected, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
	ERR_clear_error();
	if (ok)
		return 0;
	if (tls_peer_name(ssl, name, sizeof(name)) == -1)
		snprintf(name, sizeof(name), "(no name)");
	snprintf(err, errlen, "peer certificate is for \"%s\", not \"%s\"", name, expected);
	return -1;
}

static int
in_list(const char *name, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (names[i] != NULL && strcasecmp(name, names[i]) == 0)
			return 1;
	return 0;
}

int
tls_peer_allowed(SSL *ssl, const char *const *names, int n)
{
	X509 *c = SSL_get0_peer_certificate(ssl);
	char buf[256];

	if (c == NULL)
		return 0;
	if (cert_cn(c, buf, sizeof(buf)) == 0 && in_list(buf, names, n))
		return 1;
	GENERAL_NAMES *sans = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
	int ok = 0;
	for (int i = 0; sans != NULL && !ok && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_DNS && asn1_copy(g->d.dNSName, buf, sizeof(buf)) == 0 && in_list(buf, names, n))
			ok = 1;
	}
	GENERAL_NAMES_free(sans);
	return ok;
}

static long long
deadline_of(long long timeout_ms)
{
	return timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
}

/* Wait for events on fd until deadline (-1: none). 0, or -1 with err. */
static int
wait_fd(int fd, short events, long long deadline, const char *what, char *err, size_t errlen)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	for (;;) {
		int ms = -1;
		if (deadline >= 0) {
			long long left = deadline - clock_mono_ms();
			if (left <= 0) {
				snprintf(err, errlen, "%s: timed out", what);
				return -1;
			}
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		int r = poll(&pfd, 1, ms);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR) {
			snprintf(err, errlen, "%s: poll: %s", what, strerror(errno));
			return -1;
		}
	}
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Drive a handshake, read or write step: after ret <= 0, decide whether to
 * wait (0) or fail (-1 with err; 1 for a clean close on reads).
 */
static int
ssl_wait(SSL *ssl, int ret, long long deadline, const char *what, char *err, size_t errlen)
{
	char why[512];
	int e = SSL_get_error(ssl, ret);
	int fd = SSL_get_fd(ssl);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(fd, POLLIN, deadline, what, err, errlen);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(fd, POLLOUT, deadline, what, err, errlen);
	case SSL_ERROR_ZERO_RETURN:
		return 1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() != 0)
			snprintf(err, errlen, "%s: %s", what, tls_error_string(why, sizeof(why)));
		else if (errno != 0 && ret == -1)
			snprintf(err, errlen, "%s: %s", what, strerror(errno));
		else
			snprintf(err, errlen, "%s: connection closed by peer", what);
		return -1;
	default: {
		long v = SSL_get_verify_result(ssl);
		tls_error_string(why, sizeof(why));
		if (v != X509_V_OK)
			snprintf(err, errlen, "%s: %s: %s", what, why, X509_verify_cert_error_string(v));
		else
			snprintf(err, errlen, "%s: %s", what, why);
		return -1;
	}
	}
}

static int
tcp_connect(const char *host, int port, long long deadline, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	char portstr[16], what[300];
	int fd = -1;

	snprintf(portstr, sizeof(portstr), "%d", port);
	int g = getaddrinfo(host, portstr, &hints, &res);
	if (g != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(g));
		return -1;
	}
	snprintf(what, sizeof(what), "connect to %s:%d", host, port);
	snprintf(err, errlen, "%s: no address", what);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1) {
			snprintf(err, errlen, "%s: socket: %s", what, strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (wait_fd(fd, POLLOUT, deadline, what, err, errlen) == 0 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0) {
				if (soerr == 0)
					break;
				snprintf(err, errlen, "%s: %s", what, strerror(soerr));
			}
		} else {
			snprintf(err, errlen, "%s: %s", what, strerror(errno));
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
tls_hello_seen(const SSL *ssl)
{
	return ssl != NULL && SSL_get_state(ssl) != TLS_ST_BEFORE;
}

int
tls_set_nodelay(int fd)
{
	int one = 1;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 ? 0 : -1;
}

int
tls_connect_blocking(SSL_CTX *ctx, const char *host, int port, long long timeout_ms,
    const char *expected_name, SSL_SESSION *resume, SSL **out, int *fd_out, char *err, size_t errlen)
{
	return tls_connect_refusable(ctx, host, port, timeout_ms, expected_name, resume, out, fd_out, NULL,
	    err, errlen);
}

int
tls_connect_refusable(SSL_CTX *ctx, const char *host, int port, long long timeout_ms,
    const char *expected_name, SSL_SESSION *resume, SSL **out, int *fd_out, int *refused, char *err,
    size_t errlen)
{
	long long deadline = deadline_of(timeout_ms);
	char what[300], why[512];

	*out = NULL;
	if (refused != NULL)
		*refused = 0;
	if (fd_out != NULL)
		*fd_out = -1;
	int fd = tcp_connect(host, port, deadline, err, errlen);
	if (fd == -1)
		return -1;
	(void)tls_set_nodelay(fd);
	ERR_clear_error();
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		snprintf(err, errlen, "tls: %s", tls_error_string(why, sizeof(why)));
		SSL_free(ssl);
		close(fd);
		return -1;
	}
	tls_offer_session(ssl, resume);
	snprintf(what, sizeof(what), "tls handshake with %s:%d", host, port);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		/* closed or reset with no TLS alert: the server did not take the connection */
		int e = SSL_get_error(ssl, r), syserr = errno;
		/* (OpenSSL 3 reports a plain close as "unexpected eof while reading") */
		unsigned long top = ERR_peek_error();
		if (refused != NULL && ((e == SSL_ERROR_SYSCALL && top == 0 &&
		    (syserr == 0 || syserr == ECONNRESET || syserr == EPIPE)) || e == SSL_ERROR_ZERO_RETURN ||
		    (e == SSL_ERROR_SSL && ERR_GET_LIB(top) == ERR_LIB_SSL &&
		    ERR_GET_REASON(top) == SSL_R_UNEXPECTED_EOF_WHILE_READING)))
			*refused = 1;
		errno = syserr;
		int w = ssl_wait(ssl, r, deadline, what, err, errlen);
		if (w != 0) {
			if (w == 1)
				snprintf(err, errlen, "%s: connection closed by peer", what);
			tls_close(ssl);
			return -1;
		}
	}
	if (expected_name != NULL) {
		char why2[300];
		if (tls_check_peer_name(ssl, expected_name, why2, sizeof(why2)) == -1) {
			snprintf(err, errlen, "%s: %s", what, why2);
			tls_close(ssl);
			return -1;
		}
	}
	*out = ssl;
	if (fd_out != NULL)
		*fd_out = fd;
	return 0;
}

int
tls_accept_blocking(SSL_CTX *ctx, int fd, long long timeout_ms, SSL **out, char *err, size_t errlen)
{
	long long deadline = deadline_of(timeout_ms);
	char why[512];

	*out = NULL;
	if (set_nonblock(fd) == -1) {
		snprintf(err, errlen, "tls accept: %s", strerror(errno));
		close(fd);
		return -1;
	}
	(void)tls_set_nodelay(fd); /* fails harmlessly on a non-TCP socket */
	ERR_clear_error();
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		snprintf(err, errlen, "tls accept: %s", tls_error_string(why, sizeof(why)));
		SSL_free(ssl);
		close(fd);
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_accept(ssl);
		if (r == 1)
			break;
		int w = ssl_wait(ssl, r, deadline, "tls accept", err, errlen);
		if (w != 0) {
			if (w == 1)
				snprintf(err, errlen, "tls accept: connection closed by peer");
			tls_close(ssl);
			return -1;
		}
	}
	*out = ssl;
	return 0;
}

int
tls_write_all(SSL *ssl, const void *buf, size_t len, long long timeout_ms, char *err, size_t errlen)
{
	long long deadline = deadline_of(timeout_ms);
	const char *p = buf;

	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		ERR_clear_error();
		errno = 0;
		int r = SSL_write(ssl, p, chunk);
		if (r > 0) {
			p += r;
			len -= (size_t)r;
			continue;
		}
		int w = ssl_wait(ssl, r, deadline, "tls write", err, errlen);
		if (w == 1) {
			snprintf(err, errlen, "tls write: connection closed by peer");
			return -1;
		}
		if (w == -1)
			return -1;
	}
	return 0;
}

ssize_t
tls_read_some(SSL *ssl, void *buf, size_t len, long long timeout_ms, char *err, size_t errlen)
{
	long long deadline = deadline_of(timeout_ms);
	int chunk = len > INT_MAX ? INT_MAX : (int)len;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_read(ssl, buf, chunk);
		if (r > 0)
			return r;
		int w = ssl_wait(ssl, r, deadline, "tls read", err, errlen);
		if (w == 1)
			return 0;
		if (w == -1)
			return -1;
	}
}

int
tls_read_all(SSL *ssl, void *buf, size_t len, long long timeout_ms, char *err, size_t errlen)
{
	long long deadline = deadline_of(timeout_ms);
	char *p = buf;

	while (len > 0) {
		long long left = deadline < 0 ? -1 : deadline - clock_mono_ms();
		if (deadline >= 0 && left <= 0) {
			snprintf(err, errlen, "tls read: timed out");
			return -1;
		}
		ssize_t n = tls_read_some(ssl, p, len, left, err, errlen);
		if (n == -1)
			return -1;
		if (n == 0) {
			snprintf(err, errlen, "tls read: connection closed with %zu bytes missing", len);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
tls_close(SSL *ssl)
{
	if (ssl == NULL)
		return;
	int fd = SSL_get_fd(ssl);
	if (!(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) && SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
	if (fd != -1)
		close(fd);
}
