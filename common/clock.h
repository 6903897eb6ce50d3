/*
 * clock: the monotonic clock in milliseconds, and a duration in ms as the
 * struct timeval libevent takes. No allocation.
 */
#ifndef PGFLEET_CLOCK_H
#define PGFLEET_CLOCK_H

#include <sys/time.h>

/* CLOCK_MONOTONIC in ms: for deadlines and durations, never for dates. */
long long clock_mono_ms(void);
/* ms (>= 0) as a struct timeval. */
struct timeval clock_tv(long long ms);

#endif
