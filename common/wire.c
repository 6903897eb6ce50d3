/*
 * wire: the Key=Value message codec. The parser is a byte-driven state
 * machine that holds at most one header line (never more than
 * WIRE_MAX_HEADER bytes) and refuses a message at the first byte or line
 * that breaks a rule; the builder checks the same rules, so it can never
 * emit what the parser refuses. Keys, values and bodies are wiped before
 * they are freed: the "Key" value is a one-time transfer secret.
 */
#include "common/wire.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

#define WIRE_CL "Content-Length"
#define WIRE_SECRET "Key"
#define WIRE_SHOW_MAX 32                     /* bytes of a key or value quoted in an error */
#define WIRE_SHOW_BUF (WIRE_SHOW_MAX * 4 + 4) /* every byte escaped, then "..." */
#define WIRE_BODY_STEP (64 * 1024)           /* first body allocation; grows as bytes arrive */

enum wire_state { WIRE_ST_HEADER, WIRE_ST_BODY, WIRE_ST_DONE, WIRE_ST_FAILED };

struct wire_parser {
	size_t max_body;
	enum wire_state state;
	struct wire_msg *msg;
	size_t hdr_bytes;  /* header bytes seen so far, LFs included */
	int lineno;        /* the line being read, from 1 */
	size_t linelen;
	int has_cl;
	size_t body_want;  /* the Content-Length */
	size_t body_cap;
	char err[256];
	char line[WIRE_MAX_HEADER];
};

static void *
wire_xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL)
		fatal("wire: malloc of %zu bytes", n);
	return p;
}

static void
wire_wipe_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

static int
wire_is_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
wire_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Quote-safe rendering of untrusted bytes for an error: at most WIRE_SHOW_MAX of them. */
static void
wire_show(char *out, size_t outlen, const char *s, size_t n)
{
	size_t o = 0;
	size_t shown = n > WIRE_SHOW_MAX ? WIRE_SHOW_MAX : n;
	for (size_t i = 0; i < shown && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (n > shown && o + 4 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int
wire_check_key(const char *key, size_t len, char *err, size_t errlen)
{
	char show[WIRE_SHOW_BUF];

	if (len == 0) {
		snprintf(err, errlen, "empty key");
		return -1;
	}
	wire_show(show, sizeof(show), key, len);
	if (len > WIRE_MAX_KEYLEN) {
		snprintf(err, errlen, "key \"%s\" is longer than %d characters", show,
		    WIRE_MAX_KEYLEN);
		return -1;
	}
	if (!wire_is_letter(key[0])) {
		snprintf(err, errlen, "key \"%s\" must start with a letter", show);
		return -1;
	}
	for (size_t i = 1; i < len; i++) {
		if (!wire_is_letter(key[i]) && !wire_is_digit(key[i]) && key[i] != '-') {
			snprintf(err, errlen,
			    "key \"%s\" may only contain letters, digits and '-'", show);
			return -1;
		}
	}
	return 0;
}

/*
 * The checks both directions share, key already valid. Keys that differ only
 * in case are refused too: a peer that folds case must not see two values.
 */
static int
wire_check_pair(const struct wire_msg *m, const char *key, size_t klen, const char *value,
    size_t vlen, char *err, size_t errlen)
{
	static const char *const bad[] = { "NUL", "LF", "CR" };
	static const char badc[] = { '\0', '\n', '\r' };

	for (size_t b = 0; b < sizeof(badc); b++) {
		if (memchr(value, badc[b], vlen) != NULL) {
			snprintf(err, errlen, "value of \"%.*s\" contains %s", (int)klen, key,
			    bad[b]);
			return -1;
		}
	}
	for (int i = 0; i < m->nkeys; i++) {
		if (strlen(m->keys[i]) != klen || strncasecmp(m->keys[i], key, klen) != 0)
			continue;
		if (memcmp(m->keys[i], key, klen) == 0)
			snprintf(err, errlen, "duplicate key \"%.*s\"", (int)klen, key);
		else
			snprintf(err, errlen, "key \"%.*s\" differs from \"%s\" only in case",
			    (int)klen, key, m->keys[i]);
		return -1;
	}
	if (m->nkeys >= WIRE_MAX_KEYS) {
		snprintf(err, errlen, "more than %d keys", WIRE_MAX_KEYS);
		return -1;
	}
	return 0;
}

/* A key and its value in one allocation ("key\0value\0"), freed with the key: half the
 * allocations of a message, the worker's largest caller of malloc per event. */
static void
wire_push(struct wire_msg *m, const char *key, size_t klen, const char *value, size_t vlen)
{
	char *kv = wire_xmalloc(klen + vlen + 2);
	memcpy(kv, key, klen);
	kv[klen] = '\0';
	memcpy(kv + klen + 1, value, vlen);
	kv[klen + 1 + vlen] = '\0';
	m->keys[m->nkeys] = kv;
	m->values[m->nkeys] = kv + klen + 1;
	m->nkeys++;
}

struct wire_msg *
wire_msg_new(void)
{
	struct wire_msg *m = calloc(1, sizeof(*m));
	if (m == NULL)
		fatal("wire: calloc");
	return m;
}

static void
wire_body_free(struct wire_msg *m)
{
	if (m->body != NULL)
		wire_wipe_free(m->body, m->body_len + 1);
	m->body = NULL;
	m->body_len = 0;
}

void
wire_msg_free(struct wire_msg *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < m->nkeys; i++) /* the value shares the key's allocation */
		wire_wipe_free(m->keys[i], strlen(m->keys[i]) + 1 + strlen(m->values[i]));
	wire_body_free(m);
	free(m);
}

const char *
wire_get(const struct wire_msg *m, const char *key)
{
	if (m == NULL || key == NULL)
		return NULL;
	for (int i = 0; i < m->nkeys; i++)
		if (strcmp(m->keys[i], key) == 0)
			return m->values[i];
	return NULL;
}

/*
 * The header as wire_build sends it (dump == 0: every line ends in LF, the
 * empty line included) or as wire_dump shows it (lines joined by LF, the
 * secret masked, control bytes escaped). Content-Length comes from the body:
 * in the place of a stored Content-Length key, else last. With out NULL it
 * only counts. Returns the length.
 */
static size_t
wire_render(const struct wire_msg *m, char *out, int dump)
{
	size_t n = 0;
	int lines = 0, cl_done = 0;
	char cl[32];

#define PUT(s, len) do { if (out != NULL) memcpy(out + n, (s), (len)); n += (len); } while (0)
	snprintf(cl, sizeof(cl), "%zu", m->body_len);
	for (int i = 0; i <= m->nkeys; i++) {
		const char *k, *v;
		if (i < m->nkeys) {
			k = m->keys[i];
			v = m->values[i];
			if (strcmp(k, WIRE_CL) == 0) {
				if (m->body == NULL)
					continue;
				v = cl;
				cl_done = 1;
			}
		} else {
			if (m->body == NULL || cl_done)
				break;
			k = WIRE_CL;
			v = cl;
		}
		if (dump && lines > 0)
			PUT("\n", 1);
		PUT(k, strlen(k));
		PUT("=", 1);
		if (dump && strcasecmp(k, WIRE_SECRET) == 0) {
			PUT("<hidden>", 8);
		} else if (dump) {
			for (const char *c = v; *c != '\0'; c++) {
				unsigned char u = (unsigned char)*c;
				if (u < 0x20 || u == 0x7f) {
					char esc[5];
					snprintf(esc, sizeof(esc), "\\x%02x", u);
					PUT(esc, 4);
				} else
					PUT(c, 1);
			}
		} else
			PUT(v, strlen(v));
		if (!dump)
			PUT("\n", 1);
		lines++;
	}
	if (!dump)
		PUT("\n", 1);
#undef PUT
	return n;
}

int
wire_add(struct wire_msg *m, const char *key, const char *value, char *err, size_t errlen)
{
	if (key == NULL) {
		snprintf(err, errlen, "key is NULL");
		return -1;
	}
	size_t klen = strlen(key);
	if (wire_check_key(key, klen, err, errlen) == -1)
		return -1;
	if (value == NULL) {
		snprintf(err, errlen, "value of \"%s\" is NULL", key);
		return -1;
	}
	if (strcmp(key, WIRE_CL) == 0) {
		snprintf(err, errlen, "key \"%s\" is added by wire_build from the body", key);
		return -1;
	}
	size_t vlen = strlen(value);
	if (wire_check_pair(m, key, klen, value, vlen, err, errlen) == -1)
		return -1;
	if (wire_render(m, NULL, 0) + klen + vlen + 2 > WIRE_MAX_HEADER) {
		snprintf(err, errlen, "header exceeds %d bytes", WIRE_MAX_HEADER);
		return -1;
	}
	wire_push(m, key, klen, value, vlen);
	return 0;
}

int
wire_addf(struct wire_msg *m, char *err, size_t errlen, const char *key, const char *fmt, ...)
{
	va_list ap;
	char show[WIRE_SHOW_BUF];

	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (key != NULL)
		wire_show(show, sizeof(show), key, strlen(key));
	if (n < 0) {
		snprintf(err, errlen, "value of \"%s\" cannot be formatted",
		    key != NULL ? show : "(null)");
		return -1;
	}
	char *v = wire_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(v, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = -1;
	if (strlen(v) == (size_t)n)
		rc = wire_add(m, key, v, err, errlen);
	else if (key == NULL)
		snprintf(err, errlen, "key is NULL");
	else if (wire_check_key(key, strlen(key), err, errlen) == 0)
		snprintf(err, errlen, "value of \"%s\" contains NUL", key);
	wire_wipe_free(v, (size_t)n + 1);
	return rc;
}

int
wire_set_body(struct wire_msg *m, const void *body, size_t len)
{
	if (m == NULL || (body == NULL && len > 0) || len == SIZE_MAX)
		return -1;
	wire_body_free(m);
	if (body == NULL)
		return 0;
	m->body = wire_xmalloc(len + 1);
	memcpy(m->body, body, len);
	m->body[len] = '\0';
	m->body_len = len;
	return 0;
}

char *
wire_build(const struct wire_msg *m, size_t *len)
{
	size_t hlen = wire_render(m, NULL, 0);
	if (hlen > WIRE_MAX_HEADER || m->body_len > SIZE_MAX - hlen - 1)
		return NULL;
	char *buf = wire_xmalloc(hlen + m->body_len + 1);
	wire_render(m, buf, 0);
	if (m->body != NULL)
		memcpy(buf + hlen, m->body, m->body_len);
	buf[hlen + m->body_len] = '\0';
	*len = hlen + m->body_len;
	return buf;
}

void
wire_buf_free(char *buf, size_t len)
{
	wire_wipe_free(buf, len);
}

char *
wire_dump(const struct wire_msg *m)
{
	size_t n = wire_render(m, NULL, 1);
	char *s = wire_xmalloc(n + 1);
	wire_render(m, s, 1);
	s[n] = '\0';
	return s;
}

static void
wire_parser_reset(struct wire_parser *p)
{
	p->msg = wire_msg_new();
	p->state = WIRE_ST_HEADER;
	p->hdr_bytes = 0;
	p->lineno = 1;
	p->linelen = 0;
	p->has_cl = 0;
	p->body_want = 0;
	p->body_cap = 0;
}

struct wire_parser *
wire_parser_new(size_t max_body)
{
	struct wire_parser *p = wire_xmalloc(sizeof(*p));
	p->max_body = max_body < SIZE_MAX ? max_body : SIZE_MAX - 1;
	p->err[0] = '\0';
	wire_parser_reset(p);
	return p;
}

void
wire_parser_free(struct wire_parser *p)
{
	if (p == NULL)
		return;
	wire_msg_free(p->msg);
	OPENSSL_cleanse(p->line, p->linelen);
	free(p);
}

static int
wire_fail(struct wire_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
wire_fail(struct wire_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->state = WIRE_ST_FAILED;
	OPENSSL_cleanse(p->line, p->linelen);
	p->linelen = 0;
	wire_msg_free(p->msg);
	p->msg = NULL;
	return -1;
}

/* Digits only, saturating: an overflow is reported as over the limit. */
static int
wire_content_length(struct wire_parser *p, int line, const char *v, size_t vlen)
{
	char show[WIRE_SHOW_BUF];
	size_t n = 0;
	int over = 0;

	wire_show(show, sizeof(show), v, vlen);
	if (vlen == 0)
		return wire_fail(p, "line %d: Content-Length \"%s\" is not a number", line, show);
	for (size_t i = 0; i < vlen; i++) {
		if (!wire_is_digit(v[i]))
			return wire_fail(p, "line %d: Content-Length \"%s\" is not a number",
			    line, show);
		size_t d = (size_t)(v[i] - '0');
		if (n > (SIZE_MAX - d) / 10)
			over = 1;
		else
			n = n * 10 + d;
	}
	if (over || n > p->max_body)
		return wire_fail(p, "line %d: Content-Length %s exceeds limit %zu", line, show,
		    p->max_body);
	p->has_cl = 1;
	p->body_want = n;
	return 0;
}

static int
wire_header_end(struct wire_parser *p)
{
	struct wire_msg *m = p->msg;

	if (!p->has_cl) {
		p->state = WIRE_ST_DONE;
		return 0;
	}
	p->body_cap = p->body_want < WIRE_BODY_STEP ? p->body_want : WIRE_BODY_STEP;
	m->body = wire_xmalloc(p->body_cap + 1);
	m->body_len = 0;
	m->body[0] = '\0';
	p->state = p->body_want == 0 ? WIRE_ST_DONE : WIRE_ST_BODY;
	return 0;
}

static int
wire_header_line(struct wire_parser *p)
{
	char err[sizeof(p->err)];
	int line = p->lineno++;
	size_t n = p->linelen;
	int rc = 0;

	p->linelen = 0;
	if (n == 0) {
		if (p->msg->nkeys == 0)
			return wire_fail(p, "line %d: empty message", line);
		return wire_header_end(p);
	}
	const char *eq = memchr(p->line, '=', n);
	if (eq == NULL) {
		p->linelen = n;
		return wire_fail(p, "line %d: no '=' in line", line);
	}
	size_t klen = (size_t)(eq - p->line);
	const char *v = eq + 1;
	size_t vlen = n - klen - 1;
	if (wire_check_key(p->line, klen, err, sizeof(err)) == -1 ||
	    wire_check_pair(p->msg, p->line, klen, v, vlen, err, sizeof(err)) == -1) {
		p->linelen = n;
		return wire_fail(p, "line %d: %s", line, err);
	}
	if (klen == strlen(WIRE_CL) && memcmp(p->line, WIRE_CL, klen) == 0)
		rc = wire_content_length(p, line, v, vlen);
	if (rc == 0)
		wire_push(p->msg, p->line, klen, v, vlen);
	OPENSSL_cleanse(p->line, n);
	return rc;
}

static int
wire_header_byte(struct wire_parser *p, char c)
{
	if (++p->hdr_bytes > WIRE_MAX_HEADER)
		return wire_fail(p, "line %d: header exceeds %d bytes", p->lineno,
		    WIRE_MAX_HEADER);
	if (c == '\r')
		return wire_fail(p, "line %d: CR in line (lines end with LF only)", p->lineno);
	if (c != '\n') {
		p->line[p->linelen++] = c;
		return 0;
	}
	return wire_header_line(p);
}

/* Take what is there of the body, growing it as bytes arrive (never past Content-Length). */
static size_t
wire_body_bytes(struct wire_parser *p, const char *buf, size_t len)
{
	struct wire_msg *m = p->msg;
	size_t take = p->body_want - m->body_len;

	if (take > len)
		take = len;
	if (m->body_len + take > p->body_cap) {
		size_t cap = p->body_cap <= p->body_want / 2 ? p->body_cap * 2 : p->body_want;
		if (cap < m->body_len + take)
			cap = m->body_len + take;
		char *nb = wire_xmalloc(cap + 1);
		memcpy(nb, m->body, m->body_len);
		wire_wipe_free(m->body, p->body_cap + 1);
		m->body = nb;
		p->body_cap = cap;
	}
	memcpy(m->body + m->body_len, buf, take);
	m->body_len += take;
	m->body[m->body_len] = '\0';
	if (m->body_len == p->body_want)
		p->state = WIRE_ST_DONE;
	return take;
}

enum wire_status
wire_feed(struct wire_parser *p, const char *buf, size_t len, size_t *used)
{
	size_t i = 0;

	if (p->state == WIRE_ST_HEADER) {
		while (i < len && p->state == WIRE_ST_HEADER)
			if (wire_header_byte(p, buf[i++]) == -1)
				break;
	}
	if (p->state == WIRE_ST_BODY && i < len)
		i += wire_body_bytes(p, buf + i, len - i);
	if (used != NULL)
		*used = i;
	switch (p->state) {
	case WIRE_ST_DONE:
		return WIRE_DONE;
	case WIRE_ST_FAILED:
		return WIRE_ERROR;
	default:
		return WIRE_MORE;
	}
}

struct wire_msg *
wire_parser_take(struct wire_parser *p)
{
	if (p->state != WIRE_ST_DONE)
		return NULL;
	struct wire_msg *m = p->msg;
	wire_parser_reset(p);
	return m;
}

const char *
wire_parser_error(const struct wire_parser *p)
{
	return p->state == WIRE_ST_FAILED ? p->err : "";
}
