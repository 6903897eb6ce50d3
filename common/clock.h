/*
 * clock: milliseconds from the monotonic clock (intervals, deadlines) and from
 * the wall clock (instants stored or compared with the database's). New code
 * takes its time here. Nothing allocates.
 */
#ifndef PGFLEET_CLOCK_H
#define PGFLEET_CLOCK_H

long long clock_mono_ms(void);
long long clock_wall_ms(void);

#endif
