/*
 * conf: config/scheduler.yaml and config/agent.yaml (libyaml) -> plain C
 * structs, from one table of keys per file kind (type, default, reload or
 * restart). Every error names file:line:column and the key path; all errors
 * of a file are collected, not just the first.
 * Who frees what: conf_load_* hands back a struct the caller frees with
 * conf_free_*; every string and array in it belongs to that struct. A
 * struct conf_errors starts zeroed ({0}) and is emptied with conf_errors_free.
 */
#ifndef PGFLEET_CONF_H
#define PGFLEET_CONF_H

#include <stddef.h>
#include <stdio.h>

/* A config file larger than this is refused before it is parsed. */
#define CONF_MAX_FILE (1024 * 1024)
/* At most this many errors are kept; one more line says there were more. */
#define CONF_MAX_ERRORS 50

/* Messages, one per error (or per warning from conf_reload_*). */
struct conf_errors {
	char **msg;
	size_t n;
	size_t cap;
	int truncated;	/* CONF_MAX_ERRORS reached: later messages dropped */
};

struct conf_strlist {
	char **v;
	size_t n;
};

struct conf_port_range {
	int lo, hi;
};

/* host:port; port 0 means "any free port". */
struct conf_listen {
	char *host;	/* without the [] of an IPv6 address */
	int port;
};

/* tokens.tables: table -> the columns %#!table@column% may read. */
struct conf_token_table {
	char *table;
	struct conf_strlist columns;
};

struct conf_token_tables {
	struct conf_token_table *v;
	size_t n;
};

/* return_codes: exit code -> success (1) or failure (0). */
struct conf_return_code {
	long long code;
	int success;
};

struct conf_return_codes {
	struct conf_return_code *v;
	size_t n;
};

struct conf_scheduler {
	char *path;			/* the file it was loaded from */
	char *database;			/* libpq conninfo; "" = PG* variables; wiped on free */
	char *name;			/* default: the host name */
	int workers;
	int sessions_per_worker;
	long long poll_interval_ms;
	int claim_batch;
	long long lease_ms;
	long long heartbeat_ms;		/* default: lease / 3 */
	int max_attempts;
	char *spool;
	struct conf_port_range transfer_ports;
	char *transfer_advertise;
	long long transfer_key_ttl_ms;
	long long transfer_request_timeout_ms;	/* accept to a complete fetch request */
	long long transfer_idle_timeout_ms;	/* no progress while sending a file */
	int transfer_max_pending;		/* per worker: tasks pushed, file not fetched yet */
	struct conf_listen agents_listen;	/* where agents connect */
	char *agents_port_file;		/* NULL: none */
	long long agents_hello_timeout_ms;	/* accept to a whole Request=Hello */
	long long agents_idle_timeout_ms;	/* silence that closes an agent connection */
	long long agents_presence_interval_ms;	/* last_message_at batches */
	int agents_max_connections;	/* per worker, past the TLS handshake */
	long long offline_expire_ms;	/* 0: never */
	long long timeout_idle_ms;
	long long timeout_message_ms;	/* a message, first byte to last */
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	struct conf_token_tables token_tables;
	int tokens_sql;			/* bool */
	long long tokens_sql_timeout_ms;
	struct conf_return_codes return_codes;
	long long retention_ms;
	long long drain_grace_ms;
	int restart_limit_count;	/* worker restarts allowed ... */
	long long restart_limit_window_ms;	/* ... within this window */
	int log_level;			/* 1..7 */
	char *log_file;			/* NULL: stderr */
	int log_format;			/* enum log_format */
	int log_syslog;			/* bool: also to syslog */
	struct conf_listen metrics_listen;	/* host NULL: no /metrics, /healthz */
	struct conf_listen enrol_listen;	/* host NULL: no enrolment service */
	char *enrol_ca_cert;		/* default: tls.ca */
	char *enrol_ca_key;		/* required with enrol.listen */
	long long enrol_lifetime_ms;	/* of the certificates it signs */
	char *enrol_port_file;		/* NULL: none */
	char *notify_webhook_url;	/* http:// or https://; NULL: no webhook */
	char *notify_webhook_secret_file;	/* the HMAC-SHA256 key; NULL: unsigned */
	char *notify_webhook_ca;	/* https: the CA file to verify with; NULL: the system's */
	long long notify_webhook_timeout_ms;
	struct conf_strlist notify_command;	/* program and arguments, JSON on stdin; n 0: none */
	long long notify_command_timeout_ms;
	struct conf_strlist notify_on;	/* topics sent (CONF_NOTIFY_TOPICS); n 0: all */
	long long notify_retry_backoff_ms;	/* first wait after a failed delivery, doubled */
	long long notify_retry_max_ms;
};

/* The topics of notify.on, as the outbox writes them (migrations/0023). */
#define CONF_NOTIFY_TOPICS "schedule.done", "schedule.failed", "schedule.halted", \
	"schedule.cancelled", "event.failed"

struct conf_agent {
	char *path;
	char *computer;
	long long computer_id;		/* 0: not set */
	struct conf_strlist servers;	/* "host:port", in order (conf_parse_server) */
	long long reconnect_backoff_ms;
	long long reconnect_max_backoff_ms;
	long long keepalive_interval_ms;
	long long keepalive_timeout_ms;
	long long connect_timeout_ms;	/* TCP, TLS and Reply=Hello together */
	char *temp_dir;
	char *journal;
	long long journal_keep;		/* entries kept at most, the oldest pruned first */
	char *boot_env;
	char *os;
	struct conf_strlist run_as_allow;
	char *run_as_default;
	int run_as_allow_root;		/* bool */
	struct conf_strlist copy_allow;	/* folders copy-file tasks may write into; n 0: none */
	unsigned long long max_output;
	unsigned long long max_script;
	long long timeout_ms;
	long long kill_grace_ms;
	long long message_timeout_ms;	/* a message of the scheduler, first byte to last */
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	struct conf_strlist tls_allow_schedulers;	/* empty: any scheduler certificate of our CA */
	int log_level;
	char *log_file;			/* NULL: stderr */
	int log_format;			/* enum log_format */
	int log_syslog;			/* bool: also to syslog */
	char *enroll_server;		/* host:port of an enrolment service; NULL: none */
	char *enroll_token;		/* bootstrap token; wiped on free */
	char *enroll_ca;		/* the CA that authenticates the service; default tls.ca */
	long long enroll_renew_before_ms;	/* renew this long before expiry (at most a third of the lifetime) */
	long long enroll_poll_ms;	/* while pending, ask again this often */
	long long facts_interval_ms;	/* facts gathered again this often; 0: only at connect */
	int wake_port;			/* UDP port of the wake-on-LAN packets it sends; 0: none sent */
};

#define CONF_MAX_SERVERS 16

/*
 * One servers entry, "host:port" or "[v6]:port", port 1..65535, into out
 * (out->host malloc'd, replacing what was there: start from {0}, free it).
 * 0, or -1 with err.
 */
int conf_parse_server(const char *s, struct conf_listen *out, char *err, size_t errlen);

/*
 * Load and check a whole file. Returns 0 and *out (free with conf_free_*),
 * or -1 with *out NULL and at least one message added to errs.
 */
int conf_load_scheduler(const char *path, struct conf_scheduler **out, struct conf_errors *errs);
int conf_load_agent(const char *path, struct conf_agent **out, struct conf_errors *errs);
void conf_free_scheduler(struct conf_scheduler *c);
void conf_free_agent(struct conf_agent *c);

/*
 * SIGHUP: given the running config and a freshly loaded one, every
 * restart-only key whose value differs is swapped back, so that fresh holds
 * the running value and running holds the unapplied one; a warning naming the
 * key is added to warns for each. Use fresh from then on and free running.
 * Returns the number of keys kept.
 */
int conf_reload_scheduler(struct conf_scheduler *running, struct conf_scheduler *fresh,
    struct conf_errors *warns);
/*
 * The number of reloadable keys (those without F_RESTART) whose values differ
 * between a and b: 0 means a reload changes nothing a worker would see.
 */
int conf_changed_scheduler(const struct conf_scheduler *a, const struct conf_scheduler *b);
int conf_reload_agent(struct conf_agent *running, struct conf_agent *fresh,
    struct conf_errors *warns);

/* Whether the agent may run a script as user: run_as.default, a name in
 * run_as.allow, or root when run_as.allow_root is true. */
int conf_agent_user_allowed(const struct conf_agent *c, const char *user);

/* Errors (also usable by callers to add their own). */
void conf_errors_add(struct conf_errors *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One message per line. */
void conf_errors_print(const struct conf_errors *e, FILE *f);
/* Frees the messages; e is zeroed and may be reused. */
void conf_errors_free(struct conf_errors *e);

#endif
