/*
 * enroll: one Request=Enroll and its Reply=Enroll over a blocking TLS
 * connection (common/tls.c), the key and request of common/pki.c, the reply
 * checked by common/enrolmsg.c, the certificate written atomically.
 */
#include "agent/enroll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/enrolmsg.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/tls.h"
#include "common/wire.h"

/* Send the request on ssl and read the whole reply. NULL with msg. */
static struct wire_msg *
exchange(SSL *ssl, const struct enroll_params *p, const char *csr, long long deadline, char *msg,
    size_t msglen)
{
	char err[256];
	struct wire_msg *m = wire_msg_new(), *reply = NULL;
	if (m == NULL)
		fatalx("out of memory");
	int rc = wire_add(m, "Request", "Enroll", err, sizeof(err));
	if (rc == 0)
		rc = wire_add(m, "Computer", p->name, err, sizeof(err));
	if (rc == 0)
		rc = wire_add(m, "Protocol", ENROL_PROTOCOL, err, sizeof(err));
	if (rc == 0)
		rc = wire_add(m, "Agent-Version", p->version != NULL ? p->version : "", err, sizeof(err));
	if (rc == 0 && p->token != NULL)
		rc = wire_add(m, "Token", p->token, err, sizeof(err));
	if (rc == 0)
		rc = wire_set_body(m, csr, strlen(csr));
	size_t len = 0;
	char *buf = rc == 0 ? wire_build(m, &len) : NULL;
	wire_msg_free(m);
	if (buf == NULL) {
		snprintf(msg, msglen, "request could not be built: %s", err);
		return NULL;
	}
	rc = tls_write_all(ssl, buf, len, deadline - clock_mono_ms(), err, sizeof(err));
	wire_buf_free(buf, len);
	if (rc == -1) {
		snprintf(msg, msglen, "send: %s", err);
		return NULL;
	}
	struct wire_parser *wp = wire_parser_new(ENROL_MAX_CERT);
	if (wp == NULL)
		fatalx("out of memory");
	char in[4096];
	while (reply == NULL) {
		long long left = deadline - clock_mono_ms();
		ssize_t n = left > 0 ? tls_read_some(ssl, in, sizeof(in), left, err, sizeof(err)) : -1;
		if (left <= 0)
			snprintf(err, sizeof(err), "no answer in time");
		if (n <= 0) {
			snprintf(msg, msglen, "%s", n == 0 ? "closed before answering" : err);
			break;
		}
		size_t off = 0;
		while (off < (size_t)n && reply == NULL) {
			size_t used = 0;
			enum wire_status st = wire_feed(wp, in + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_ERROR) {
				snprintf(msg, msglen, "bad answer: %s", wire_parser_error(wp));
				wire_parser_free(wp);
				return NULL;
			}
			if (st != WIRE_MORE && (reply = wire_parser_take(wp)) == NULL)
				fatalx("out of memory");
			if (st == WIRE_MORE)
				break;
		}
	}
	wire_parser_free(wp);
	return reply;
}

/* A successful answer: the certificate must be for our key and name; then installed. */
static enum enroll_outcome
install(const struct enroll_params *p, EVP_PKEY *key, const struct enrol_reply *r, char *msg,
    size_t msglen)
{
	char err[512];
	if (pki_cert_matches_key(r->cert, r->cert_len, key, p->name, err, sizeof(err)) == -1) {
		snprintf(msg, msglen, "the service sent a certificate we cannot use: %s", err);
		return ENROLL_RETRY;
	}
	if (pki_write_atomic(p->cert, r->cert, r->cert_len, 0644, err, sizeof(err)) == -1) {
		snprintf(msg, msglen, "%s", err);
		return ENROLL_RETRY;
	}
	snprintf(msg, msglen, "certificate for %s (computer %lld) written to %s", p->name, r->id, p->cert);
	return ENROLL_DONE;
}

enum enroll_outcome
enroll_once(const struct enroll_params *p, int *code, char *msg, size_t msglen)
{
	char err[512];
	int created = 0;
	*code = 0;
	EVP_PKEY *key = pki_key_load_or_create(p->key, &created, err, sizeof(err));
	if (key == NULL) {
		snprintf(msg, msglen, "key %s: %s", p->key, err);
		return ENROLL_REFUSED;
	}
	if (created)
		log_notice("enroll: new key %s made on this host", p->key);
	char *csr = pki_csr_pem(key, p->name, err, sizeof(err));
	if (csr == NULL) {
		EVP_PKEY_free(key);
		snprintf(msg, msglen, "certificate request: %s", err);
		return ENROLL_REFUSED;
	}
	SSL_CTX *ctx = p->token == NULL ? tls_client_ctx(p->ca, p->cert, p->key, err, sizeof(err)) :
	    tls_client_ctx(p->ca, NULL, NULL, err, sizeof(err));
	enum enroll_outcome out = ENROLL_RETRY;
	struct conf_listen hp = {0};
	SSL *ssl = NULL;
	int fd = -1;
	long long deadline = clock_mono_ms() + p->timeout_ms;
	if (ctx == NULL) {
		snprintf(msg, msglen, "tls: %s", err);
		out = ENROLL_REFUSED;
	} else if (tls_ctx_require_peer_role(ctx, TLS_ROLE_SCHEDULER, err, sizeof(err)) == -1) {
		snprintf(msg, msglen, "tls: %s", err);
		out = ENROLL_REFUSED;
	} else if (conf_parse_server(p->server, &hp, err, sizeof(err)) == -1) {
		snprintf(msg, msglen, "server %s: %s", p->server, err);
		out = ENROLL_REFUSED;
	} else if (tls_connect_blocking(ctx, hp.host, hp.port, p->timeout_ms, NULL, NULL, &ssl, &fd, err,
		       sizeof(err)) == -1) {
		snprintf(msg, msglen, "connect %s: %s", p->server, err);
	} else {
		struct wire_msg *reply = exchange(ssl, p, csr, deadline, msg, msglen);
		struct enrol_reply r;
		if (reply != NULL && enrolmsg_parse_reply(reply, &r, err, sizeof(err)) == -1) {
			snprintf(msg, msglen, "%s", err);
		} else if (reply != NULL) {
			*code = r.code;
			if (r.result == ENROL_SUCCESS)
				out = install(p, key, &r, msg, msglen);
			else {
				snprintf(msg, msglen, "%s", r.error[0] != '\0' ? r.error : "(no reason given)");
				out = r.result == ENROL_PENDING ? ENROLL_PENDING : r.result == ENROL_RETRY ?
				    ENROLL_RETRY : ENROLL_REFUSED;
			}
		}
		wire_msg_free(reply);
	}
	tls_close(ssl);
	free(hp.host);
	SSL_CTX_free(ctx);
	OPENSSL_cleanse(csr, strlen(csr));
	free(csr);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return out;
}

enum enroll_outcome
enroll_wait(const struct enroll_params *p, long long wait_ms, long long poll_ms, int *code, char *msg,
    size_t msglen)
{
	long long start = clock_mono_ms();
	for (;;) {
		enum enroll_outcome o = enroll_once(p, code, msg, msglen);
		if (o == ENROLL_DONE || o == ENROLL_REFUSED)
			return o;
		long long spent = clock_mono_ms() - start;
		if (wait_ms >= 0 && spent + poll_ms > wait_ms)
			return o;
		log_info("enroll: %s: %s; asking again in %lld ms", o == ENROLL_PENDING ? "pending" : "not yet",
		    msg, poll_ms);
		struct timespec ts = {poll_ms / 1000, (poll_ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) == -1)
			;
	}
}

long long
enroll_renew_at(const char *cert, long long renew_before_ms, char *err, size_t errlen)
{
	struct pki_cert_info info;
	if (pki_cert_file_info(cert, &info, err, errlen) == -1)
		return -1;
	long long life = info.not_after - info.not_before;
	long long before = renew_before_ms / 1000;
	if (before > life * 2 / 3)
		before = life * 2 / 3;
	return info.not_after - before;
}
