/*
 * listen: a TCP listening socket for a configured host:port (agents.listen,
 * enrol.listen), non-blocking and close-on-exec, bound before any fork so that
 * every child accepts on it. Nothing here allocates.
 */
#ifndef PGFLEET_LISTEN_H
#define PGFLEET_LISTEN_H

#include <stddef.h>

struct conf_listen;

/* The socket, with *port the port bound (port 0 takes a free one); -1 with err naming what. */
int listen_tcp(const struct conf_listen *l, const char *what, int backlog, int *port, char *err,
    size_t errlen);

#endif
