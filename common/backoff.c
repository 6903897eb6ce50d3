/* backoff: the reconnection schedule, pure. */
#include "common/backoff.h"

long long
backoff_window(long long base_ms, long long max_ms, int n)
{
	if (base_ms < 0)
		base_ms = 0;
	if (max_ms < base_ms)
		max_ms = base_ms;
	long long w = base_ms;
	for (int i = 0; i < n && w < max_ms; i++)
		w = w > max_ms / 2 ? max_ms : w * 2;
	return w < max_ms ? w : max_ms;
}

long long
backoff_delay(long long base_ms, long long max_ms, int n, uint32_t r)
{
	long long w = backoff_window(base_ms, max_ms, n);
	if (w <= 0)
		return 0;
	/* r / 2^32 of the window, both ends reachable (windows up to 49 days; a wider one
	 * is taken modulo, near enough uniform) */
	if (w < 0xffffffffLL)
		return (long long)(((uint64_t)r * (uint64_t)(w + 1)) >> 32);
	return (long long)((uint64_t)r % (uint64_t)(w + 1));
}

int
backoff_server(int k, int n, int count)
{
	if (count <= 0)
		return 0;
	long long i = ((long long)k + (n < 0 ? 0 : n)) % count;
	return (int)(i < 0 ? i + count : i);
}
