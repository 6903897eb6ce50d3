/*
 * request: what a message of the scheduler asks the agent to do, decided
 * without doing anything (docs/protocol.md, the order the agent checks a
 * SendFile in): pure, no I/O, no user lookup, so that hostile headers can be
 * thrown at it in unit tests and fuzzing. agent/control.c does what it says.
 */
#include "agent/request.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/copy.h"
#include "agent/exec.h"
#include "common/conf.h"
#include "common/field.h"
#include "common/status.h"
#include "common/wire.h"

int
request_temp_name(const char *value, int quoted, char *out, size_t outlen, char *err, size_t errlen)
{
	if (value == NULL || strncmp(value, "temp:", 5) != 0) {
		snprintf(err, errlen, "file name \"%s\" refused: not temp:<name>", value != NULL ? value : "");
		return -1;
	}
	const char *p = value + 5;
	size_t n = strlen(p);
	if (quoted && n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (n == 0) {
		snprintf(err, errlen, "file name \"%s\" refused: empty", value);
		return -1;
	}
	if (n > REQUEST_MAX_NAME || n + 1 > outlen) {
		snprintf(err, errlen, "file name refused: longer than %d bytes", REQUEST_MAX_NAME);
		return -1;
	}
	if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
		snprintf(err, errlen, "file name \"%s\" refused: not a file name", value);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '/') {
			snprintf(err, errlen, "file name \"%s\" refused: '/' in a base name", value);
			return -1;
		}
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			snprintf(err, errlen, "file name \"%s\" refused: control or quote character", value);
			return -1;
		}
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Strict decimal in [lo, hi]; 0 or -1. */
static int
parse_num(const char *s, long long lo, long long hi, long long *v)
{
	/* digits only: strtoll alone would take "+7", " 7" and "-0" */
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

/* A value safe for the wire: CR and LF become spaces. In place. */
char *
request_one_line(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return s;
}

/*
 * Every key whose absence the agent once filled with a default is required: a
 * worker that failed to add Run-As must not get run_as.default (root) for it.
 * An empty Run-As, OS-Required or Boot-Env, or a Timeout of 0, still asks for
 * the agent's default or no requirement, on purpose. Transfer-Host alone stays
 * optional (the control connection's address).
 */
static const char *const sendfile_required[] = {
	"Filename", "Size", "Port", "Key", "Checksum", "Execute", "Task-Type", "Interpreter",
	"OS-Required", "Boot-Env", "Run-As", "Timeout", "Schedule-ID", "Event-ID", "Task-Sequence-ID", "ID",
};

/* Strict decimal of a key in [lo, hi]: 0, or -1 naming the key in why. */
static int
key_num(const struct wire_msg *m, const char *key, long long lo, long long hi, long long *v, char *why,
    size_t whylen)
{
	if (parse_num(wire_get(m, key), lo, hi, v) == -1) {
		snprintf(why, whylen, "SendFile: %s is not a valid number", key);
		return -1;
	}
	return 0;
}

int
request_journal_seq(const struct request_task *t)
{
	return t->seq + t->retry * REQUEST_RETRY_STRIDE;
}

void
request_journal_split(int key, int *seq, int *retry)
{
	*seq = key % REQUEST_RETRY_STRIDE;
	*retry = key / REQUEST_RETRY_STRIDE;
	if (*retry > REQUEST_MAX_RETRY) { /* a seq past the stride from before retries: as it is */
		*seq = key;
		*retry = 0;
	}
}

/* Retry, when given: 1..REQUEST_MAX_RETRY, with a seq below the stride. */
static int
check_retry(const struct wire_msg *m, struct request_task *t, char *why, size_t whylen)
{
	long long v;
	const char *r = wire_get(m, "Retry");
	t->retry = 0;
	if (r == NULL)
		return 0;
	if (parse_num(r, 1, REQUEST_MAX_RETRY, &v) == -1 || t->seq >= REQUEST_RETRY_STRIDE) {
		snprintf(why, whylen, "Retry must be 1-%d with a Task-Sequence-ID below %d",
		    REQUEST_MAX_RETRY, REQUEST_RETRY_STRIDE);
		return -1;
	}
	t->retry = (int)v;
	return 0;
}

static enum request_verdict
check_cancel(const struct wire_msg *m, struct request_task *t, int *code, char *why, size_t whylen)
{
	long long seq;
	t->event_s = wire_get(m, "Event-ID");
	t->seq_s = wire_get(m, "Task-Sequence-ID");
	if (parse_num(t->event_s, 0, LLONG_MAX, &t->event_id) == -1 ||
	    parse_num(t->seq_s, 0, INT_MAX, &seq) == -1) {
		*code = STATUS_PROTOCOL;
		snprintf(why, whylen, "Cancel needs a numeric Event-ID and Task-Sequence-ID");
		return REQUEST_BAD;
	}
	t->seq = (int)seq;
	if (check_retry(m, t, why, whylen) == -1) {
		*code = STATUS_PROTOCOL;
		return REQUEST_BAD;
	}
	return REQUEST_ACT;
}

/* Required keys present and numbers valid: REQUEST_ACT, or REQUEST_BAD with why. */
static enum request_verdict
check_sendfile_keys(const struct wire_msg *m, struct request_task *t, char *why, size_t whylen)
{
	long long v;

	for (size_t i = 0; i < sizeof(sendfile_required) / sizeof(sendfile_required[0]); i++) {
		if (wire_get(m, sendfile_required[i]) == NULL) {
			snprintf(why, whylen, "SendFile without %s", sendfile_required[i]);
			return REQUEST_BAD;
		}
	}
	t->schedule_s = wire_get(m, "Schedule-ID");
	t->event_s = wire_get(m, "Event-ID");
	t->seq_s = wire_get(m, "Task-Sequence-ID");
	t->id_s = wire_get(m, "ID");
	t->host = wire_get(m, "Transfer-Host");
	t->key = wire_get(m, "Key");
	t->checksum = wire_get(m, "Checksum");
	t->interpreter = wire_get(m, "Interpreter");
	if (key_num(m, "Event-ID", 0, LLONG_MAX, &t->event_id, why, whylen) == -1 ||
	    key_num(m, "Task-Sequence-ID", 0, INT_MAX, &v, why, whylen) == -1)
		return REQUEST_BAD;
	t->seq = (int)v;
	if (key_num(m, "Schedule-ID", 0, LLONG_MAX, &t->schedule_id, why, whylen) == -1 ||
	    key_num(m, "Size", 0, LLONG_MAX, &v, why, whylen) == -1)
		return REQUEST_BAD;
	t->size = (unsigned long long)v;
	if (key_num(m, "Port", 1, 65535, &v, why, whylen) == -1)
		return REQUEST_BAD;
	t->port = (int)v;
	t->attempt_s = wire_get(m, "Attempt");
	if (t->attempt_s != NULL && key_num(m, "Attempt", 0, INT_MAX, &v, why, whylen) == -1)
		return REQUEST_BAD;
	if (check_retry(m, t, why, whylen) == -1)
		return REQUEST_BAD;
	if (key_num(m, "Timeout", 0, LLONG_MAX, &t->timeout_ms, why, whylen) == -1 ||
	    key_num(m, "ID", 0, LLONG_MAX, &t->computer_id, why, whylen) == -1)
		return REQUEST_BAD;
	return REQUEST_ACT;
}

/*
 * A CopyFile's Owner, when given: the file goes to this user instead of the run-as user. A
 * user name as Run-As, and on the same allow-list (run_as.allow): a copy may not give a file
 * to a user no task may run as. REQUEST_ACT, or REQUEST_REFUSE with -36.
 */
static enum request_verdict
check_owner(const struct wire_msg *m, const struct conf_agent *cf, struct request_task *t, int *code,
    char *why, size_t whylen)
{
	const char *owner = wire_get(m, "Owner");
	char err[256];
	t->owner[0] = '\0';
	if (owner == NULL)
		return REQUEST_ACT;
	*code = STATUS_COPY_REFUSED;
	if (field_check_as(FIELD_RUN_AS, "Owner", owner, err, sizeof(err)) == -1) {
		snprintf(why, whylen, "CopyFile: Owner refused: %s", err);
		return REQUEST_REFUSE;
	}
	if (!conf_agent_user_allowed(cf, owner)) {
		snprintf(why, whylen, "copy owner \"%s\" refused: not allowed on this agent (run_as.allow)",
		    owner);
		return REQUEST_REFUSE;
	}
	snprintf(t->owner, sizeof(t->owner), "%s", owner);
	return REQUEST_ACT;
}

/* A CopyFile's Destination and Mode, and copy.allow: REQUEST_ACT or REQUEST_REFUSE (-36). */
static enum request_verdict
check_copy(const struct wire_msg *m, const struct conf_agent *cf, struct request_task *t, int *code,
    char *why, size_t whylen)
{
	const char *mode = wire_get(m, "Mode");
	char *end;
	*code = STATUS_COPY_REFUSED;
	t->copy = 1;
	t->dest = wire_get(m, "Destination");
	if (t->dest == NULL || !copy_dest_ok(t->dest)) {
		snprintf(why, whylen, "CopyFile: Destination \"%.100s\" is not an absolute file path",
		    t->dest != NULL ? t->dest : "");
		return REQUEST_REFUSE;
	}
	long v = mode != NULL && mode[0] >= '0' && mode[0] <= '7' ? strtol(mode, &end, 8) : -1;
	if (v < 0 || v > 07777 || *end != '\0' || strlen(mode) > 5) {
		snprintf(why, whylen, "CopyFile: Mode \"%.20s\" is not an octal mode", mode != NULL ? mode : "");
		return REQUEST_REFUSE;
	}
	t->mode = (int)v;
	if (!copy_allowed(&cf->copy_allow, t->dest)) {
		snprintf(why, whylen, "copy to %s refused: outside copy.allow", t->dest);
		return REQUEST_REFUSE;
	}
	/* the run-as user fetches the file, on the allow-list as for a script */
	*code = STATUS_RUNAS_REFUSED;
	if (!conf_agent_user_allowed(cf, t->user)) {
		snprintf(why, whylen, "run-as user \"%s\" refused: not allowed on this agent", t->user);
		return REQUEST_REFUSE;
	}
	if (check_owner(m, cf, t, code, why, whylen) != REQUEST_ACT)
		return REQUEST_REFUSE;
	*code = STATUS_REQUIREMENTS;
	if (exec_check_requirements(wire_get(m, "OS-Required"), wire_get(m, "Boot-Env"), cf->os, cf->boot_env,
		why, whylen) != 0)
		return REQUEST_REFUSE;
	*code = 0;
	return REQUEST_ACT;
}

/* The agent's policy on a well-formed SendFile, in the order it answers. */
static enum request_verdict
check_sendfile(const struct wire_msg *m, const struct conf_agent *cf, long long expect_id,
    struct request_task *t, int *code, char *why, size_t whylen)
{
	char err[512], exec_name[REQUEST_MAX_NAME + 1];

	*code = STATUS_PROTOCOL;
	if (check_sendfile_keys(m, t, why, whylen) == REQUEST_BAD)
		return REQUEST_BAD;
	/* the name is needed in replies before it is checked: keep a safe form */
	snprintf(t->name, sizeof(t->name), "%s", "?");
	const char *ru = wire_get(m, "Run-As");
	const char *user = ru[0] != '\0' ? ru : cf->run_as_default != NULL ? cf->run_as_default : "";
	snprintf(t->user, sizeof(t->user), "%s", user);

	long long me = expect_id != 0 ? expect_id : cf->computer_id;
	if (me != 0 && t->computer_id != me) {
		snprintf(why, whylen, "message for computer %s, this agent is computer %lld", t->id_s, me);
		return REQUEST_REFUSE;
	}
	*code = STATUS_FILE_REFUSED;
	if (request_temp_name(wire_get(m, "Filename"), 0, t->name, sizeof(t->name), why, whylen) == -1) {
		snprintf(t->name, sizeof(t->name), "%s", "?");
		return REQUEST_REFUSE;
	}
	if (request_temp_name(wire_get(m, "Execute"), 1, exec_name, sizeof(exec_name), why, whylen) == -1)
		return REQUEST_REFUSE;
	if (strcmp(exec_name, t->name) != 0) {
		snprintf(why, whylen, "Execute names \"%s\", not the file sent (\"%s\")", exec_name, t->name);
		return REQUEST_REFUSE;
	}
	if (t->size > cf->max_script) {
		snprintf(why, whylen, "script of %llu bytes refused: max_script is %llu", t->size, cf->max_script);
		return REQUEST_REFUSE;
	}
	const char *tt = wire_get(m, "Task-Type");
	if (strcmp(tt, "CopyFile") == 0)
		return check_copy(m, cf, t, code, why, whylen);
	if (strcmp(tt, "RunScript") != 0) {
		*code = STATUS_PROTOCOL;
		snprintf(why, whylen, "Task-Type %s is not supported", tt);
		return REQUEST_REFUSE;
	}
	*code = STATUS_RUNAS_REFUSED;
	if (ru[0] != '\0' && field_check(FIELD_RUN_AS, ru, err, sizeof(err)) == -1) {
		snprintf(why, whylen, "run-as user refused: %s", err);
		return REQUEST_REFUSE;
	}
	if (strlen(user) >= sizeof(t->user) || !conf_agent_user_allowed(cf, t->user)) {
		snprintf(why, whylen, "run-as user \"%s\" refused: not allowed on this agent", t->user);
		return REQUEST_REFUSE;
	}
	/* the rule exec_start splits it by: refused here, before anything is fetched */
	*code = STATUS_AGENT_ERROR;
	if (field_check(FIELD_INTERPRETER, t->interpreter, why, whylen) == -1)
		return REQUEST_REFUSE;
	*code = STATUS_REQUIREMENTS;
	if (exec_check_requirements(wire_get(m, "OS-Required"), wire_get(m, "Boot-Env"), cf->os, cf->boot_env,
		why, whylen) != 0)
		return REQUEST_REFUSE;
	*code = 0;
	return REQUEST_ACT;
}

enum request_verdict
request_check(const struct wire_msg *m, const struct conf_agent *cf, long long expect_id,
    struct request_task *t, int *code, char *why, size_t whylen)
{
	enum request_verdict v;
	const char *req = wire_get(m, "Request");

	memset(t, 0, sizeof(*t));
	*code = 0;
	why[0] = '\0';
	if (req != NULL && strcmp(req, "SendFile") == 0) {
		t->kind = REQUEST_SENDFILE;
		v = check_sendfile(m, cf, expect_id, t, code, why, whylen);
	} else if (req != NULL && strcmp(req, "Cancel") == 0) {
		t->kind = REQUEST_CANCEL;
		v = check_cancel(m, t, code, why, whylen);
	} else {
		*code = STATUS_PROTOCOL;
		snprintf(why, whylen, "unknown request \"%s\"", req != NULL ? req : "");
		v = REQUEST_BAD;
	}
	request_one_line(why);
	return v;
}


int
request_ids(const struct wire_msg *m, const char **event_s, const char **seq_s)
{
	long long v;
	const char *e = wire_get(m, "Event-ID"), *s = wire_get(m, "Task-Sequence-ID");
	if (parse_num(e, 0, LLONG_MAX, &v) == -1 || parse_num(s, 0, INT_MAX, &v) == -1)
		return 0;
	*event_s = e;
	*seq_s = s;
	return 1;
}
