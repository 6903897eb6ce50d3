/*
 * log: one line per message, written with a single write(2) so lines from
 * forked workers sharing the file never interleave. The line is built once
 * (prefix, process name, message, errno text) and then written to the file or
 * stderr and, when asked, handed to syslog(3) without our prefix.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static int log_level = LL_DETAIL;
static int log_fd = 2;
static char *log_path;
static const char *log_proc;
static enum log_format log_fmt = LOG_FORMAT_ISO;
static int log_journal;         /* log_fd is the journal's stream: "<N>" prefixes */
static const char *log_ident;   /* syslog on when set */

static const char *const level_names[] = {
	"ERROR", "ERROR", "WARNING", "NOTICE", "INFO", "DETAIL", "DEBUG", "TRACE"
};
/* 5 (DETAIL) is the default level, so it is "info" to the journal, not "debug" */
static const int level_prio[] = {
	LOG_ERR, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_INFO, LOG_DEBUG, LOG_DEBUG
};

static int
clamp(int level)
{
	return level < LL_ERROR ? LL_ERROR : level > LL_TRACE ? LL_TRACE : level;
}

const char *
log_level_name(enum log_level level)
{
	return level_names[clamp((int)level)];
}

int
log_level_priority(enum log_level level)
{
	return level_prio[clamp((int)level)];
}

static int
log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* systemd sets JOURNAL_STREAM=dev:ino of the stream it gave as stdout/stderr. */
static int
is_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(fd, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int
log_init(int level, const char *file)
{
	log_setlevel(level);
	if (file == NULL || file[0] == '\0') {
		log_close();
		log_journal = is_journal(2);
		return 0;
	}
	int fd = log_open_file(file);
	if (fd == -1)
		return -1;
	char *copy = strdup(file);
	if (copy == NULL) {
		close(fd);
		return -1;
	}
	log_close();
	log_fd = fd;
	log_path = copy;
	log_journal = 0;
	return 0;
}

int
log_start(int level, const char *file, enum log_format format, int use_syslog, const char *ident,
    int foreground, char *err, size_t errlen)
{
	if (!foreground && file == NULL && !use_syslog) {
		snprintf(err, errlen, "without -d a daemon's stderr goes nowhere: set log.file "
				      "or log.syslog: true, or run it in the foreground with -d");
		return -1;
	}
	if (log_init(level, foreground ? NULL : file) == -1) {
		snprintf(err, errlen, "log %s: %s", file, strerror(errno));
		return -1;
	}
	log_apply(level, format, use_syslog, ident);
	return 0;
}

void
log_apply(int level, enum log_format format, int use_syslog, const char *ident)
{
	log_setlevel(level);
	log_setformat(format);
	if (use_syslog && log_ident == NULL)
		log_syslog(ident);
	else if (!use_syslog && log_ident != NULL)
		log_syslog(NULL);
}

int
log_reopen(void)
{
	if (log_path == NULL)
		return 0;
	int fd = log_open_file(log_path);
	if (fd == -1)
		return -1;
	dup2(fd, log_fd);
	close(fd);
	return 0;
}

void
log_close(void)
{
	if (log_fd > 2)
		close(log_fd);
	log_fd = 2;
	free(log_path);
	log_path = NULL;
}

int
log_fileno(void)
{
	return log_fd;
}

int
log_check_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "log file %s is not a regular file", path);
			return -1;
		}
		if (access(path, W_OK) == -1) {
			snprintf(err, errlen, "log file %s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "log file %s: %s", path, strerror(errno));
		return -1;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	const char *d = dirname(dir);
	if (stat(d, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "log file %s: directory %s does not exist (create it, writable "
				      "by the user the daemon runs as)", path, d);
		return -1;
	}
	if (access(d, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "log file %s: cannot create it in %s: %s", path, d,
		    strerror(errno));
		return -1;
	}
	return 0;
}

void
log_setlevel(int level)
{
	log_level = clamp(level);
}

int
log_getlevel(void)
{
	return log_level;
}

void
log_setformat(enum log_format format)
{
	log_fmt = format;
}

int
log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "iso") == 0)
		*out = LOG_FORMAT_ISO;
	else if (strcmp(s, "axengine") == 0)
		*out = LOG_FORMAT_AXENGINE;
	else
		return -1;
	return 0;
}

void
log_syslog(const char *ident)
{
	if (log_ident != NULL && ident == NULL)
		closelog();
	log_ident = ident;
	if (ident != NULL)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_procinit(const char *name)
{
	log_proc = name;
}

int
log_enabled(enum log_level level)
{
	return (int)level <= log_level;
}

int
log_prefix(char *buf, unsigned long size, long long ms, long pid)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&secs, &tm);
	return snprintf(buf, size, "[%02d/%02d/%02d %02d:%02d:%02d.%03lld] %lx-",
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_year % 100, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ms % 1000, pid);
}

int
log_iso_time(char *buf, unsigned long size, long long ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	return snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

/* Append to line at *n, never past size - 2 (room for the newline). */
static void
add(char *line, size_t size, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
add(char *line, size_t size, size_t *n, const char *fmt, ...)
{
	if (*n >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + *n, size - *n, fmt, ap);
	va_end(ap);
	if (m > 0)
		*n += (size_t)m;
	if (*n > size - 1)
		*n = size - 1;
}

/* This process's id for the line's prefix, asked of the kernel once per process: a worker
 * logs a few lines per task, each a getpid() system call before. A fork's child asks
 * again (pthread_atfork; the agent's script processes, made with clone, never log). */
static pid_t line_pid;

static void
line_pid_forget(void)
{
	line_pid = 0;
}

static long
line_getpid(void)
{
	static int cacheable; /* 0: not known yet, 1: the child forgets it, -1: never cached */
	if (cacheable == 0)
		cacheable = pthread_atfork(NULL, NULL, line_pid_forget) == 0 ? 1 : -1;
	if (cacheable < 0)
		return (long)getpid();
	if (line_pid == 0)
		line_pid = getpid();
	return (long)line_pid;
}

static size_t
line_prefix(char *line, size_t size, int level)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	long long ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	size_t n = 0;
	if (log_journal)
		add(line, size, &n, "<%d>", log_level_priority((enum log_level)level));
	if (log_fmt == LOG_FORMAT_AXENGINE) {
		char p[64];
		log_prefix(p, sizeof(p), ms, line_getpid());
		add(line, size, &n, "%s", p);
	} else {
		char t[40] = "";
		if (!log_journal)
			log_iso_time(t, sizeof(t), ms);
		add(line, size, &n, "%s%s%s [%ld] ", t, t[0] != '\0' ? " " : "",
		    log_level_name((enum log_level)level), line_getpid());
	}
	return n;
}

static void
write_all(int fd, const char *buf, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, buf + off, n - off);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
}

static void
log_write(int level, const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	int saved = errno;
	char line[LOG_LINE_MAX];
	size_t head = line_prefix(line, sizeof(line), level);
	size_t n = head;
	if (log_proc != NULL)
		add(line, sizeof(line), &n, "%s: ", log_proc);
	if (prefix != NULL)
		add(line, sizeof(line), &n, "%s", prefix);
	if (n < sizeof(line) - 1) {
		int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (m > 0)
			n += (size_t)m;
		if (n > sizeof(line) - 1)
			n = sizeof(line) - 1;
	}
	if (suffix != NULL)
		add(line, sizeof(line), &n, ": %s", suffix);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n] = '\0';
	if (log_ident != NULL)
		syslog(log_level_priority((enum log_level)level), "%s", line + head);
	line[n++] = '\n';
	write_all(log_fd, line, n);
	errno = saved;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	log_write((int)level, NULL, NULL, fmt, ap);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write((int)level, NULL, NULL, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, level)                                \
	void name(const char *fmt, ...)                    \
	{                                                  \
		va_list ap;                                \
		va_start(ap, fmt);                         \
		log_write(level, NULL, NULL, fmt, ap);     \
		va_end(ap);                                \
	}

LOG_FN(log_error, LL_ERROR)
LOG_FN(log_warnx, LL_WARNING)
LOG_FN(log_notice, LL_NOTICE)
LOG_FN(log_info, LL_INFO)
LOG_FN(log_detail, LL_DETAIL)
LOG_FN(log_debug, LL_DEBUG)
LOG_FN(log_trace, LL_TRACE)

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_write(LL_WARNING, NULL, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

/* "event E task S: " before the message, E and S as the caller has them. */
static void task_line(enum log_level level, const char *event_s, const char *seq_s, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

static void
task_line(enum log_level level, const char *event_s, const char *seq_s, const char *fmt, va_list ap)
{
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "event %s task %s: ", event_s, seq_s);
	log_write((int)level, prefix, NULL, fmt, ap);
}

void
log_task(enum log_level level, long long event_id, int task_seq, const char *fmt, ...)
{
	if ((int)level > log_level)
		return;
	char ev[24], seq[16];
	snprintf(ev, sizeof(ev), "%lld", event_id);
	snprintf(seq, sizeof(seq), "%d", task_seq);
	va_list ap;
	va_start(ap, fmt);
	task_line(level, ev, seq, fmt, ap);
	va_end(ap);
}

void
log_task_s(enum log_level level, const char *event_s, const char *seq_s, const char *fmt, ...)
{
	if ((int)level > log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	task_line(level, event_s, seq_s, fmt, ap);
	va_end(ap);
}

/* "event E: " before the message, E as the caller has it. */
static void event_line(enum log_level level, const char *event_s, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
event_line(enum log_level level, const char *event_s, const char *fmt, va_list ap)
{
	char prefix[40];
	snprintf(prefix, sizeof(prefix), "event %.24s: ", event_s);
	log_write((int)level, prefix, NULL, fmt, ap);
}

void
log_event(enum log_level level, long long event_id, const char *fmt, ...)
{
	if ((int)level > log_level)
		return;
	char ev[24];
	snprintf(ev, sizeof(ev), "%lld", event_id);
	va_list ap;
	va_start(ap, fmt);
	event_line(level, ev, fmt, ap);
	va_end(ap);
}

void
log_event_s(enum log_level level, const char *event_s, const char *fmt, ...)
{
	if ((int)level > log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	event_line(level, event_s, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_write(LL_ERROR, NULL, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LL_ERROR, NULL, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
