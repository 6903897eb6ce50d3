/*
 * render: one left-to-right pass over the script. A '%' starts a token only when the text
 * after it is a known built-in name and '%' (or ':raw%'), or one of the custom prefixes %#!,
 * %#^!, %#*; anything else (%PATH%, 100%, %%) is copied as it is, except Deployment Server's
 * aliased %#Alias!...% form, refused. Values go to the output, quoted, and are never scanned
 * again. Each distinct custom token is looked up once per render.
 *
 * Quoting: inventory values are data that reach root scripts, so a value must never become
 * shell syntax. The text between tokens is fed to a small POSIX shell lexer (struct sh) that
 * knows which quoting context the next token stands in: unquoted, "...", '...', a comment, a
 * here-document body, $((...)), or a place it cannot quote in (${...}, `...`, $'...'), where
 * only plain values pass. Where it loses track it takes only plain values from then on. The
 * rule is stated for users in docs/tokens.md.
 */
#include "worker/render.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define IDENT_MAX 63      /* PostgreSQL's NAMEDATALEN - 1 */
#define SHOW_MAX 80       /* bytes of a token quoted in messages and reports */
#define MAX_LOOKUPS 256   /* distinct custom tokens per script */
#define NAME_MAX_LEN 14   /* the longest built-in name, CALLINGJOBNAME */
#define SH_STACK 32       /* quoting contexts nested in one another */
#define SH_PENDING 8      /* here-documents opened on one line */
#define SH_DELIM_MAX 64   /* bytes of a here-document's delimiter word */

struct cached {
	const char *key; /* the token's text in the input, keylen bytes */
	size_t keylen;
	char *value;     /* NULL: missing */
};

enum sh_kind {
	SH_WORD,      /* unquoted: the script's top level */
	SH_CMDSUB,    /* $( ... ): unquoted words again */
	SH_PARAM,     /* ${ ... }: plain values only */
	SH_ARITH,     /* $(( ... )): integers only */
	SH_DQ,        /* " ... " */
	SH_SQ,        /* ' ... ' */
	SH_ANSI,      /* $' ... ': plain values only */
	SH_BQ,        /* ` ... `: plain values only */
	SH_COMMENT,   /* # to the end of the line */
	SH_HEREDOC,   /* the body of <<WORD: $ ` \ are special */
	SH_HEREDOC_Q  /* the body of <<'WORD': literal */
};

struct sh_frame {
	enum sh_kind kind;
	int depth;                /* ( open in CMDSUB and ARITH, { open in PARAM */
	int restricted;           /* inside PARAM, ANSI or BQ: plain values only */
	char delim[SH_DELIM_MAX]; /* here-document frames: the delimiter line */
	int strip;                /* <<-: leading tabs are not part of a line */
};

struct sh {
	int on;               /* the interpreter is a POSIX shell */
	const char *lost;     /* why the lexer gave up (plain values only from then on) */
	int escaped;          /* the last byte was an escaping backslash */
	char prev;            /* the last byte read; '\0' at the start, 'a' after a value */
	struct sh_frame st[SH_STACK];
	int n;
	struct {
		char delim[SH_DELIM_MAX];
		int strip, quoted;
	} pend[SH_PENDING];   /* here-documents whose body starts at the next new line */
	int npend;
	int dw;               /* the word after <<: 0 none, 1 blanks before it, 2 in it */
	char dwq;             /* quote open in that word */
	int dwesc;
	char dwbuf[SH_DELIM_MAX];
	size_t dwlen;
	int dwquoted, dwstrip;
	size_t line_out;      /* output offset of the here-document line being read */
	int line_tokens;      /* values put on that line */
};

struct render {
	const char *in;
	size_t inlen;
	const struct render_vars *vars;
	const struct render_policy *policy;
	render_lookup_fn *lookup;
	void *arg;
	struct util_buf out;
	struct render_report *rep;
	struct cached cache[MAX_LOOKUPS];
	size_t ncache;
	char *err;
	size_t errlen;
	struct sh sh;
	const char *interpreter;
};

static const struct builtin {
	const char *name;
	size_t off;
} builtins[] = {
	{ "COMPNAME", offsetof(struct render_vars, compname) },
	{ "NAME", offsetof(struct render_vars, name) },
	{ "ID", offsetof(struct render_vars, id) },
	{ "AGENTIPADDR", offsetof(struct render_vars, agentipaddr) },
	{ "IPNAME", offsetof(struct render_vars, ipname) },
	{ "MAC", offsetof(struct render_vars, mac) },
	{ "SERIALNUM", offsetof(struct render_vars, serialnum) },
	{ "ASSETTAG", offsetof(struct render_vars, assettag) },
	{ "DOMAIN", offsetof(struct render_vars, domain) },
	{ "DOMAINOU", offsetof(struct render_vars, domainou) },
	{ "DEPT", offsetof(struct render_vars, dept) },
	{ "CONTACT", offsetof(struct render_vars, contact) },
	{ "EMAIL", offsetof(struct render_vars, email) },
	{ "OS", offsetof(struct render_vars, os) },
	{ "DATE", offsetof(struct render_vars, date) },
	{ "DSSERVER", offsetof(struct render_vars, dsserver) },
	{ "JOBNAME", offsetof(struct render_vars, jobname) },
	{ "CALLINGJOBNAME", offsetof(struct render_vars, callingjobname) },
	{ "JOBUSER", offsetof(struct render_vars, jobuser) },
	{ "SCHEDULEID", offsetof(struct render_vars, scheduleid) },
	{ "EVENTID", offsetof(struct render_vars, eventid) },
	{ "TASKSEQ", offsetof(struct render_vars, taskseq) },
};

#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		fatal("render: malloc");
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* s[0..n) made printable for a message: controls shown as '?', cut at SHOW_MAX with "...". */
static void
show(const char *s, size_t n, char *dst, size_t size)
{
	size_t i, j = 0;
	for (i = 0; i < n && i < SHOW_MAX && j + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (i < n && j + 3 < size) {
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = '\0';
}

static int
line_of(const struct render *r, size_t pos)
{
	int line = 1;
	for (size_t i = 0; i < pos; i++)
		if (r->in[i] == '\n')
			line++;
	return line;
}

/* "line N: token T: <reason>", T being in[pos..pos+n). Returns -1. */
static int
tokerr(struct render *r, size_t pos, size_t n, const char *fmt, ...)
{
	char tok[SHOW_MAX + 4], why[512];
	va_list ap;

	show(r->in + pos, n, tok, sizeof(tok));
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "line %d: token %s: %s", line_of(r, pos), tok, why);
	return -1;
}

static int
ident_ok(const char *s, size_t n)
{
	if (n == 0 || n > IDENT_MAX)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

int
render_identifier_ok(const char *s)
{
	return s != NULL && ident_ok(s, strnlen(s, IDENT_MAX + 1));
}

static int
report_missing(struct render *r, const char *tok, size_t n)
{
	struct render_report *rep = r->rep;
	char shown[SHOW_MAX + 4];

	if (rep == NULL)
		return 0;
	show(tok, n, shown, sizeof(shown));
	for (size_t i = 0; i < rep->nmissing; i++)
		if (strcmp(rep->missing[i], shown) == 0)
			return 0;
	char **m = realloc(rep->missing, (rep->nmissing + 1) * sizeof(*m));
	if (m == NULL)
		fatal("render: realloc");
	rep->missing = m;
	rep->missing[rep->nmissing++] = xstrndup(shown, strlen(shown));
	return 0;
}

/* ---- the shell context of a token ----------------------------------------------------- */

int
render_interpreter_is_shell(const char *interpreter)
{
	static const char *const shells[] = { "sh", "bash", "dash", "ash", "ksh", "ksh93", "mksh",
		"pdksh", "lksh", "zsh", "yash", "posh" };
	char word[256] = "";
	const char *p = interpreter;
	int skip_opts = 0;

	if (p == NULL)
		return 1;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return word[0] == '\0' ? 1 : 0;
		size_t n = strcspn(p, " ");
		if (n >= sizeof(word))
			return 0;
		memcpy(word, p, n);
		word[n] = '\0';
		p += n;
		/* env's options and VAR=value, busybox's applet: the shell is a later word */
		if (skip_opts && (word[0] == '-' || strchr(word, '=') != NULL))
			continue;
		const char *base = strrchr(word, '/');
		base = base != NULL ? base + 1 : word;
		if (strcmp(base, "env") == 0 || strcmp(base, "busybox") == 0) {
			skip_opts = 1;
			continue;
		}
		for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++)
			if (strcmp(base, shells[i]) == 0)
				return 1;
		return 0;
	}
}

static int
plain_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c >= 0x80 || strchr(" _.,:/@+-", c) != NULL;
}

int
render_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (!plain_byte((unsigned char)*s))
			return 0;
	return 1;
}

/* A value that means the same bare as quoted in an unquoted word: [A-Za-z0-9_./:@+-]+. */
static int
bare_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("_./:@+-", c) != NULL))
			return 0;
	}
	return 1;
}

static int
integer_ok(const char *s)
{
	size_t i = s[0] == '-' ? 1 : 0, n = strlen(s);
	if (n == i || n - i > 19)
		return 0;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void
sh_lost(struct sh *sh, const char *why)
{
	if (sh->lost == NULL)
		sh->lost = why;
}

static void
sh_push(struct sh *sh, enum sh_kind kind)
{
	if (sh->n == SH_STACK) {
		sh_lost(sh, "quoting nested deeper than 32 levels");
		return;
	}
	struct sh_frame *f = &sh->st[sh->n];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->restricted = (sh->n > 0 && sh->st[sh->n - 1].restricted) || kind == SH_PARAM ||
	    kind == SH_ANSI || kind == SH_BQ;
	sh->n++;
}

static void
sh_pop(struct sh *sh)
{
	if (sh->n > 1)
		sh->n--;
}

/* The innermost here-document frame, or -1. */
static int
sh_heredoc(const struct sh *sh)
{
	for (int i = sh->n - 1; i > 0; i--)
		if (sh->st[i].kind == SH_HEREDOC || sh->st[i].kind == SH_HEREDOC_Q)
			return i;
	return -1;
}

/* Start the body of the next pending here-document; its first line starts at out. */
static void
sh_heredoc_next(struct sh *sh, size_t out)
{
	if (sh->npend == 0)
		return;
	sh_push(sh, sh->pend[0].quoted ? SH_HEREDOC_Q : SH_HEREDOC);
	struct sh_frame *f = &sh->st[sh->n - 1];
	memcpy(f->delim, sh->pend[0].delim, sizeof(f->delim));
	f->strip = sh->pend[0].strip;
	memmove(&sh->pend[0], &sh->pend[1], (size_t)(sh->npend - 1) * sizeof(sh->pend[0]));
	sh->npend--;
	sh->line_out = out;
	sh->line_tokens = 0;
}

/* Is the output line out[from..to) the delimiter of the here-document frame f? */
static int
sh_is_delim(const struct render *r, const struct sh_frame *f, size_t from, size_t to)
{
	const char *s = r->out.p + from;
	size_t n = to - from;
	if (f->strip)
		while (n > 0 && *s == '\t') {
			s++;
			n--;
		}
	return n == strlen(f->delim) && memcmp(s, f->delim, n) == 0;
}

/* One byte of the word after <<; 1 when it was taken, 0 when it ends the word. */
static int
sh_delim_byte(struct sh *sh, char c)
{
	if (sh->dw == 1) {
		if (c == ' ' || c == '\t')
			return 1;
		sh->dw = 2;
	}
	if (!sh->dwesc && sh->dwq == 0 && strchr(" \t\n;&|<>()", c) != NULL) {
		if (sh->dwlen == 0)
			sh_lost(sh, "a here-document without a word after <<");
		else if (sh->npend == SH_PENDING)
			sh_lost(sh, "more than 8 here-documents on one line");
		else {
			memcpy(sh->pend[sh->npend].delim, sh->dwbuf, sh->dwlen);
			sh->pend[sh->npend].delim[sh->dwlen] = '\0';
			sh->pend[sh->npend].strip = sh->dwstrip;
			sh->pend[sh->npend].quoted = sh->dwquoted;
			sh->npend++;
		}
		sh->dw = 0;
		return 0;
	}
	if (sh->dwesc)
		sh->dwesc = 0;
	else if (sh->dwq != 0 && c == sh->dwq) {
		sh->dwq = 0;
		return 1;
	} else if (sh->dwq == 0 && (c == '\'' || c == '"')) {
		sh->dwq = c;
		sh->dwquoted = 1;
		return 1;
	} else if (sh->dwq == 0 && c == '\\') {
		sh->dwesc = 1;
		sh->dwquoted = 1;
		return 1;
	}
	if (sh->dwlen + 1 >= SH_DELIM_MAX) {
		sh_lost(sh, "a here-document word longer than 63 bytes");
		sh->dw = 0;
		return 1;
	}
	sh->dwbuf[sh->dwlen++] = c;
	return 1;
}

/* After '$' at in[i]: open what it starts; returns how many more bytes it used. */
static size_t
sh_dollar(struct render *r, size_t i, int unquoted)
{
	char c = i + 1 < r->inlen ? r->in[i + 1] : '\0';
	if (c == '(' && i + 2 < r->inlen && r->in[i + 2] == '(') {
		sh_push(&r->sh, SH_ARITH);
		return 2;
	}
	if (c == '(') {
		sh_push(&r->sh, SH_CMDSUB);
		return 1;
	}
	if (c == '{') {
		sh_push(&r->sh, SH_PARAM);
		return 1;
	}
	if (unquoted && c == '\'') {
		sh_push(&r->sh, SH_ANSI);
		return 1;
	}
	if (unquoted && c == '"') {
		sh_push(&r->sh, SH_DQ);
		return 1;
	}
	return 0;
}

/* "<<" or "<<-" at i: a here-document's delimiter word follows. Returns the new i. */
static size_t
sh_heredoc_op(struct render *r, size_t i)
{
	struct sh *sh = &r->sh;
	i++;
	sh->dwstrip = i + 1 < r->inlen && r->in[i + 1] == '-';
	if (sh->dwstrip)
		i++;
	sh->dw = 1;
	sh->dwq = 0;
	sh->dwesc = 0;
	sh->dwlen = 0;
	sh->dwquoted = 0;
	return i;
}

/* ( and ) in a word, a command substitution or an arithmetic context. Returns the new i. */
static size_t
sh_paren(struct render *r, struct sh_frame *f, size_t i, char prev)
{
	struct sh *sh = &r->sh;
	const char *in = r->in;
	if (in[i] == '(') {
		if ((f->kind == SH_WORD || f->kind == SH_CMDSUB) &&
		    (prev == '\0' || strchr(" \t\n;&|(", prev) != NULL) &&
		    i + 1 < r->inlen && in[i + 1] == '(') {
			sh_push(sh, SH_ARITH); /* the (( ... )) command */
			i++;
		} else if (f->kind == SH_CMDSUB || f->kind == SH_ARITH)
			f->depth++;
	} else if ((f->kind == SH_CMDSUB || f->kind == SH_ARITH) && f->depth > 0) {
		f->depth--;
	} else if (f->kind == SH_CMDSUB) {
		sh_pop(sh);
	} else if (f->kind == SH_ARITH && i + 1 < r->inlen && in[i + 1] == ')') {
		sh_pop(sh);
		i++;
	}
	return i;
}

/*
 * One byte c = in[i] in an unquoted context (WORD, CMDSUB, PARAM, ARITH): h is the
 * pending here-document (or -1), o the byte's place in the output. Returns the new i.
 */
static size_t
sh_word(struct render *r, struct sh_frame *f, size_t i, char prev, int h, size_t o)
{
	struct sh *sh = &r->sh;
	const char *in = r->in;
	char c = in[i];
	int cmd = f->kind == SH_WORD || f->kind == SH_CMDSUB;
	if (sh->escaped) {
		sh->escaped = 0;
		sh->prev = 'a';
		return i;
	}
	switch (c) {
	case '\\':
		sh->escaped = 1;
		break;
	case '\'':
		sh_push(sh, SH_SQ);
		break;
	case '"':
		sh_push(sh, SH_DQ);
		break;
	case '`':
		sh_push(sh, SH_BQ);
		break;
	case '$':
		i += sh_dollar(r, i, 1);
		break;
	case '#':
		if (cmd && (prev == '\0' || strchr(" \t\n;&|()<>", prev) != NULL))
			sh_push(sh, SH_COMMENT);
		break;
	case '(':
	case ')':
		i = sh_paren(r, f, i, prev);
		break;
	case '{':
		if (f->kind == SH_PARAM)
			f->depth++;
		break;
	case '}':
		if (f->kind == SH_PARAM && f->depth > 0)
			f->depth--;
		else if (f->kind == SH_PARAM)
			sh_pop(sh);
		break;
	case '<':
		/* << and <<- start a here-document; <<< is a here-string */
		if (cmd && prev != '<' && i + 1 < r->inlen && in[i + 1] == '<' &&
		    (i + 2 >= r->inlen || in[i + 2] != '<'))
			i = sh_heredoc_op(r, i);
		break;
	case '\n':
		if (cmd && h < 0)
			sh_heredoc_next(sh, o + 1);
		break;
	}
	return i;
}

/*
 * A newline at i (output place o) while here-document h is open: its delimiter line
 * ends it. 1 when it did (the byte is used up), 0 to go on, -1 (err set) when a value
 * made the line the delimiter.
 */
static int
sh_heredoc_line(struct render *r, size_t i, size_t o, int h)
{
	struct sh *sh = &r->sh;
	if (sh_is_delim(r, &sh->st[h], sh->line_out, o)) {
		if (sh->line_tokens > 0) {
			snprintf(r->err, r->errlen, "line %d: a value makes this line the "
			    "end (%s) of its here-document", line_of(r, i), sh->st[h].delim);
			return -1;
		}
		sh->n = h;
		sh->escaped = 0;
		sh->prev = '\n';
		sh_heredoc_next(sh, o + 1);
		return 1;
	}
	sh->line_out = o + 1;
	sh->line_tokens = 0;
	return 0;
}

/*
 * One byte c = in[i] in a quoted context or a comment (f is the innermost frame).
 * Returns the new i, or (size_t)-1 when the byte ended a comment and must be read
 * again in the frame below.
 */
static size_t
sh_quoted(struct render *r, struct sh_frame *f, size_t i, char prev)
{
	struct sh *sh = &r->sh;
	char c = r->in[i];
	switch (f->kind) {
	case SH_SQ:
		if (c == '\'')
			sh_pop(sh);
		break;
	case SH_COMMENT:
		if (c == '\n') {
			sh_pop(sh);
			sh->prev = prev;
			return (size_t)-1;
		}
		break;
	case SH_ANSI:
	case SH_BQ:
		if (sh->escaped)
			sh->escaped = 0;
		else if (c == '\\')
			sh->escaped = 1;
		else if (c == (f->kind == SH_ANSI ? '\'' : '`'))
			sh_pop(sh);
		break;
	case SH_DQ:
	case SH_HEREDOC:
		if (sh->escaped) {
			sh->escaped = 0;
			sh->prev = 'a';
		} else if (c == '\\')
			sh->escaped = 1;
		else if (c == '"' && f->kind == SH_DQ)
			sh_pop(sh);
		else if (c == '`')
			sh_push(sh, SH_BQ);
		else if (c == '$')
			i += sh_dollar(r, i, 0);
		break;
	default: /* SH_HEREDOC_Q: nothing is special */
		break;
	}
	return i;
}

/*
 * Read the script text in[from..to), already copied to the output at out_at, and follow its
 * quoting. -1 (err set) when a line of a here-document that holds a value is its delimiter.
 */
static int
sh_text(struct render *r, size_t from, size_t to, size_t out_at)
{
	struct sh *sh = &r->sh;

	if (!sh->on || sh->lost != NULL)
		return 0;
	for (size_t i = from; i < to && sh->lost == NULL; i++) {
		char c = r->in[i];
		size_t o = out_at + (i - from);
		if (sh->dw != 0 && sh_delim_byte(sh, c))
			continue;
		int h = sh_heredoc(sh);
		if (c == '\n' && h > 0 && !(sh->escaped && sh->st[h].kind == SH_HEREDOC)) {
			int ended = sh_heredoc_line(r, i, o, h);
			if (ended == -1)
				return -1;
			if (ended)
				continue;
		}
		for (;;) {
			struct sh_frame *f = &sh->st[sh->n - 1];
			char prev = sh->prev;
			sh->prev = c;
			int word = f->kind == SH_WORD || f->kind == SH_CMDSUB || f->kind == SH_PARAM ||
			    f->kind == SH_ARITH;
			size_t next = word ? sh_word(r, f, i, prev, h, o) : sh_quoted(r, f, i, prev);
			if (next != (size_t)-1) {
				i = next;
				break;
			}
		}
	}
	return 0;
}

/* The end of the script: its last line, when a here-document is open and it has no new line. */
static int
sh_end(struct render *r)
{
	struct sh *sh = &r->sh;
	int h;

	if (!sh->on || sh->lost != NULL || (h = sh_heredoc(sh)) < 0 || sh->line_tokens == 0)
		return 0;
	if (sh_is_delim(r, &sh->st[h], sh->line_out, r->out.len)) {
		snprintf(r->err, r->errlen, "line %d: a value makes this line the end (%s) of its "
		    "here-document", line_of(r, r->inlen), sh->st[h].delim);
		return -1;
	}
	return 0;
}

static int
add(struct render *r, const char *s, size_t n)
{
	if (util_buf_add(&r->out, s, n) == -1) {
		snprintf(r->err, r->errlen, "rendered script is larger than %zu bytes", r->out.max);
		return -1;
	}
	return 0;
}

/* Write v with a backslash before each byte of specials. */
static int
add_escaped(struct render *r, const char *v, const char *specials)
{
	for (const char *p = v; *p != '\0'; p++) {
		if (strchr(specials, *p) != NULL && add(r, "\\", 1) == -1)
			return -1;
		if (add(r, p, 1) == -1)
			return -1;
	}
	return 0;
}

/* Write v as one single-quoted word; ' becomes '\'' (close, escaped quote, open). */
static int
add_single_quoted(struct render *r, const char *v, int open_close)
{
	if (open_close && add(r, "'", 1) == -1)
		return -1;
	for (const char *p = v; *p != '\0'; p++)
		if (add(r, *p == '\'' ? "'\\''" : p, *p == '\'' ? 4 : 1) == -1)
			return -1;
	return open_close ? add(r, "'", 1) : 0;
}

/* Where a value stood that only plain values may stand; -1 with the reason. */
static int
not_plain(struct render *r, size_t pos, size_t n, const char *v, const char *where)
{
	char shown[SHOW_MAX + 4];
	show(v, strlen(v), shown, sizeof(shown));
	return tokerr(r, pos, n, "value \"%s\" cannot be quoted %s: only letters, digits, space "
	    "and _ . , : / @ + - pass there (the :raw form of the token inserts any value as it "
	    "is, for values you trust)", shown, where);
}

/* Write v quoted for the innermost context f (not restricted, the lexer on track). */
static int
put_quoted(struct render *r, size_t pos, size_t n, const struct sh_frame *f, const char *v)
{
	switch (f->kind) {
	case SH_DQ:
		return add_escaped(r, v, "\\\"$`");
	case SH_SQ:
		return add_single_quoted(r, v, 0);
	case SH_ARITH:
		if (!integer_ok(v)) {
			char shown[SHOW_MAX + 4];
			show(v, strlen(v), shown, sizeof(shown));
			return tokerr(r, pos, n, "value \"%s\" is not an integer, the only value "
			    "allowed inside $((...)) and ((...))", shown);
		}
		return add(r, v, strlen(v));
	case SH_COMMENT:
		if (strchr(v, '\n') != NULL)
			return tokerr(r, pos, n, "a value holding a new line cannot stand in a "
			    "comment: the rest of it would run");
		return add(r, v, strlen(v));
	case SH_HEREDOC:
		return add_escaped(r, v, "\\$`");
	case SH_HEREDOC_Q:
		return add(r, v, strlen(v));
	default: /* WORD, CMDSUB */
		return bare_ok(v) ? add(r, v, strlen(v)) : add_single_quoted(r, v, 1);
	}
}

/*
 * Put the value v of the token in[pos..pos+n) into the output, quoted for the place it stands
 * in (see docs/tokens.md); raw: as it is.
 */
static int
put_value(struct render *r, size_t pos, size_t n, const char *v, int raw)
{
	struct sh *sh = &r->sh;
	char why[300];
	size_t start = r->out.len;
	int rc, h;

	if (raw)
		return add(r, v, strlen(v));
	if (!sh->on) {
		if (render_plain(v))
			return add(r, v, strlen(v));
		snprintf(why, sizeof(why), "for interpreter \"%.200s\", which is no POSIX shell",
		    r->interpreter);
		return not_plain(r, pos, n, v, why);
	}
	if (sh->dw != 0)
		return tokerr(r, pos, n, "a token cannot be the word of a here-document (<<)");
	if (sh->escaped)
		return tokerr(r, pos, n, "a token cannot follow a backslash, which would quote the "
		    "first character of its value");
	sh->prev = 'a';
	if (sh->lost != NULL) {
		if (!render_plain(v)) {
			snprintf(why, sizeof(why), "after %s", sh->lost);
			return not_plain(r, pos, n, v, why);
		}
		return add(r, v, strlen(v));
	}
	const struct sh_frame *f = &sh->st[sh->n - 1];
	if (f->restricted && !render_plain(v))
		return not_plain(r, pos, n, v, "inside ${...}, `...` or $'...'");
	rc = f->restricted ? add(r, v, strlen(v)) : put_quoted(r, pos, n, f, v);
	if (rc == -1 || (h = sh_heredoc(sh)) < 0)
		return rc;
	/* a here-document ends at its delimiter line, whatever quotes the line holds */
	sh->line_tokens++;
	for (size_t i = start; i < r->out.len; i++)
		if (r->out.p[i] == '\n') {
			if (sh_is_delim(r, &sh->st[h], sh->line_out, i))
				return tokerr(r, pos, n, "a value makes a line the end (%s) of its "
				    "here-document", sh->st[h].delim);
			sh->line_out = i + 1;
		}
	return 0;
}

/* Put the value of the token in[pos..pos+n) (NULL: missing) into the output. */
static int
emit(struct render *r, size_t pos, size_t n, const char *value, int raw)
{
	if (r->rep != NULL)
		r->rep->replaced++;
	if (value == NULL) {
		report_missing(r, r->in + pos, n);
		value = "";
	}
	return put_value(r, pos, n, value, raw);
}

/* Look up (or find in the cache) the custom token in[pos..pos+n); *value is the cache's. */
static int
lookup(struct render *r, size_t pos, size_t n, enum render_lookup kind, const char *table,
    const char *column, const char *sql, const char **value)
{
	char why[256];
	char *v = NULL;

	for (size_t i = 0; i < r->ncache; i++)
		if (r->cache[i].keylen == n && memcmp(r->cache[i].key, r->in + pos, n) == 0) {
			*value = r->cache[i].value;
			return 0;
		}
	if (r->lookup == NULL)
		return tokerr(r, pos, n, "no database lookup available");
	if (r->ncache == MAX_LOOKUPS)
		return tokerr(r, pos, n, "more than %d distinct custom tokens in one script",
		    MAX_LOOKUPS);
	why[0] = '\0';
	if (r->lookup(r->arg, kind, table, column, sql, &v, why, sizeof(why)) == -1) {
		free(v);
		return tokerr(r, pos, n, "%s", why[0] ? why : "lookup failed");
	}
	r->cache[r->ncache].key = r->in + pos;
	r->cache[r->ncache].keylen = n;
	r->cache[r->ncache].value = v;
	r->ncache++;
	*value = v;
	return 0;
}

static const struct render_table *
find_table(const struct render_policy *p, const char *name)
{
	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < p->ntables; i++)
		if (p->tables[i].name != NULL && strcmp(p->tables[i].name, name) == 0)
			return &p->tables[i];
	return NULL;
}

static int
has_column(const struct render_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncolumns; i++)
		if (t->columns[i] != NULL && strcmp(t->columns[i], name) == 0)
			return 1;
	return 0;
}

/* %#!table@column% or %#^!table@column% at pos, body from pos+skip; *end past the '%'. */
static int
table_token(struct render *r, size_t pos, size_t skip, enum render_lookup kind, size_t *end)
{
	const char *in = r->in;
	size_t k = pos + skip, e = k;
	char table[IDENT_MAX + 1], column[IDENT_MAX + 1], shown[SHOW_MAX + 4];
	const char *value;

	while (e < r->inlen && in[e] != '%' && in[e] != '\n')
		e++;
	if (e == r->inlen || in[e] != '%')
		return tokerr(r, pos, e - pos, "not closed by %%");
	*end = e + 1;
	int raw = e - k >= 4 && memcmp(in + e - 4, ":raw", 4) == 0;
	if (raw)
		e -= 4;
	const char *at = memchr(in + k, '@', e - k);
	if (at == NULL)
		return tokerr(r, pos, *end - pos, "expected table@column");
	size_t tlen = (size_t)(at - (in + k)), clen = e - k - tlen - 1;
	if (!ident_ok(in + k, tlen)) {
		show(in + k, tlen, shown, sizeof(shown));
		return tokerr(r, pos, *end - pos, "table name \"%s\" is not a valid identifier "
		    "([a-z_][a-z0-9_]*, at most %d bytes)", shown, IDENT_MAX);
	}
	if (!ident_ok(at + 1, clen)) {
		show(at + 1, clen, shown, sizeof(shown));
		return tokerr(r, pos, *end - pos, "column name \"%s\" is not a valid identifier "
		    "([a-z_][a-z0-9_]*, at most %d bytes)", shown, IDENT_MAX);
	}
	memcpy(table, in + k, tlen);
	table[tlen] = '\0';
	memcpy(column, at + 1, clen);
	column[clen] = '\0';
	const struct render_table *t = find_table(r->policy, table);
	if (t == NULL)
		return tokerr(r, pos, *end - pos, "table \"%s\" is not in tokens.tables", table);
	if (!has_column(t, column))
		return tokerr(r, pos, *end - pos, "column \"%s\" of table \"%s\" is not in "
		    "tokens.tables", column, table);
	if (lookup(r, pos, *end - pos, kind, table, column, NULL, &value) == -1)
		return -1;
	return emit(r, pos, *end - pos, value, raw);
}

/* %#*"SQL"% at pos; \" and \\ inside the quotes stand for " and \. */
static int
sql_token(struct render *r, size_t pos, size_t *end)
{
	const char *in = r->in;
	size_t k = pos + 3, eol = pos;
	struct util_buf sql = {0};
	const char *value;
	int rc = -1;

	while (eol < r->inlen && in[eol] != '\n')
		eol++;
	if (k >= r->inlen || in[k] != '"')
		return tokerr(r, pos, eol - pos, "expected a quoted query after %%#*");
	util_buf_add(&sql, "", 0);
	for (k++;; k++) {
		if (k >= r->inlen) {
			tokerr(r, pos, r->inlen - pos, "quoted query not closed by \"");
			goto done;
		}
		if (in[k] == '"')
			break;
		if (in[k] == '\0') {
			tokerr(r, pos, k - pos, "query contains a NUL byte");
			goto done;
		}
		if (in[k] == '\\' && k + 1 < r->inlen && (in[k + 1] == '"' || in[k + 1] == '\\'))
			k++;
		util_buf_add(&sql, in + k, 1);
	}
	k++;
	int raw = r->inlen - k >= 5 && memcmp(in + k, ":raw%", 5) == 0;
	if (raw)
		k += 4;
	if (k >= r->inlen || in[k] != '%') {
		tokerr(r, pos, k - pos, "expected %% after the closing quote");
		goto done;
	}
	*end = k + 1;
	if (r->policy == NULL || !r->policy->sql_enabled) {
		tokerr(r, pos, *end - pos, "sql tokens are off (tokens.sql: false)");
		goto done;
	}
	if (sql.len == 0) {
		tokerr(r, pos, *end - pos, "empty query");
		goto done;
	}
	if (lookup(r, pos, *end - pos, RENDER_SQL, NULL, NULL, sql.p, &value) == -1)
		goto done;
	rc = emit(r, pos, *end - pos, value, raw);
done:
	free(sql.p);
	return rc;
}

/* A built-in at pos? *end past its closing '%'; 0 when not one (the '%' is then text). */
static int
builtin_token(struct render *r, size_t pos, size_t *end, int *found)
{
	const char *in = r->in;
	size_t j = pos + 1;

	*found = 0;
	while (j < r->inlen && j - pos <= NAME_MAX_LEN && in[j] >= 'A' && in[j] <= 'Z')
		j++;
	if (j == pos + 1 || j >= r->inlen)
		return 0;
	/* %NAME:raw% opts out of quoting; any other %NAME:...% is text (cmd's %VAR:~0,3%) */
	int raw = r->inlen - j >= 5 && memcmp(in + j, ":raw%", 5) == 0;
	if (in[j] != '%' && !raw)
		return 0;
	for (size_t i = 0; i < NBUILTINS; i++) {
		const char *name = builtins[i].name;
		if (strlen(name) == j - pos - 1 && memcmp(name, in + pos + 1, j - pos - 1) == 0) {
			const char *value = NULL;
			if (r->vars != NULL)
				value = *(const char *const *)((const char *)r->vars + builtins[i].off);
			*found = 1;
			*end = j + (raw ? 5 : 1);
			return emit(r, pos, *end - pos, value, raw);
		}
	}
	return 0;
}

/*
 * Deployment Server's %#Alias!t@c%, %#Alias^!t@c% and %#Alias*"SQL"% read another database;
 * pgfleet has no such aliases, and silently leaving the token in would hide the mistake.
 */
static int
alias_token(struct render *r, size_t pos)
{
	const char *in = r->in;
	size_t j = pos + 2;

	while (j < r->inlen && ((in[j] >= 'A' && in[j] <= 'Z') || (in[j] >= 'a' && in[j] <= 'z') ||
	    (in[j] >= '0' && in[j] <= '9') || in[j] == '_'))
		j++;
	if (j == pos + 2 || j >= r->inlen)
		return 0;
	if (in[j] == '!' || in[j] == '*' || (in[j] == '^' && j + 1 < r->inlen && in[j + 1] == '!'))
		return tokerr(r, pos, j + 1 - pos, "data source alias \"%.*s\" is not supported "
		    "(custom tokens read pgfleet's own database)", (int)(j - pos - 2), in + pos + 2);
	return 0;
}

static int
render_pass(struct render *r)
{
	const char *in = r->in;
	size_t i = 0;

	while (i < r->inlen) {
		const char *p = memchr(in + i, '%', r->inlen - i);
		size_t pos = p ? (size_t)(p - in) : r->inlen, end = 0, left;
		int found;

		if (util_buf_add(&r->out, in + i, pos - i) == -1)
			goto toolarge;
		if (sh_text(r, i, pos, r->out.len - (pos - i)) == -1)
			return -1;
		if (p == NULL)
			break;
		left = r->inlen - pos;
		if (left >= 3 && in[pos + 1] == '#') {
			if (in[pos + 2] == '!') {
				if (table_token(r, pos, 3, RENDER_ROW_OF_COMPUTER, &end) == -1)
					return -1;
				i = end;
				continue;
			}
			if (left >= 4 && in[pos + 2] == '^' && in[pos + 3] == '!') {
				if (table_token(r, pos, 4, RENDER_FIRST_ROW, &end) == -1)
					return -1;
				i = end;
				continue;
			}
			if (in[pos + 2] == '*') {
				if (sql_token(r, pos, &end) == -1)
					return -1;
				i = end;
				continue;
			}
		}
		if (left >= 3 && in[pos + 1] == '#' && alias_token(r, pos) == -1)
			return -1;
		if (builtin_token(r, pos, &end, &found) == -1)
			return -1;
		if (found) {
			i = end;
			continue;
		}
		if (util_buf_add(&r->out, "%", 1) == -1)
			goto toolarge;
		if (sh_text(r, pos, pos + 1, r->out.len - 1) == -1)
			return -1;
		i = pos + 1;
	}
	return sh_end(r);
toolarge:
	snprintf(r->err, r->errlen, "rendered script is larger than %zu bytes", r->out.max);
	return -1;
}

int
render_script(const char *in, size_t inlen, const struct render_vars *vars,
    const struct render_policy *policy, render_lookup_fn *lookup_fn, void *arg, size_t max_out,
    char **out, size_t *outlen, struct render_report *rep, char *err, size_t errlen)
{
	struct render *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		fatal("render: calloc");
	*out = NULL;
	*outlen = 0;
	if (rep != NULL)
		memset(rep, 0, sizeof(*rep));
	r->in = in;
	r->inlen = in == NULL ? 0 : inlen;
	r->vars = vars;
	r->policy = policy;
	r->lookup = lookup_fn;
	r->arg = arg;
	r->out.max = max_out;
	r->rep = rep;
	r->err = err;
	r->errlen = errlen;
	r->interpreter = vars != NULL && vars->interpreter != NULL ? vars->interpreter : "/bin/sh";
	r->sh.on = render_interpreter_is_shell(r->interpreter);
	r->sh.st[0].kind = SH_WORD;
	r->sh.n = 1;

	util_buf_add(&r->out, "", 0);
	rc = render_pass(r);
	if (rc == 0) {
		*out = r->out.p;
		*outlen = r->out.len;
	} else {
		free(r->out.p);
		render_report_free(rep);
	}
	for (size_t i = 0; i < r->ncache; i++)
		free(r->cache[i].value);
	free(r);
	return rc;
}

void
render_report_free(struct render_report *rep)
{
	if (rep == NULL)
		return;
	for (size_t i = 0; i < rep->nmissing; i++)
		free(rep->missing[i]);
	free(rep->missing);
	memset(rep, 0, sizeof(*rep));
}

int
render_date(time_t t, char buf[11])
{
	struct tm tm;
	char tmp[64];

	buf[0] = '\0';
	if (localtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return -1;
	snprintf(tmp, sizeof(tmp), "%02d/%02d/%04d", tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900);
	memcpy(buf, tmp, 11);
	buf[10] = '\0';
	return 0;
}

size_t
render_token_len(const char *s, size_t n)
{
	size_t k, e;

	if (n < 3 || s[0] != '%')
		return 0;
	if (s[1] == '#') {
		if (s[2] == '*') {
			if (n < 4 || s[3] != '"')
				return 0;
			for (k = 4; k < n && s[k] != '"'; k++)
				if (s[k] == '\\' && k + 1 < n && (s[k + 1] == '"' || s[k + 1] == '\\'))
					k++;
			if (k >= n)
				return 0;
			k++;
			if (n - k >= 5 && memcmp(s + k, ":raw%", 5) == 0)
				return k + 5;
			return k < n && s[k] == '%' ? k + 1 : 0;
		}
		if (s[2] == '!')
			k = 3;
		else if (n >= 4 && s[2] == '^' && s[3] == '!')
			k = 4;
		else
			return 0;
		for (e = k; e < n && s[e] != '%' && s[e] != '\n'; e++)
			;
		if (e >= n || s[e] != '%' || memchr(s + k, '@', e - k) == NULL)
			return 0;
		return e + 1;
	}
	for (k = 1; k < n && k <= NAME_MAX_LEN && s[k] >= 'A' && s[k] <= 'Z'; k++)
		;
	if (k == 1 || k >= n)
		return 0;
	int raw = n - k >= 5 && memcmp(s + k, ":raw%", 5) == 0;
	if (s[k] != '%' && !raw)
		return 0;
	for (size_t i = 0; i < NBUILTINS; i++)
		if (strlen(builtins[i].name) == k - 1 && memcmp(builtins[i].name, s + 1, k - 1) == 0)
			return k + (raw ? 5 : 1);
	return 0;
}
