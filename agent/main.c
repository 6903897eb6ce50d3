/*
 * pgfleet-agent: options, the configuration checked in full before anything
 * starts (-n stops there), the listening socket, and the accept loop. Each
 * accepted control connection gets its own forked process (sshd-style: an
 * agent serves few connections, and the journal's file locks coordinate
 * them); the parent only accepts, reaps, reloads on SIGHUP, prunes the
 * journal, and drains on SIGTERM. Signal handlers only set flags. When a
 * connection process dies (kill -9, a crash) the parent closes the tasks it
 * left running in the journal: their scripts are killed, never left running
 * unsupervised (docs/agent.md says why they are not adopted); so does a new
 * agent at start for the tasks of one that died.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "agent/control.h"
#include "agent/journal.h"
#include "common/conf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/tls.h"
#include "common/version.h"
#include "transfer/fetch.h"

#define DEFAULT_CONFIG "/etc/pgfleet/agent.yaml"
#define MAX_CHILDREN 64
#define HANDSHAKE_TIMEOUT_MS 10000
#define JOURNAL_WAIT_MS 5000                   /* a begin on a busy task retries this often */
#define PRUNE_EVERY_MS (3600LL * 1000)
#define PRUNE_OLDER_MS (7LL * 24 * 3600 * 1000) /* journal entries kept a week */
#define DRAIN_MS 10000                         /* on SIGTERM, children may finish this long */
#define CHILD_EXIT_REFUSED 3                   /* a connection process's exit code for a refused peer */
#define CAUSE_CONN_DIED "its connection process died"
#define CAUSE_AGENT_DIED "the agent that ran it stopped"

static volatile sig_atomic_t got_term, got_hup, got_chld;
static volatile sig_atomic_t child_stop;
static pid_t children[MAX_CHILDREN];
static int nchildren;
static int orphans_pending;    /* a connection process died: the journal may hold its tasks */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pgfleet-agent [-c FILE] [-n] [-d] [-h] [--version]\n"
	    "  -c FILE    configuration file (default " DEFAULT_CONFIG ")\n"
	    "  -n         check the configuration, print \"configuration OK\" or every error, exit\n"
	    "  -d         stay in the foreground and log to stderr (the journal under systemd)\n"
	    "  -h, --help this help\n"
	    "  --version  print the version and exit\n");
}

static void
on_parent_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
}

static void
on_child_signal(int sig)
{
	(void)sig;
	child_stop = 1;
}

static long long
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
listen_on(const struct conf_listen *l, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%d", l->port);
	const char *host = l->host != NULL && l->host[0] != '\0' ? l->host : NULL;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s:%d: %s", host ? host : "*", l->port, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	int one = 1;
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen(fd, 64) == -1) {
		snprintf(err, errlen, "listen %s:%d: %s", host ? host : "*", l->port, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Write the port atomically, so a reader never sees half of it. */
static int
write_port_file(const char *path, int port)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		return -1;
	return 0;
}

static void
addr_string(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	if (getnameinfo((const struct sockaddr *)ss, sizeof(*ss), buf, (socklen_t)size, NULL, 0,
		NI_NUMERICHOST) != 0)
		snprintf(buf, size, "?");
}

struct agent {
	struct conf_agent *conf;
	SSL_CTX *server_ctx;
	SSL_CTX *client_ctx;
	struct journal *journal;
	int listen_fd;
};

/* The forked process of one connection: handshake, check, serve, exit. */
static void __attribute__((noreturn))
child_main(struct agent *a, int fd, const char *addr)
{
	struct sigaction sa;
	sigset_t none;
	char err[512], name[256];
	SSL *ssl = NULL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close(a->listen_fd);
	log_procinit("control");

	int status = 0;
	if (tls_accept_blocking(a->server_ctx, fd, HANDSHAKE_TIMEOUT_MS, &ssl, err, sizeof(err)) == -1) {
		log_warnx("connection from %s refused: %s", addr, err);
		status = CHILD_EXIT_REFUSED;
		goto out;
	}
	if (tls_peer_name(ssl, name, sizeof(name)) == -1)
		snprintf(name, sizeof(name), "?");
	const struct conf_strlist *allow = &a->conf->tls_allow_clients;
	if (allow->n > 0 && !tls_peer_allowed(ssl, (const char *const *)allow->v, (int)allow->n)) {
		log_warnx("connection from %s refused: certificate \"%s\" is not in tls.allow_clients", addr, name);
		status = CHILD_EXIT_REFUSED;
		goto out;
	}
	log_detail("connection from %s accepted: certificate \"%s\"", addr, name);
	struct control_env env = {
		.conf = a->conf,
		.journal = a->journal,
		.fetch_ctx = a->client_ctx,
		.peer_addr = addr,
		.peer_name = name,
		.stop = &child_stop,
	};
	control_serve(ssl, SSL_get_fd(ssl), &env);
	log_debug("connection from %s (%s) closed", addr, name);
out:
	tls_close(ssl);
	transfer_fetch_forget_sessions();
	journal_free(a->journal);
	SSL_CTX_free(a->server_ctx);
	SSL_CTX_free(a->client_ctx);
	conf_free_agent(a->conf);
	log_close();
	exit(status);
}

static void
reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (int i = 0; i < nchildren; i++) {
			if (children[i] == pid) {
				children[i] = children[--nchildren];
				break;
			}
		}
		if (WIFSIGNALED(st))
			log_warnx("connection process %ld killed by signal %d", (long)pid, WTERMSIG(st));
		else if (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != CHILD_EXIT_REFUSED)
			log_warnx("connection process %ld exited with code %d", (long)pid, WEXITSTATUS(st));
		else
			log_debug("connection process %ld exited with code %d", (long)pid, WEXITSTATUS(st));
		/* one that ended as it should released its tasks itself */
		if (WIFSIGNALED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != CHILD_EXIT_REFUSED))
			orphans_pending = 1;
	}
}

static void
orphan_closed(void *arg, const struct journal_entry *e)
{
	const struct agent *a = arg;
	log_task(LL_WARNING, e->event_id, e->task_seq, "%s (code %d)", e->result, e->status_code);
	control_task_dir_remove(a->conf->temp_dir, e->event_id, e->task_seq);
}

/* Kill the scripts of tasks left running by a dead process and close them in the journal. */
static void
close_orphans(struct agent *a, const char *cause)
{
	char err[512];
	orphans_pending = 0;
	if (journal_close_orphans(a->journal, cause, orphan_closed, a, err, sizeof(err)) == -1)
		log_warnx("journal: orphans: %s", err);
}

static void
reload(struct agent *a)
{
	struct conf_agent *fresh = NULL;
	struct conf_errors errs = {0};
	if (log_reopen() == -1)
		log_warn("log: reopen");
	if (conf_load_agent(a->conf->path, &fresh, &errs) == -1) {
		for (size_t i = 0; i < errs.n; i++)
			log_warnx("reload: %s", errs.msg[i]);
		log_warnx("reload: configuration %s refused, the running one is kept", a->conf->path);
		conf_errors_free(&errs);
		return;
	}
	conf_reload_agent(a->conf, fresh, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_warnx("reload: %s", errs.msg[i]);
	conf_errors_free(&errs);
	conf_free_agent(a->conf);
	a->conf = fresh;
	log_apply(fresh->log_level, fresh->log_format, fresh->log_syslog, "pgfleet-agent");
	log_notice("configuration %s reloaded", fresh->path);
}

static void
prune(struct agent *a)
{
	char err[512];
	int n = journal_prune(a->journal, PRUNE_OLDER_MS, err, sizeof(err));
	if (n == -1)
		log_warnx("journal: prune: %s", err);
	else if (n > 0)
		log_detail("journal: %d entries older than 7 days removed", n);
}

/* Wait for the children up to ms, reaping; 1 when none is left. */
static int
wait_children(long long ms)
{
	long long end = mono_ms() + ms;
	reap();
	while (nchildren > 0 && mono_ms() < end) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		reap();
	}
	return nchildren == 0;
}

static void
drain(struct agent *a)
{
	log_notice("stopping: %d connection%s open", nchildren, nchildren == 1 ? "" : "s");
	if (wait_children(DRAIN_MS))
		return;
	/* their scripts are cancelled (SIGTERM, grace, SIGKILL) and answered with -8 */
	for (int i = 0; i < nchildren; i++)
		kill(children[i], SIGTERM);
	if (wait_children(a->conf->kill_grace_ms + 5000))
		return;
	for (int i = 0; i < nchildren; i++) {
		log_warnx("connection process %ld did not stop, killed", (long)children[i]);
		kill(children[i], SIGKILL);
	}
	wait_children(5000);
}

static void
accept_one(struct agent *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(a->listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	char addr[NI_MAXHOST];
	addr_string(&ss, addr, sizeof(addr));
	if (nchildren >= MAX_CHILDREN) {
		log_warnx("connection from %s refused: %d connections already open", addr, MAX_CHILDREN);
		close(fd);
		return;
	}
	pid_t pid = fork();
	if (pid == -1) {
		log_warn("connection from %s: fork", addr);
		close(fd);
		return;
	}
	if (pid == 0)
		child_main(a, fd, addr);
	children[nchildren++] = pid;
	log_debug("connection from %s: process %ld", addr, (long)pid);
	close(fd);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	const char *path = DEFAULT_CONFIG;
	int check = 0, foreground = 0, ch;
	struct agent a = {.listen_fd = -1};
	struct conf_errors errs = {0};
	char err[1024];

	while ((ch = getopt_long(argc, argv, "c:ndhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			version_print(stdout, "pgfleet-agent");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pgfleet-agent: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	sdnotify_init();
	if (conf_load_agent(path, &a.conf, &errs) == -1) {
		conf_errors_print(&errs, stderr);
		conf_errors_free(&errs);
		return 2;
	}
	if (a.conf->log_file != NULL && log_check_file(a.conf->log_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: log.file: %s\n", path, err);
		conf_free_agent(a.conf);
		return 2;
	}
	if (check) {
		printf("configuration OK\n");
		conf_free_agent(a.conf);
		return 0;
	}
	struct conf_agent *cf = a.conf;
	if (log_start(cf->log_level, cf->log_file, cf->log_format, cf->log_syslog, "pgfleet-agent",
	    foreground, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-agent: %s\n", err);
		return 2;
	}
	log_procinit("agent");
	signal(SIGPIPE, SIG_IGN);
	/* 0711: a run-as user reaches its own task directory but cannot list or write here */
	if (fsutil_mkdirs(cf->temp_dir, 0711) == -1)
		fatal("temp dir %s", cf->temp_dir);
	if (fsutil_mkdirs(cf->journal, 0700) == -1)
		fatal("journal %s", cf->journal);
	if ((a.journal = journal_open(cf->journal, (size_t)cf->max_output, JOURNAL_WAIT_MS, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	/* before listening: a re-push must find them closed, never running unsupervised */
	close_orphans(&a, CAUSE_AGENT_DIED);
	if ((a.server_ctx = tls_server_ctx(cf->tls_ca, cf->tls_cert, cf->tls_key, err, sizeof(err))) == NULL)
		fatalx("tls: %s", err);
	if ((a.client_ctx = tls_client_ctx(cf->tls_ca, cf->tls_cert, cf->tls_key, err, sizeof(err))) == NULL)
		fatalx("tls: %s", err);
	/* only a scheduler pushes tasks and serves their files: never another agent */
	if (tls_ctx_require_peer_role(a.server_ctx, TLS_ROLE_SCHEDULER, err, sizeof(err)) == -1 ||
	    tls_ctx_require_peer_role(a.client_ctx, TLS_ROLE_SCHEDULER, err, sizeof(err)) == -1)
		fatalx("tls: %s", err);
	if ((a.listen_fd = listen_on(&cf->listen, err, sizeof(err))) == -1)
		fatalx("%s", err);
	int port = bound_port(a.listen_fd);
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");
	if (cf->port_file != NULL && write_port_file(cf->port_file, port) == -1)
		fatal("port file %s", cf->port_file);

	struct sigaction sa;
	sigset_t block, orig;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_parent_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	/* blocked except inside ppoll: a signal can never slip in between check and wait */
	sigprocmask(SIG_BLOCK, &block, &orig);

	log_notice("pgfleet-agent %s listening on %s:%d (computer %s)",
	    cf->path, cf->listen.host != NULL ? cf->listen.host : "*", port, cf->computer != NULL ? cf->computer : "-");
	sdnotify("READY=1\nSTATUS=listening on port %d\nMAINPID=%ld", port, (long)getpid());
	prune(&a);
	long long last_prune = mono_ms();
	/* systemd's watchdog (WatchdogSec=): the loop wakes at least twice per interval */
	long long wd = sdnotify_watchdog_ms() / 2, last_ping = 0;
	while (!got_term) {
		struct pollfd p = {.fd = a.listen_fd, .events = POLLIN};
		struct timespec ts = {60, 0};
		if (wd > 0) {
			if (mono_ms() - last_ping >= wd / 2) {
				sdnotify("WATCHDOG=1");
				last_ping = mono_ms();
			}
			if (wd < 60000)
				ts = (struct timespec){wd / 1000, (wd % 1000) * 1000000};
		}
		int r = ppoll(&p, 1, &ts, &orig);
		if (r == -1 && errno != EINTR)
			fatal("poll");
		if (got_chld) {
			got_chld = 0;
			reap();
		}
		if (orphans_pending)
			close_orphans(&a, CAUSE_CONN_DIED);
		if (got_hup) {
			got_hup = 0;
			sdnotify("RELOADING=1");
			reload(&a);
			sdnotify("READY=1");
		}
		if (got_term)
			break;
		if (r > 0 && (p.revents & POLLIN))
			accept_one(&a);
		if (mono_ms() - last_prune >= PRUNE_EVERY_MS) {
			prune(&a);
			last_prune = mono_ms();
		}
	}
	sdnotify("STOPPING=1");
	close(a.listen_fd);
	drain(&a);
	if (orphans_pending)
		close_orphans(&a, CAUSE_CONN_DIED);
	if (a.conf->port_file != NULL)
		(void)unlink(a.conf->port_file);
	log_notice("stopped");
	journal_free(a.journal);
	SSL_CTX_free(a.server_ctx);
	SSL_CTX_free(a.client_ctx);
	conf_free_agent(a.conf);
	log_close();
	return 0;
}
