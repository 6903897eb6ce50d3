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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "agent/control.h"
#include "agent/exec.h"
#include "agent/enroll.h"
#include "agent/facts.h"
#include "agent/journal.h"
#include "agent/request.h"
#include "agent/tasks.h"
#include "agent/uplink.h"
#include "agent/wake.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/evloop.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/sdnotify.h"
#include "common/status.h"
#include "common/units.h"
#include "common/tls.h"
#include "common/version.h"
#include "common/wire.h"
#include "transfer/fetch.h"

#define DEFAULT_CONFIG "/etc/pgfleet/agent.yaml"
#define JOURNAL_WAIT_MS 5000                   /* a begin on a busy task retries this often */
#define PRUNE_EVERY_MS (3600LL * 1000)
#define PRUNE_SOON_MS (300LL * 1000)           /* after a prune that removed entries */
#define PRUNE_NICE 10                          /* the prune's process gives way to the tasks */
#define PRUNE_EXIT_REMOVED 10                  /* its exit code when it removed entries */
#define PRUNE_OLDER_MS (7LL * 24 * 3600 * 1000) /* journal entries kept a week */
#define DRAIN_MS 10000                         /* on SIGTERM, tasks may finish this long */
#define REPLY_BODY_SLACK (1024 * 1024)         /* a task's reply: its output and some */
#define CAUSE_TASK_DIED "its task process died"
#define CAUSE_AGENT_DIED "the agent that ran it stopped"
#define RENEW_CHECK_MS 60000                   /* the certificate's expiry looked at this often */
#define TEARDOWN_REAP_MS 1000                  /* at the end, task processes waited for this long */

struct agent {
	struct conf_agent *conf;
	SSL_CTX *client_ctx;
	struct journal *journal;
	struct event_base *base;
	struct uplink *uplink;
	struct tasks *tasks;
	struct event *sig[4];
	struct event *prune;
	pid_t prune_pid;        /* the journal's prune running in a child, or 0 */
	struct event *drain;
	struct event *watchdog;	/* systemd's WatchdogSec=, or NULL */
	struct event *renew;    /* enroll.server set: renewal before expiry */
	struct event *facts_timer; /* facts.interval: gathered again, sent when changed */
	char *facts;            /* the facts document (agent/facts.c) */
	char facts_hash[72];
	char serial[PKI_SERIAL_HEX]; /* of the certificate client_ctx presents */
	long long renew_tried_ms;
	int draining;           /* 1: waiting for tasks; 2: they were told to stop; 3: killed */
	long long drain_step_ms;
	volatile sig_atomic_t stop_flag; /* never set: only task processes are cancelled */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pgfleet-agent [-c FILE] [-n] [-d] [-h] [--version]\n"
	    "       pgfleet-agent enroll [-c FILE] [--server HOST:PORT] [--token TOKEN] [--ca FILE]\n"
	    "                            [--name NAME] [--cert FILE] [--key FILE] [--wait DURATION]\n"
	    "  -c FILE    configuration file (default " DEFAULT_CONFIG ")\n"
	    "  -n         check the configuration, print \"configuration OK\" or every error, exit\n"
	    "  -d         stay in the foreground and log to stderr (the journal under systemd)\n"
	    "  -h, --help this help\n"
	    "  --version  print the version and exit\n"
	    "enroll: make this host's key, send a certificate request with the token to the\n"
	    "scheduler's enrolment service and install the certificate (docs/enrolment.md);\n"
	    "values not given come from the configuration's computer, tls and enroll keys\n"
	    "(-c FILE, else " DEFAULT_CONFIG " unless --name is given).\n"
	    "Exit 0 enrolled, 1 refused, 3 still pending after --wait (default 0: ask once).\n");
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
	if (wake_is_request(m)) {
		wake_handle(a->conf, m);
		return;
	}
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
		log_task_s(LL_INFO, t.event_s, t.seq_s, "SendFile while stopping, not taken");
	} else if (tasks_count(a->tasks) >= TASKS_MAX) {
		snprintf(why, sizeof(why), "agent busy: %d tasks running", TASKS_MAX);
		(void)control_refuse(&env, &t, STATUS_AGENT_ERROR, why);
	} else if (tasks_spawn(a->tasks, &env, &t, m, uplink_fd(a->uplink)) == -1) {
		(void)control_refuse(&env, &t, STATUS_AGENT_ERROR, "agent could not start a task process");
	}
}

/* Request=Facts with the document as body, on the connection up. */
static void
facts_send(struct agent *a)
{
	char err[256];
	struct wire_msg *m = wire_msg_new();
	if (m == NULL)
		fatalx("out of memory");
	if (wire_add(m, "Request", "Facts", err, sizeof(err)) == -1 ||
	    wire_add(m, "Facts-Hash", a->facts_hash, err, sizeof(err)) == -1 ||
	    wire_set_body(m, a->facts, strlen(a->facts)) == -1 || uplink_send(a->uplink, m) == -1)
		log_warnx("facts: not sent");
	else
		log_info("facts: sent (%zu bytes, %s)", strlen(a->facts), a->facts_hash);
	wire_msg_free(m);
}

static void
on_facts_wanted(int wanted, void *arg)
{
	struct agent *a = arg;
	if (wanted && a->facts != NULL)
		facts_send(a);
}

/* Gather the facts again; changed ones go up at once when the scheduler takes them. */
static void
facts_refresh(struct agent *a)
{
	char *doc = facts_gather(version_string());
	char hash[72];
	if (doc == NULL || strlen(doc) > FACTS_MAX || facts_hash(doc, hash) == -1) {
		log_warnx("facts: could not be gathered");
		free(doc);
		return;
	}
	int changed = strcmp(hash, a->facts_hash) != 0;
	free(a->facts);
	a->facts = doc;
	snprintf(a->facts_hash, sizeof(a->facts_hash), "%s", hash);
	if (a->uplink != NULL)
		uplink_set_facts_hash(a->uplink, hash);
	if (changed && a->uplink != NULL && uplink_facts_supported(a->uplink))
		facts_send(a);
}

static void
on_facts_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	facts_refresh(arg);
}

/* The facts timer at facts.interval of the configuration now (0: none); at start and at a
 * reload that changed it. */
static void
facts_timer_set(struct agent *a)
{
	if (a->facts_timer == NULL &&
	    (a->facts_timer = event_new(a->base, -1, EV_PERSIST, on_facts_timer, a)) == NULL)
		fatalx("facts: out of memory");
	event_del(a->facts_timer);
	if (a->conf->facts_interval_ms > 0) {
		struct timeval ft = clock_tv(a->conf->facts_interval_ms);
		if (event_add(a->facts_timer, &ft) == -1)
			fatalx("facts: cannot arm the timer");
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
	tasks_retire(a->tasks); /* they hold the old configuration */
	long long facts_was = a->conf->facts_interval_ms;
	conf_free_agent(a->conf);
	a->conf = fresh;
	if (fresh->facts_interval_ms != facts_was)
		facts_timer_set(a); /* facts.interval is a reload key: the timer follows it */
	log_apply(fresh->log_level, fresh->log_format, fresh->log_syslog, "pgfleet-agent");
	log_notice("configuration %s reloaded", fresh->path);
}

/*
 * Fork a child of the main process that does one job and exits: -1 (logged), the child's
 * pid in the parent, 0 in the child. There only keep (up to 2, and the log) stay open, so
 * that no connection or task pipe outlives the agent in it; its signals are back to their
 * defaults (not libevent's, which would tell the parent's loop), and it ends with the agent.
 */
static pid_t
child_fork(const char *name, const int *keep, int nkeep)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == -1)
		log_warn("%s: fork", name);
	if (pid != 0)
		return pid;
	int fds[3];
	int n = 0;
	fds[n++] = log_fileno();
	for (int i = 0; i < nkeep && n < 3; i++)
		fds[n++] = keep[i];
	fsutil_close_except(3, fds, n);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent) /* the agent ended before the line above */
		_exit(0);
	log_procinit(name);
	return 0;
}

static void
prune_arm(struct agent *a, long long ms)
{
	struct timeval next = clock_tv(ms);
	if (event_add(a->prune, &next) == -1)
		log_warnx("journal: prune: the next prune could not be set");
}

/*
 * The journal's prune, in a child: reading a journal of many entries and removing those
 * past the rules takes its time (~0.2 s per 100,000 entries read, ~0.15 ms per removal
 * here), which the main process's loop (the connection, keepalives, task replies) must
 * not wait for. One at a time; the next is set when it ends (on_other_child).
 */
static void
on_prune(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	(void)fd;
	(void)what;
	if (a->prune_pid > 0 || a->draining)
		return;
	int keep[2];
	int nkeep = journal_fds(a->journal, keep);
	pid_t pid = child_fork("prune", keep, nkeep);
	if (pid == -1) {
		prune_arm(a, PRUNE_SOON_MS);
		return;
	}
	if (pid > 0) {
		a->prune_pid = pid;
		return;
	}
	if (setpriority(PRIO_PROCESS, 0, PRUNE_NICE) == -1)
		log_debug("journal: prune: setpriority: %s", strerror(errno));
	char err[512];
	int n = journal_prune(a->journal, PRUNE_OLDER_MS, a->conf->journal_keep, err, sizeof(err));
	if (n == -1)
		log_warnx("journal: prune: %s", err);
	else if (n > 0)
		log_detail("journal: %d entries removed (older than 7 days, or past journal_keep %lld)",
		    n, a->conf->journal_keep);
	log_close();
	_exit(n == -1 ? 1 : n > 0 ? PRUNE_EXIT_REMOVED : 0);
}

/* A child of the main process that is no task process has ended (tasks_reap). */
static void
on_other_child(void *arg, pid_t pid, int st)
{
	struct agent *a = arg;
	if (pid != a->prune_pid) { /* a renewal: it logged its outcome */
		log_debug("child %ld ended (%s %d)", (long)pid, WIFSIGNALED(st) ? "signal" : "code",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return;
	}
	a->prune_pid = 0;
	int removed = WIFEXITED(st) && WEXITSTATUS(st) == PRUNE_EXIT_REMOVED;
	if (WIFSIGNALED(st))
		log_warnx("journal: prune: its process %ld was killed by signal %d", (long)pid, WTERMSIG(st));
	if (a->draining)
		return;
	/* A journal that lost entries may be filling fast: looked at again sooner. */
	prune_arm(a, removed ? PRUNE_SOON_MS : PRUNE_EVERY_MS);
}

/* At the end: a prune still running is stopped and reaped (it leaves whole entries). */
static void
prune_stop(struct agent *a)
{
	if (a->prune_pid <= 0)
		return;
	int st;
	(void)kill(a->prune_pid, SIGTERM);
	if (waitpid(a->prune_pid, &st, 0) == a->prune_pid)
		log_debug("journal: prune stopped");
	a->prune_pid = 0;
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

static struct enroll_params
enroll_params_of(const struct conf_agent *cf, const char *token)
{
	struct enroll_params p = {.server = cf->enroll_server, .ca = cf->enroll_ca, .name = cf->computer,
	    .token = token, .cert = cf->tls_cert, .key = cf->tls_key, .version = version_string(),
	    .timeout_ms = cf->connect_timeout_ms};
	return p;
}

/*
 * enroll.server set and no usable certificate (none yet, or expired): enrol with the
 * token before anything connects, asking again every enroll.poll while it is pending.
 */
static void
agent_enroll_at_start(struct agent *a)
{
	const struct conf_agent *cf = a->conf;
	struct pki_cert_info info;
	char err[512], msg[512];
	int code;
	if (cf->enroll_server == NULL)
		return;
	if (access(cf->tls_cert, F_OK) == 0) {
		if (pki_cert_file_info(cf->tls_cert, &info, err, sizeof(err)) == 0 && info.not_after > time(NULL))
			return;
		log_warnx("enroll: certificate %s is expired or unreadable: enrolling again", cf->tls_cert);
	}
	if (cf->enroll_token == NULL)
		fatalx("enroll: no certificate at %s and no enroll.token to ask for one", cf->tls_cert);
	struct enroll_params p = enroll_params_of(cf, cf->enroll_token);
	log_notice("enroll: asking %s for a certificate for %s", cf->enroll_server, cf->computer);
	sdnotify("STATUS=enrolling with %s", cf->enroll_server);
	enum enroll_outcome o = enroll_wait(&p, -1, cf->enroll_poll_ms, &code, msg, sizeof(msg));
	if (o != ENROLL_DONE)
		fatalx("enroll: refused (code %d): %s", code, msg);
	log_notice("enroll: %s", msg);
}

/* A renewal in a child of its own: blocking, short, it only writes the certificate file. */
static void
renew_spawn(struct agent *a)
{
	if (child_fork("renew", NULL, 0) != 0)
		return; /* the parent, or no child (logged) */
	struct enroll_params p = enroll_params_of(a->conf, NULL);
	char msg[512];
	int code;
	enum enroll_outcome o = enroll_once(&p, &code, msg, sizeof(msg));
	if (o == ENROLL_DONE)
		log_notice("renew: %s", msg);
	else
		log_warnx("renew: %s (code %d)%s", msg, code, o == ENROLL_REFUSED ? "" : "; tried again later");
	_exit(o == ENROLL_DONE ? 0 : 1);
}

/* The client context of the certificate on disk now; its serial noted. */
static SSL_CTX *
agent_ctx_load(struct agent *a, char *err, size_t errlen)
{
	const struct conf_agent *cf = a->conf;
	struct pki_cert_info info;
	SSL_CTX *ctx = tls_client_ctx(cf->tls_ca, cf->tls_cert, cf->tls_key, err, errlen);
	/* only a scheduler pushes tasks and serves their files: never another agent */
	if (ctx != NULL && tls_ctx_require_peer_role(ctx, TLS_ROLE_SCHEDULER, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	char why[256];
	if (ctx != NULL && pki_cert_file_info(cf->tls_cert, &info, why, sizeof(why)) == 0)
		snprintf(a->serial, sizeof(a->serial), "%s", info.serial);
	return ctx;
}

/* Every RENEW_CHECK_MS (and enroll.poll): a renewed certificate on disk is taken into use;
 * one due for renewal is renewed (at most one try per enroll.poll). */
static void
on_renew(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct pki_cert_info info;
	char err[512];
	(void)fd;
	(void)what;
	if (a->draining)
		return;
	if (pki_cert_file_info(a->conf->tls_cert, &info, err, sizeof(err)) == 0 &&
	    strcmp(info.serial, a->serial) != 0) {
		SSL_CTX *ctx = agent_ctx_load(a, err, sizeof(err));
		if (ctx == NULL) {
			log_warnx("renew: new certificate %s not usable: %s", a->conf->tls_cert, err);
		} else {
			uplink_set_ctx(a->uplink, ctx);
			tasks_set_ctx(a->tasks, ctx);
			SSL_CTX_free(a->client_ctx);
			a->client_ctx = ctx;
			log_notice("renew: certificate %s (serial %s) in use from the next connection",
			    a->conf->tls_cert, a->serial);
		}
	}
	long long at = enroll_renew_at(a->conf->tls_cert, a->conf->enroll_renew_before_ms, err, sizeof(err));
	long long now = clock_mono_ms();
	if (at == -1 || time(NULL) < at)
		return;
	if (a->renew_tried_ms != 0 && now - a->renew_tried_ms < a->conf->enroll_poll_ms)
		return;
	a->renew_tried_ms = now;
	log_info("renew: certificate %s expires soon, renewing with %s", a->conf->tls_cert,
	    a->conf->enroll_server);
	renew_spawn(a);
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
	control_spares_drop(cf->temp_dir, 0); /* kept by task processes of an agent that ended */
	if (fsutil_mkdirs(cf->journal, 0700) == -1)
		fatal("journal %s", cf->journal);
	if ((a->journal = journal_open(cf->journal, (size_t)cf->max_output, JOURNAL_WAIT_MS, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	/* before connecting: a re-push must find them closed, never running unsupervised */
	close_orphans(a, CAUSE_AGENT_DIED);
	agent_enroll_at_start(a);
	if ((a->client_ctx = agent_ctx_load(a, err, sizeof(err))) == NULL)
		fatalx("tls: %s", err);
	exec_warm_users(a->conf->run_as_default);
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");
}

static void
agent_loop(struct agent *a)
{
	a->base = event_base_new();
	const struct uplink_hooks hooks = {.request = on_request, .facts = on_facts_wanted, .arg = a};
	if (a->base == NULL ||
	    (a->uplink = uplink_new(a->base, a->client_ctx, a->conf, version_string(), &hooks)) == NULL ||
	    (a->tasks = tasks_new(a->base, a->uplink, a->client_ctx,
	    (size_t)a->conf->max_output + REPLY_BODY_SLACK, a->conf->temp_dir)) == NULL)
		fatalx("out of memory");
	tasks_on_other_child(a->tasks, on_other_child, a);
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	for (int i = 0; i < 4; i++) {
		a->sig[i] = evsignal_new(a->base, sigs[i], on_signal, a);
		evsignal_add(a->sig[i], NULL);
	}
	a->prune = event_new(a->base, -1, 0, on_prune, a); /* set again by each prune */
	a->drain = event_new(a->base, -1, EV_PERSIST, on_drain, a);
	if (a->prune == NULL || a->drain == NULL)
		fatalx("out of memory");
	facts_refresh(a);
	facts_timer_set(a);
	if (a->conf->enroll_server != NULL) {
		long long every = a->conf->enroll_poll_ms < RENEW_CHECK_MS ? a->conf->enroll_poll_ms : RENEW_CHECK_MS;
		struct timeval rt = clock_tv(every);
		a->renew = event_new(a->base, -1, EV_PERSIST, on_renew, a);
		if (a->renew == NULL || event_add(a->renew, &rt) == -1)
			fatalx("renew: out of memory");
	}
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

/* enroll's options into p, *path and *wait_ms. -1 to go on, else the exit code. */
static int
enroll_options(int argc, char **argv, struct enroll_params *p, const char **path, long long *wait_ms)
{
	static const struct option lo[] = {{"server", required_argument, NULL, 's'},
	    {"token", required_argument, NULL, 't'}, {"ca", required_argument, NULL, 'a'},
	    {"name", required_argument, NULL, 'N'}, {"cert", required_argument, NULL, 'C'},
	    {"key", required_argument, NULL, 'K'}, {"wait", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	char err[512];
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': *path = optarg; break;
		case 's': p->server = optarg; break;
		case 't': p->token = optarg; break;
		case 'a': p->ca = optarg; break;
		case 'N': p->name = optarg; break;
		case 'C': p->cert = optarg; break;
		case 'K': p->key = optarg; break;
		case 'w':
			if (units_duration_ms(optarg, wait_ms, err, sizeof(err)) == -1) {
				fprintf(stderr, "pgfleet-agent enroll: --wait: %s\n", err);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pgfleet-agent enroll: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	return -1;
}

/*
 * What the options leave out, from the configuration path (or the default one, unless
 * --name says all is given): *cf is it, or NULL when none was read. 0, or 2 after saying why.
 */
static int
enroll_conf(const char *path, struct enroll_params *p, long long *poll_ms, struct conf_agent **cf)
{
	struct conf_errors errs = {0};
	*cf = NULL;
	if (path == NULL && (p->name != NULL || access(DEFAULT_CONFIG, F_OK) != 0))
		return 0;
	if (conf_load_agent(path != NULL ? path : DEFAULT_CONFIG, cf, &errs) == -1) {
		conf_errors_print(&errs, stderr);
		conf_errors_free(&errs);
		return 2;
	}
	const struct conf_agent *c = *cf;
	p->server = p->server != NULL ? p->server : c->enroll_server;
	p->token = p->token != NULL ? p->token : c->enroll_token;
	p->ca = p->ca != NULL ? p->ca : c->enroll_ca != NULL ? c->enroll_ca : c->tls_ca;
	p->name = p->name != NULL ? p->name : c->computer;
	p->cert = p->cert != NULL ? p->cert : c->tls_cert;
	p->key = p->key != NULL ? p->key : c->tls_key;
	p->timeout_ms = c->connect_timeout_ms;
	*poll_ms = c->enroll_poll_ms;
	return 0;
}

/* The outcome said, and as the exit code: 0 done, 3 pending or to try again, 1 refused. */
static int
enroll_exit(enum enroll_outcome o, int code, const char *msg)
{
	switch (o) {
	case ENROLL_DONE:
		printf("%s\n", msg);
		return 0;
	case ENROLL_PENDING:
		fprintf(stderr, "pgfleet-agent enroll: pending (code %d): %s\n", code, msg);
		return 3;
	case ENROLL_RETRY:
		fprintf(stderr, "pgfleet-agent enroll: %s\n", msg);
		return 3;
	default:
		fprintf(stderr, "pgfleet-agent enroll: refused (code %d): %s\n", code, msg);
		return 1;
	}
}

/* pgfleet-agent enroll: the values of the options, else of the configuration when it loads. */
static int
cmd_enroll(int argc, char **argv)
{
	const char *path = NULL;
	struct enroll_params p = {.version = version_string(), .timeout_ms = 10000};
	long long wait_ms = 0, poll_ms = 5000;
	char err[512], msg[512];
	int code;
	struct conf_agent *cf = NULL;
	int rc = enroll_options(argc, argv, &p, &path, &wait_ms);
	if (rc != -1)
		return rc;
	if (enroll_conf(path, &p, &poll_ms, &cf) != 0)
		return 2;
	const char *missing = p.server == NULL ? "--server" : p.ca == NULL ? "--ca" : p.name == NULL ?
	    "--name" : p.cert == NULL ? "--cert" : p.key == NULL ? "--key" : NULL;
	if (missing == NULL && p.token == NULL && access(p.cert, F_OK) == -1)
		missing = "--token";
	if (missing != NULL) {
		fprintf(stderr, "pgfleet-agent enroll: %s is needed (or its key in the configuration)\n", missing);
		conf_free_agent(cf);
		return 2;
	}
	if (log_start(cf != NULL ? cf->log_level : 5, NULL, 0, 0, "pgfleet-agent", 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-agent enroll: %s\n", err);
		conf_free_agent(cf);
		return 2;
	}
	enum enroll_outcome o = enroll_wait(&p, wait_ms, poll_ms, &code, msg, sizeof(msg));
	conf_free_agent(cf);
	return enroll_exit(o, code, msg);
}

/* The daemon's options. -1 to go on, else the exit code (0 after --help or --version). */
static int
agent_options(int argc, char **argv, const char **path, int *check, int *foreground)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:ndhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*path = optarg;
			break;
		case 'n':
			*check = 1;
			break;
		case 'd':
			*foreground = 1;
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
	return -1;
}

/* After the loop: what is left of the tasks, then everything freed. */
static void
agent_teardown(struct agent *a)
{
	prune_stop(a);
	/* idle task processes leave on their pipe's end: reaped here, not left to init */
	if (tasks_let_go(a->tasks, TEARDOWN_REAP_MS))
		close_orphans(a, CAUSE_TASK_DIED);
	log_notice("stopped");
	evloop_event_free(a->watchdog);
	evloop_event_free(a->renew);
	evloop_event_free(a->facts_timer);
	free(a->facts);
	for (int i = 0; i < 4; i++)
		event_free(a->sig[i]);
	event_free(a->prune);
	event_free(a->drain);
	tasks_free(a->tasks);
	uplink_free(a->uplink);
	event_base_free(a->base);
	journal_free(a->journal);
	SSL_CTX_free(a->client_ctx);
	conf_free_agent(a->conf);
	log_close();
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "enroll") == 0)
		return cmd_enroll(argc - 1, argv + 1);
	const char *path = DEFAULT_CONFIG;
	int check = 0, foreground = 0;
	struct agent a;
	struct conf_errors errs = {0};

	memset(&a, 0, sizeof(a));
	int rc = agent_options(argc, argv, &path, &check, &foreground);
	if (rc != -1)
		return rc;
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
	agent_teardown(&a);
	return 0;
}
