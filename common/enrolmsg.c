/*
 * enrolmsg: Request=Enroll and Reply=Enroll checked field by field.
 */
#include "common/enrolmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pki.h"
#include "common/util.h"
#include "common/wire.h"

int
enrolmsg_token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > ENROL_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

int
enrolmsg_parse_request(const struct wire_msg *m, struct enrol_request *r, char *err, size_t errlen)
{
	char why[200];
	memset(r, 0, sizeof(*r));
	const char *req = wire_get(m, "Request"), *proto = wire_get(m, "Protocol");
	r->computer = wire_get(m, "Computer");
	r->token = wire_get(m, "Token");
	r->version = wire_get(m, "Agent-Version");
	if (req == NULL || strcmp(req, "Enroll") != 0) {
		snprintf(err, errlen, "expected Request=Enroll");
		return -1;
	}
	if (proto == NULL || strcmp(proto, ENROL_PROTOCOL) != 0) {
		snprintf(err, errlen, "protocol %.20s is not supported (%s)", proto != NULL ? proto : "",
		    ENROL_PROTOCOL);
		return -1;
	}
	if (r->computer == NULL) {
		snprintf(err, errlen, "Enroll without Computer");
		return -1;
	}
	if (pki_name_valid(r->computer, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "Computer: %s", why);
		return -1;
	}
	if (r->token != NULL && !enrolmsg_token_ok(r->token)) {
		snprintf(err, errlen, "Token is not a token of pgfleet token create");
		return -1;
	}
	if (r->version == NULL)
		r->version = "";
	if (strlen(r->version) > 32) {
		snprintf(err, errlen, "Agent-Version is longer than 32 bytes");
		return -1;
	}
	if (m->body == NULL || m->body_len == 0) {
		snprintf(err, errlen, "Enroll without a certificate request");
		return -1;
	}
	if (m->body_len > ENROL_MAX_CSR || memchr(m->body, '\0', m->body_len) != NULL) {
		snprintf(err, errlen, "the certificate request is not a PEM text of at most %d bytes",
		    ENROL_MAX_CSR);
		return -1;
	}
	r->csr = m->body;
	r->csr_len = m->body_len;
	return 0;
}

int
enrolmsg_parse_reply(const struct wire_msg *m, struct enrol_reply *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	const char *reply = wire_get(m, "Reply"), *result = wire_get(m, "Result");
	const char *code = wire_get(m, "Status-Code"), *id = wire_get(m, "ID");
	r->error = wire_get(m, "Error");
	if (r->error == NULL)
		r->error = "";
	if (reply == NULL || strcmp(reply, "Enroll") != 0 || result == NULL) {
		snprintf(err, errlen, "the service did not answer Request=Enroll");
		return -1;
	}
	if (strcmp(result, "Success") == 0)
		r->result = ENROL_SUCCESS;
	else if (strcmp(result, "Pending") == 0)
		r->result = ENROL_PENDING;
	else if (strcmp(result, "Retry") == 0)
		r->result = ENROL_RETRY;
	else if (strcmp(result, "Failed") == 0)
		r->result = ENROL_FAILED;
	else {
		snprintf(err, errlen, "unknown Result %.40s", result);
		return -1;
	}
	if (code != NULL) {
		char *end;
		long v = strtol(code, &end, 10);
		if (*end != '\0' || end == code || v < -1000 || v > 1000) {
			snprintf(err, errlen, "bad Status-Code %.20s", code);
			return -1;
		}
		r->code = (int)v;
	}
	if (r->result != ENROL_SUCCESS)
		return 0;
	char *end = NULL;
	r->id = id != NULL ? strtoll(id, &end, 10) : 0;
	if (id == NULL || *end != '\0' || r->id <= 0) {
		snprintf(err, errlen, "Success without a computer ID");
		return -1;
	}
	if (m->body == NULL || m->body_len == 0 || m->body_len > ENROL_MAX_CERT ||
	    memchr(m->body, '\0', m->body_len) != NULL) {
		snprintf(err, errlen, "Success without a PEM certificate");
		return -1;
	}
	r->cert = m->body;
	r->cert_len = m->body_len;
	return 0;
}
