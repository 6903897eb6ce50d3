/*
 * json: quoting, and a recursive-descent checker with a depth limit.
 */
#include "common/json.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"

/* Length of the UTF-8 sequence at p (at most n bytes), 0 when it is not one. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t k;
	unsigned cp;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		k = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		k = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		k = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 4 && (cp < 0x10000 ||
	    cp > 0x10ffff)))
		return 0;
	return k;
}

void
json_quote(struct util_buf *b, const char *s)
{
	if (s == NULL) {
		util_buf_puts(b, "null");
		return;
	}
	util_buf_puts(b, "\"");
	size_t n = strlen(s);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			char e[3] = {'\\', (char)c, 0};
			util_buf_puts(b, e);
		} else if (c == '\n') {
			util_buf_puts(b, "\\n");
		} else if (c == '\r') {
			util_buf_puts(b, "\\r");
		} else if (c == '\t') {
			util_buf_puts(b, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			util_buf_fmt(b, "\\u%04x", c);
		} else {
			size_t k = utf8_len(p + i, n - i);
			if (k == 0) {
				util_buf_puts(b, "?");
				i++;
				continue;
			}
			util_buf_add(b, p + i, k);
			i += k;
			continue;
		}
		i++;
	}
	util_buf_puts(b, "\"");
}

struct jp {
	const unsigned char *s;
	size_t n, i;
	int max_depth;
	char *err;
	size_t errlen;
};

static int
jerr(struct jp *j, const char *what)
{
	snprintf(j->err, j->errlen, "%s at byte %zu", what, j->i);
	return -1;
}

static void
ws(struct jp *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
	    j->s[j->i] == '\r'))
		j->i++;
}

static int
hex4(struct jp *j, unsigned *v)
{
	*v = 0;
	for (int k = 0; k < 4; k++, j->i++) {
		if (j->i >= j->n)
			return -1;
		unsigned char c = j->s[j->i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ?
		    (unsigned)(c - 'a' + 10) : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (d == 16)
			return -1;
		*v = *v * 16 + d;
	}
	return 0;
}

static int
string(struct jp *j)
{
	j->i++; /* the opening quote */
	while (j->i < j->n) {
		unsigned char c = j->s[j->i];
		if (c == '"') {
			j->i++;
			return 0;
		}
		if (c < 0x20)
			return jerr(j, "control character in a string");
		if (c == '\\') {
			j->i++;
			if (j->i >= j->n)
				break;
			c = j->s[j->i];
			if (c == 'u') {
				unsigned v;
				j->i++;
				if (hex4(j, &v) == -1)
					return jerr(j, "bad \\u escape");
				if (v == 0)
					return jerr(j, "\\u0000 in a string");
				continue;
			}
			if (strchr("\"\\/bfnrt", c) == NULL)
				return jerr(j, "bad escape");
			j->i++;
			continue;
		}
		size_t k = utf8_len(j->s + j->i, j->n - j->i);
		if (k == 0)
			return jerr(j, "not UTF-8");
		j->i += k;
	}
	return jerr(j, "unterminated string");
}

static int
number(struct jp *j)
{
	size_t start = j->i;
	if (j->s[j->i] == '-')
		j->i++;
	if (j->i >= j->n)
		return jerr(j, "bad number");
	if (j->s[j->i] == '0') {
		j->i++;
	} else if (j->s[j->i] >= '1' && j->s[j->i] <= '9') {
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
	} else {
		return jerr(j, "bad number");
	}
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		size_t d = j->i;
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
		if (j->i == d)
			return jerr(j, "bad number");
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		size_t d = j->i;
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
		if (j->i == d)
			return jerr(j, "bad number");
	}
	return j->i > start ? 0 : -1;
}

static int value(struct jp *j, int depth);

static int
container(struct jp *j, int depth, char close)
{
	if (depth > j->max_depth)
		return jerr(j, "nested too deep");
	j->i++;
	ws(j);
	if (j->i < j->n && j->s[j->i] == (unsigned char)close) {
		j->i++;
		return 0;
	}
	for (;;) {
		ws(j);
		if (close == '}') {
			if (j->i >= j->n || j->s[j->i] != '"')
				return jerr(j, "expected a key");
			if (string(j) == -1)
				return -1;
			ws(j);
			if (j->i >= j->n || j->s[j->i] != ':')
				return jerr(j, "expected ':'");
			j->i++;
		}
		if (value(j, depth) == -1)
			return -1;
		ws(j);
		if (j->i < j->n && j->s[j->i] == ',') {
			j->i++;
			continue;
		}
		if (j->i < j->n && j->s[j->i] == (unsigned char)close) {
			j->i++;
			return 0;
		}
		return jerr(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int
literal(struct jp *j, const char *w)
{
	size_t k = strlen(w);
	if (j->n - j->i < k || memcmp(j->s + j->i, w, k) != 0)
		return jerr(j, "unexpected character");
	j->i += k;
	return 0;
}

static int
value(struct jp *j, int depth)
{
	ws(j);
	if (j->i >= j->n)
		return jerr(j, "unexpected end");
	switch (j->s[j->i]) {
	case '{': return container(j, depth + 1, '}');
	case '[': return container(j, depth + 1, ']');
	case '"': return string(j);
	case 't': return literal(j, "true");
	case 'f': return literal(j, "false");
	case 'n': return literal(j, "null");
	default:
		if (j->s[j->i] == '-' || (j->s[j->i] >= '0' && j->s[j->i] <= '9'))
			return number(j);
		return jerr(j, "unexpected character");
	}
}

int
json_check_object(const char *s, size_t len, int max_depth, char *err, size_t errlen)
{
	struct jp j = {(const unsigned char *)s, len, 0, max_depth, err, errlen};
	ws(&j);
	if (j.i >= j.n || j.s[j.i] != '{')
		return jerr(&j, "not a JSON object");
	if (value(&j, 0) == -1)
		return -1;
	ws(&j);
	if (j.i != j.n)
		return jerr(&j, "text after the object");
	return 0;
}
