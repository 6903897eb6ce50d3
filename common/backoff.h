/*
 * backoff: when and where the next connection attempt goes (an agent's to its
 * schedulers, docs/protocol.md "Reconnecting"; a worker's to the database):
 * full jitter over a window that doubles with each failed attempt up to a cap,
 * and a walk round a servers list. Pure: the random number is the caller's.
 */
#ifndef PGFLEET_BACKOFF_H
#define PGFLEET_BACKOFF_H

#include <stdint.h>

/* The window of attempt n (0, 1, ...): min(max_ms, base_ms * 2^n); at least 0. */
long long backoff_window(long long base_ms, long long max_ms, int n);
/* The delay before attempt n: uniform in [0, window] from a random 32-bit value r. */
long long backoff_delay(long long base_ms, long long max_ms, int n, uint32_t r);
/* The server of attempt n after a connection to server k: (k + n) mod count. */
int backoff_server(int k, int n, int count);

#endif
