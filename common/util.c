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
