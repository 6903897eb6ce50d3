/*
 * clock: milliseconds from the monotonic clock (intervals, deadlines) and from
 * the wall clock (instants stored or compared with the database's), and a
 * duration in ms as the struct timeval libevent takes. New code takes its
 * time here. Nothing allocates.
 */
#ifndef PGFLEET_CLOCK_H
#define PGFLEET_CLOCK_H

#include <sys/time.h>

/* CLOCK_MONOTONIC in ms: for deadlines and durations, never for dates. */
long long clock_mono_ms(void);
/* CLOCK_MONOTONIC in µs: for durations shown with a fraction of a ms. */
long long clock_mono_us(void);
/* CLOCK_REALTIME in ms. */
long long clock_wall_ms(void);
/* ms (>= 0) as a struct timeval. */
struct timeval clock_tv(long long ms);

#endif
