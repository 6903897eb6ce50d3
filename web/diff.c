/*
 * diff: common head and tail first, then the classic LCS table over the middle (one
 * byte of direction per cell, so DIFF_MAX_CELLS bounds its memory).
 */
#include "web/diff.h"

#include <stdlib.h>
#include <string.h>

#include "web/html.h"

struct text {
	const char **s;
	size_t *len;
	int n;
};

static int
split(const char *t, struct text *out)
{
	int n = 0, cap = 0;
	out->s = NULL;
	out->len = NULL;
	out->n = 0;
	if (t == NULL || *t == '\0')
		return 0;
	for (const char *p = t; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			const char **s = realloc(out->s, (size_t)cap * sizeof(*s));
			if (s == NULL)
				return -1;
			out->s = s;
			size_t *l = realloc(out->len, (size_t)cap * sizeof(*l));
			if (l == NULL)
				return -1;
			out->len = l;
		}
		out->s[n] = p;
		out->len[n] = len;
		out->n = ++n;
		p = nl != NULL ? nl + 1 : p + len;
	}
	return 0;
}

static int
same(const struct text *a, int i, const struct text *b, int j)
{
	return a->len[i] == b->len[j] && memcmp(a->s[i], b->s[j], a->len[i]) == 0;
}

static void
add(struct diff *d, enum diff_op op, const struct text *t, int i, int la, int lb)
{
	struct diff_line *l = &d->lines[d->n++];
	l->op = op;
	l->s = t->s[i];
	l->len = t->len[i];
	l->a = la;
	l->b = lb;
	if (op == DIFF_ADD)
		d->added++;
	else if (op == DIFF_DEL)
		d->removed++;
}

/* The middle a[h..ea) against b[h..eb) by LCS; 0, or -1 out of memory. */
static int
middle(struct diff *d, const struct text *a, const struct text *b, int h, int ea, int eb)
{
	int n = ea - h, m = eb - h;
	if ((long long)n * m > DIFF_MAX_CELLS) {
		d->whole = 1;
		for (int i = h; i < ea; i++)
			add(d, DIFF_DEL, a, i, i + 1, 0);
		for (int j = h; j < eb; j++)
			add(d, DIFF_ADD, b, j, 0, j + 1);
		return 0;
	}
	/* len[i][j]: LCS of a's middle from i and b's from j; two rows of counts suffice
	 * when the directions are kept: dir 1 take both, 2 skip a, 3 skip b */
	unsigned char *dir = malloc((size_t)(n + 1) * (size_t)(m + 1) + 1);
	int *next = calloc((size_t)m + 1, sizeof(int)), *cur = calloc((size_t)m + 1, sizeof(int));
	if (dir == NULL || next == NULL || cur == NULL) {
		free(dir);
		free(next);
		free(cur);
		return -1;
	}
	for (int i = n - 1; i >= 0; i--) {
		cur[m] = 0;
		for (int j = m - 1; j >= 0; j--) {
			unsigned char *dd = &dir[(size_t)i * (size_t)(m + 1) + (size_t)j];
			if (same(a, h + i, b, h + j)) {
				cur[j] = next[j + 1] + 1;
				*dd = 1;
			} else if (next[j] >= cur[j + 1]) {
				cur[j] = next[j];
				*dd = 2;
			} else {
				cur[j] = cur[j + 1];
				*dd = 3;
			}
		}
		int *t = next;
		next = cur;
		cur = t;
	}
	int i = 0, j = 0;
	while (i < n || j < m) {
		if (i == n) {
			add(d, DIFF_ADD, b, h + j, 0, h + j + 1);
			j++;
		} else if (j == m) {
			add(d, DIFF_DEL, a, h + i, h + i + 1, 0);
			i++;
		} else {
			unsigned char dd = dir[(size_t)i * (size_t)(m + 1) + (size_t)j];
			if (dd == 1) {
				add(d, DIFF_SAME, a, h + i, h + i + 1, h + j + 1);
				i++, j++;
			} else if (dd == 2) {
				add(d, DIFF_DEL, a, h + i, h + i + 1, 0);
				i++;
			} else {
				add(d, DIFF_ADD, b, h + j, 0, h + j + 1);
				j++;
			}
		}
	}
	free(dir);
	free(next);
	free(cur);
	return 0;
}

struct diff *
diff_lines(const char *ta, const char *tb)
{
	struct text a = {0}, b = {0};
	struct diff *d = calloc(1, sizeof(*d));
	int ok = d != NULL;
	if (!ok || split(ta, &a) == -1 || split(tb, &b) == -1)
		ok = 0;
	if (ok)
		d->lines = calloc((size_t)(a.n + b.n) + 1, sizeof(*d->lines));
	if (ok && d->lines != NULL) {
		int h = 0, ea = a.n, eb = b.n;
		while (h < a.n && h < b.n && same(&a, h, &b, h))
			h++;
		while (ea > h && eb > h && same(&a, ea - 1, &b, eb - 1))
			ea--, eb--;
		for (int i = 0; i < h; i++)
			add(d, DIFF_SAME, &a, i, i + 1, i + 1);
		if (middle(d, &a, &b, h, ea, eb) == -1)
			ok = 0;
		for (int i = ea; ok && i < a.n; i++)
			add(d, DIFF_SAME, &a, i, i + 1, eb + (i - ea) + 1);
	} else
		ok = 0;
	free(a.s);
	free(a.len);
	free(b.s);
	free(b.len);
	if (!ok) {
		diff_free(d);
		return NULL;
	}
	return d;
}

void
diff_free(struct diff *d)
{
	if (d == NULL)
		return;
	free(d->lines);
	free(d);
}

static void
row(struct evbuffer *out, const struct diff_line *l)
{
	static const char *const cls[] = {[DIFF_SAME] = "same", [DIFF_DEL] = "del", [DIFF_ADD] = "add"};
	evbuffer_add_printf(out, "<tr class=\"%s\"><td class=\"ln\">", cls[l->op]);
	if (l->a > 0)
		evbuffer_add_printf(out, "%d", l->a);
	evbuffer_add_printf(out, "</td><td class=\"ln\">");
	if (l->b > 0)
		evbuffer_add_printf(out, "%d", l->b);
	evbuffer_add_printf(out, "</td><td class=\"op\">%c</td><td class=\"code\">", (char)l->op);
	html_escn(out, l->s, l->len);
	evbuffer_add_printf(out, "</td></tr>\n");
}

void
diff_html(struct evbuffer *out, const struct diff *d, int context)
{
	if (d->added + d->removed == 0) {
		evbuffer_add_printf(out, "<p class=\"nochange\">no change</p>\n");
		return;
	}
	evbuffer_add_printf(out, "<table class=\"diff\">\n");
	int shown_to = 0; /* lines before this index are written or skipped */
	for (int i = 0; i < d->n; i++) {
		if (d->lines[i].op == DIFF_SAME)
			continue;
		int from = i - context < shown_to ? shown_to : i - context;
		if (from > shown_to)
			evbuffer_add_printf(out, "<tr class=\"skip\"><td colspan=\"4\">\xE2\x80\xA6</td></tr>\n");
		/* the change and everything up to context lines after its last changed line */
		int end = i;
		for (int k = i; k < d->n && k <= end + 2 * context; k++)
			if (d->lines[k].op != DIFF_SAME)
				end = k;
		int to = end + context + 1 > d->n ? d->n : end + context + 1;
		for (int k = from; k < to; k++)
			row(out, &d->lines[k]);
		shown_to = to;
		i = to - 1;
	}
	if (shown_to < d->n)
		evbuffer_add_printf(out, "<tr class=\"skip\"><td colspan=\"4\">\xE2\x80\xA6</td></tr>\n");
	evbuffer_add_printf(out, "</table>\n");
}
