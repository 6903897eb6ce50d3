/*
 * enrol: the scheduler's enrolment service (docs/enrolment.md), a child process
 * of its own so that the CA key is read only after the fork, by it alone (the
 * workers, which face the agents' connections, never hold it). The parent binds
 * enrol.listen before anything forks (common/listen.c), starts the child
 * (enrol_spawn) and starts it again when it dies. The child accepts TLS
 * connections (the scheduler's certificate; a client certificate optional, for
 * renewals), reads one Request=Enroll, decides in the database
 * (pgfleet.enrol_request), signs, answers, closes. Nothing here allocates for
 * the caller.
 */
#ifndef PGFLEET_ENROL_H
#define PGFLEET_ENROL_H

#include <stddef.h>
#include <sys/types.h>

struct conf_scheduler;

#define ENROL_PRETLS_MAX 64         /* connections without TLS at once */
#define ENROL_PRETLS_PER_SOURCE 16  /* ... from one address */
#define ENROL_HANDSHAKE_MS 2000     /* accept to TLS handshake done */

/*
 * Fork the service on listen_fd; the child keeps only listen_fd and the log and
 * never returns. The child's pid, or -1 (logged).
 */
pid_t enrol_spawn(const struct conf_scheduler *c, int listen_fd);

#endif
