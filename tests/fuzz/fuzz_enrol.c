/*
 * libFuzzer target for what enrolment and facts take from the network (make fuzz):
 * the input is parsed as wire messages (common/wire.c), each checked as a
 * Request=Enroll and a Reply=Enroll (common/enrolmsg.c), and, whole, as a facts
 * document (common/json.c) and as a rule condition (common/rule.c). Nothing may
 * crash; whatever a checker accepts must hold what it promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/enrolmsg.h"
#include "common/json.h"
#include "common/pki.h"
#include "common/rule.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_messages(const uint8_t *data, size_t size)
{
	struct wire_parser *p = wire_parser_new(ENROL_MAX_CERT);
	char err[512];
	size_t off = 0;
	while (p != NULL && off < size) {
		size_t used = 0;
		enum wire_status st = wire_feed(p, (const char *)data + off, size - off, &used);
		off += used;
		if (st != WIRE_DONE)
			break;
		struct wire_msg *m = wire_parser_take(p);
		if (m == NULL)
			abort();
		struct enrol_request rq;
		if (enrolmsg_parse_request(m, &rq, err, sizeof(err)) == 0) {
			if (pki_name_valid(rq.computer, err, sizeof(err)) != 0 || rq.csr_len == 0 ||
			    rq.csr_len > ENROL_MAX_CSR || (rq.token != NULL && !enrolmsg_token_ok(rq.token)))
				abort();
			char pub[65];
			(void)pki_csr_check(rq.csr, rq.csr_len, rq.computer, pub, err, sizeof(err));
		}
		struct enrol_reply rp;
		if (enrolmsg_parse_reply(m, &rp, err, sizeof(err)) == 0 && rp.result == ENROL_SUCCESS &&
		    (rp.id <= 0 || rp.cert == NULL || rp.cert_len == 0))
			abort();
		wire_msg_free(m);
		if (used == 0)
			break;
	}
	wire_parser_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	check_messages(data, size);
	/* a facts document: one that passes has no NUL and begins with '{' after blanks */
	if (json_check_object((const char *)data, size, 16, err, sizeof(err)) == 0) {
		if (memchr(data, '\0', size) != NULL)
			abort();
		size_t i = 0;
		while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
			i++;
		if (i >= size || data[i] != '{')
			abort();
	}
	/* a rule condition, NUL-terminated */
	if (size < 1024) {
		char s[1024], field[300], cond[RULE_MAX_COND + 8];
		memcpy(s, data, size);
		s[size] = '\0';
		if (rule_parse(s, field, sizeof(field), cond, sizeof(cond), err, sizeof(err)) == 0 &&
		    (rule_field_ok(field, err, sizeof(err)) != 0 || rule_cond_ok(cond, err, sizeof(err)) != 0))
			abort();
	}
	return 0;
}
