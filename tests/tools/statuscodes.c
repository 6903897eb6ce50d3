/*
 * Print common/status.c's table as "code|name|meaning" lines sorted by code, the
 * shape of psql -At over pgfleet.status_code, so a test can compare the two.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/status.h"

static int
by_code(const void *a, const void *b)
{
	int x = ((const struct status_info *)a)->code, y = ((const struct status_info *)b)->code;
	return (x > y) - (x < y);
}

int
main(void)
{
	int n;
	const struct status_info *t = status_table(&n);
	struct status_info *s = malloc(sizeof(*s) * (size_t)n);
	if (s == NULL)
		return 1;
	for (int i = 0; i < n; i++)
		s[i] = t[i];
	qsort(s, (size_t)n, sizeof(*s), by_code);
	for (int i = 0; i < n; i++)
		printf("%d|%s|%s\n", s[i].code, s[i].name, s[i].meaning);
	free(s);
	return 0;
}
