/*
 * log: one line per message, levels 1 (errors) to 7 (trace). Lines go to
 * stderr or a file (reopened on SIGHUP), and to syslog on request.
 * Formats: "iso" (default) "2026-05-01T12:00:00.123Z NOTICE [pid] message",
 * UTC with milliseconds; "axengine", the seed's "[MM/DD/YY HH:MM:SS.mmm] pid-message"
 * in local time. When stderr is the systemd journal (JOURNAL_STREAM), each line
 * starts with its "<N>" syslog priority (and drops the time journald records).
 * The level names are LL_*, apart from <syslog.h>'s LOG_*, so both can be included.
 * No function here allocates anything the caller frees.
 */
#ifndef PGFLEET_LOG_H
#define PGFLEET_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LL_ERROR = 1,   /* something failed */
	LL_WARNING = 2, /* something is wrong but we carry on */
	LL_NOTICE = 3,  /* start, stop, reload */
	LL_INFO = 4,    /* one line per event or task */
	LL_DETAIL = 5,  /* the default: per-task steps, missing tokens */
	LL_DEBUG = 6,   /* function entry/exit as the seed shows */
	LL_TRACE = 7    /* every wire message sent and received */
};

enum log_format {
	LOG_FORMAT_ISO = 0,     /* ISO-8601 UTC time, level name, pid */
	LOG_FORMAT_AXENGINE = 1 /* the seed's axengine.log line */
};

/* Open the log: file NULL means stderr. Returns 0, or -1 with errno set. */
int log_init(int level, const char *file);
/*
 * A daemon's log from its configuration. foreground: lines go to stderr (the journal
 * under systemd), file is not used; otherwise to file. Without -d, a daemon with neither
 * a file nor syslog is refused: its stderr goes nowhere. ident names it in syslog
 * (kept by pointer). 0, or -1 with the reason in err.
 */
int log_start(int level, const char *file, enum log_format format, int use_syslog,
    const char *ident, int foreground, char *err, size_t errlen) __attribute__((warn_unused_result));
/* SIGHUP: level, format and syslog of a reloaded configuration (log_reopen reopens the file). */
void log_apply(int level, enum log_format format, int use_syslog, const char *ident);
/* Reopen the log file (after rotation; call from the loop on SIGHUP). */
int log_reopen(void) __attribute__((warn_unused_result));
void log_setlevel(int level);
int log_getlevel(void);
void log_setformat(enum log_format format);
/* "iso" or "axengine" into *out; 0, or -1 when s is neither. */
int log_format_parse(const char *s, enum log_format *out);
/*
 * Also send every line to syslog (facility daemon, ident as given, pid in each
 * line), or stop when ident is NULL. ident is kept by pointer.
 */
void log_syslog(const char *ident);
/* Name of this process in messages ("worker 2"); kept by pointer. */
void log_procinit(const char *name);
void log_close(void);
/* The descriptor lines go to (2 for stderr): a forked child keeps it open. */
int log_fileno(void);
/*
 * Whether a daemon could append to path (the file, or its directory when the file
 * does not exist yet): 0, or -1 with the reason in err. Nothing is created.
 */
int log_check_file(const char *path, char *err, size_t errlen) __attribute__((warn_unused_result));

/* True when a message at this level would be written (skip costly formatting). */
int log_enabled(enum log_level level);
/* A level's name: "ERROR" ... "TRACE". */
const char *log_level_name(enum log_level level);
/* A level's syslog priority (LOG_ERR ... LOG_DEBUG of <syslog.h>). */
int log_level_priority(enum log_level level);

/* For a level known only at run time; otherwise use the helper of the level. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* log_error: a failure the process survives (fatal/fatalx when it does not). */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. Both keep errno. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Errors that end the process: fatal adds strerror(errno). Exit code 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * One task's lines all start the same way: "event E task S: " then the message.
 * log_task(LL_INFO, 501, 0, "started as %s", user) -> "event 501 task 0: started as root".
 * log_event is the same for a line about a whole event ("event E: ").
 */
void log_task(enum log_level level, long long event_id, int task_seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_event(enum log_level level, long long event_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* log_event with the id as text, as a database row gives it. */
void log_event_s(enum log_level level, const char *event_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * log_task with the ids as text, as the agent has them from the wire:
 * log_task_s(LL_INFO, "501", "0", "started as %s", user). Where log_warn was meant,
 * give ": %s", strerror(errno) at the end: no variant appends it.
 */
void log_task_s(enum log_level level, const char *event_s, const char *seq_s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same prefix for error buffers: snprintf(err, n, LOG_TASK_FMT "...", LOG_TASK_ARGS(e, s), ...) */
#define LOG_TASK_FMT "event %lld task %d: "
#define LOG_TASK_ARGS(event_id, task_seq) (long long)(event_id), (int)(task_seq)

/* Format the axengine line prefix for time t (ms since epoch) and pid into buf. */
int log_prefix(char *buf, unsigned long size, long long ms, long pid);
/* Format the ISO-8601 UTC time of ms since epoch: "2026-05-01T12:00:00.123Z". */
int log_iso_time(char *buf, unsigned long size, long long ms);

#endif
