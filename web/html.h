/*
 * html: writing text from the database into HTML safely, for pgfleet-web. Every value
 * goes through html_put's %s (escaped) or one of the writers here; markup is only ever
 * the format string itself. Pure: no I/O besides appending to the caller's evbuffer,
 * nothing kept. Invalid UTF-8 and control characters (other than tab, LF, CR) come out
 * as U+FFFD, so a page is always valid UTF-8 whatever a script printed.
 */
#ifndef PGFLEET_WEB_HTML_H
#define PGFLEET_WEB_HTML_H

#include <stddef.h>

#include <event2/buffer.h>

/* Append s[0..len) escaped for text and quoted attribute values (& < > " '). */
void html_escn(struct evbuffer *b, const char *s, size_t len);
/* The same for a C string; NULL writes nothing. */
void html_esc(struct evbuffer *b, const char *s);

/*
 * Append fmt with its arguments: %s a string, escaped (NULL is empty); %u a string
 * percent-encoded as a URL query value, then escaped; %d an int; %D a long long;
 * %R a string written as is (trusted markup only: never a value from outside);
 * %% a percent sign. Anything else in fmt is copied as is.
 */
void html_put(struct evbuffer *b, const char *fmt, ...);

/*
 * Script output: the first max_bytes bytes (cut back to a whole UTF-8 character) and
 * at most max_lines lines, escaped. Returns 1 when something was left out, else 0.
 */
int html_output(struct evbuffer *b, const char *s, size_t len, size_t max_bytes, int max_lines);

/*
 * A job's script, escaped, with each token that the scheduler replaces (a built-in
 * %NAME%, %#!table@column%, %#^!table@column%, %#*"SQL"%, any with :raw) wrapped in
 * <span class="tok">. Other %WORD% text (shell and batch variables) stays plain.
 */
void html_script(struct evbuffer *b, const char *s, size_t len);

/* ms as "850 ms", "12.3 s", "4 m 05 s", "2 h 03 m", "3 d 04 h"; "-" when ms < 0. */
void html_duration(long long ms, char *buf, size_t size);

/* Percent-encode s for a URL query value into buf (cut to size). */
void html_urlenc(const char *s, char *buf, size_t size);

#endif
