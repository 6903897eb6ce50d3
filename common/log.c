/*
 * log: one line per message, written with a single write(2) so lines from
 * forked workers sharing the file never interleave.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static int log_level = LOG_DETAIL;
static int log_fd = 2;
static char *log_path;
static const char *log_proc;

static int
log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return fd;
}

int
log_init(int level, const char *file)
{
	log_setlevel(level);
	if (file == NULL || file[0] == '\0') {
		log_close();
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
	return 0;
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

void
log_setlevel(int level)
{
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_TRACE)
		level = LOG_TRACE;
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

void
log_procinit(const char *name)
{
	log_proc = name;
}

int
log_enabled(int level)
{
	return level <= log_level;
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

static void
log_write(int level, const char *suffix, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	int saved = errno;
	char line[LOG_LINE_MAX];
	struct timeval tv;
	gettimeofday(&tv, NULL);
	long long ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	size_t n = (size_t)log_prefix(line, sizeof(line), ms, (long)getpid());
	if (log_proc != NULL && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", log_proc);
	if (n < sizeof(line)) {
		int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (suffix != NULL && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s", suffix);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t off = 0;
	while ((size_t)off < n) {
		ssize_t w = write(log_fd, line + off, n - (size_t)off);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += w;
	}
	errno = saved;
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
	log_write(level, NULL, fmt, ap);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(level, NULL, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, level)                          \
	void name(const char *fmt, ...)              \
	{                                            \
		va_list ap;                          \
		va_start(ap, fmt);                   \
		log_write(level, NULL, fmt, ap);     \
		va_end(ap);                          \
	}

LOG_FN(log_warnx, LOG_WARNING)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_detail, LOG_DETAIL)
LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_trace, LOG_TRACE)

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
