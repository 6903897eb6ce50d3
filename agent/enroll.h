/*
 * enroll: the agent's side of enrolment (docs/enrolment.md): its key made on
 * the host (never sent), a certificate request with the bootstrap token over
 * TLS to the scheduler's enrolment service (authenticated by the CA the
 * operator gave the agent), and the signed certificate installed. Renewal is
 * the same exchange over the agent's current certificate, without a token.
 * Blocking (poll-based timeouts): used before the agent's loop starts, by
 * "pgfleet-agent enroll", and in a short-lived child for renewals. Nothing
 * here allocates for the caller.
 */
#ifndef PGFLEET_ENROLL_H
#define PGFLEET_ENROLL_H

#include <stddef.h>

struct enroll_params {
	const char *server;    /* host:port of the enrolment service */
	const char *ca;        /* the CA its certificate must chain to */
	const char *name;      /* the computer's name, the certificate's CN */
	const char *token;     /* NULL: renew over cert/key */
	const char *cert;      /* where the certificate goes (and, renewing, the current one) */
	const char *key;       /* the key: made here 0600 when missing */
	const char *version;   /* Agent-Version */
	long long timeout_ms;  /* connect, send and answer together */
};

enum enroll_outcome {
	ENROLL_DONE = 0,       /* the certificate is installed */
	ENROLL_PENDING = 1,    /* an operator must accept it: ask again later */
	ENROLL_RETRY = 2,      /* the service could not be reached or could not answer: later */
	ENROLL_REFUSED = 3     /* refused (token, revocation, rejection): asking again will not help */
};

/* One exchange. msg (always set) says what happened; *code the Status-Code. */
enum enroll_outcome enroll_once(const struct enroll_params *p, int *code, char *msg, size_t msglen);

/*
 * Until done or refused: ENROLL_PENDING and ENROLL_RETRY ask again every poll_ms,
 * at most wait_ms in all (wait_ms < 0: no limit). The last outcome.
 */
enum enroll_outcome enroll_wait(const struct enroll_params *p, long long wait_ms, long long poll_ms,
    int *code, char *msg, size_t msglen);

/* Seconds since the epoch at which the certificate should be renewed: its expiry less
 * renew_before, or less two thirds of its lifetime when that is shorter. -1 with err. */
long long enroll_renew_at(const char *cert, long long renew_before_ms, char *err, size_t errlen);

#endif
