/*
 * clock: CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds (and the monotonic one in µs).
 */
#include "common/clock.h"

#include <time.h>

static long long
ms_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
clock_mono_ms(void)
{
	return ms_of(CLOCK_MONOTONIC);
}

long long
clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long
clock_wall_ms(void)
{
	return ms_of(CLOCK_REALTIME);
}

struct timeval
clock_tv(long long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}
