/*
 * webtest: what the unit tests of web/ share: an evbuffer per test and its text.
 * Included by each check_*.c of web/ (static: each gets its own copy).
 */
#ifndef PGFLEET_TESTS_WEBTEST_H
#define PGFLEET_TESTS_WEBTEST_H

#include <stdlib.h>

#include <event2/buffer.h>

static struct evbuffer *b;
static char *got;

static void
setup(void)
{
	b = evbuffer_new();
	got = NULL;
}

static void
teardown(void)
{
	evbuffer_free(b);
	free(got);
}

/* What b holds, drained, as a string (freed by the next call or teardown). */
static const char *
text(void)
{
	size_t n = evbuffer_get_length(b);
	free(got);
	got = malloc(n + 1);
	evbuffer_remove(b, got, n);
	got[n] = '\0';
	return got;
}

#endif
