/*
 * html: escaping, script output cut to size, token highlighting, durations.
 */
#include "web/html.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"
#include "worker/render.h"

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

void
html_escn(struct evbuffer *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, plain = 0;

	while (i < len) {
		const char *rep = NULL;
		size_t n = utf8_seq_len(p + i, len - i);
		if (n == 0)
			rep = REPLACEMENT, n = 1;
		else if (n == 1) {
			switch (p[i]) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&#39;"; break;
			case '\t': case '\n': case '\r': break;
			default:
				if (p[i] < 0x20 || p[i] == 0x7F)
					rep = REPLACEMENT;
			}
		}
		if (rep == NULL) {
			i += n;
			continue;
		}
		if (i > plain)
			evbuffer_add(b, p + plain, i - plain);
		evbuffer_add(b, rep, strlen(rep));
		i += n;
		plain = i;
	}
	if (len > plain)
		evbuffer_add(b, p + plain, len - plain);
}

void
html_esc(struct evbuffer *b, const char *s)
{
	if (s != NULL)
		html_escn(b, s, strlen(s));
}

void
html_urlenc(const char *s, char *buf, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	if (size == 0)
		return;
	for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p; p++) {
		int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
		if (n + (keep ? 1 : 3) >= size)
			break;
		if (keep)
			buf[n++] = (char)*p;
		else {
			buf[n++] = '%';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	buf[n] = '\0';
}

void
html_put(struct evbuffer *b, const char *fmt, ...)
{
	va_list ap;
	const char *lit = fmt;

	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%' || f[1] == '\0')
			continue;
		evbuffer_add(b, lit, (size_t)(f - lit));
		f++;
		switch (*f) {
		case 's':
			html_esc(b, va_arg(ap, const char *));
			break;
		case 'u': {
			const char *v = va_arg(ap, const char *);
			char enc[3 * 1024 + 1];
			html_urlenc(v, enc, sizeof(enc));
			html_esc(b, enc);
			break;
		}
		case 'd':
			evbuffer_add_printf(b, "%d", va_arg(ap, int));
			break;
		case 'D':
			evbuffer_add_printf(b, "%lld", va_arg(ap, long long));
			break;
		case 'R': {
			const char *v = va_arg(ap, const char *);
			if (v != NULL)
				evbuffer_add(b, v, strlen(v));
			break;
		}
		default:
			evbuffer_add(b, f, 1); /* %% and anything unknown: the character itself */
		}
		lit = f + 1;
	}
	evbuffer_add(b, lit, strlen(lit));
	va_end(ap);
}

int
html_output(struct evbuffer *b, const char *s, size_t len, size_t max_bytes, int max_lines)
{
	size_t n = len < max_bytes ? len : max_bytes;
	int cut = n < len;
	/* never end inside a UTF-8 character */
	if (cut)
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	int lines = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n' && ++lines >= max_lines && i + 1 < len) {
			n = i + 1;
			cut = 1;
			break;
		}
	html_escn(b, s, n);
	return cut;
}

void
html_script(struct evbuffer *b, const char *s, size_t len)
{
	size_t i = 0, plain = 0;
	while (i < len) {
		const char *p = memchr(s + i, '%', len - i);
		if (p == NULL)
			break;
		size_t at = (size_t)(p - s), n = render_token_len(s + at, len - at);
		if (n == 0) {
			i = at + 1;
			continue;
		}
		html_escn(b, s + plain, at - plain);
		evbuffer_add(b, "<span class=\"tok\">", 18);
		html_escn(b, s + at, n);
		evbuffer_add(b, "</span>", 7);
		i = plain = at + n;
	}
	html_escn(b, s + plain, len - plain);
}

void
html_duration(long long ms, char *buf, size_t size)
{
	if (ms < 0)
		snprintf(buf, size, "-");
	else if (ms < 1000)
		snprintf(buf, size, "%lld ms", ms);
	else if (ms < 60000)
		snprintf(buf, size, "%lld.%lld s", ms / 1000, ms % 1000 / 100);
	else if (ms < 3600000LL)
		snprintf(buf, size, "%lld m %02lld s", ms / 60000, ms / 1000 % 60);
	else if (ms < 86400000LL)
		snprintf(buf, size, "%lld h %02lld m", ms / 3600000, ms / 60000 % 60);
	else
		snprintf(buf, size, "%lld d %02lld h", ms / 86400000, ms / 3600000 % 24);
}
