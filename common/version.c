/*
 * version: PGFLEET_VERSION comes from the Makefile (only this file is rebuilt
 * when it changes).
 */
#include "common/version.h"

#ifndef PGFLEET_VERSION
#define PGFLEET_VERSION "unknown"
#endif

const char *
version_string(void)
{
	return PGFLEET_VERSION;
}

void
version_print(FILE *f, const char *prog)
{
	fprintf(f, "%s (pgfleet) %s\n", prog, PGFLEET_VERSION);
}
