/*
 * util: the monotonic clock, hex, sha256-to-hex, the control-character check and
 * a growable string buffer, written once for every process (common/util.h).
 */
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/log.h"

void
util_hex(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
util_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
util_unhex(const char *in, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = util_hexval(in[2 * i]), lo = hi < 0 ? -1 : util_hexval(in[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
util_base64(const void *in, size_t n)
{
	const unsigned char *p = in;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	if (out == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* A base64 digit's value, -2 for '=', -3 for a blank or line break (skipped), else -1. */
static int
b64val(char c)
{
	const char *p = c != '\0' ? strchr(b64, c) : NULL;
	if (p != NULL)
		return (int)(p - b64);
	if (c == '=')
		return -2;
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ? -3 : -1;
}

int
util_unbase64(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *buf = malloc(len / 4 * 3 + 4);
	size_t n = 0, digits = 0, pad = 0;
	unsigned acc = 0;
	if (buf == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < len; i++) {
		int v = b64val(in[i]);
		if (v == -3)
			continue;
		/* nothing but '=' after the first '=', and no digit in a group past it */
		if (v == -1 || (pad > 0 && v != -2))
			goto bad;
		pad += v == -2;
		acc = acc << 6 | (unsigned)(v < 0 ? 0 : v);
		if (++digits % 4 == 0) {
			buf[n++] = (unsigned char)(acc >> 16);
			buf[n++] = (unsigned char)(acc >> 8);
			buf[n++] = (unsigned char)acc;
			acc = 0;
		}
	}
	if (digits % 4 != 0 || pad > 2)
		goto bad;
	n -= pad;
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
bad:
	free(buf);
	*out = NULL;
	return -1;
}

int
util_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	util_hex(md, 32, out);
	return 0;
}

const char *
util_next_item(const char **s, char sep, size_t *len)
{
	const char *p = *s;
	if (p == NULL)
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *end = strchr(p, sep);
	size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*len = n;
	*s = end != NULL ? end + 1 : NULL;
	return p;
}

int
util_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
util_buf_add(struct util_buf *b, const void *s, size_t n)
{
	if (b->max != 0 && (n > b->max || b->len > b->max - n))
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			fatal("util: realloc %zu bytes", cap);
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
util_buf_puts(struct util_buf *b, const char *s)
{
	return util_buf_add(b, s, strlen(s));
}

int
util_buf_fmt(struct util_buf *b, const char *fmt, ...)
{
	char tmp[256], *big = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("util: bad format %s", fmt);
	if ((size_t)n < sizeof(tmp))
		return util_buf_add(b, tmp, (size_t)n);
	va_start(ap, fmt);
	if (vasprintf(&big, fmt, ap) == -1)
		fatal("util: vasprintf");
	va_end(ap);
	int rc = util_buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

char *
util_buf_take(struct util_buf *b)
{
	char *p = b->p;
	if (p == NULL && (p = strdup("")) == NULL)
		fatal("util: strdup");
	memset(b, 0, sizeof(*b));
	return p;
}

void
util_buf_free(struct util_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
