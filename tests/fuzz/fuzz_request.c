/*
 * libFuzzer target for the agent's requests (make fuzz): the input is the
 * byte stream of a control connection, parsed as the agent does (wire,
 * no body) and each message checked by request_check against two
 * agent configs. Nothing is fetched, run or signalled. Besides the
 * sanitizers it checks what the agent would act on: an accepted SendFile
 * names a plain file of the temp dir, fits max_script, a user the config
 * allows, an interpreter, computer and requirements it meets; a refusal or
 * protocol error has a status code and a one-line reason a reply can carry.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/request.h"
#include "agent/exec.h"
#include "common/conf.h"
#include "common/field.h"
#include "common/log.h"
#include "common/status.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *allow_one[] = {"deploy", "nobody"};

/* As config/agent.yaml: a computer id, an allow list, root as the default. */
static const struct conf_agent strict = {
	.computer = "web-01",
	.computer_id = 5000011,
	.os = "Linux",
	.boot_env = "Production",
	.run_as_allow = {allow_one, 2},
	.run_as_default = "root",
	.max_script = 16 * 1024 * 1024,
};

/* No computer id, no os or boot env, root allowed, a small max_script. */
static const struct conf_agent loose = {
	.computer = "web-02",
	.run_as_default = "nobody",
	.run_as_allow_root = 1,
	.max_script = 100,
};

static void
one_line_or_die(const char *s)
{
	if (s[0] == '\0' || strpbrk(s, "\r\n") != NULL)
		abort();
}

/* The reply the agent sends must be buildable from what the check left. */
static void
reply_or_die(const char *key, const char *why)
{
	char err[256];
	struct wire_msg *r = wire_msg_new();
	if (wire_add(r, "Reply", "Error", err, sizeof(err)) != 0 || wire_add(r, key, why, err, sizeof(err)) != 0)
		abort();
	wire_msg_free(r);
}

static void
check_act(const struct wire_msg *m, const struct conf_agent *cf, const struct request_task *t)
{
	char name[REQUEST_MAX_NAME + 1], err[512];

	if (t->kind == REQUEST_CANCEL) {
		if (t->event_id < 0 || t->seq < 0 || t->event_s == NULL || t->seq_s == NULL)
			abort();
		return;
	}
	if (t->kind != REQUEST_SENDFILE)
		abort();
	/* the file lands in temp_dir/task-<event>-<seq>/<name>: one plain name */
	size_t n = strlen(t->name);
	if (n == 0 || n > REQUEST_MAX_NAME || strchr(t->name, '/') != NULL || strcmp(t->name, ".") == 0 ||
	    strcmp(t->name, "..") == 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t->name[i] < 0x20 || t->name[i] == 0x7f)
			abort();
	if (request_temp_name(wire_get(m, "Filename"), 0, name, sizeof(name), err, sizeof(err)) != 0 ||
	    strcmp(name, t->name) != 0)
		abort();
	if (request_temp_name(wire_get(m, "Execute"), 1, name, sizeof(name), err, sizeof(err)) != 0 ||
	    strcmp(name, t->name) != 0)
		abort();
	if (t->event_id < 0 || t->seq < 0 || t->schedule_id < 0 || t->timeout_ms < 0 || t->computer_id < 0)
		abort();
	if (t->size > cf->max_script || t->port < 1 || t->port > 65535)
		abort();
	if (cf->computer_id != 0 && t->computer_id != cf->computer_id)
		abort();
	if (strlen(t->user) > REQUEST_MAX_USER || !conf_agent_user_allowed(cf, t->user))
		abort();
	const char *ru = wire_get(m, "Run-As");
	if (ru == NULL || strcmp(t->user, ru[0] != '\0' ? ru : cf->run_as_default) != 0)
		abort();
	if (t->key == NULL || t->checksum == NULL || t->interpreter == NULL)
		abort();
	if (field_check(FIELD_INTERPRETER, t->interpreter, err, sizeof(err)) != 0)
		abort();
	if (strcmp(wire_get(m, "Task-Type"), "RunScript") != 0)
		abort();
	if (exec_check_requirements(wire_get(m, "OS-Required"), wire_get(m, "Boot-Env"), cf->os, cf->boot_env,
	    err, sizeof(err)) != 0)
		abort();
}

static void
check_msg(const struct wire_msg *m, const struct conf_agent *cf)
{
	struct request_task t;
	char why[600];
	int code = 12345;

	enum request_verdict v = request_check(m, cf, 0, &t, &code, why, sizeof(why));
	switch (v) {
	case REQUEST_ACT:
		if (code != 0 || why[0] != '\0')
			abort();
		check_act(m, cf, &t);
		break;
	case REQUEST_REFUSE:
		if (t.kind != REQUEST_SENDFILE)
			abort();
		if (code != STATUS_PROTOCOL && code != STATUS_FILE_REFUSED && code != STATUS_RUNAS_REFUSED &&
		    code != STATUS_AGENT_ERROR && code != STATUS_REQUIREMENTS)
			abort();
		one_line_or_die(why);
		reply_or_die("Error", why);
		/* a refusal is answered with these: all set, all from the message */
		if (t.event_s == NULL || t.seq_s == NULL || t.schedule_s == NULL || t.id_s == NULL)
			abort();
		reply_or_die("SystemUser-ID", t.user);
		reply_or_die("Filename", t.name);
		break;
	case REQUEST_BAD:
		if (code != STATUS_PROTOCOL)
			abort();
		one_line_or_die(why);
		reply_or_die("Error", why);
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	if (!inited) {
		log_setlevel(LL_ERROR);
		inited = 1;
	}
	struct wire_parser *p = wire_parser_new(0);
	size_t off = 0;
	while (off < size) {
		size_t used = 0;
		enum wire_status st = wire_feed(p, (const char *)data + off, size - off, &used);
		off += used;
		if (st == WIRE_ERROR || st == WIRE_MORE)
			break;
		struct wire_msg *m = wire_parser_take(p);
		if (m == NULL)
			abort();
		check_msg(m, &strict);
		check_msg(m, &loose);
		wire_msg_free(m);
	}
	wire_parser_free(p);
	return 0;
}
