/*
 * log: the seed's line format "[MM/DD/YY HH:MM:SS.mmm] <pid>-<message>",
 * levels 1 (errors) to 7 (trace), to stderr or a file reopened on SIGHUP.
 * No function here allocates anything the caller frees.
 */
#ifndef PGFLEET_LOG_H
#define PGFLEET_LOG_H

#include <stdarg.h>

enum {
	LOG_ERROR = 1,   /* something failed */
	LOG_WARNING = 2, /* something is wrong but we carry on */
	LOG_NOTICE = 3,  /* start, stop, reload */
	LOG_INFO = 4,    /* one line per event or task */
	LOG_DETAIL = 5,  /* the default: per-task steps, missing tokens */
	LOG_DEBUG = 6,   /* function entry/exit as the seed shows */
	LOG_TRACE = 7    /* every wire message sent and received */
};

/* Open the log: file NULL means stderr. Returns 0, or -1 with errno set. */
int log_init(int level, const char *file);
/* Reopen the log file (after rotation; call from the loop on SIGHUP). */
int log_reopen(void);
void log_setlevel(int level);
int log_getlevel(void);
/* Name of this process in messages ("worker 2"); kept by pointer. */
void log_procinit(const char *name);
void log_close(void);
/* The descriptor lines go to (2 for stderr): a forked child keeps it open. */
int log_fileno(void);

/* True when a message at this level would be written (skip costly formatting). */
int log_enabled(int level);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* log_warn appends ": strerror(errno)"; log_warnx does not. Both keep errno. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Errors that end the process: fatal adds strerror(errno). Exit code 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Format the line prefix for time t (ms since epoch) and pid into buf. */
int log_prefix(char *buf, unsigned long size, long long ms, long pid);

#endif
