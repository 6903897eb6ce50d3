/*
 * batch_schema: the sections of a job batch checked against its schema (groups:,
 * computers:, jobs: with their tasks, targets, schedule and rollout; docs/yaml.md),
 * value by value through cli/batch_value.h. Errors are added at their line:col and
 * reading goes on; a computer or job with errors is still kept so that the checks
 * across sections (cli/batch.c) see its name.
 */
#include "cli/batch_schema.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/args.h"
#include "cli/batch_copy.h"
#include "cli/batch_tree.h"
#include "common/field.h"
#include "common/log.h"
#include "common/units.h"
#include "common/util.h"

void
batch_schema_groups(struct batch_ld *l, const struct yt_node *n)
{
	static const char *const keys[] = {"name", "description", "windows", NULL};
	if (bv_want(l, "groups", n, YT_SEQ) == -1)
		return;
	l->b->groups = arena_alloc(&l->b->arena, (n->n + 1) * sizeof(*l->b->groups));
	for (const struct yt_node *it = n->first; it != NULL; it = it->next) {
		struct batch_group *g = &l->b->groups[l->b->ngroups];
		const struct yt_node *name = it;
		struct yt_node *v[3];
		if (it->type == YT_MAP) {
			if (bv_keys(l, "a group", it, keys, v) == -1)
				continue;
			if (v[0] == NULL) {
				bv_err(l, it->pos, "group: name is missing");
				continue;
			}
			name = v[0];
			if (v[1] != NULL)
				(void)bv_str(l, "description", v[1], &g->description);
			if (v[2] != NULL)
				g->has_windows = bv_names(l, "windows", v[2], BV_WINDOW, 0, &g->windows,
							  &g->nwindows) == 0;
		} else if (it->type == YT_SEQ || bv_is_null(it)) {
			bv_err(l, it->pos, "groups: expected a group name or a mapping {name, "
					   "description}, found %s",
			       bv_found(l, it));
			continue;
		}
		if (bv_str(l, "name", name, &g->name) == -1 || bv_name(l, "group", name, g->name) == -1)
			continue;
		g->pos = name->pos;
		l->b->ngroups++;
	}
}

void
batch_schema_computer(struct batch_ld *l, const struct yt_node *n)
{
	static const char *const keys[] = {"name", "host", "port", "os", "boot_env", "ip", "mac",
					   "labels", "attrs", "groups", "enabled", "windows", NULL};
	enum { K_NAME, K_HOST, K_PORT, K_OS, K_BOOT, K_IP, K_MAC, K_LABELS, K_ATTRS, K_GROUPS, K_ENABLED,
	       K_WINDOWS };
	struct yt_node *v[12];
	struct batch_computer *c = &l->b->computers[l->b->ncomputers];
	int bad = 0, bad_name = 0;
	long long port;

	if (bv_keys(l, "a computer", n, keys, v) == -1)
		return;
	c->enabled = 1;
	c->pos = n->pos;
	if (v[K_NAME] == NULL) {
		bv_err(l, n->pos, "computer: name is missing");
		bad_name = 1;
	} else if (bv_str(l, "name", v[K_NAME], &c->name) == -1 ||
		   bv_computer_name(l, v[K_NAME], c->name) == -1)
		bad_name = 1;
	else
		c->pos = v[K_NAME]->pos;
	if (v[K_HOST] != NULL && bv_field(l, FIELD_HOST, v[K_HOST], &c->host) == -1)
		bad = 1;
	else if (v[K_HOST] == NULL && c->name != NULL && !bad_name) {
		if (field_hostname_ok(c->name))
			c->host = c->name;
		else {
			bv_err(l, c->pos, "computer \"%.60s\": host is missing and the name is no "
					  "host name (RFC 1123: letters, digits and '-'); give host:",
			       c->name);
			bad = 1;
		}
	}
	if (v[K_PORT] != NULL) {
		if (bv_int(l, "port", v[K_PORT], 1, 65535, &port) == -1)
			bad = 1;
		else
			c->port = (int)port;
	}
	if (v[K_OS] != NULL && bv_field(l, FIELD_OS, v[K_OS], &c->os) == -1)
		bad = 1;
	if (v[K_BOOT] != NULL && bv_field(l, FIELD_BOOT_ENV, v[K_BOOT], &c->boot_env) == -1)
		bad = 1;
	if (v[K_IP] != NULL && bv_field(l, FIELD_IP, v[K_IP], &c->ip) == -1)
		bad = 1;
	if (v[K_MAC] != NULL) {
		if (bv_field(l, FIELD_MAC, v[K_MAC], &c->mac) == -1)
			bad = 1;
		else
			for (char *m = c->mac; *m != '\0'; m++)
				*m = *m == '-' ? ':' : (char)tolower((unsigned char)*m);
	}
	if (v[K_LABELS] != NULL && bv_kv(l, "labels", v[K_LABELS], &c->labels, &c->nlabels) == -1)
		bad = 1;
	if (v[K_ATTRS] != NULL && bv_kv(l, "attrs", v[K_ATTRS], &c->attrs, &c->nattrs) == -1)
		bad = 1;
	if (v[K_GROUPS] != NULL &&
	    bv_names(l, "groups", v[K_GROUPS], BV_COMPUTER_GROUP, 0, &c->groups, &c->ngroups) == -1)
		bad = 1;
	if (v[K_ENABLED] != NULL && bv_bool(l, "enabled", v[K_ENABLED], &c->enabled) == -1)
		bad = 1;
	if (v[K_WINDOWS] != NULL &&
	    bv_names(l, "windows", v[K_WINDOWS], BV_WINDOW, 0, &c->windows, &c->nwindows) == -1)
		bad = 1;
	/* kept with other errors too, so that duplicates and references are still checked */
	if (c->name != NULL && !bad_name)
		l->b->ncomputers++;
	else
		memset(c, 0, sizeof(*c));
	(void)bad;
}

static int
parse_action(const char *s, enum batch_action *a)
{
	for (int i = BATCH_SUCCESS; i <= BATCH_STOP; i++)
		if (strcmp(s, batch_action_name((enum batch_action)i)) == 0) {
			*a = (enum batch_action)i;
			return 0;
		}
	return -1;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return x < y ? -1 : x > y;
}

static int
cmp_code(const void *a, const void *b)
{
	return cmp_int(&((const struct batch_code *)a)->code, &((const struct batch_code *)b)->code);
}

/* A file the batch names, relative to its folder (malloc'd). */
static char *
batch_path(const struct batch_ld *l, const char *file)
{
	char *path = NULL;
	if (file[0] == '/' || l->dir == NULL)
		path = strdup(file);
	else if (asprintf(&path, "%s/%s", l->dir, file) == -1)
		path = NULL;
	if (path == NULL)
		fatal("batch: file path");
	return path;
}

/* Read a script file (script_file:), relative to the batch's folder, into *out (the arena). */
static int
read_script(struct batch_ld *l, const struct yt_node *n, const char *file, char **out)
{
	char *buf, why[512];
	size_t len;
	if (file[0] == '\0') {
		bv_err(l, n->pos, "script_file: the file name is empty");
		return -1;
	}
	char *path = batch_path(l, file);
	int rc = batch_script_read(path, &buf, &len, why, sizeof(why));
	free(path);
	if (rc == -1) {
		bv_err(l, n->pos, "script_file \"%s\": %s", file, why);
		return -1;
	}
	*out = arena_strndup(&l->b->arena, buf, len);
	free(buf);
	return 0;
}

/* copy: content_base64 (what `pgfleet job export` writes for a file that is no text). */
static int
copy_base64(struct batch_ld *l, const struct yt_node *v, struct batch_task *t)
{
	char *s;
	unsigned char *buf;
	size_t len;
	if (bv_str(l, "content_base64", v, &s) == -1)
		return -1;
	if (util_unbase64(s, strlen(s), &buf, &len) == -1) {
		bv_err(l, v->pos, "content_base64: not base64 (RFC 4648, padded; blanks and line breaks "
		       "are skipped)");
		return -1;
	}
	if (len > BATCH_MAX_SCRIPT) {
		free(buf);
		bv_err(l, v->pos, "content_base64: larger than %d MiB", BATCH_MAX_SCRIPT >> 20);
		return -1;
	}
	batch_copy_content(&l->b->arena, t, (const char *)buf, len);
	free(buf);
	return 0;
}

/* copy: what to copy, one of source (a file or a folder, read now: cli/batch_copy.h),
 * content (text) and content_base64. */
static int
copy_what(struct batch_ld *l, const struct yt_node *n, struct yt_node *const *v, struct batch_task *t)
{
	char why[600];
	if ((v[0] != NULL) + (v[1] != NULL) + (v[2] != NULL) != 1) {
		bv_err(l, n->pos, "copy: give source (a file read now), content or content_base64, "
		       "one of them");
		return -1;
	}
	if (v[1] != NULL)
		return bv_str(l, "content", v[1], &t->script);
	if (v[2] != NULL)
		return copy_base64(l, v[2], t);
	if (bv_str(l, "source", v[0], &t->copy_source) == -1)
		return -1;
	if (t->copy_source[0] == '\0') {
		bv_err(l, v[0]->pos, "source: the file name is empty");
		return -1;
	}
	char *path = batch_path(l, t->copy_source);
	int rc = batch_copy_source(&l->b->arena, t, path, why, sizeof(why));
	free(path);
	if (rc == -1)
		bv_err(l, v[0]->pos, "source \"%s\": %s", t->copy_source, why);
	return rc;
}

/* copy: mode, an octal string; 0644 when absent. */
static int
copy_mode(struct batch_ld *l, const struct yt_node *v, struct batch_task *t)
{
	char why[128];
	t->copy_mode = 0644;
	if (v == NULL)
		return 0;
	if (bv_want(l, "mode", v, YT_SCALAR) == -1)
		return -1;
	if (batch_copy_mode(v->s, &t->copy_mode, why, sizeof(why)) == -1) {
		bv_err(l, v->pos, "mode: %s", why);
		return -1;
	}
	return 0;
}

/* copy: checksum: the content read now must have it (batch_copy_checksum). */
static int
copy_checksum(struct batch_ld *l, const struct yt_node *v, const struct batch_task *t)
{
	char *want, why[512];
	if (bv_str(l, "checksum", v, &want) == -1)
		return -1;
	if (batch_copy_checksum(t, want, why, sizeof(why)) == -1) {
		bv_err(l, v->pos, "checksum: %s", why);
		return -1;
	}
	return 0;
}

/* copy: owner, a user name: it reaches the agent as Run-As does, with the same limits. */
static int
copy_owner(struct batch_ld *l, const struct yt_node *v, struct batch_task *t)
{
	char err[512];
	if (bv_str(l, "owner", v, &t->copy_owner) == -1)
		return -1;
	if (field_check_as(FIELD_RUN_AS, "owner", t->copy_owner, err, sizeof(err)) == -1) {
		bv_err(l, v->pos, "%s", err);
		t->copy_owner = NULL;
		return -1;
	}
	return 0;
}

/* copy: destination, required; a folder's files must each land on a file path under it. */
static int
copy_dest(struct batch_ld *l, const struct yt_node *n, struct yt_node *const *v, struct batch_task *t)
{
	char why[600];
	if (v[3] == NULL) {
		bv_err(l, n->pos, "copy: destination is missing");
		return -1;
	}
	if (bv_str(l, "destination", v[3], &t->copy_dest) == -1)
		return -1;
	if (batch_copy_dest(t->copy_dest, why, sizeof(why)) == -1) {
		bv_err(l, v[3]->pos, "destination: %s", why);
		return -1;
	}
	if (t->ntree > 0 && batch_copy_tree_dests(t, why, sizeof(why)) == -1) {
		bv_err(l, v[0]->pos, "source \"%s\": %s", t->copy_source, why);
		return -1;
	}
	return 0;
}

/* copy: {source | content | content_base64, destination, mode, checksum, owner}: a copy-file
 * task. */
static int
task_copy(struct batch_ld *l, const struct yt_node *n, struct batch_task *t)
{
	static const char *const keys[] = {"source", "content", "content_base64", "destination",
					   "mode", "checksum", "owner", NULL};
	enum { K_SOURCE, K_CONTENT, K_BASE64, K_DEST, K_MODE, K_SUM, K_OWNER };
	struct yt_node *v[7];
	if (bv_keys(l, "copy", n, keys, v) == -1)
		return -1;
	t->copy = 1;
	if (copy_what(l, n, v, t) == -1)
		return -1;
	if (v[K_SUM] != NULL && copy_checksum(l, v[K_SUM], t) == -1)
		return -1;
	if (copy_dest(l, n, v, t) == -1)
		return -1;
	if (v[K_OWNER] != NULL && copy_owner(l, v[K_OWNER], t) == -1)
		return -1;
	return copy_mode(l, v[K_MODE], t);
}

/* script: or script_file: (exactly one); a script file is read relative to the batch. */
static int
task_script(struct batch_ld *l, const struct yt_node *n, const struct yt_node *script,
	    const struct yt_node *file, struct batch_task *t)
{
	if (script != NULL && file != NULL) {
		bv_err(l, file->pos, "task has both script and script_file (use one)");
		return -1;
	}
	if (script == NULL && file == NULL) {
		bv_err(l, n->pos, "task needs script, script_file or copy");
		return -1;
	}
	if (script != NULL) {
		if (bv_str(l, "script", script, &t->script) == -1)
			return -1;
		if (t->script[0] == '\0') {
			bv_err(l, script->pos, "script: the script is empty");
			return -1;
		}
		return 0;
	}
	if (bv_str(l, "script_file", file, &t->script_file) == -1 ||
	    read_script(l, file, t->script_file, &t->script) == -1)
		return -1;
	return 0;
}

/* success_codes: 0..255, sorted and unique; {0} when absent. */
static int
task_success_codes(struct batch_ld *l, const struct yt_node *c, struct batch_task *t)
{
	int bad = 0;
	long long x;

	if (c != NULL) {
		if (bv_want(l, "success_codes", c, YT_SEQ) == -1)
			bad = 1;
		else if (c->n == 0) {
			bv_err(l, c->pos, "success_codes: the list is empty (the default is [0])");
			bad = 1;
		} else {
			t->success_codes = arena_alloc(&l->b->arena, c->n * sizeof(int));
			for (const struct yt_node *it = c->first; it != NULL; it = it->next) {
				if (bv_int(l, "success_codes", it, 0, 255, &x) == -1)
					bad = 1;
				else
					t->success_codes[t->nsuccess_codes++] = (int)x;
			}
		}
	}
	if (t->success_codes == NULL) {
		t->success_codes = arena_alloc(&l->b->arena, sizeof(int));
		t->nsuccess_codes = 1;
	}
	if (t->nsuccess_codes > 1) {
		size_t k = 0;
		qsort(t->success_codes, t->nsuccess_codes, sizeof(int), cmp_int);
		for (size_t i = 1; i < t->nsuccess_codes; i++)
			if (t->success_codes[i] != t->success_codes[k])
				t->success_codes[++k] = t->success_codes[i];
		t->nsuccess_codes = k + 1;
	}
	return bad ? -1 : 0;
}

/* One "code: action" of on_code, k its key node. */
static int
task_on_code_entry(struct batch_ld *l, const struct yt_node *k, struct batch_task *t)
{
	enum batch_action a;
	long long x;
	size_t j;

	if (bv_int(l, "on_code", k, INT32_MIN, INT32_MAX, &x) == -1 ||
	    bv_want(l, "on_code", k->next, YT_SCALAR) == -1)
		return -1;
	if (parse_action(k->next->s, &a) == -1) {
		bv_err(l, k->next->pos,
		       "on_code: \"%.60s\" is not an action (use success, failure, continue or stop)",
		       k->next->s);
		return -1;
	}
	for (j = 0; j < t->non_code && t->on_code[j].code != (int)x; j++)
		;
	if (j < t->non_code) {
		bv_err(l, k->pos, "on_code: code %lld is given twice", x);
		return -1;
	}
	t->on_code[t->non_code].code = (int)x;
	t->on_code[t->non_code].action = a;
	t->non_code++;
	return 0;
}

/* on_code: {code: action}, sorted by code. */
static int
task_on_code(struct batch_ld *l, const struct yt_node *m, struct batch_task *t)
{
	int bad = 0;

	if (bv_want(l, "on_code", m, YT_MAP) == -1)
		return -1;
	t->on_code = arena_alloc(&l->b->arena, (m->n / 2 + 1) * sizeof(*t->on_code));
	for (const struct yt_node *k = m->first; k != NULL && k->next != NULL; k = k->next->next)
		if (task_on_code_entry(l, k, t) == -1)
			bad = 1;
	qsort(t->on_code, t->non_code, sizeof(*t->on_code), cmp_code);
	return bad ? -1 : 0;
}

/* on_failure: stop (the default) or continue. */
static int
task_on_failure(struct batch_ld *l, const struct yt_node *f, struct batch_task *t)
{
	t->on_failure = BATCH_STOP;
	if (f == NULL)
		return 0;
	if (bv_want(l, "on_failure", f, YT_SCALAR) == -1)
		return -1;
	if (strcmp(f->s, "stop") == 0)
		t->on_failure = BATCH_STOP;
	else if (strcmp(f->s, "continue") == 0)
		t->on_failure = BATCH_CONTINUE;
	else {
		bv_err(l, f->pos, "on_failure: \"%.60s\" is not stop or continue", f->s);
		return -1;
	}
	return 0;
}

/* on_codes: 1 to 256 codes, sorted and unique; never -8 or -14 (what a retry cannot undo). */
static int
retries_on_codes(struct batch_ld *l, const struct yt_node *c, struct batch_retries *r)
{
	int bad = 0;
	long long x;
	if (bv_want(l, "on_codes", c, YT_SEQ) == -1)
		return -1;
	if (c->n == 0 || c->n > 256) {
		bv_err(l, c->pos, "on_codes: give 1 to 256 codes (absent: every failure a retry can "
		       "change)");
		return -1;
	}
	r->on_codes = arena_alloc(&l->b->arena, c->n * sizeof(int));
	for (const struct yt_node *it = c->first; it != NULL; it = it->next) {
		if (bv_int(l, "on_codes", it, INT32_MIN, INT32_MAX, &x) == -1)
			bad = 1;
		else if (x == -8 || x == -14) {
			bv_err(l, it->pos, "on_codes: %lld (%s) is never retried", x,
			       x == -8 ? "cancelled by an operator" : "rollout halted");
			bad = 1;
		} else
			r->on_codes[r->non_codes++] = (int)x;
	}
	qsort(r->on_codes, r->non_codes, sizeof(int), cmp_int);
	size_t k = 0;
	for (size_t i = 1; i < r->non_codes; i++)
		if (r->on_codes[i] != r->on_codes[k])
			r->on_codes[++k] = r->on_codes[i];
	r->non_codes = r->non_codes > 0 ? k + 1 : 0;
	return bad ? -1 : 0;
}

/* retries: {count, backoff, max, on_codes} of a task or a job. */
static int
load_retries(struct batch_ld *l, const struct yt_node *n, struct batch_retries *r)
{
	static const char *const keys[] = {"count", "backoff", "max", "on_codes", NULL};
	enum { K_COUNT, K_BACKOFF, K_MAX, K_CODES };
	struct yt_node *v[4];
	long long x;
	int bad = 0;

	r->backoff_ms = BATCH_RETRY_BACKOFF_MS;
	r->max_ms = BATCH_RETRY_MAX_MS;
	if (bv_keys(l, "retries", n, keys, v) == -1)
		return -1;
	if (v[K_COUNT] == NULL) {
		bv_err(l, n->pos, "retries: count is missing (how many times a failed task runs again)");
		bad = 1;
	} else if (bv_int(l, "count", v[K_COUNT], 0, 100, &x) == -1)
		bad = 1;
	else
		r->count = (int)x;
	if (v[K_BACKOFF] != NULL &&
	    bv_duration(l, "backoff", v[K_BACKOFF], 1000, &r->backoff_ms) == -1)
		bad = 1;
	if (v[K_MAX] != NULL && bv_duration(l, "max", v[K_MAX], 1000, &r->max_ms) == -1)
		bad = 1;
	else if (v[K_MAX] == NULL && r->max_ms < r->backoff_ms)
		r->max_ms = r->backoff_ms;
	if (r->backoff_ms > BATCH_RETRY_LIMIT_MS || r->max_ms > BATCH_RETRY_LIMIT_MS) {
		bv_err(l, n->pos, "retries: backoff and max are at most 7d");
		bad = 1;
	} else if (!bad && r->max_ms < r->backoff_ms) {
		bv_err(l, v[K_MAX]->pos, "max: %s is shorter than backoff", v[K_MAX]->s);
		bad = 1;
	}
	if (v[K_CODES] != NULL && retries_on_codes(l, v[K_CODES], r) == -1)
		bad = 1;
	return bad ? -1 : 0;
}

static void
load_task(struct batch_ld *l, const struct yt_node *n, struct batch_task *t, int *bad)
{
	static const char *const keys[] = {"name", "script", "script_file", "interpreter", "run_as",
					   "timeout", "success_codes", "on_code", "on_failure",
					   "os_required", "boot_env", "retries", "copy", NULL};
	enum { K_NAME, K_SCRIPT, K_FILE, K_INTERP, K_RUNAS, K_TIMEOUT, K_CODES, K_ONCODE, K_ONFAIL,
	       K_OS, K_BOOT, K_RETRIES, K_COPY };
	struct yt_node *v[13];

	t->pos = n->pos;
	if (bv_keys(l, "a task", n, keys, v) == -1) {
		*bad = 1;
		return;
	}
	if (v[K_NAME] != NULL && bv_str(l, "name", v[K_NAME], &t->name) == -1)
		*bad = 1;
	if (v[K_COPY] != NULL) {
		if (v[K_SCRIPT] != NULL || v[K_FILE] != NULL || v[K_INTERP] != NULL) {
			bv_err(l, v[K_COPY]->pos, "copy: a copy-file task has no script, script_file or "
			       "interpreter");
			*bad = 1;
		} else if (task_copy(l, v[K_COPY], t) == -1) {
			t->ntree = 0; /* a folder read before the error is not expanded */
			*bad = 1;
		}
	} else if (task_script(l, n, v[K_SCRIPT], v[K_FILE], t) == -1)
		*bad = 1;
	if (v[K_INTERP] != NULL && bv_field(l, FIELD_INTERPRETER, v[K_INTERP], &t->interpreter) == -1)
		*bad = 1;
	if (t->interpreter == NULL)
		t->interpreter = arena_strndup(&l->b->arena, "/bin/sh", 7);
	if (v[K_RUNAS] != NULL && bv_field(l, FIELD_RUN_AS, v[K_RUNAS], &t->run_as) == -1)
		*bad = 1;
	if (v[K_TIMEOUT] != NULL && bv_duration(l, "timeout", v[K_TIMEOUT], 1, &t->timeout_ms) == -1)
		*bad = 1;
	if (task_success_codes(l, v[K_CODES], t) == -1)
		*bad = 1;
	if (v[K_ONCODE] != NULL && task_on_code(l, v[K_ONCODE], t) == -1)
		*bad = 1;
	if (task_on_failure(l, v[K_ONFAIL], t) == -1)
		*bad = 1;
	if (v[K_OS] != NULL && bv_field(l, FIELD_OS_REQUIRED, v[K_OS], &t->os_required) == -1)
		*bad = 1;
	if (v[K_BOOT] != NULL && bv_field(l, FIELD_BOOT_ENV, v[K_BOOT], &t->boot_env) == -1)
		*bad = 1;
	if (v[K_RETRIES] != NULL) {
		t->has_retries = 1;
		if (load_retries(l, v[K_RETRIES], &t->retries) == -1)
			*bad = 1;
	}
}

static void
load_targets(struct batch_ld *l, const struct yt_node *n, struct batch_job *j, size_t ji, int *bad)
{
	static const char *const keys[] = {"computers", "groups", "labels", "facts", NULL};
	struct yt_node *v[4];
	struct batch_targets *t = &j->targets;

	if (bv_keys(l, "targets", n, keys, v) == -1) {
		*bad = 1;
		return;
	}
	if (v[0] != NULL && bv_names(l, "computers", v[0], BV_TARGET_COMPUTER, ji, &t->computers,
				     &t->ncomputers) == -1)
		*bad = 1;
	if (v[1] != NULL &&
	    bv_names(l, "groups", v[1], BV_TARGET_GROUP, ji, &t->groups, &t->ngroups) == -1)
		*bad = 1;
	if (v[2] != NULL && bv_kv(l, "labels", v[2], &t->labels, &t->nlabels) == -1)
		*bad = 1;
	if (v[3] != NULL && bv_kv(l, "facts", v[3], &t->facts, &t->nfacts) == -1)
		*bad = 1;
	if (!*bad && t->ncomputers == 0 && t->ngroups == 0 && t->nlabels == 0 && t->nfacts == 0) {
		bv_err(l, n->pos, "targets: name at least one computer, group, label or fact");
		*bad = 1;
	}
	j->has_targets = 1;
}

/*
 * at: or until: into *t: an instant, or a wall-clock time in its [zone] or the
 * schedule's timezone (*local set, *zone named), resolved by apply with the database.
 */
static int
schedule_time(struct batch_ld *l, const char *key, const struct yt_node *n,
	      const struct batch_schedule *s, time_t *t, int *local, char **zone)
{
	struct units_time ut;
	if (bv_time_spec(l, key, n, &ut) == -1)
		return -1;
	*t = ut.t;
	*local = !ut.has_offset;
	if (ut.has_offset)
		return 0;
	if (ut.zone[0] != '\0')
		*zone = arena_strndup(&l->b->arena, ut.zone, strlen(ut.zone));
	else if (s->timezone != NULL)
		*zone = s->timezone;
	else {
		bv_err(l, n->pos, "%s: \"%s\" names no offset and the schedule no timezone (add Z, "
		       "+01:00 or [Europe/Berlin], or give timezone:)", key, n->s);
		return -1;
	}
	return 0;
}

static void
load_schedule(struct batch_ld *l, const struct yt_node *n, struct batch_schedule *s, int *bad)
{
	static const char *const keys[] = {"at", "every", "cron", "until", "timezone", "splay", NULL};
	enum { K_AT, K_EVERY, K_CRON, K_UNTIL, K_TZ, K_SPLAY };
	struct yt_node *v[6];
	char err[256];

	s->pos = n->pos;
	if (bv_keys(l, "schedule", n, keys, v) == -1) {
		*bad = 1;
		return;
	}
	if (v[K_TZ] != NULL) {
		if (bv_str(l, "timezone", v[K_TZ], &s->timezone) == -1)
			*bad = 1;
		else if (units_zone_name(s->timezone, err, sizeof(err)) == -1) {
			bv_err(l, v[K_TZ]->pos, "timezone: %s", err);
			s->timezone = NULL;
			*bad = 1;
		} else
			s->tz_pos = v[K_TZ]->pos;
	}
	if (v[K_AT] != NULL) {
		s->at_pos = v[K_AT]->pos;
		if (bv_want(l, "at", v[K_AT], YT_SCALAR) == -1)
			*bad = 1;
		else if (strcmp(v[K_AT]->s, "now") == 0)
			s->at_now = 1;
		else if (schedule_time(l, "at", v[K_AT], s, &s->at, &s->at_local, &s->at_zone) == -1)
			*bad = 1;
		else
			s->at_now = 0;
	}
	if (v[K_SPLAY] != NULL) {
		if (bv_duration(l, "splay", v[K_SPLAY], 1000, &s->splay_ms) == -1)
			*bad = 1;
		else if (s->splay_ms > BATCH_MAX_SPLAY_MS) {
			bv_err(l, v[K_SPLAY]->pos, "splay: %s is longer than 7d", v[K_SPLAY]->s);
			*bad = 1;
		}
	}
	if (v[K_EVERY] != NULL && v[K_CRON] != NULL) {
		bv_err(l, v[K_CRON]->pos, "schedule: every and cron exclude each other (use one)");
		*bad = 1;
	}
	if (v[K_EVERY] != NULL && bv_duration(l, "every", v[K_EVERY], 1000, &s->every_ms) == -1)
		*bad = 1;
	if (v[K_CRON] != NULL) {
		if (bv_want(l, "cron", v[K_CRON], YT_SCALAR) == -1)
			*bad = 1;
		else if (cron_parse(v[K_CRON]->s, &s->cron, err, sizeof(err)) == -1) {
			bv_err(l, v[K_CRON]->pos, "%s", err);
			*bad = 1;
		} else
			s->has_cron = 1;
	}
	if (v[K_UNTIL] != NULL) {
		s->until_pos = v[K_UNTIL]->pos;
		if (schedule_time(l, "until", v[K_UNTIL], s, &s->until, &s->until_local,
				  &s->until_zone) == -1)
			*bad = 1;
		else if (v[K_EVERY] == NULL && v[K_CRON] == NULL) {
			bv_err(l, v[K_UNTIL]->pos, "until: needs every or cron (a single run has no end)");
			*bad = 1;
		} else if (!s->at_now && s->at_local == s->until_local &&
			   (!s->at_local || strcmp(s->at_zone, s->until_zone) == 0) && s->until <= s->at) {
			/* in two zones, or one instant and one wall-clock time, apply compares them */
			bv_err(l, v[K_UNTIL]->pos, "until: \"%s\" is not after at", v[K_UNTIL]->s);
			*bad = 1;
		} else
			s->has_until = 1;
	}
}

/* waves: 1 to BATCH_MAX_WAVES counts or percentages, each growing. */
static int
load_waves(struct batch_ld *l, const struct yt_node *w, struct batch_rollout *r)
{
	char err[256];
	if (bv_want(l, "waves", w, YT_SEQ) == -1)
		return -1;
	if (w->n == 0 || w->n > BATCH_MAX_WAVES) {
		bv_err(l, w->pos, "waves: give 1 to %d waves (example: [\"1\", \"10%%\", \"100%%\"])",
		       BATCH_MAX_WAVES);
		return -1;
	}
	for (const struct yt_node *it = w->first; it != NULL; it = it->next) {
		if (bv_want(l, "waves", it, YT_SCALAR) == -1)
			return -1;
		if (args_wave("waves", it->s, &r->waves[r->nwaves], &r->waves_pct[r->nwaves], err,
			sizeof(err)) == -1 ||
		    args_waves_ascending("waves", r->waves, r->waves_pct, r->nwaves + 1, err, sizeof(err)) == -1) {
			bv_err(l, it->pos, "%s", err);
			return -1;
		}
		r->nwaves++;
	}
	return 0;
}

static void
load_rollout(struct batch_ld *l, const struct yt_node *n, struct batch_rollout *r, int *bad)
{
	static const char *const keys[] = {"max_concurrent", "max_failures", "waves", "pause", NULL};
	struct yt_node *v[4];
	long long x;

	if (bv_keys(l, "rollout", n, keys, v) == -1) {
		*bad = 1;
		return;
	}
	if (v[2] != NULL && load_waves(l, v[2], r) == -1)
		*bad = 1;
	if (v[3] != NULL) {
		if (v[2] == NULL) {
			bv_err(l, v[3]->pos, "pause: needs waves (the pause is between two waves)");
			*bad = 1;
		} else if (bv_duration(l, "pause", v[3], 0, &r->pause_ms) == -1)
			*bad = 1;
		else if (r->pause_ms > BATCH_MAX_SPLAY_MS) {
			bv_err(l, v[3]->pos, "pause: %s is longer than 7d", v[3]->s);
			*bad = 1;
		}
	}
	if (v[0] != NULL) {
		if (bv_int(l, "max_concurrent", v[0], 1, 1000000, &x) == -1)
			*bad = 1;
		else
			r->max_concurrent = (int)x;
	}
	if (v[1] != NULL) {
		char err[256];
		const struct yt_node *m = v[1];
		if (bv_want(l, "max_failures", m, YT_SCALAR) == -1) {
			*bad = 1;
			return;
		}
		if (args_max_failures("max_failures", m->s, &r->max_failures,
			       &r->max_failures_pct, err, sizeof(err)) == -1) {
			bv_err(l, m->pos, "%s", err);
			*bad = 1;
		}
	}
}

static int
cmp_after(const void *a, const void *b)
{
	return strcmp(((const struct batch_after *)a)->job, ((const struct batch_after *)b)->job);
}

/* One {job, on, scope} of after:. */
static int
load_after_one(struct batch_ld *l, const struct yt_node *n, struct batch_job *j, struct batch_after *a)
{
	static const char *const keys[] = {"job", "on", "scope", NULL};
	struct yt_node *v[3];
	if (bv_keys(l, "after", n, keys, v) == -1)
		return -1;
	a->pos = n->pos;
	if (v[0] == NULL) {
		bv_err(l, n->pos, "after: job is missing (the job this one runs after)");
		return -1;
	}
	if (bv_str(l, "job", v[0], &a->job) == -1 || bv_name(l, "job", v[0], a->job) == -1)
		return -1;
	a->pos = v[0]->pos;
	if (j->name != NULL && strcmp(a->job, j->name) == 0) {
		bv_err(l, v[0]->pos, "after: a job cannot run after itself");
		return -1;
	}
	if (v[1] != NULL) {
		if (bv_want(l, "on", v[1], YT_SCALAR) == -1)
			return -1;
		if (strcmp(v[1]->s, "success") == 0)
			a->on = BATCH_AFTER_SUCCESS;
		else if (strcmp(v[1]->s, "failure") == 0)
			a->on = BATCH_AFTER_FAILURE;
		else if (strcmp(v[1]->s, "any") == 0)
			a->on = BATCH_AFTER_ANY;
		else {
			bv_err(l, v[1]->pos, "on: \"%.60s\" is not success, failure or any", v[1]->s);
			return -1;
		}
	}
	if (v[2] != NULL) {
		if (bv_want(l, "scope", v[2], YT_SCALAR) == -1)
			return -1;
		if (strcmp(v[2]->s, "computer") == 0)
			a->per_computer = 1;
		else if (strcmp(v[2]->s, "schedule") != 0) {
			bv_err(l, v[2]->pos, "scope: \"%.60s\" is not schedule or computer", v[2]->s);
			return -1;
		}
	}
	return 0;
}

/* after: a mapping or a list of them, each a job named once. */
static void
load_after(struct batch_ld *l, const struct yt_node *n, struct batch_job *j, int has_targets, int *bad)
{
	size_t cnt = n->type == YT_SEQ ? n->n : 1;
	if (n->type != YT_SEQ && n->type != YT_MAP) {
		bv_err(l, n->pos, "after: expected {job, on, scope} or a list of them, found %s",
		       bv_found(l, n));
		*bad = 1;
		return;
	}
	if (cnt == 0 || cnt > 100) {
		bv_err(l, n->pos, "after: name 1 to 100 jobs");
		*bad = 1;
		return;
	}
	j->after = arena_alloc(&l->b->arena, cnt * sizeof(*j->after));
	for (const struct yt_node *it = n->type == YT_SEQ ? n->first : n; it != NULL;
	     it = n->type == YT_SEQ ? it->next : NULL) {
		struct batch_after *a = &j->after[j->nafter];
		if (load_after_one(l, it, j, a) == -1) {
			*bad = 1;
			continue;
		}
		for (size_t k = 0; k < j->nafter; k++)
			if (strcmp(j->after[k].job, a->job) == 0) {
				bv_err(l, a->pos, "after: job %.60s is named twice", a->job);
				*bad = 1;
				a = NULL;
				break;
			}
		if (a == NULL)
			continue;
		if (!a->per_computer && !has_targets) {
			bv_err(l, a->pos, "after: needs targets (or scope: computer, the computers of "
			       "the job it runs after)");
			*bad = 1;
		}
		j->nafter++;
	}
	qsort(j->after, j->nafter, sizeof(*j->after), cmp_after);
}

/* offline: {wait, wake}: how long an event waits for a computer connected nowhere, and
 * whether an agent on its subnet wakes it (wake-on-LAN). */
static int
load_offline(struct batch_ld *l, const struct yt_node *n, struct batch_job *j)
{
	static const char *const keys[] = {"wait", "wake", NULL};
	struct yt_node *v[2];
	if (bv_keys(l, "offline", n, keys, v) == -1)
		return -1;
	if (v[0] == NULL && v[1] == NULL) {
		bv_err(l, n->pos, "offline: give wait (how long an event waits for its computer), "
		       "wake (true: wake-on-LAN) or both");
		return -1;
	}
	if (v[1] != NULL && bv_bool(l, "wake", v[1], &j->offline_wake) == -1)
		return -1;
	if (v[0] == NULL)
		return 0;
	if (bv_duration(l, "wait", v[0], 1000, &j->offline_wait_ms) == -1)
		return -1;
	if (j->offline_wait_ms > 3650LL * 86400000) {
		bv_err(l, v[0]->pos, "wait: %s is longer than 3650d", v[0]->s);
		return -1;
	}
	return 0;
}

/* The n-th item of a list (n < its length). */
static const struct yt_node *
nth(const struct yt_node *list, size_t n)
{
	const struct yt_node *it = list->first;
	while (n-- > 0)
		it = it->next;
	return it;
}

/* The bytes a task sends: its script, or its copied file or folder. */
static size_t
task_bytes(const struct batch_task *t)
{
	size_t n = (t->script != NULL ? strlen(t->script) : 0) + t->copy_len;
	for (size_t i = 0; i < t->ntree; i++)
		n += t->tree[i].len;
	return n;
}

/* Each copy of a folder becomes one copy task per file, in order, in its place; the limits
 * on tasks count them. */
static int
expand_trees(struct batch_ld *l, const struct yt_node *tasks, struct batch_job *j)
{
	size_t total = 0, k = 0;
	for (size_t i = 0; i < j->ntasks; i++)
		total += j->tasks[i].ntree > 0 ? j->tasks[i].ntree : 1;
	if (total == j->ntasks)
		return 0;
	if (total > BATCH_MAX_TASKS) {
		bv_err(l, tasks->pos, "tasks: more than %d tasks in one job once its folders are copied "
		       "file by file (the limit; split the job)", BATCH_MAX_TASKS);
		return -1;
	}
	l->ntasks += total - j->ntasks;
	if (l->ntasks > BATCH_MAX_BATCH_TASKS) {
		bv_err(l, tasks->pos, "tasks: more than %d tasks in one batch once its folders are "
		       "copied file by file (the limit; split the batch)", BATCH_MAX_BATCH_TASKS);
		return -1;
	}
	struct batch_task *v = arena_alloc(&l->b->arena, total * sizeof(*v));
	for (size_t i = 0; i < j->ntasks; i++) {
		const struct batch_task *t = &j->tasks[i];
		if (t->ntree == 0)
			v[k++] = *t;
		batch_copy_expand(&l->b->arena, t, &v[k]);
		k += t->ntree;
	}
	j->tasks = v;
	j->ntasks = total;
	return 0;
}

/* tasks: 1 to BATCH_MAX_TASKS of them, BATCH_MAX_BATCH_TASKS in the whole batch. */
static int
job_tasks(struct batch_ld *l, const struct yt_node *n, const struct yt_node *tasks,
	  struct batch_job *j, int *bad)
{
	size_t bytes = 0;

	if (tasks == NULL) {
		bv_err(l, n->pos, "job: tasks is missing (a job runs at least one task)");
		return -1;
	}
	if (bv_want(l, "tasks", tasks, YT_SEQ) == -1)
		return -1;
	if (tasks->n == 0) {
		bv_err(l, tasks->pos, "tasks: the list is empty (a job runs at least one task)");
		return -1;
	}
	if (tasks->n > BATCH_MAX_TASKS) {
		bv_err(l, nth(tasks, BATCH_MAX_TASKS)->pos, "tasks: more than %d tasks in one job (the "
		       "limit; split the job)", BATCH_MAX_TASKS);
		return -1;
	}
	l->ntasks += tasks->n;
	if (l->ntasks > BATCH_MAX_BATCH_TASKS) {
		bv_err(l, tasks->pos, "tasks: more than %d tasks in one batch (the limit; split the "
		       "batch)", BATCH_MAX_BATCH_TASKS);
		return -1;
	}
	j->tasks = arena_alloc(&l->b->arena, tasks->n * sizeof(*j->tasks));
	for (const struct yt_node *it = tasks->first; it != NULL; it = it->next) {
		struct batch_task *t = &j->tasks[j->ntasks++];
		load_task(l, it, t, bad);
		bytes += task_bytes(t);
		if (bytes > BATCH_MAX_JOB_SCRIPT) {
			bv_err(l, it->pos, "tasks: the scripts of this job pass %d MiB together (the "
			       "limit; split the job)", BATCH_MAX_JOB_SCRIPT >> 20);
			return -1;
		}
	}
	return expand_trees(l, tasks, j);
}

void
batch_schema_job(struct batch_ld *l, const struct yt_node *n)
{
	static const char *const keys[] = {"name", "description", "tasks", "targets", "schedule",
					   "rollout", "retries", "windows", "allow_defer", "after",
					   "offline", NULL};
	enum { K_NAME, K_DESC, K_TASKS, K_TARGETS, K_SCHEDULE, K_ROLLOUT, K_RETRIES, K_WINDOWS,
	       K_DEFER, K_AFTER, K_OFFLINE };
	struct yt_node *v[11];
	long long x;
	size_t ji = l->b->njobs;
	struct batch_job *j = &l->b->jobs[ji];
	int bad = 0;

	j->pos = n->pos;
	j->schedule.at_now = 1;
	j->schedule.pos = n->pos;
	j->rollout.max_failures = -1;
	j->rollout.pause_ms = -1;
	if (bv_keys(l, "a job", n, keys, v) == -1)
		return;
	if (v[K_NAME] == NULL) {
		bv_err(l, n->pos, "job: name is missing");
		bad = 1;
	} else if (bv_str(l, "name", v[K_NAME], &j->name) == -1 ||
		   bv_name(l, "job", v[K_NAME], j->name) == -1)
		bad = 1;
	else
		j->pos = v[K_NAME]->pos;
	if (v[K_DESC] != NULL && bv_str(l, "description", v[K_DESC], &j->description) == -1)
		bad = 1;
	if (job_tasks(l, n, v[K_TASKS], j, &bad) == -1)
		bad = 1;
	/* the job's retries: are the default of each task that gives none */
	if (v[K_RETRIES] != NULL && load_retries(l, v[K_RETRIES], &j->retries) == -1)
		bad = 1;
	for (size_t i = 0; i < j->ntasks; i++)
		if (!j->tasks[i].has_retries)
			j->tasks[i].retries = j->retries;
	if (v[K_WINDOWS] != NULL &&
	    bv_names(l, "windows", v[K_WINDOWS], BV_WINDOW, ji, &j->windows, &j->nwindows) == -1)
		bad = 1;
	if (v[K_DEFER] != NULL) {
		if (bv_int(l, "allow_defer", v[K_DEFER], 0, 100, &x) == -1)
			bad = 1;
		else
			j->allow_defer = (int)x;
	}
	/* bad keeps targets: from adding "name at least one" to a job already in error */
	if (v[K_TARGETS] != NULL)
		load_targets(l, v[K_TARGETS], j, ji, &bad);
	if (v[K_AFTER] != NULL)
		load_after(l, v[K_AFTER], j, v[K_TARGETS] != NULL, &bad);
	if (v[K_OFFLINE] != NULL && load_offline(l, v[K_OFFLINE], j) == -1)
		bad = 1;
	if (v[K_SCHEDULE] != NULL) {
		j->has_schedule = 1;
		load_schedule(l, v[K_SCHEDULE], &j->schedule, &bad);
		if (v[K_TARGETS] == NULL)
			bv_err(l, v[K_SCHEDULE]->pos, "schedule: needs targets");
	}
	if (v[K_ROLLOUT] != NULL) {
		load_rollout(l, v[K_ROLLOUT], &j->rollout, &bad);
		if (v[K_TARGETS] == NULL)
			bv_err(l, v[K_ROLLOUT]->pos, "rollout: needs targets");
	}
	/* errors are in l->errs; the job is kept so that later checks see its name */
	l->b->njobs++;
}

void
batch_schema_window(struct batch_ld *l, const struct yt_node *n)
{
	static const char *const keys[] = {"name", "cron", "duration", "timezone", "blackout",
					   "description", NULL};
	enum { K_NAME, K_CRON, K_DURATION, K_TZ, K_BLACKOUT, K_DESC };
	struct yt_node *v[6];
	struct batch_window *w = &l->b->windows[l->b->nwindows];
	char err[256];
	int bad = 0;

	if (bv_keys(l, "a window", n, keys, v) == -1)
		return;
	w->pos = n->pos;
	if (v[K_NAME] == NULL) {
		bv_err(l, n->pos, "window: name is missing");
		return;
	}
	if (bv_str(l, "name", v[K_NAME], &w->name) == -1 ||
	    bv_name(l, "window", v[K_NAME], w->name) == -1)
		return;
	w->pos = v[K_NAME]->pos;
	if (v[K_CRON] == NULL) {
		bv_err(l, n->pos, "window %.60s: cron is missing (when it opens)", w->name);
		bad = 1;
	} else if (bv_want(l, "cron", v[K_CRON], YT_SCALAR) == -1)
		bad = 1;
	else if (cron_parse(v[K_CRON]->s, &w->cron, err, sizeof(err)) == -1) {
		bv_err(l, v[K_CRON]->pos, "%s", err);
		bad = 1;
	}
	if (v[K_DURATION] == NULL) {
		bv_err(l, n->pos, "window %.60s: duration is missing (how long it stays open)", w->name);
		bad = 1;
	} else if (bv_duration(l, "duration", v[K_DURATION], 60000, &w->duration_ms) == -1)
		bad = 1;
	else if (w->duration_ms > 366LL * 86400000) {
		bv_err(l, v[K_DURATION]->pos, "duration: %s is longer than 366d", v[K_DURATION]->s);
		bad = 1;
	}
	if (v[K_TZ] != NULL) {
		if (bv_str(l, "timezone", v[K_TZ], &w->timezone) == -1)
			bad = 1;
		else if (units_zone_name(w->timezone, err, sizeof(err)) == -1) {
			bv_err(l, v[K_TZ]->pos, "timezone: %s", err);
			w->timezone = NULL;
			bad = 1;
		} else
			w->tz_pos = v[K_TZ]->pos;
	}
	if (v[K_BLACKOUT] != NULL && bv_bool(l, "blackout", v[K_BLACKOUT], &w->blackout) == -1)
		bad = 1;
	if (v[K_DESC] != NULL && bv_str(l, "description", v[K_DESC], &w->description) == -1)
		bad = 1;
	/* kept with other errors too: duplicates and references are still checked */
	(void)bad;
	l->b->nwindows++;
}
