/*
 * diff: a line diff of two texts (a job's script in two versions), and its HTML in the
 * unified style with a few lines of context. A longest common subsequence of the lines
 * between the common head and tail; when that middle is too large to compare line by
 * line (DIFF_MAX_CELLS), it is shown as removed then added. Pure: diff_lines hands out
 * a struct diff the caller frees with diff_free (which takes NULL).
 */
#ifndef PGFLEET_WEB_DIFF_H
#define PGFLEET_WEB_DIFF_H

#include <stddef.h>

#include <event2/buffer.h>

enum { DIFF_MAX_CELLS = 4 * 1000 * 1000 }; /* middle lines of a times b, compared one by one */

enum diff_op { DIFF_SAME = ' ', DIFF_DEL = '-', DIFF_ADD = '+' };

struct diff_line {
	enum diff_op op;
	const char *s;  /* the line in a (SAME, DEL) or b (ADD), without its '\n' */
	size_t len;
	int a, b;       /* 1-based line numbers in a and b; 0 where the line is not there */
};

struct diff {
	struct diff_line *lines;
	int n;
	int added, removed;
	int whole;      /* the middle was too large: removed and added as blocks */
};

/* Compare a and b (NUL-terminated; NULL is empty). NULL when out of memory. */
struct diff *diff_lines(const char *a, const char *b) __attribute__((warn_unused_result));
void diff_free(struct diff *d);

/*
 * <table class="diff">: changed lines with context lines of context around them, a
 * row "…" for each run left out, numbers of both sides, every line escaped.
 * "no change" when there is none.
 */
void diff_html(struct evbuffer *out, const struct diff *d, int context);

#endif
