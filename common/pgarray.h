/*
 * pgarray: PostgreSQL array literals ("{1,2,3}", "{\"a\",NULL}") built in a
 * growable buffer, to pass a batch as one text parameter of a constant
 * statement. Start from a zeroed struct pgarray; free(a.p) when done.
 */
#ifndef PGFLEET_PGARRAY_H
#define PGFLEET_PGARRAY_H

#include <stddef.h>

struct pgarray {
	char *p;
	size_t len, cap;
	int oom;  /* an allocation failed: pgarray_end returns NULL */
};

void pgarray_int(struct pgarray *a, long long v);
/* A quoted element (backslash before " and \); NULL stays NULL. */
void pgarray_text(struct pgarray *a, const char *s);
void pgarray_bool(struct pgarray *a, int v);
/* The literal ("{}" when empty), or NULL when out of memory. */
const char *pgarray_end(struct pgarray *a);

#endif
