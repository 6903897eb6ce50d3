/*
 * Unit tests for common/conf: defaults, full examples, every refusal with its
 * message, reload of restart-only keys. Each test writes its YAML into a
 * fresh temporary directory that also holds TLS files (the key at 0600).
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"

static char dir[64];
static char files[16][128];
static int nfiles;
static struct conf_errors errs;

static const char *
touch(const char *name, mode_t mode, const char *content)
{
	ck_assert_int_lt(nfiles, 16);
	char *p = files[nfiles++];
	snprintf(p, sizeof(files[0]), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
	ck_assert_int_eq(chmod(p, mode), 0);
	return p;
}

/* Write name with fmt, where every "@" becomes the test directory. */
static const char *
yaml(const char *name, const char *text)
{
	static char buf[8192];
	size_t n = 0;
	for (const char *s = text; *s != '\0' && n < sizeof(buf) - 64; s++) {
		if (*s == '@')
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", dir);
		else
			buf[n++] = *s;
	}
	buf[n] = '\0';
	return touch(name, 0644, buf);
}

static void
setup(void)
{
	strcpy(dir, "/tmp/pgfleet-conftest-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	nfiles = 0;
	touch("ca.crt", 0644, "ca\n");
	touch("node.crt", 0644, "cert\n");
	touch("node.key", 0600, "key\n");
	memset(&errs, 0, sizeof(errs));
}

static void
teardown(void)
{
	for (int i = 0; i < nfiles; i++)
		unlink(files[i]);
	rmdir(dir);
	conf_errors_free(&errs);
}

/* Expected message: "@" in fmt becomes the test directory. */
static const char *
expect(const char *fmt, ...)
{
	static char out[1024];
	char tmp[1024];
	va_list ap;
	size_t n = 0;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	for (const char *s = tmp; *s != '\0' && n < sizeof(out) - 64; s++) {
		if (*s == '@')
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", dir);
		else
			out[n++] = *s;
	}
	out[n] = '\0';
	return out;
}

#define TLS "tls: {ca: @/ca.crt, cert: @/node.crt, key: @/node.key}\n"
/* an agent needs its schedulers; written after TLS, so that earlier lines keep their numbers */
#define SERVERS "servers: [sched-a:4020]\n"

/* The column of the key's value in TLS. */
static int
key_col(void)
{
	return (int)(42 + 2 * strlen(dir));
}

/* text and then SERVERS (a required key the tests below are not about) */
static void
agent_fails(const char *text)
{
	struct conf_agent *c = (struct conf_agent *)1;
	char *whole = NULL;
	ck_assert_int_ne(asprintf(&whole, "%s%s", text, SERVERS), -1);
	ck_assert_int_eq(conf_load_agent(yaml("agent.yaml", whole), &c, &errs), -1);
	free(whole);
	ck_assert_ptr_null(c);
	ck_assert_uint_ge(errs.n, 1);
}

static void
scheduler_fails(const char *text)
{
	struct conf_scheduler *c = (struct conf_scheduler *)1;
	ck_assert_int_eq(conf_load_scheduler(yaml("scheduler.yaml", text), &c, &errs), -1);
	ck_assert_ptr_null(c);
	ck_assert_uint_ge(errs.n, 1);
}

START_TEST(test_conf_agent_defaults_filled)
{
	struct conf_agent *c;
	int rc = conf_load_agent(yaml("agent.yaml", "computer: web-01\n" TLS SERVERS), &c, &errs);
	conf_errors_print(&errs, stderr);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(c->path, expect("@/agent.yaml"));
	ck_assert_str_eq(c->computer, "web-01");
	ck_assert_int_eq(c->computer_id, 0);
	ck_assert_uint_eq(c->servers.n, 1);
	ck_assert_str_eq(c->servers.v[0], "sched-a:4020");
	ck_assert_int_eq(c->reconnect_backoff_ms, 1000);
	ck_assert_int_eq(c->reconnect_max_backoff_ms, 60000);
	ck_assert_int_eq(c->keepalive_interval_ms, 30000);
	ck_assert_int_eq(c->keepalive_timeout_ms, 90000);
	ck_assert_int_eq(c->connect_timeout_ms, 10000);
	ck_assert_str_eq(c->temp_dir, "/var/lib/pgfleet-agent/temp");
	ck_assert_str_eq(c->journal, "/var/lib/pgfleet-agent/journal");
	ck_assert_str_eq(c->boot_env, "Production");
	ck_assert_str_eq(c->os, "Linux");
	ck_assert_uint_eq(c->run_as_allow.n, 0);
	ck_assert_str_eq(c->run_as_default, "root");
	ck_assert_int_eq(c->run_as_allow_root, 0);
	ck_assert_uint_eq(c->max_output, 65536);
	ck_assert_uint_eq(c->max_script, 16777216);
	ck_assert_int_eq(c->timeout_ms, 3600000);
	ck_assert_int_eq(c->kill_grace_ms, 10000);
	ck_assert_int_eq(c->message_timeout_ms, 30000);
	ck_assert_str_eq(c->tls_ca, expect("@/ca.crt"));
	ck_assert_str_eq(c->tls_cert, expect("@/node.crt"));
	ck_assert_str_eq(c->tls_key, expect("@/node.key"));
	ck_assert_uint_eq(c->tls_allow_schedulers.n, 0);
	ck_assert_int_eq(c->log_level, 5);
	ck_assert_ptr_null(c->log_file);
	ck_assert_int_eq(c->log_format, LOG_FORMAT_ISO);
	ck_assert_int_eq(c->log_syslog, 0);
	ck_assert_int_eq(c->wake_port, 9);
	conf_free_agent(c);
}
END_TEST

START_TEST(test_conf_scheduler_defaults_filled)
{
	struct conf_scheduler *c;
	char host[256];
	int rc = conf_load_scheduler(yaml("scheduler.yaml", TLS), &c, &errs);
	conf_errors_print(&errs, stderr);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	ck_assert_str_eq(c->database, "");
	ck_assert_str_eq(c->name, host);
	ck_assert_int_eq(c->workers, 4);
	ck_assert_int_eq(c->sessions_per_worker, 512);
	ck_assert_int_eq(c->poll_interval_ms, 1000);
	ck_assert_int_eq(c->claim_batch, 100);
	ck_assert_int_eq(c->lease_ms, 60000);
	ck_assert_int_eq(c->heartbeat_ms, 20000);
	ck_assert_int_eq(c->max_attempts, 3);
	ck_assert_str_eq(c->spool, "/var/spool/pgfleet");
	ck_assert_int_eq(c->transfer_ports.lo, 20000);
	ck_assert_int_eq(c->transfer_ports.hi, 20999);
	ck_assert_str_eq(c->transfer_advertise, "127.0.0.1");
	ck_assert_int_eq(c->transfer_key_ttl_ms, 30000);
	ck_assert_int_eq(c->transfer_request_timeout_ms, 10000);
	ck_assert_int_eq(c->transfer_idle_timeout_ms, 60000);
	ck_assert_str_eq(c->agents_listen.host, "0.0.0.0");
	ck_assert_int_eq(c->agents_listen.port, 4020);
	ck_assert_ptr_null(c->agents_port_file);
	ck_assert_int_eq(c->agents_hello_timeout_ms, 10000);
	ck_assert_int_eq(c->agents_idle_timeout_ms, 120000);
	ck_assert_int_eq(c->agents_presence_interval_ms, 10000);
	ck_assert_int_eq(c->agents_max_connections, 16384);
	ck_assert_int_eq(c->offline_expire_ms, 86400000);
	ck_assert_int_eq(c->timeout_idle_ms, 60000);
	ck_assert_int_eq(c->timeout_message_ms, 30000);
	ck_assert_uint_eq(c->token_tables.n, 0);
	ck_assert_int_eq(c->tokens_sql, 0);
	ck_assert_int_eq(c->tokens_sql_timeout_ms, 2000);
	ck_assert_uint_eq(c->return_codes.n, 0);
	ck_assert_int_eq(c->retention_ms, 180LL * 86400000);
	ck_assert_int_eq(c->drain_grace_ms, 30000);
	ck_assert_int_eq(c->restart_limit_count, 5);
	ck_assert_int_eq(c->restart_limit_window_ms, 60000);
	ck_assert_int_eq(c->log_level, 5);
	ck_assert_ptr_null(c->log_file);
	ck_assert_ptr_null(c->metrics_listen.host);
	conf_free_scheduler(c);
}
END_TEST

START_TEST(test_conf_scheduler_full_example_loads)
{
	struct conf_scheduler *c;
	int rc = conf_load_scheduler(yaml("scheduler.yaml",
	    "# the example of DESIGN.md, every key set\n"
	    "database: \"host=/var/run/postgresql dbname=pgfleet\"\n"
	    "name: sched-a\n"
	    "workers: 8\n"
	    "sessions_per_worker: 256\n"
	    "poll_interval: 500ms\n"
	    "claim_batch: 50\n"
	    "lease: 90s\n"
	    "heartbeat: 15s\n"
	    "max_attempts: 4\n"
	    "spool: /srv/spool\n"
	    "transfer:\n"
	    "  port_range: 21000-21099\n"
	    "  advertise: 10.0.0.5\n"
	    "  key_ttl: 45s\n"
	    "  request_timeout: 1500ms\n"
	    "  idle_timeout: 2m\n"
	    "agents: {listen: \"[::]:4021\", port_file: /run/agents.port, hello_timeout: 3s,\n"
	    "  idle_timeout: 4m, presence_interval: 5s, max_connections: 7}\n"
	    "events: {offline_expire: 2d}\n"
	    "timeouts: {idle: 2m}\n"
	    TLS
	    "tokens:\n"
	    "  tables: {computer: [name, serial, domain], inventory: [ram_mb, cpu]}\n"
	    "  sql: true\n"
	    "  sql_timeout: 1500ms\n"
	    "return_codes: {3010: success, 1: failure, -5: success}\n"
	    "retention: 30d\n"
	    "drain_grace: 1m\n"
	    "restart_limit: {count: 3, window: 10m}\n"
	    "log: {level: 7, file: /var/log/pgfleet/scheduler.log, format: axengine, syslog: true}\n"
	    "metrics: {listen: \"[::1]:9187\"}\n"),
	    &c, &errs);
	conf_errors_print(&errs, stderr);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(c->database, "host=/var/run/postgresql dbname=pgfleet");
	ck_assert_str_eq(c->name, "sched-a");
	ck_assert_int_eq(c->workers, 8);
	ck_assert_int_eq(c->sessions_per_worker, 256);
	ck_assert_int_eq(c->poll_interval_ms, 500);
	ck_assert_int_eq(c->claim_batch, 50);
	ck_assert_int_eq(c->lease_ms, 90000);
	ck_assert_int_eq(c->heartbeat_ms, 15000);
	ck_assert_int_eq(c->max_attempts, 4);
	ck_assert_str_eq(c->spool, "/srv/spool");
	ck_assert_int_eq(c->transfer_ports.lo, 21000);
	ck_assert_int_eq(c->transfer_ports.hi, 21099);
	ck_assert_str_eq(c->transfer_advertise, "10.0.0.5");
	ck_assert_int_eq(c->transfer_key_ttl_ms, 45000);
	ck_assert_int_eq(c->transfer_request_timeout_ms, 1500);
	ck_assert_int_eq(c->transfer_idle_timeout_ms, 120000);
	ck_assert_str_eq(c->agents_listen.host, "::");
	ck_assert_int_eq(c->agents_listen.port, 4021);
	ck_assert_str_eq(c->agents_port_file, "/run/agents.port");
	ck_assert_int_eq(c->agents_hello_timeout_ms, 3000);
	ck_assert_int_eq(c->agents_idle_timeout_ms, 240000);
	ck_assert_int_eq(c->agents_presence_interval_ms, 5000);
	ck_assert_int_eq(c->agents_max_connections, 7);
	ck_assert_int_eq(c->offline_expire_ms, 2LL * 86400000);
	ck_assert_int_eq(c->timeout_idle_ms, 120000);
	ck_assert_str_eq(c->tls_ca, expect("@/ca.crt"));
	ck_assert_str_eq(c->tls_cert, expect("@/node.crt"));
	ck_assert_str_eq(c->tls_key, expect("@/node.key"));
	ck_assert_uint_eq(c->token_tables.n, 2);
	ck_assert_str_eq(c->token_tables.v[0].table, "computer");
	ck_assert_uint_eq(c->token_tables.v[0].columns.n, 3);
	ck_assert_str_eq(c->token_tables.v[0].columns.v[0], "name");
	ck_assert_str_eq(c->token_tables.v[0].columns.v[1], "serial");
	ck_assert_str_eq(c->token_tables.v[0].columns.v[2], "domain");
	ck_assert_str_eq(c->token_tables.v[1].table, "inventory");
	ck_assert_uint_eq(c->token_tables.v[1].columns.n, 2);
	ck_assert_str_eq(c->token_tables.v[1].columns.v[0], "ram_mb");
	ck_assert_str_eq(c->token_tables.v[1].columns.v[1], "cpu");
	ck_assert_int_eq(c->tokens_sql, 1);
	ck_assert_int_eq(c->tokens_sql_timeout_ms, 1500);
	ck_assert_uint_eq(c->return_codes.n, 3);
	ck_assert_int_eq(c->return_codes.v[0].code, 3010);
	ck_assert_int_eq(c->return_codes.v[0].success, 1);
	ck_assert_int_eq(c->return_codes.v[1].code, 1);
	ck_assert_int_eq(c->return_codes.v[1].success, 0);
	ck_assert_int_eq(c->return_codes.v[2].code, -5);
	ck_assert_int_eq(c->return_codes.v[2].success, 1);
	ck_assert_int_eq(c->retention_ms, 30LL * 86400000);
	ck_assert_int_eq(c->drain_grace_ms, 60000);
	ck_assert_int_eq(c->restart_limit_count, 3);
	ck_assert_int_eq(c->restart_limit_window_ms, 600000);
	ck_assert_int_eq(c->log_level, 7);
	ck_assert_str_eq(c->log_file, "/var/log/pgfleet/scheduler.log");
	ck_assert_int_eq(c->log_format, LOG_FORMAT_AXENGINE);
	ck_assert_int_eq(c->log_syslog, 1);
	ck_assert_str_eq(c->metrics_listen.host, "::1");
	ck_assert_int_eq(c->metrics_listen.port, 9187);
	conf_free_scheduler(c);
}
END_TEST

START_TEST(test_conf_agent_full_example_loads)
{
	struct conf_agent *c;
	int rc = conf_load_agent(yaml("agent.yaml",
	    "computer: web-01\n"
	    "computer_id: 5000011\n"
	    "servers: [\"sched-a.example:4020\", \"[::1]:4021\"]\n"
	    "reconnect: {backoff: 2s, max_backoff: 2m}\n"
	    "keepalive: {interval: 15s, timeout: 45s}\n"
	    "connect_timeout: 5s\n"
	    "temp_dir: /srv/agent/temp\n"
	    "journal: /srv/agent/journal\n"
	    "boot_env: Automation\n"
	    "os: Debian\n"
	    "run_as: {allow: [root, deploy, svc_backup$], default: deploy, allow_root: true}\n"
	    "max_output: 1MiB\n"
	    "max_script: 2MiB\n"
	    "timeout: 10m\n"
	    "kill_grace: 3s\n"
	    "tls: {ca: @/ca.crt, cert: @/node.crt, key: @/node.key,\n"
	    "      allow_schedulers: [sched-a, sched-b]}\n"
	    "log: {level: 6, file: /var/log/pgfleet/agent.log}\n"), &c, &errs);
	conf_errors_print(&errs, stderr);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(c->computer, "web-01");
	ck_assert_int_eq(c->computer_id, 5000011);
	ck_assert_uint_eq(c->servers.n, 2);
	ck_assert_str_eq(c->servers.v[0], "sched-a.example:4020");
	ck_assert_str_eq(c->servers.v[1], "[::1]:4021");
	ck_assert_int_eq(c->reconnect_backoff_ms, 2000);
	ck_assert_int_eq(c->reconnect_max_backoff_ms, 120000);
	ck_assert_int_eq(c->keepalive_interval_ms, 15000);
	ck_assert_int_eq(c->keepalive_timeout_ms, 45000);
	ck_assert_int_eq(c->connect_timeout_ms, 5000);
	ck_assert_str_eq(c->temp_dir, "/srv/agent/temp");
	ck_assert_str_eq(c->journal, "/srv/agent/journal");
	ck_assert_str_eq(c->boot_env, "Automation");
	ck_assert_str_eq(c->os, "Debian");
	ck_assert_uint_eq(c->run_as_allow.n, 3);
	ck_assert_str_eq(c->run_as_allow.v[0], "root");
	ck_assert_str_eq(c->run_as_allow.v[1], "deploy");
	ck_assert_str_eq(c->run_as_allow.v[2], "svc_backup$");
	ck_assert_str_eq(c->run_as_default, "deploy");
	ck_assert_int_eq(c->run_as_allow_root, 1);
	ck_assert_uint_eq(c->max_output, 1048576);
	ck_assert_uint_eq(c->max_script, 2097152);
	ck_assert_int_eq(c->timeout_ms, 600000);
	ck_assert_int_eq(c->kill_grace_ms, 3000);
	ck_assert_uint_eq(c->tls_allow_schedulers.n, 2);
	ck_assert_str_eq(c->tls_allow_schedulers.v[0], "sched-a");
	ck_assert_str_eq(c->tls_allow_schedulers.v[1], "sched-b");
	ck_assert_int_eq(c->log_level, 6);
	ck_assert_str_eq(c->log_file, "/var/log/pgfleet/agent.log");
	conf_free_agent(c);
}
END_TEST

START_TEST(test_conf_null_value_keeps_default)
{
	struct conf_agent *c;
	int rc = conf_load_agent(yaml("agent.yaml",
	    "computer: web-01\n" TLS "max_output:\nlog:\nrun_as: {default: ~}\n" SERVERS), &c, &errs);
	conf_errors_print(&errs, stderr);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(c->max_output, 65536);
	ck_assert_str_eq(c->run_as_default, "root");
	ck_assert_int_eq(c->log_level, 5);
	conf_free_agent(c);
}
END_TEST

START_TEST(test_conf_refuses_unknown_key)
{
	agent_fails("computer: web-01\nlisen: 0.0.0.0:4020\n" TLS "log: {levle: 3}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:2:1: unknown key \"lisen\" in agent config"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/agent.yaml:4:7: unknown key \"log.levle\" in agent config"));
}
END_TEST

START_TEST(test_conf_refuses_unknown_log_format_and_non_boolean_syslog)
{
	scheduler_fails(TLS "log: {format: json, syslog: yes please}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_ptr_nonnull(strstr(errs.msg[0], "\"json\" is not a log format (use iso or axengine)"));
	ck_assert_ptr_nonnull(strstr(errs.msg[1], "is not a boolean"));
}
END_TEST

START_TEST(test_conf_refuses_dotted_key)
{
	scheduler_fails(TLS "\"log.level\": 3\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/scheduler.yaml:2:1: unknown key \"log.level\" in scheduler config"));
}
END_TEST

START_TEST(test_conf_refuses_wrong_type)
{
	agent_fails("computer: {name: web-01}\n" TLS "run_as: {allow: root}\nlog: 5\n"
	    "tls_more: x\n");
	ck_assert_uint_eq(errs.n, 4);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/agent.yaml:1:11: computer: expected a string, found a map"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/agent.yaml:3:17: run_as.allow: expected a list of user names, found a scalar"));
	ck_assert_str_eq(errs.msg[2], expect("@/agent.yaml:4:6: log: expected a map, found a scalar"));
	ck_assert_str_eq(errs.msg[3],
	    expect("@/agent.yaml:5:1: unknown key \"tls_more\" in agent config"));
}
END_TEST

START_TEST(test_conf_refuses_list_where_scalar_expected)
{
	scheduler_fails(TLS "workers: [1, 2]\ntokens: {sql: [true]}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/scheduler.yaml:2:10: workers: expected an integer, found a list"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/scheduler.yaml:3:15: tokens.sql: expected true or false, found a list"));
}
END_TEST

START_TEST(test_conf_refuses_bad_duration)
{
	scheduler_fails(TLS "lease: 5w\npoll_interval: 0s\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0], expect("@/scheduler.yaml:2:8: lease: "
	    "\"5w\" has an unknown duration unit (use ms, s, m, h or d)"));
	ck_assert_str_eq(errs.msg[1], expect("@/scheduler.yaml:3:16: poll_interval: "
	    "duration \"0s\" is out of range 10ms..1h"));
}
END_TEST

START_TEST(test_conf_refuses_bad_size)
{
	agent_fails("computer: web-01\n" TLS "max_output: 64XB\nmax_script: 2GiB\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:13: max_output: "
	    "\"64XB\" has an unknown size unit (use B, KiB, MiB or GiB)"));
	ck_assert_str_eq(errs.msg[1], expect("@/agent.yaml:4:13: max_script: "
	    "size \"2GiB\" is out of range 1..1GiB"));
}
END_TEST

START_TEST(test_conf_refuses_bad_port_range)
{
	scheduler_fails(TLS "transfer: {port_range: 20999-20000}\nagents: {listen: \"h:70000\"}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0], expect("@/scheduler.yaml:2:24: transfer.port_range: "
	    "port range \"20999-20000\" ends before it starts"));
	ck_assert_str_eq(errs.msg[1], expect("@/scheduler.yaml:3:18: agents.listen: "
	    "port of \"h:70000\": 70000 is out of range 0..65535"));
}
END_TEST

START_TEST(test_conf_refuses_bad_listen)
{
	scheduler_fails(TLS "agents: {listen: \"::1:4020\"}\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], expect("@/scheduler.yaml:2:18: agents.listen: "
	    "\"::1:4020\" is not host:port (examples: 0.0.0.0:4020, [::]:4020)"));
}
END_TEST

START_TEST(test_conf_refuses_bad_servers)
{
	struct conf_agent *c = (struct conf_agent *)1;
	ck_assert_int_eq(conf_load_agent(yaml("agent.yaml", "computer: web-01\n" TLS
	    "servers: [\"::1:4020\", sched-a:0, sched-a, sched-b:4020, sched-b:4020]\n"), &c, &errs), -1);
	ck_assert_uint_eq(errs.n, 4);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:11: servers: "
	    "\"::1:4020\" is not host:port (examples: 0.0.0.0:4020, [::]:4020)"));
	ck_assert_str_eq(errs.msg[1], expect("@/agent.yaml:3:23: servers: "
	    "\"sched-a:0\" needs a host and a port 1..65535 (example: sched-a:4020)"));
	ck_assert_str_eq(errs.msg[2], expect("@/agent.yaml:3:34: servers: "
	    "\"sched-a\" is not host:port (examples: 0.0.0.0:4020, [::]:4020)"));
	ck_assert_str_eq(errs.msg[3], expect("@/agent.yaml:3:57: servers: "
	    "\"sched-b:4020\" is listed twice"));
	conf_errors_free(&errs);
	ck_assert_int_eq(conf_load_agent(yaml("agent.yaml", "computer: web-01\n" TLS
	    "servers: []\n"), &c, &errs), -1);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:10: servers: "
	    "at least one scheduler is needed (host:port)"));
	conf_errors_free(&errs);
	ck_assert_int_eq(conf_load_agent(yaml("agent.yaml", "computer: web-01\n" TLS), &c, &errs), -1);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:1:1: servers: required key is missing"));
}
END_TEST

START_TEST(test_conf_refuses_removed_keys_with_a_pointer)
{
	agent_fails("computer: web-01\nlisten: 0.0.0.0:4020\n" TLS "port_file: /x\n"
	    "tls: {allow_clients: [a]}\n");
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:2:1: listen: no longer a key: the agent "
	    "listens on no port any more: name its schedulers in servers: [host:port, ...]"));
	conf_errors_free(&errs);
	agent_fails("computer: web-01\n" TLS "reconnect: {backoff: 2m, max_backoff: 1m}\n"
	    "keepalive: {interval: 10s, timeout: 10s}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:22: reconnect.backoff: "
	    "2m is longer than reconnect.max_backoff (1m)"));
	ck_assert_str_eq(errs.msg[1], expect("@/agent.yaml:4:37: keepalive.timeout: "
	    "10s must be longer than keepalive.interval (10s)"));
	conf_errors_free(&errs);
	scheduler_fails(TLS "agent_port: 4020\nretry: {max: 1}\ntimeouts: {connect: 1s}\n");
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_str_eq(errs.msg[0], expect("@/scheduler.yaml:2:1: agent_port: no longer a key: "
	    "agents connect to the scheduler now: agents.listen"));
	ck_assert_str_eq(errs.msg[1], expect("@/scheduler.yaml:3:1: retry: no longer a key: agents "
	    "connect to the scheduler now and reconnect by themselves (reconnect: in agent.yaml)"));
	ck_assert_str_eq(errs.msg[2], expect("@/scheduler.yaml:4:12: timeouts.connect: no longer a key: "
	    "agents connect to the scheduler now (agents.hello_timeout)"));
}
END_TEST

START_TEST(test_conf_refuses_bad_bool)
{
	agent_fails("computer: web-01\n" TLS "run_as: {allow_root: maybe}\n");
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:22: run_as.allow_root: "
	    "\"maybe\" is not a boolean (use true or false)"));
}
END_TEST

START_TEST(test_conf_refuses_aliases_and_anchors)
{
	agent_fails("computer: &name web-01\n" TLS "boot_env: *name\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/agent.yaml:1:11: computer: YAML anchor &name is not allowed"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/agent.yaml:3:11: boot_env: YAML alias *name is not allowed"));
}
END_TEST

START_TEST(test_conf_refuses_yaml_tags)
{
	agent_fails("computer: !!binary d2ViLTAx\n" TLS "boot_env: !!python/object:os.system x\n"
	    "run_as: !local {allow_root: true}\nos: !!str Linux\n");
	ck_assert_uint_eq(errs.n, 4);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/agent.yaml:1:11: computer: YAML tag !!binary is not allowed"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/agent.yaml:3:11: boot_env: YAML tag !!python/object:os.system is not allowed"));
	ck_assert_str_eq(errs.msg[2],
	    expect("@/agent.yaml:4:9: run_as: YAML tag !local is not allowed"));
	ck_assert_str_eq(errs.msg[3], expect("@/agent.yaml:5:5: os: YAML tag !!str is not allowed"));
}
END_TEST

START_TEST(test_conf_refuses_alias_bomb)
{
	agent_fails("computer: w\n" TLS "a: &a [x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n");
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:1: unknown key \"a\" in agent config"));
	ck_assert_str_eq(errs.msg[1], expect("@/agent.yaml:3:4: a: YAML anchor &a is not allowed"));
	ck_assert_str_eq(errs.msg[2], expect("@/agent.yaml:4:1: unknown key \"b\" in agent config"));
	ck_assert_str_eq(errs.msg[3], expect("@/agent.yaml:4:4: b: YAML anchor &b is not allowed"));
	ck_assert_str_eq(errs.msg[4], expect("@/agent.yaml:4:8: b: YAML alias *a is not allowed"));
	ck_assert_uint_eq(errs.n, 24);
}
END_TEST

START_TEST(test_conf_refuses_oversize_file)
{
	char *big = malloc(CONF_MAX_FILE + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, '#', CONF_MAX_FILE + 1);
	big[CONF_MAX_FILE + 1] = '\0';
	struct conf_agent *c;
	ck_assert_int_eq(conf_load_agent(touch("big.yaml", 0644, big), &c, &errs), -1);
	free(big);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/big.yaml: the file is larger than 1 MiB (the limit)"));
}
END_TEST

/* A FIFO at path fed by a child with pad bytes of comment, then text; the child's pid. */
static pid_t
feed_fifo(const char *path, size_t pad, const char *text)
{
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_lt(nfiles, 16);
	snprintf(files[nfiles++], sizeof(files[0]), "%s", path);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		FILE *f = fopen(path, "w");
		if (f == NULL)
			_exit(1);
		fputc('#', f);
		for (size_t i = 1; i < pad; i++)
			fputc(i % 80 == 79 ? '\n' : (i % 80 == 0 ? '#' : 'x'), f);
		fputs("\n", f);
		fputs(text, f);
		fclose(f);
		_exit(0);
	}
	return pid;
}

/* Not a regular file (no size known in advance): read as it comes, up to the limit. */
START_TEST(test_conf_reads_config_from_a_pipe)
{
	char path[128], body[512];
	struct conf_agent *c = NULL;
	int st;
	snprintf(path, sizeof(path), "%s/fifo.yaml", dir);
	snprintf(body, sizeof(body), "%s", expect("computer: web-01\n" TLS SERVERS));
	pid_t pid = feed_fifo(path, 200000, body);
	ck_assert_int_eq(conf_load_agent(path, &c, &errs), 0);
	ck_assert_str_eq(c->computer, "web-01");
	conf_free_agent(c);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);

	unlink(path);
	nfiles--;
	pid = feed_fifo(path, CONF_MAX_FILE + 10, body);
	ck_assert_int_eq(conf_load_agent(path, &c, &errs), -1);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], expect("@/fifo.yaml: the file is larger than 1 MiB (the limit)"));
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}
END_TEST

START_TEST(test_conf_reports_syntax_error)
{
	agent_fails("computer: web-01\nlisten: [0.0.0.0:4020\nos: Linux\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:3: YAML syntax error: did not find "
	    "expected ',' or ']' (while parsing a flow sequence at 2:9)"));
	conf_errors_free(&errs);
	agent_fails("computer: web-01\n  os: Linux\n");
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:2:5: YAML syntax error: "
	    "mapping values are not allowed in this context"));
}
END_TEST

START_TEST(test_conf_refuses_bad_utf8)
{
	agent_fails("computer: web-01\nos: \"\xff\"\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/agent.yaml:2:6: YAML syntax error: invalid leading UTF-8 octet"));
}
END_TEST

START_TEST(test_conf_refuses_nul_and_control_characters)
{
	agent_fails("computer: \"web\\0-01\"\n" TLS "os: \"Lin\\nux\"\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/agent.yaml:1:11: computer: value contains a NUL character"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/agent.yaml:3:5: os: value contains a control character"));
}
END_TEST

START_TEST(test_conf_refuses_second_document_and_non_map)
{
	agent_fails("computer: a\n---\ncomputer: b\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:2:1: only one YAML document is allowed"));
	conf_errors_free(&errs);
	scheduler_fails("- workers: 4\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/scheduler.yaml:1:1: the scheduler config must be a map of keys, found a list"));
}
END_TEST

START_TEST(test_conf_refuses_deep_nesting)
{
	char text[256] = "computer: ";
	for (int i = 0; i < 40; i++)
		strcat(text, "[");
	strcat(text, "\n");
	agent_fails(text);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/agent.yaml:1:42: maps and lists nest deeper than 32 levels"));
}
END_TEST

START_TEST(test_conf_refuses_missing_required)
{
	agent_fails("tls: {ca: @/ca.crt, cert: @/node.crt}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:1:1: computer: required key is missing"));
	ck_assert_str_eq(errs.msg[1], expect("@/agent.yaml:1:6: tls.key: required key is missing"));
	conf_errors_free(&errs);
	agent_fails("computer:\n" TLS);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:1:10: computer: required key has no value"));
	conf_errors_free(&errs);
	scheduler_fails("");
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_str_eq(errs.msg[0], expect("@/scheduler.yaml:1:1: tls.ca: required key is missing"));
}
END_TEST

START_TEST(test_conf_refuses_readable_key_file)
{
	ck_assert_int_eq(chmod(files[2], 0644), 0);
	agent_fails("computer: web-01\n" TLS);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:2:%d: tls.key: @/node.key is readable "
	    "by others (mode 0644); chmod 600 it", key_col()));
	conf_errors_free(&errs);
	ck_assert_int_eq(chmod(files[2], 0640), 0);
	scheduler_fails(TLS);
	ck_assert_str_eq(errs.msg[0], expect("@/scheduler.yaml:1:%d: tls.key: @/node.key is "
	    "readable by others (mode 0640); chmod 600 it", key_col()));
}
END_TEST

START_TEST(test_conf_refuses_missing_tls_files)
{
	agent_fails("computer: web-01\n"
	    "tls: {ca: @/nope.crt, cert: @, key: @/nope.key}\n");
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/agent.yaml:2:11: tls.ca: cannot stat @/nope.crt: No such file or directory"));
	ck_assert_str_eq(errs.msg[1], expect("@/agent.yaml:2:%d: tls.cert: @ is not a regular file",
	    (int)(28 + strlen(dir))));
	ck_assert_str_eq(errs.msg[2], expect("@/agent.yaml:2:%d: tls.key: cannot stat @/nope.key: "
	    "No such file or directory", (int)(35 + 2 * strlen(dir))));
}
END_TEST

START_TEST(test_conf_refuses_relative_path)
{
	scheduler_fails(TLS "spool: spool\nlog: {file: \"\"}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/scheduler.yaml:2:8: spool: \"spool\" is not an absolute path"));
	ck_assert_str_eq(errs.msg[1], expect("@/scheduler.yaml:3:13: log.file: value is empty"));
}
END_TEST

START_TEST(test_conf_refuses_bad_table_identifier)
{
	scheduler_fails(TLS "tokens:\n  tables: {Computer: [name], inventory: [ram-mb, cpu, cpu],\n"
	    "           hw: name}\n");
	ck_assert_uint_eq(errs.n, 4);
	ck_assert_str_eq(errs.msg[0], expect("@/scheduler.yaml:3:12: tokens.tables: \"Computer\" "
	    "is not a valid table name (use [a-z_][a-z0-9_]*, at most 63 characters)"));
	ck_assert_str_eq(errs.msg[1], expect("@/scheduler.yaml:3:42: tokens.tables.inventory: "
	    "\"ram-mb\" is not a valid column name (use [a-z_][a-z0-9_]*, at most 63 characters)"));
	ck_assert_str_eq(errs.msg[2], expect("@/scheduler.yaml:3:55: tokens.tables.inventory: "
	    "\"cpu\" is listed twice"));
	ck_assert_str_eq(errs.msg[3], expect("@/scheduler.yaml:4:16: tokens.tables.hw: "
	    "expected a list of columns, found a scalar"));
}
END_TEST

START_TEST(test_conf_refuses_bad_return_codes)
{
	scheduler_fails(TLS "return_codes: {3010: ok, abc: success, 4: failure, 4: success}\n");
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_str_eq(errs.msg[0], expect("@/scheduler.yaml:2:22: return_codes.3010: \"ok\" "
	    "is not an action (use success or failure)"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/scheduler.yaml:2:26: return_codes: \"abc\" is not an integer"));
	ck_assert_str_eq(errs.msg[2],
	    expect("@/scheduler.yaml:2:52: return_codes: duplicate code 4"));
}
END_TEST

START_TEST(test_conf_refuses_log_level_out_of_range)
{
	scheduler_fails(TLS "log: {level: 0}\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/scheduler.yaml:2:14: log.level: 0 is out of range 1..7"));
	conf_errors_free(&errs);
	agent_fails("computer: web-01\n" TLS "log: {level: 8}\n");
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:14: log.level: 8 is out of range 1..7"));
}
END_TEST

START_TEST(test_conf_agent_wake_port_in_range)
{
	struct conf_agent *c;
	ck_assert_int_eq(conf_load_agent(yaml("agent.yaml",
	    "computer: web-01\n" TLS "wake: {port: 40009}\n" SERVERS), &c, &errs), 0);
	ck_assert_int_eq(c->wake_port, 40009);
	conf_free_agent(c);
	agent_fails("computer: web-01\n" TLS "wake: {port: 65536}\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:3:14: wake.port: 65536 is out of range 0..65535"));
	conf_errors_free(&errs);
	agent_fails("computer: web-01\n" TLS "wake: {port: nine}\n");
	ck_assert_uint_eq(errs.n, 1);
}
END_TEST

START_TEST(test_conf_refuses_bad_user_names)
{
	agent_fails("computer: web-01\n" TLS "run_as: {allow: [deploy, \"Bad User\", deploy], "
	    "default: \"x y\"}\n");
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/agent.yaml:3:26: run_as.allow: \"Bad User\" is not a valid user name"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/agent.yaml:3:38: run_as.allow: \"deploy\" is listed twice"));
	ck_assert_str_eq(errs.msg[2],
	    expect("@/agent.yaml:3:56: run_as.default: \"x y\" is not a valid user name"));
}
END_TEST

START_TEST(test_conf_refuses_duplicate_key)
{
	scheduler_fails(TLS "workers: 2\nworkers: 3\ntls: {}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/scheduler.yaml:3:10: workers: duplicate key (first set at 2:10)"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/scheduler.yaml:4:6: tls: duplicate key (first set at 1:6)"));
}
END_TEST

START_TEST(test_conf_refuses_heartbeat_not_below_lease)
{
	scheduler_fails(TLS "lease: 10s\nheartbeat: 10s\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/scheduler.yaml:3:12: heartbeat: 10s must be shorter than lease (10s)"));
}
END_TEST

START_TEST(test_conf_reports_all_errors_in_file_order)
{
	agent_fails("lisen: x\ncomputer: *c\nmax_output: 1XB\n" TLS "log: {level: 9}\n");
	ck_assert_uint_eq(errs.n, 4);
	ck_assert_str_eq(errs.msg[0], expect("@/agent.yaml:1:1: unknown key \"lisen\" in agent config"));
	ck_assert_str_eq(errs.msg[1], expect("@/agent.yaml:2:11: computer: YAML alias *c is not allowed"));
	ck_assert_str_eq(errs.msg[2], expect("@/agent.yaml:3:13: max_output: "
	    "\"1XB\" has an unknown size unit (use B, KiB, MiB or GiB)"));
	ck_assert_str_eq(errs.msg[3], expect("@/agent.yaml:5:14: log.level: 9 is out of range 1..7"));
}
END_TEST

START_TEST(test_conf_caps_the_number_of_errors)
{
	char text[4096] = "";
	for (int i = 0; i < 60; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "k%d: 1\n", i);
	agent_fails(text);
	ck_assert_uint_eq(errs.n, CONF_MAX_ERRORS);
	ck_assert_int_eq(errs.truncated, 1);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	conf_errors_print(&errs, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "k0\" in agent config\n"));
	ck_assert_ptr_nonnull(strstr(out, "\ntoo many errors; only the first 50 are shown\n"));
	free(out);
}
END_TEST

START_TEST(test_conf_refuses_missing_file)
{
	struct conf_scheduler *c;
	ck_assert_int_eq(conf_load_scheduler(expect("@/none.yaml"), &c, &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msg[0], expect("@/none.yaml: cannot open: No such file or directory"));
}
END_TEST

START_TEST(test_conf_reload_keeps_restart_only_values)
{
	struct conf_scheduler *old, *fresh;
	ck_assert_int_eq(conf_load_scheduler(yaml("a.yaml", TLS "workers: 4\npoll_interval: 1s\n"
	    "database: \"dbname=a\"\n"), &old, &errs), 0);
	ck_assert_int_eq(conf_load_scheduler(yaml("b.yaml", TLS "workers: 8\npoll_interval: 2s\n"
	    "database: \"dbname=b\"\n"), &fresh, &errs), 0);
	ck_assert_int_eq(conf_reload_scheduler(old, fresh, &errs), 2);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/b.yaml: database changed; it needs a restart, keeping the running value"));
	ck_assert_str_eq(errs.msg[1],
	    expect("@/b.yaml: workers changed; it needs a restart, keeping the running value"));
	ck_assert_int_eq(fresh->workers, 4);
	ck_assert_str_eq(fresh->database, "dbname=a");
	ck_assert_int_eq(fresh->poll_interval_ms, 2000);
	ck_assert_int_eq(old->workers, 8);
	conf_free_scheduler(old);
	conf_free_scheduler(fresh);
}
END_TEST

START_TEST(test_conf_changed_counts_only_reloadable_keys)
{
	struct conf_scheduler *a, *b;
	ck_assert_int_eq(conf_load_scheduler(yaml("a.yaml", TLS "workers: 4\n"
	    "return_codes: {100: failure}\n"), &a, &errs), 0);
	ck_assert_int_eq(conf_load_scheduler(yaml("b.yaml", TLS "workers: 8\n"
	    "return_codes: {100: success}\ntransfer: {request_timeout: 1s}\n"), &b, &errs), 0);
	ck_assert_int_eq(conf_changed_scheduler(a, b), 2);   /* workers is restart-only */
	ck_assert_int_eq(conf_changed_scheduler(a, a), 0);
	conf_free_scheduler(b);
	ck_assert_int_eq(conf_load_scheduler(yaml("c.yaml", TLS "workers: 8\n"
	    "return_codes: {100: failure}\n"), &b, &errs), 0);
	ck_assert_int_eq(conf_changed_scheduler(a, b), 0);
	conf_free_scheduler(a);
	conf_free_scheduler(b);
}
END_TEST

START_TEST(test_conf_reload_agent_keeps_servers_applies_run_as)
{
	struct conf_agent *old, *fresh;
	ck_assert_int_eq(conf_load_agent(yaml("a.yaml", "computer: w\n" TLS
	    "servers: [127.0.0.1:4020]\nrun_as: {allow: [a]}\n"), &old, &errs), 0);
	ck_assert_int_eq(conf_load_agent(yaml("b.yaml", "computer: w\n" TLS
	    "servers: [127.0.0.1:4021]\nrun_as: {allow: [a, b]}\n"), &fresh, &errs), 0);
	ck_assert_int_eq(conf_reload_agent(old, fresh, &errs), 1);
	ck_assert_str_eq(errs.msg[0],
	    expect("@/b.yaml: servers changed; it needs a restart, keeping the running value"));
	ck_assert_str_eq(fresh->servers.v[0], "127.0.0.1:4020");
	ck_assert_uint_eq(fresh->run_as_allow.n, 2);
	conf_free_agent(old);
	conf_free_agent(fresh);
	/* the same file twice changes nothing */
	ck_assert_int_eq(conf_load_agent(files[nfiles - 1], &old, &errs), 0);
	ck_assert_int_eq(conf_load_agent(files[nfiles - 1], &fresh, &errs), 0);
	ck_assert_int_eq(conf_reload_agent(old, fresh, &errs), 0);
	conf_free_agent(old);
	conf_free_agent(fresh);
}
END_TEST

START_TEST(test_conf_agent_user_allowed)
{
	struct conf_agent *c;
	ck_assert_int_eq(conf_load_agent(yaml("agent.yaml", "computer: w\n" TLS
	    "run_as: {allow: [deploy], default: backup}\n" SERVERS), &c, &errs), 0);
	ck_assert_int_eq(conf_agent_user_allowed(c, "deploy"), 1);
	ck_assert_int_eq(conf_agent_user_allowed(c, "backup"), 1);
	ck_assert_int_eq(conf_agent_user_allowed(c, "root"), 0);
	ck_assert_int_eq(conf_agent_user_allowed(c, "mallory"), 0);
	ck_assert_int_eq(conf_agent_user_allowed(c, ""), 0);
	c->run_as_allow_root = 1;
	ck_assert_int_eq(conf_agent_user_allowed(c, "root"), 1);
	conf_free_agent(c);
}
END_TEST

START_TEST(test_conf_free_null_is_fine)
{
	conf_free_scheduler(NULL);
	conf_free_agent(NULL);
	conf_errors_free(&errs);
}
END_TEST

Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conf_agent_defaults_filled);
	tcase_add_test(tc, test_conf_scheduler_defaults_filled);
	tcase_add_test(tc, test_conf_scheduler_full_example_loads);
	tcase_add_test(tc, test_conf_agent_full_example_loads);
	tcase_add_test(tc, test_conf_null_value_keeps_default);
	tcase_add_test(tc, test_conf_refuses_unknown_key);
	tcase_add_test(tc, test_conf_refuses_dotted_key);
	tcase_add_test(tc, test_conf_refuses_unknown_log_format_and_non_boolean_syslog);
	tcase_add_test(tc, test_conf_refuses_wrong_type);
	tcase_add_test(tc, test_conf_refuses_list_where_scalar_expected);
	tcase_add_test(tc, test_conf_refuses_bad_duration);
	tcase_add_test(tc, test_conf_refuses_bad_size);
	tcase_add_test(tc, test_conf_refuses_bad_port_range);
	tcase_add_test(tc, test_conf_refuses_bad_listen);
	tcase_add_test(tc, test_conf_refuses_bad_servers);
	tcase_add_test(tc, test_conf_refuses_removed_keys_with_a_pointer);
	tcase_add_test(tc, test_conf_refuses_bad_bool);
	tcase_add_test(tc, test_conf_refuses_aliases_and_anchors);
	tcase_add_test(tc, test_conf_refuses_alias_bomb);
	tcase_add_test(tc, test_conf_refuses_yaml_tags);
	tcase_add_test(tc, test_conf_refuses_oversize_file);
	tcase_add_test(tc, test_conf_reads_config_from_a_pipe);
	tcase_add_test(tc, test_conf_reports_syntax_error);
	tcase_add_test(tc, test_conf_refuses_bad_utf8);
	tcase_add_test(tc, test_conf_refuses_nul_and_control_characters);
	tcase_add_test(tc, test_conf_refuses_second_document_and_non_map);
	tcase_add_test(tc, test_conf_refuses_deep_nesting);
	tcase_add_test(tc, test_conf_refuses_missing_required);
	tcase_add_test(tc, test_conf_refuses_readable_key_file);
	tcase_add_test(tc, test_conf_refuses_missing_tls_files);
	tcase_add_test(tc, test_conf_refuses_relative_path);
	tcase_add_test(tc, test_conf_refuses_bad_table_identifier);
	tcase_add_test(tc, test_conf_refuses_bad_return_codes);
	tcase_add_test(tc, test_conf_refuses_log_level_out_of_range);
	tcase_add_test(tc, test_conf_refuses_bad_user_names);
	tcase_add_test(tc, test_conf_agent_wake_port_in_range);
	tcase_add_test(tc, test_conf_refuses_duplicate_key);
	tcase_add_test(tc, test_conf_refuses_heartbeat_not_below_lease);
	tcase_add_test(tc, test_conf_reports_all_errors_in_file_order);
	tcase_add_test(tc, test_conf_caps_the_number_of_errors);
	tcase_add_test(tc, test_conf_refuses_missing_file);
	tcase_add_test(tc, test_conf_reload_keeps_restart_only_values);
	tcase_add_test(tc, test_conf_changed_counts_only_reloadable_keys);
	tcase_add_test(tc, test_conf_reload_agent_keeps_servers_applies_run_as);
	tcase_add_test(tc, test_conf_agent_user_allowed);
	tcase_add_test(tc, test_conf_free_null_is_fine);
	suite_add_tcase(s, tc);
	return s;
}
