/*
 * version: the release of these binaries (the VERSION file, or VERSION= given to
 * make), for --version, the scheduler's heartbeat row and its metrics.
 * Nothing here allocates.
 */
#ifndef PGFLEET_VERSION_H
#define PGFLEET_VERSION_H

#include <stdio.h>

/* "0.9.0" */
const char *version_string(void);
/* The --version text of program prog: "prog (pgfleet) 0.9.0" and a licence line. */
void version_print(FILE *f, const char *prog);

#endif
