/*
 * facts: what the agent reports about its host (docs/enrolment.md, "Facts"),
 * gathered without extra dependencies from files under a root directory (/ on
 * a real host; a fake tree in the unit tests: /proc, /sys, /etc) and from the C
 * library (uname, getifaddrs), written as one JSON object whose sha256 the
 * Hello carries. A fact the host does not provide is absent, never invented.
 * facts_gather and facts_build return a malloc'd document the caller frees.
 */
#ifndef PGFLEET_FACTS_H
#define PGFLEET_FACTS_H

#include <stddef.h>

#define FACTS_MAX (256 * 1024)   /* a document is at most this long (the worker refuses more) */
#define FACTS_MAX_NICS 64
#define FACTS_MAX_ADDRS 256

/* One interface address, as getifaddrs gives it. */
struct facts_addr {
	char nic[64];
	int family;       /* AF_INET or AF_INET6 */
	char addr[64];    /* numeric */
	int prefix;       /* netmask length */
};

/* What does not come from files: uname(2) and getifaddrs(3); NULL/0 fields are absent. */
struct facts_input {
	const char *root;           /* "" or "/" for the real host */
	const char *nodename, *sysname, *release, *version, *machine;
	const struct facts_addr *addrs;
	size_t naddrs;
	const char *agent_version;
};

/* The document for in; NULL only out of memory. */
char *facts_build(const struct facts_input *in);
/* The real host's facts (uname, getifaddrs, files under / or $PGFLEET_FACTS_ROOT, for tests). */
char *facts_gather(const char *agent_version);
/* "sha256:<hex>" of doc into out (72 bytes). 0, or -1. */
int facts_hash(const char *doc, char out[72]);

#endif
