/*
 * pgfleet-test-flood: an unauthenticated flood for the fault suite. It keeps
 * up to --conns plain TCP connections open to 127.0.0.1:--port from --source
 * (a loopback address, default 127.0.0.2, so that a per-source limit can tell
 * the flood from the scheduler and agents on 127.0.0.1), saying nothing, and opens a new one for each the server closes, until
 * --seconds have passed or SIGTERM, at most --rate new connections a second
 * (default 200; a steady ramp, so that the server's accept queue does not
 * overflow into half-open connections it never sees). Loopback only; bounded in
 * count, rate and time.
 * Prints "held N" once N connections are established (or after 15 s with what
 * it has), and at the end "opened T, closed by the server C, peak P".
 *   pgfleet-test-flood --port P --conns N --seconds S [--rate R] [--source 127.0.0.X]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

#define MAXCONNS 5000

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}


struct conn {
	int fd;
	int up;             /* connect completed */
	long long since;    /* when the connect started */
};

static int
dial(int port, const struct in_addr *source)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = *source};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	int port = 0, nconns = 0;
	long long seconds = 0, rate = 200;
	const char *source_s = "127.0.0.2";
	struct in_addr source;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--conns") == 0) nconns = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0) seconds = atoll(argv[i + 1]);
		else if (strcmp(argv[i], "--rate") == 0) rate = atoll(argv[i + 1]);
		else if (strcmp(argv[i], "--source") == 0) source_s = argv[i + 1];
		else {
			fprintf(stderr, "pgfleet-test-flood: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || nconns <= 0 || nconns > MAXCONNS || seconds <= 0 || seconds > 600 ||
	    rate <= 0 || rate > 10000) {
		fprintf(stderr, "pgfleet-test-flood: --port 1..65535 --conns 1..%d --seconds 1..600 --rate 1..10000\n",
		    MAXCONNS);
		return 2;
	}
	/* loopback only: the flood never leaves the machine */
	if (inet_pton(AF_INET, source_s, &source) != 1 || (ntohl(source.s_addr) >> 24) != 127) {
		fprintf(stderr, "pgfleet-test-flood: --source must be an address of 127.0.0.0/8\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconns + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)nconns + 64 ? rl.rlim_max : (rlim_t)nconns + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);

	struct conn *c = calloc((size_t)nconns, sizeof(*c));
	struct pollfd *p = calloc((size_t)nconns, sizeof(*p));
	if (c == NULL || p == NULL)
		return 2;
	for (int i = 0; i < nconns; i++)
		c[i].fd = -1;
	long long start = clock_mono_ms(), end = start + seconds * 1000;
	long long opened = 0, closed = 0;
	int peak = 0, said = 0;
	char buf[512];
	double tokens = 0;
	long long last = start;

	while (!stop && clock_mono_ms() < end) {
		/* (re)open what is missing, within the rate */
		long long t = clock_mono_ms();
		tokens += (double)(t - last) * (double)rate / 1000.0;
		if (tokens > (double)rate / 10.0 + 1.0)
			tokens = (double)rate / 10.0 + 1.0;
		last = t;
		for (int i = 0; i < nconns && tokens >= 1.0; i++) {
			if (c[i].fd != -1)
				continue;
			c[i].fd = dial(port, &source);
			c[i].up = 0;
			c[i].since = t;
			tokens -= 1.0;
			if (c[i].fd != -1)
				opened++;
		}
		for (int i = 0; i < nconns; i++) {
			p[i].fd = c[i].fd;
			p[i].events = c[i].up ? POLLIN : POLLOUT;
			p[i].revents = 0;
		}
		if (poll(p, (nfds_t)nconns, 100) == -1 && errno != EINTR)
			break;
		int up = 0;
		for (int i = 0; i < nconns; i++) {
			if (c[i].fd == -1)
				continue;
			int drop = 0;
			if (!c[i].up && (p[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
				int e = 0;
				socklen_t el = sizeof(e);
				if (getsockopt(c[i].fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 || e != 0)
					drop = 1;
				else
					c[i].up = 1;
			} else if (!c[i].up && clock_mono_ms() - c[i].since > 2000) {
				drop = 1; /* a connect the server's backlog never took */
			} else if (c[i].up && (p[i].revents & (POLLIN | POLLERR | POLLHUP))) {
				ssize_t n = read(c[i].fd, buf, sizeof(buf));
				if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
					drop = 1;
					closed++;
				}
			}
			if (drop) {
				close(c[i].fd);
				c[i].fd = -1;
				c[i].up = 0;
			} else if (c[i].up) {
				up++;
			}
		}
		if (up > peak)
			peak = up;
		if (!said && (up >= nconns || clock_mono_ms() - start > 15000)) {
			printf("held %d\n", up);
			fflush(stdout);
			said = 1;
		}
	}
	for (int i = 0; i < nconns; i++)
		if (c[i].fd != -1)
			close(c[i].fd);
	printf("opened %lld, closed by the server %lld, peak %d\n", opened, closed, peak);
	free(c);
	free(p);
	return 0;
}

