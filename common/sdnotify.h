/*
 * sdnotify: systemd's readiness protocol without libsystemd: one datagram of
 * "KEY=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a leading
 * '@' is the abstract namespace). Every call is a no-op outside systemd
 * (Type=notify); errors are ignored, as sd_notify(3)'s callers do.
 * Nothing here allocates.
 */
#ifndef PGFLEET_SDNOTIFY_H
#define PGFLEET_SDNOTIFY_H

/*
 * Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID once, in the main process,
 * and take them out of the environment, so that no child or script speaks for
 * the service. Call before anything forks.
 */
void sdnotify_init(void);
/* Send the state ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1", ...). */
void sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The interval systemd expects watchdog pings within (WatchdogSec=), in ms, when
 * it was set for this process; 0 otherwise. Ping at half of it.
 */
long long sdnotify_watchdog_ms(void);

#endif
