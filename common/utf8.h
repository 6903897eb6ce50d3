/*
 * utf8: the one UTF-8 decoder of pgfleet's text writers (JSON of the reports, HTML of
 * pgfleet-web): how long a valid sequence is, so that what is not valid can be written
 * as U+FFFD. Pure, no allocation.
 */
#ifndef PGFLEET_UTF8_H
#define PGFLEET_UTF8_H

#include <stddef.h>

/*
 * Length (1..4) of the valid UTF-8 sequence at p, of which left bytes may be read; 0 when
 * there is none (a stray or missing continuation byte, an overlong form, a surrogate, a
 * code point over U+10FFFF, or a sequence cut by left). left must be at least 1.
 */
size_t utf8_seq_len(const unsigned char *p, size_t left);

#endif
