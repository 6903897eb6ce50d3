/*
 * libFuzzer target for common/conf (make fuzz): each input is written as a
 * file in a private directory under $TMPDIR and loaded as a scheduler config
 * and as an agent config. "@DIR@" in the input becomes that directory, where
 * ca.crt, cert.crt and key.pem (mode 0600) exist, so that inputs can name TLS
 * files that pass the checks. Besides the sanitizers it checks: a load
 * succeeds with a struct and no message, or fails with none and messages that
 * each start with the file's name; loading the same file twice gives configs
 * a SIGHUP reload sees as equal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096];
static char path[4200];

static void
write_file(const char *p, const void *buf, size_t len, mode_t mode)
{
	FILE *fp = fopen(p, "w");
	if (fp == NULL || fwrite(buf, 1, len, fp) != len || fclose(fp) != 0 || chmod(p, mode) != 0)
		abort();
}

static void
cleanup(void)
{
	static const char *const names[] = {"c.yaml", "ca.crt", "cert.crt", "key.pem"};
	char p[4200];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char p[4200];
	snprintf(dir, sizeof(dir), "%s/pgfleet-fuzz-config-XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	write_file(p, "ca\n", 3, 0644);
	snprintf(p, sizeof(p), "%s/cert.crt", dir);
	write_file(p, "cert\n", 5, 0644);
	snprintf(p, sizeof(p), "%s/key.pem", dir);
	write_file(p, "key\n", 4, 0600);
	atexit(cleanup);
	log_setlevel(LL_ERROR);
}

/* The input with "@DIR@" replaced by dir. */
static char *
expand(const uint8_t *data, size_t size, size_t *len)
{
	size_t dl = strlen(dir), cap = size + 1, n = 0;
	char *out = malloc(cap);
	if (out == NULL)
		abort();
	for (size_t i = 0; i < size;) {
		if (size - i >= 5 && memcmp(data + i, "@DIR@", 5) == 0) {
			cap += dl;
			if ((out = realloc(out, cap)) == NULL)
				abort();
			memcpy(out + n, dir, dl);
			n += dl;
			i += 5;
		} else {
			out[n++] = (char)data[i++];
		}
	}
	*len = n;
	return out;
}

static void
check_errors(int rc, const void *out, const struct conf_errors *e)
{
	size_t pl = strlen(path);
	if (rc == 0 ? (out == NULL || e->n != 0) : (rc != -1 || out != NULL || e->n == 0))
		abort();
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->msg[i], path, pl) != 0 || e->msg[i][pl] != ':')
			abort();
}

static void
load_scheduler(void)
{
	struct conf_scheduler *a = NULL, *b = NULL;
	struct conf_errors e = {0}, w = {0};
	int rc = conf_load_scheduler(path, &a, &e);
	check_errors(rc, a, &e);
	if (rc == 0) {
		if (conf_load_scheduler(path, &b, &e) != 0 || conf_changed_scheduler(a, b) != 0 ||
		    conf_reload_scheduler(a, b, &w) != 0 || w.n != 0)
			abort();
		if (a->heartbeat_ms >= a->lease_ms || a->agents_listen.port < 0 || a->agents_listen.port > 65535 ||
		    a->transfer_ports.lo > a->transfer_ports.hi || a->log_level < 1 || a->log_level > 7)
			abort();
	}
	conf_free_scheduler(a);
	conf_free_scheduler(b);
	conf_errors_free(&e);
	conf_errors_free(&w);
}

static void
load_agent(void)
{
	struct conf_agent *a = NULL, *b = NULL;
	struct conf_errors e = {0}, w = {0};
	int rc = conf_load_agent(path, &a, &e);
	check_errors(rc, a, &e);
	if (rc == 0) {
		if (conf_load_agent(path, &b, &e) != 0 || conf_reload_agent(a, b, &w) != 0 || w.n != 0)
			abort();
		if (a->computer == NULL || a->run_as_default == NULL || !conf_agent_user_allowed(a, a->run_as_default) ||
		    a->servers.n < 1 || a->reconnect_backoff_ms > a->reconnect_max_backoff_ms ||
		    a->keepalive_timeout_ms <= a->keepalive_interval_ms)
			abort();
	}
	conf_free_agent(a);
	conf_free_agent(b);
	conf_errors_free(&e);
	conf_errors_free(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;

	if (dir[0] == '\0')
		setup();
	char *buf = expand(data, size, &len);
	write_file(path, buf, len, 0600);
	free(buf);
	load_scheduler();
	load_agent();
	return 0;
}
