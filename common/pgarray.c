/* pgarray: array literals for batched statements. */
#include "common/pgarray.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
add(struct pgarray *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sep(struct pgarray *b)
{
	add(b, b->len == 0 ? "{" : ",", 1);
}

void
pgarray_int(struct pgarray *b, long long v)
{
	char num[24];
	sep(b);
	add(b, num, (size_t)snprintf(num, sizeof(num), "%lld", v));
}

void
pgarray_text(struct pgarray *b, const char *s)
{
	sep(b);
	if (s == NULL) {
		add(b, "NULL", 4);
		return;
	}
	add(b, "\"", 1);
	for (const char *p = s; *p != '\0';) {
		size_t run = strcspn(p, "\"\\");
		add(b, p, run);
		p += run;
		if (*p != '\0') {
			char esc[2] = {'\\', *p};
			add(b, esc, 2);
			p++;
		}
	}
	add(b, "\"", 1);
}

void
pgarray_bool(struct pgarray *b, int v)
{
	sep(b);
	add(b, v ? "t" : "f", 1);
}

const char *
pgarray_end(struct pgarray *b)
{
	if (b->len == 0)
		add(b, "{", 1);
	add(b, "}", 1);
	return b->oom ? NULL : b->p;
}
