/*
 * pgfleet-agent: options, the configuration checked in full before anything
 * starts (-n stops there), then one libevent loop: the connection out to a
 * scheduler (agent/uplink.c; the agent listens on no port), the requests that
 * come down it (checked by agent/request.c, done by agent/control.c), each
 * SendFile in a task process of its own (agent/tasks.c; the journal's file
 * locks coordinate them), reaping, SIGHUP reloads, the journal's pruning, and
 * the drain on SIGTERM. When a task process dies (kill -9, a crash) the tasks
 * it left running in the journal are closed: their scripts are killed, never
 * left running unsupervised (docs/agent.md says why they are not adopted); so
 * does a new agent at start for the tasks of one that died.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "agent/control.h"
#include "agent/journal.h"
#include "agent/request.h"
#include "agent/tasks.h"
#include "agent/uplink.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/version.h"
#include "common/wire.h"
#include "transfer/fetch.h"

#define DEFAULT_CONFIG "/etc/pgfleet/agent.yaml"
#define JOURNAL_WAIT_MS 5000                   /* a begin on a busy task retries this often */
#define PRUNE_EVERY_MS (3600LL * 1000)
#define PRUNE_OLDER_MS (7LL * 24 * 3600 * 1000) /* journal entries kept a week */
#define DRAIN_MS 10000                         /* on SIGTERM, tasks may finish this long */
#define REPLY_BODY_SLACK (1024 * 1024)         /* a task's reply: its output and some */
#define CAUSE_TASK_DIED "its task process died"
#define CAUSE_AGENT_DIED "the agent that ran it stopped"

struct agent {
	struct conf_agent *conf;
	SSL_CTX *client_ctx;
	struct journal *journal;
	struct event_base *base;
	struct uplink *uplink;
	struct tasks *tasks;
	struct event *sig[4];
	struct event *prune;
	struct event *drain;
	struct event *watchdog;	/* systemd's WatchdogSec=, or NULL */
	int draining;           /* 1: waiting for tasks; 2: they were told to stop; 3: killed */
	long long drain_step_ms;
	volatile sig_atomic_t stop_flag; /* never set: only task processes are cancelled */
};

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

static struct control_env agent_env(struct agent *a);

/* An orphan closed: its directory goes, and the scheduler hears its result at once. */
static void
orphan_closed(void *arg, const struct journal_entry *e)
{
	struct agent *a = arg;
	log_task(LL_WARNING, e->event_id, e->task_seq, "%s (code %d)", e->result, e->status_code);
	control_task_dir_remove(a->conf->temp_dir, e->event_id, e->task_seq);
	if (a->uplink != NULL && uplink_is_up(a->uplink)) {
		struct control_env env = agent_env(a);
		(void)control_orphan_reply(&env, e);
	}
}

/* Kill the scripts of tasks left running by a dead process and close them in the journal. */
static void
close_orphans(struct agent *a, const char *cause)
{
	char err[512];
	if (journal_close_orphans(a->journal, cause, orphan_closed, a, err, sizeof(err)) == -1)
		log_warnx("journal: orphans: %s", err);
}

/* Replies of the main process itself (Cancel, refusals, errors) go straight up. */
static int
uplink_out(void *arg, const struct wire_msg *m)
{
	return uplink_send(arg, m);
}

static struct control_env
agent_env(struct agent *a)
{
	struct control_env env = {
		.conf = a->conf,
		.journal = a->journal,
		.fetch_ctx = a->client_ctx,
		.peer_addr = uplink_peer_addr(a->uplink),
		.peer_name = uplink_peer_name(a->uplink),
		.stop = &a->stop_flag,
		.out = {.send = uplink_out, .arg = a->uplink},
	};
	return env;
}

/* A request of the scheduler: checked here, answered here or in a task process. */
static void
on_request(const struct wire_msg *m, void *arg)
{
	struct agent *a = arg;
	struct request_task t;
	struct control_env env = agent_env(a);
	char why[600];
	int code;
	enum request_verdict v = request_check(m, a->conf, uplink_computer_id(a->uplink), &t, &code,
	    why, sizeof(why));
	if (v == REQUEST_BAD) {
		log_warnx("connection %s (%s): %s", env.peer_name, env.peer_addr, why);
		(void)control_error(&env, m, code, why);
	} else if (t.kind == REQUEST_CANCEL) {
		(void)control_cancel(&env, &t);
	} else if (v == REQUEST_REFUSE) {
		(void)control_refuse(&env, &t, code, why);
	} else if (a->draining) {
		/* pushed again once the agent is back: nothing was begun */
		log_info("event %s task %s: SendFile while stopping, not taken", t.event_s, t.seq_s);
	} else if (tasks_count(a->tasks) >= TASKS_MAX) {
		snprintf(why, sizeof(why), "agent busy: %d tasks running", TASKS_MAX);
		(void)control_refuse(&env, &t, STATUS_AGENT_ERROR, why);
	} else if (tasks_spawn(a->tasks, &env, &t, uplink_fd(a->uplink)) == -1) {
		(void)control_refuse(&env, &t, STATUS_AGENT_ERROR, "agent could not start a task process");
	}
}

static void
agent_stop_loop(struct agent *a)
{
	uplink_stop(a->uplink);
	event_base_loopbreak(a->base);
}


/* The drain's steps, checked every 100 ms: tasks finish, then are cancelled, then killed. */
static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	(void)fd;
	(void)what;
	long long now = clock_mono_ms(), in_step = now - a->drain_step_ms;
	if (tasks_count(a->tasks) == 0) {
		agent_stop_loop(a);
		return;
	}
	if (a->draining == 1 && in_step >= DRAIN_MS) {
		/* their scripts are cancelled (SIGTERM, grace, SIGKILL) and answered with -8 */
		tasks_signal(a->tasks, SIGTERM);
		a->draining = 2;
		a->drain_step_ms = now;
	} else if (a->draining == 2 && in_step >= a->conf->kill_grace_ms + 5000) {
		log_warnx("%d task processes did not stop, killed", tasks_alive(a->tasks));
		tasks_signal(a->tasks, SIGKILL);
		a->draining = 3;
		a->drain_step_ms = now;
	} else if (a->draining == 3 && in_step >= 5000) {
		agent_stop_loop(a);
	}
}

static void
drain(struct agent *a)
{
	if (a->draining)
		return;
	a->draining = 1;
	a->drain_step_ms = clock_mono_ms();
	log_notice("stopping: %d tasks running", tasks_count(a->tasks));
	sdnotify("STOPPING=1");
	struct timeval tv = {0, 100 * 1000};
	event_add(a->drain, &tv);
	event_active(a->drain, EV_TIMEOUT, 0);
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
	uplink_set_conf(a->uplink, fresh);
	conf_free_agent(a->conf);
	a->conf = fresh;
	log_apply(fresh->log_level, fresh->log_format, fresh->log_syslog, "pgfleet-agent");
	log_notice("configuration %s reloaded", fresh->path);
}

static void
on_prune(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	char err[512];
	(void)fd;
	(void)what;
	int n = journal_prune(a->journal, PRUNE_OLDER_MS, err, sizeof(err));
	if (n == -1)
		log_warnx("journal: prune: %s", err);
	else if (n > 0)
		log_detail("journal: %d entries older than 7 days removed", n);
}

/* systemd's watchdog: pinged at half its interval while the loop turns */
static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sdnotify("WATCHDOG=1");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	(void)what;
	if (sig == SIGTERM || sig == SIGINT) {
		drain(a);
	} else if (sig == SIGHUP) {
		sdnotify("RELOADING=1");
		reload(a);
		sdnotify("READY=1");
	} else if (sig == SIGCHLD) {
		if (tasks_reap(a->tasks))
			close_orphans(a, CAUSE_TASK_DIED);
	}
}

/* Everything checked and opened before the loop: a wrong setting stops the start. */
static void
agent_setup(struct agent *a, int foreground)
{
	struct conf_agent *cf = a->conf;
	char err[1024];
	if (log_start(cf->log_level, cf->log_file, cf->log_format, cf->log_syslog, "pgfleet-agent",
	    foreground, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-agent: %s\n", err);
		exit(2);
	}
	log_procinit("agent");
	signal(SIGPIPE, SIG_IGN);
	/* 0711: a run-as user reaches its own task directory but cannot list or write here */
	if (fsutil_mkdirs(cf->temp_dir, 0711) == -1)
		fatal("temp dir %s", cf->temp_dir);
	if (fsutil_mkdirs(cf->journal, 0700) == -1)
		fatal("journal %s", cf->journal);
	if ((a->journal = journal_open(cf->journal, (size_t)cf->max_output, JOURNAL_WAIT_MS, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	/* before connecting: a re-push must find them closed, never running unsupervised */
	close_orphans(a, CAUSE_AGENT_DIED);
	if ((a->client_ctx = tls_client_ctx(cf->tls_ca, cf->tls_cert, cf->tls_key, err, sizeof(err))) == NULL)
		fatalx("tls: %s", err);
	/* only a scheduler pushes tasks and serves their files: never another agent */
	if (tls_ctx_require_peer_role(a->client_ctx, TLS_ROLE_SCHEDULER, err, sizeof(err)) == -1)
		fatalx("tls: %s", err);
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");
}

static void
agent_loop(struct agent *a)
{
	a->base = event_base_new();
	const struct uplink_hooks hooks = {.request = on_request, .arg = a};
	if (a->base == NULL ||
	    (a->uplink = uplink_new(a->base, a->client_ctx, a->conf, version_string(), &hooks)) == NULL ||
	    (a->tasks = tasks_new(a->base, a->uplink, a->client_ctx,
	    (size_t)a->conf->max_output + REPLY_BODY_SLACK)) == NULL)
		fatalx("out of memory");
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	for (int i = 0; i < 4; i++) {
		a->sig[i] = evsignal_new(a->base, sigs[i], on_signal, a);
		evsignal_add(a->sig[i], NULL);
	}
	a->prune = event_new(a->base, -1, EV_PERSIST, on_prune, a);
	a->drain = event_new(a->base, -1, EV_PERSIST, on_drain, a);
	struct timeval hour = {PRUNE_EVERY_MS / 1000, 0};
	event_add(a->prune, &hour);
	long long wd = sdnotify_watchdog_ms();
	if (wd > 0) {
		struct timeval half = clock_tv(wd / 2);
		a->watchdog = event_new(a->base, -1, EV_PERSIST, on_watchdog, a);
		if (a->watchdog == NULL || event_add(a->watchdog, &half) == -1)
			fatalx("watchdog: out of memory");
	}
	log_notice("pgfleet-agent %s (%s) started: computer %s, %zu scheduler%s, no listening "
	    "socket", version_string(), a->conf->path, a->conf->computer, a->conf->servers.n,
	    a->conf->servers.n == 1 ? "" : "s");
	sdnotify("READY=1\nSTATUS=connecting to %zu scheduler%s\nMAINPID=%ld", a->conf->servers.n,
	    a->conf->servers.n == 1 ? "" : "s", (long)getpid());
	on_prune(-1, 0, a);
	uplink_start(a->uplink);
	event_base_dispatch(a->base);
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
	struct agent a;
	struct conf_errors errs = {0};

	memset(&a, 0, sizeof(a));
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
	char err[1024];
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
	agent_setup(&a, foreground);
	agent_loop(&a);
	if (tasks_reap(a.tasks))
		close_orphans(&a, CAUSE_TASK_DIED);
	log_notice("stopped");
	if (a.watchdog != NULL)
		event_free(a.watchdog);
	for (int i = 0; i < 4; i++)
		event_free(a.sig[i]);
	event_free(a.prune);
	event_free(a.drain);
	tasks_free(a.tasks);
	uplink_free(a.uplink);
	event_base_free(a.base);
	journal_free(a.journal);
	SSL_CTX_free(a.client_ctx);
	conf_free_agent(a.conf);
	log_close();
	return 0;
}
