/*
 * libFuzzer target for common/wire (make fuzz). The input, after two control
 * bytes (split seed, body limit), is fed to the parser twice: in one call and
 * in random splits. Both runs must give the same messages and errors, the
 * parser must consume bytes as wire.h promises, and every parsed message must
 * dump, rebuild through wire_add and parse back to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct record {
	char *buf;
	size_t len;
};

static void
record_add(struct record *r, const void *s, size_t n)
{
	char *nb = realloc(r->buf, r->len + n + 1);
	if (nb == NULL)
		abort();
	memcpy(nb + r->len, s, n);
	r->buf = nb;
	r->len += n;
}

/* The builder accepts all the parser accepted, and the parser takes back what it builds. */
static void
check_msg(const struct wire_msg *m, struct record *r)
{
	char err[256];
	struct wire_msg *c = wire_msg_new();

	for (int i = 0; i < m->nkeys; i++) {
		if (strcmp(m->keys[i], "Content-Length") == 0)
			continue;
		if (wire_add(c, m->keys[i], m->values[i], err, sizeof(err)) != 0)
			abort();
	}
	if (m->body != NULL && wire_set_body(c, m->body, m->body_len) != 0)
		abort();
	size_t len, ownlen, used;
	char *buf = wire_build(c, &len);
	if (buf == NULL)
		abort();
	struct wire_parser *p = wire_parser_new(m->body_len);
	if (wire_feed(p, buf, len, &used) != WIRE_DONE || used != len)
		abort();
	struct wire_msg *back = wire_parser_take(p);
	if (back == NULL || back->nkeys != m->nkeys || back->body_len != m->body_len)
		abort();
	wire_msg_free(back);
	wire_parser_free(p);

	char *d = wire_dump(m);
	if (wire_get(m, "Key") != NULL && strstr(d, "Key=<hidden>") == NULL)
		abort();
	free(d);

	/* The record of a message: its own rebuild (keys in their parsed order). */
	char *own = wire_build(m, &ownlen);
	if (own == NULL)
		abort();
	record_add(r, "M", 1);
	record_add(r, own, ownlen);
	wire_buf_free(own, ownlen);
	wire_buf_free(buf, len);
	wire_msg_free(c);
}

static void
run(const char *data, size_t size, size_t max_body, unsigned seed, struct record *r)
{
	struct wire_parser *p = wire_parser_new(max_body);
	size_t off = 0;
	unsigned step = seed;

	while (off < size) {
		size_t chunk = size - off;
		if (seed != 0) {
			step = step * 1103515245u + 12345u;
			size_t want = (seed & 1) ? 1 : 1 + (step >> 16) % 97;
			if (want < chunk)
				chunk = want;
		}
		size_t used = (size_t)-1;
		enum wire_status st = wire_feed(p, data + off, chunk, &used);
		if (used > chunk || (st == WIRE_MORE && used != chunk))
			abort();
		off += used;
		if (st == WIRE_ERROR) {
			const char *e = wire_parser_error(p);
			if (e[0] == '\0' || wire_parser_take(p) != NULL)
				abort();
			char at[32];
			snprintf(at, sizeof(at), "E%zu:", off);
			record_add(r, at, strlen(at));
			record_add(r, e, strlen(e));
			break;
		}
		if (st == WIRE_DONE) {
			struct wire_msg *m = wire_parser_take(p);
			if (m == NULL || used == 0)
				abort();
			check_msg(m, r);
			wire_msg_free(m);
		}
	}
	wire_parser_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record whole = { NULL, 0 }, split = { NULL, 0 };

	if (size < 2)
		return 0;
	/* Odd first byte: one byte per call; even: random splits. Never 0 (one call). */
	unsigned seed = (unsigned)data[0] | 1u << 8;
	size_t max_body = (size_t)data[1] * 16;
	run((const char *)data + 2, size - 2, max_body, 0, &whole);
	run((const char *)data + 2, size - 2, max_body, seed, &split);
	if (whole.len != split.len || (whole.len > 0 && memcmp(whole.buf, split.buf, whole.len) != 0))
		abort();
	free(whole.buf);
	free(split.buf);
	return 0;
}
