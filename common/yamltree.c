/*
 * yamltree: file -> libyaml events -> a tree of struct yt_node, with one policy for
 * every YAML file pgfleet reads (common/yamltree.h). A refused value (alias, tag on
 * a scalar, NUL) becomes a YT_BAD node and parsing goes on, so that the user sees
 * every error of the file at once; a syntax error, a second document, too many
 * nodes or too deep a nesting stops the parse.
 */
#include "common/yamltree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "common/log.h"

#define PATH_MAX_LEN 128 /* the key path named in a refusal: "tokens.tables.x" */

static const struct yt_pos WHOLE_FILE = {0, 0};

/* ---- errors ----------------------------------------------------------------- */

void
yt_errors_vadd(struct yt_errors *e, struct yt_pos pos, const char *fmt, va_list ap)
{
	size_t max = e->max != 0 ? e->max : YT_MAX_ERRORS;
	if (e->n >= max) {
		e->dropped++;
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct yt_error *v = realloc(e->v, cap * sizeof(*v));
		if (v == NULL)
			fatal("yamltree: errors");
		e->v = v;
		e->cap = cap;
	}
	struct yt_error *x = &e->v[e->n];
	if (vasprintf(&x->msg, fmt, ap) == -1)
		fatal("yamltree: errors");
	x->pos = pos;
	x->seq = e->n++;
}

void
yt_errors_add(struct yt_errors *e, struct yt_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	yt_errors_vadd(e, pos, fmt, ap);
	va_end(ap);
}

size_t
yt_errors_count(const struct yt_errors *e)
{
	return e->n + e->dropped;
}

static int
cmp_error(const void *a, const void *b)
{
	const struct yt_error *x = a, *y = b;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
yt_errors_sort(struct yt_errors *e)
{
	if (e->n > 1)
		qsort(e->v, e->n, sizeof(e->v[0]), cmp_error);
}

char *
yt_error_text(const struct yt_errors *e, size_t i)
{
	const char *file = e->file != NULL ? e->file : "-";
	const struct yt_error *x = &e->v[i];
	char *s;
	int rc = x->pos.line > 0
	    ? asprintf(&s, "%s:%d:%d: %s", file, x->pos.line, x->pos.col, x->msg)
	    : asprintf(&s, "%s: %s", file, x->msg);
	if (rc == -1)
		fatal("yamltree: error text");
	return s;
}

void
yt_errors_print(const struct yt_errors *e, FILE *fp)
{
	for (size_t i = 0; i < e->n; i++) {
		char *s = yt_error_text(e, i);
		fprintf(fp, "%s\n", s);
		free(s);
	}
	if (e->dropped > 0)
		fprintf(fp, "%s: %zu more errors not shown\n", e->file != NULL ? e->file : "-",
		    e->dropped);
}

void
yt_errors_free(struct yt_errors *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].msg);
	free(e->v);
	free(e->file);
	memset(e, 0, sizeof(*e));
}

/* ---- reading ---------------------------------------------------------------- */

static void
too_large(struct yt_errors *e, size_t max)
{
	if (max % (1024 * 1024) == 0)
		yt_errors_add(e, WHOLE_FILE, "the file is larger than %zu MiB (the limit)", max >> 20);
	else
		yt_errors_add(e, WHOLE_FILE, "the file is larger than %zu bytes (the limit)", max);
}

static void
wipe_free(char *buf, size_t len)
{
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
}

/* A buffer of ncap bytes holding the len bytes of buf, which is wiped and freed. */
static char *
regrow(char *buf, size_t len, size_t ncap)
{
	char *nb = malloc(ncap);
	if (nb == NULL)
		fatal("yamltree: malloc %zu bytes", ncap);
	memcpy(nb, buf, len);
	wipe_free(buf, len);
	return nb;
}

/*
 * The whole of fd, at most max bytes, malloc'd (the caller wipes and frees it), or NULL
 * with the error in e. A regular file is sized first, so that a load costs what the file
 * does and a file over the limit is refused unread; anything else is read as it comes.
 */
static char *
read_fd(int fd, size_t max, size_t *len, struct yt_errors *e)
{
	struct stat st;
	int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	size_t n = 0, cap;

	if (regular && (unsigned long long)st.st_size > max) {
		too_large(e, max);
		return NULL;
	}
	cap = regular ? (size_t)st.st_size + 1 : 65536;
	cap = cap > max + 1 ? max + 1 : cap;
	char *buf = malloc(cap);
	if (buf == NULL)
		fatal("yamltree: malloc %zu bytes", cap);
	for (;;) {
		if (n == cap) {
			/* it grew while read, or is a pipe: up to one byte past the limit */
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = regrow(buf, n, ncap);
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			yt_errors_add(e, WHOLE_FILE, "cannot read: %s", strerror(errno));
			break;
		}
		if (r == 0) {
			*len = n;
			return buf;
		}
		n += (size_t)r;
		if (n > max) {
			too_large(e, max);
			break;
		}
	}
	wipe_free(buf, n);
	return NULL;
}

/* ---- the tree ------------------------------------------------------------------ */

struct frame {
	struct yt_node *node;        /* an open list or map */
	const struct yt_node *key;   /* a map's last key */
};

struct parser {
	struct arena **arena;
	struct yt_errors *errs;
	const struct yt_limits *lim;
	const char *src;
	size_t len;
	size_t nodes;
	int docs;
	int depth;
	struct frame stack[YT_MAX_DEPTH];
	struct yt_node *root;
};

static struct yt_pos
mark_pos(yaml_mark_t m)
{
	struct yt_pos p = {(int)m.line + 1, (int)m.column + 1};
	return p;
}

/*
 * Line and column of a byte offset (libyaml's reader errors give only the offset),
 * counting characters as libyaml's marks do: UTF-8 continuation bytes and a leading
 * byte order mark take no column.
 */
static struct yt_pos
offset_pos(const char *src, size_t len, size_t off)
{
	struct yt_pos p = {1, 1};
	size_t i = len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	for (; i < off && i < len; i++) {
		if (src[i] == '\n') {
			p.line++;
			p.col = 1;
		} else if (((unsigned char)src[i] & 0xc0) != 0x80)
			p.col++;
	}
	return p;
}

static void
syntax_error(struct parser *p, const yaml_parser_t *yp)
{
	const char *problem = yp->problem != NULL ? yp->problem : "unknown error";

	if (yp->error == YAML_MEMORY_ERROR)
		fatalx("yamltree: libyaml out of memory");
	if (yp->error == YAML_READER_ERROR)
		yt_errors_add(p->errs, offset_pos(p->src, p->len, yp->problem_offset),
		    "YAML syntax error: %s", problem);
	else if (yp->context != NULL)
		yt_errors_add(p->errs, mark_pos(yp->problem_mark), "YAML syntax error: %s (%s at %d:%d)",
		    problem, yp->context, (int)yp->context_mark.line + 1,
		    (int)yp->context_mark.column + 1);
	else
		yt_errors_add(p->errs, mark_pos(yp->problem_mark), "YAML syntax error: %s", problem);
}

/*
 * The key path of the value about to be attached ("tls.key", "jobs.tasks.script"):
 * the keys of the open maps whose value is being read, outermost first.
 */
static void
key_path(const struct parser *p, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < p->depth; i++) {
		const struct frame *f = &p->stack[i];
		/* an outer map's last child is the open container: a value when n is even;
		 * the innermost map reads a value next when n is odd */
		int in_value = i < p->depth - 1 ? f->node->n > 0 && f->node->n % 2 == 0
						: f->node->n % 2 == 1;
		if (f->node->type != YT_MAP || !in_value || f->key == NULL ||
		    f->key->type != YT_SCALAR)
			continue;
		int w = snprintf(buf + len, size - len, "%s%s", len ? "." : "", f->key->s);
		if (w < 0 || (size_t)w >= size - len)
			break;
		len += (size_t)w;
	}
}

/* A refused value: the error names its key path when it has one. */
static void refuse(struct parser *p, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(struct parser *p, yaml_mark_t m, const char *fmt, ...)
{
	char path[PATH_MAX_LEN], msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	key_path(p, path, sizeof(path));
	if (path[0] != '\0')
		yt_errors_add(p->errs, mark_pos(m), "%s: %s", path, msg);
	else
		yt_errors_add(p->errs, mark_pos(m), "%s", msg);
}

/*
 * Anchors and tags: an anchor only serves aliases, which are refused (no "billion
 * laughs"); a tag (!!binary, !!python/object) asks for a type pgfleet has not, and
 * ignoring it would read the value as something its author did not mean. A tagged
 * scalar becomes YT_BAD; a tagged list or map is kept so that nesting stays right.
 */
static void
refuse_properties(struct parser *p, const yaml_event_t *ev, struct yt_node *n)
{
	static const char core[] = "tag:yaml.org,2002:";
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (ev->type == YAML_SCALAR_EVENT) {
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	} else if (ev->type == YAML_MAPPING_START_EVENT) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	}
	if (anchor != NULL)
		refuse(p, ev->start_mark, "YAML anchor &%.60s is not allowed", (const char *)anchor);
	if (tag != NULL) {
		const char *t = (const char *)tag;
		int core_tag = strncmp(t, core, sizeof(core) - 1) == 0;
		refuse(p, ev->start_mark, "YAML tag %s%.60s is not allowed", core_tag ? "!!" : "",
		    core_tag ? t + sizeof(core) - 1 : t);
		if (n->type == YT_SCALAR)
			n->type = YT_BAD;
	}
}

static struct yt_node *
node_new(struct parser *p, enum yt_type type, yaml_mark_t m)
{
	struct yt_node *n = arena_alloc(p->arena, sizeof(*n));
	n->type = type;
	n->pos = mark_pos(m);
	return n;
}

static struct yt_node *
scalar_new(struct parser *p, const yaml_event_t *ev)
{
	struct yt_node *n = node_new(p, YT_SCALAR, ev->start_mark);
	const char *v = (const char *)ev->data.scalar.value;

	n->len = ev->data.scalar.length;
	n->s = arena_strndup(p->arena, v, n->len);
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	n->null = n->plain && (n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
	    strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0);
	return n;
}

/* The node an event opens or stands for, or NULL for an event that makes none. */
static struct yt_node *
node_of(struct parser *p, const yaml_event_t *ev)
{
	struct yt_node *n;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		refuse(p, ev->start_mark, "YAML alias *%.60s is not allowed",
		    (const char *)ev->data.alias.anchor);
		return node_new(p, YT_BAD, ev->start_mark);
	case YAML_SCALAR_EVENT:
		n = scalar_new(p, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(p, YT_SEQ, ev->start_mark);
		break;
	case YAML_MAPPING_START_EVENT:
		n = node_new(p, YT_MAP, ev->start_mark);
		break;
	default:
		return NULL;
	}
	refuse_properties(p, ev, n);
	if (n->type == YT_SCALAR && memchr(n->s, '\0', n->len) != NULL) {
		refuse(p, ev->start_mark, "value contains a NUL character");
		n->type = YT_BAD;
	}
	if (n->type == YT_BAD)
		n->null = 0;
	return n;
}

/* Attach n to the open container (or make it the root) and open it. -1: a limit is passed. */
static int
attach(struct parser *p, struct yt_node *n)
{
	if (++p->nodes > p->lim->max_nodes) {
		yt_errors_add(p->errs, n->pos, "more than %zu YAML nodes in one file (the limit)",
		    p->lim->max_nodes);
		return -1;
	}
	if ((n->type == YT_SEQ || n->type == YT_MAP) && p->depth == YT_MAX_DEPTH) {
		yt_errors_add(p->errs, n->pos, "maps and lists nest deeper than %d levels", YT_MAX_DEPTH);
		return -1;
	}
	if (p->depth == 0) {
		p->root = n;
	} else {
		struct frame *f = &p->stack[p->depth - 1];
		if (f->node->type == YT_MAP && f->node->n % 2 == 0)
			f->key = n;
		if (f->node->last != NULL)
			f->node->last->next = n;
		else
			f->node->first = n;
		f->node->last = n;
		f->node->n++;
	}
	if (n->type == YT_SEQ || n->type == YT_MAP)
		p->stack[p->depth++] = (struct frame){n, NULL};
	return 0;
}

/* One event. Returns 1 at the end of the stream, -1 when the parse must stop, else 0. */
static int
on_event(struct parser *p, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++p->docs > 1) {
			yt_errors_add(p->errs, mark_pos(ev->start_mark),
			    "only one YAML document is allowed");
			return -1;
		}
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		p->depth--;
		return 0;
	default:
		break;
	}
	struct yt_node *n = node_of(p, ev);
	return n != NULL ? attach(p, n) : 0;
}

int
yt_parse(struct arena **arena, const char *src, size_t len, const struct yt_limits *lim,
    struct yt_doc *doc, struct yt_errors *errs)
{
	struct parser p = {.arena = arena, .errs = errs, .lim = lim, .src = src, .len = len};
	yaml_parser_t yp;
	yaml_event_t ev;
	int rc = 0;

	if (!yaml_parser_initialize(&yp))
		fatalx("yamltree: libyaml out of memory");
	yaml_parser_set_input_string(&yp, (const unsigned char *)src, len);
	while (rc == 0) {
		if (!yaml_parser_parse(&yp, &ev)) {
			syntax_error(&p, &yp);
			rc = -1;
			break;
		}
		rc = on_event(&p, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	doc->src = src;
	doc->len = len;
	doc->root = p.root;
	return rc < 0 ? -1 : 0;
}

int
yt_load(struct arena **arena, const char *path, const struct yt_limits *lim, struct yt_doc *doc,
    struct yt_errors *errs)
{
	size_t len = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(doc, 0, sizeof(*doc));
	if (fd == -1) {
		yt_errors_add(errs, WHOLE_FILE, "cannot open: %s", strerror(errno));
		return -1;
	}
	buf = read_fd(fd, lim->max_bytes, &len, errs);
	close(fd);
	if (buf == NULL)
		return -1;
	char *src = arena_strndup(arena, buf, len);
	wipe_free(buf, len);
	return yt_parse(arena, src, len, lim, doc, errs);
}
