/*
 * sdnotify: the 20 lines of sd_notify(3) that pgfleet needs, so that the
 * daemons do not link libsystemd.
 */
#include "common/sdnotify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char notify_path[108];
static long long watchdog_ms;

void
sdnotify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET"), *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	notify_path[0] = '\0';
	watchdog_ms = 0;
	if (path != NULL && (path[0] == '/' || path[0] == '@') &&
	    strlen(path) < sizeof(notify_path))
		snprintf(notify_path, sizeof(notify_path), "%s", path);
	if (notify_path[0] != '\0' && usec != NULL && (pid == NULL || atol(pid) == (long)getpid()))
		watchdog_ms = atoll(usec) > 0 ? atoll(usec) / 1000 : 0;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

void
sdnotify(const char *fmt, ...)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char msg[1024];
	size_t n = strlen(notify_path);
	if (n == 0)
		return;
	memcpy(sa.sun_path, notify_path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len <= 0 || (size_t)len >= sizeof(msg))
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return;
	(void)sendto(fd, msg, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
}

long long
sdnotify_watchdog_ms(void)
{
	return watchdog_ms;
}
