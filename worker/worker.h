/*
 * worker: one forked worker process of the scheduler. It opens its own
 * database connection after the fork, runs a libevent loop carrying many agent
 * sessions at once, and reports each event's end to the parent over fd.
 * Nothing here is freed by the caller: worker_main never returns.
 */
#ifndef PGFLEET_WORKER_H
#define PGFLEET_WORKER_H

struct conf_scheduler;

/*
 * owner: the lease owner of the parent ("name:pid"), used in every lease check;
 * fd: the channel to the parent; listen_fd: the agent listener every worker
 * accepts on (the parent's, kept open by it).
 */
void worker_main(const struct conf_scheduler *conf, const char *owner, int slot, int fd,
    int listen_fd) __attribute__((noreturn));

#endif
