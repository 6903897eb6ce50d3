/*
 * enrolmsg: the messages of the enrolment protocol (docs/enrolment.md), checked
 * where they enter: the service's Request=Enroll and the agent's view of
 * Reply=Enroll. Pure: no I/O; the structs point into the message they came
 * from and live as long as it does.
 */
#ifndef PGFLEET_ENROLMSG_H
#define PGFLEET_ENROLMSG_H

#include <stddef.h>

struct wire_msg;

#define ENROL_PROTOCOL "1"
#define ENROL_MAX_CSR (16 * 1024)    /* a request's body: one PEM certificate request */
#define ENROL_MAX_CERT (32 * 1024)   /* a reply's body: one PEM certificate */
#define ENROL_TOKEN_MAX 128

struct enrol_request {
	const char *computer;  /* a valid certificate name (common/pki.h) */
	const char *token;     /* NULL: a renewal over the client certificate */
	const char *version;   /* "" when not sent */
	const char *csr;       /* the body */
	size_t csr_len;
};

/* Request=Enroll: 0, or -1 with err (the Error of the refusal). */
int enrolmsg_parse_request(const struct wire_msg *m, struct enrol_request *r, char *err, size_t errlen)
    __attribute__((warn_unused_result));

enum enrol_result { ENROL_SUCCESS, ENROL_PENDING, ENROL_FAILED, ENROL_RETRY };

struct enrol_reply {
	enum enrol_result result;
	int code;              /* Status-Code: 0, or -26..-29 */
	const char *error;     /* "" when none */
	long long id;          /* the computer id (Success) */
	const char *cert;      /* the body (Success) */
	size_t cert_len;
};

/* Reply=Enroll: 0, or -1 with err when it is not one. */
int enrolmsg_parse_reply(const struct wire_msg *m, struct enrol_reply *r, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* A token of the form pgfleet token create prints: 1..ENROL_TOKEN_MAX of [A-Za-z0-9_-]. */
int enrolmsg_token_ok(const char *t);

#endif
