/*
 * Unit tests for common/wire: build -> parse round trips (the seed's
 * SendFile message, bodies), incremental feeding, every refusal of the
 * parser and the builder with its exact text, and the masked dump.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "common/wire.h"

static char err[256];
static char perr[256];

/* The seed's SendFile request with the keys DESIGN.md lists, in its order. */
static const char *const sendfile[][2] = {
	{ "Request", "SendFile" },
	{ "Filename", "temp:rxscript.sh" },
	{ "Date", "1494862328" },
	{ "Attributes", "32" },
	{ "Size", "6" },
	{ "Port", "20001" },
	{ "Key", "0f1e2d3c4b5a69788796a5b4c3d2e1f0" },
	{ "Checksum", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "Execute", "temp:\"rxscript.sh\"" },
	{ "Task-Type", "RunScript" },
	{ "OS-Required", "Linux" },
	{ "Boot-Env", "Production" },
	{ "Allow-Defer", "5" },
	{ "Options", "" },
	{ "Window", "0" },
	{ "Run-As", "root" },
	{ "Timeout", "600" },
	{ "Schedule-ID", "100000029" },
	{ "Event-ID", "42" },
	{ "Task-Sequence-ID", "0" },
	{ "Attempt", "1" },
	{ "CurrentFileCount", "1" },
	{ "TotalFileCount", "1" },
	{ "TotalFileCopySize", "6" },
	{ "ID", "5000011" },
	{ "FileStamp", "1498776243" },
};
#define NSENDFILE ((int)(sizeof(sendfile) / sizeof(sendfile[0])))

static struct wire_msg *
sendfile_msg(void)
{
	struct wire_msg *m = wire_msg_new();
	for (int i = 0; i < NSENDFILE; i++)
		ck_assert_int_eq(wire_add(m, sendfile[i][0], sendfile[i][1], err, sizeof(err)), 0);
	return m;
}

/* Feed all of buf in one call; the message, or NULL with the error in perr. */
static struct wire_msg *
parse(const char *buf, size_t len, size_t max_body)
{
	struct wire_parser *p = wire_parser_new(max_body);
	size_t used = 0;
	struct wire_msg *m = NULL;
	enum wire_status st = wire_feed(p, buf, len, &used);
	perr[0] = '\0';
	if (st == WIRE_DONE) {
		ck_assert_uint_eq(used, len);
		m = wire_parser_take(p);
		ck_assert_ptr_nonnull(m);
	} else if (st == WIRE_ERROR) {
		snprintf(perr, sizeof(perr), "%s", wire_parser_error(p));
	} else {
		snprintf(perr, sizeof(perr), "incomplete");
	}
	wire_parser_free(p);
	return m;
}

/* The error text the parser gives for a message (which must be refused). */
static const char *
refusal(const char *buf, size_t len, size_t max_body)
{
	struct wire_msg *m = parse(buf, len, max_body);
	ck_assert_ptr_null(m);
	return perr;
}
#define REFUSAL(s) refusal((s), sizeof(s) - 1, 4096)

static void
assert_same(const struct wire_msg *a, const struct wire_msg *b)
{
	ck_assert_int_eq(a->nkeys, b->nkeys);
	for (int i = 0; i < a->nkeys; i++) {
		ck_assert_str_eq(a->keys[i], b->keys[i]);
		ck_assert_str_eq(a->values[i], b->values[i]);
	}
}

START_TEST(test_wire_round_trips_seed_sendfile_message)
{
	struct wire_msg *m = sendfile_msg();
	size_t len;
	char *buf = wire_build(m, &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(len, strlen(buf));
	ck_assert_int_eq(strncmp(buf, "Request=SendFile\nFilename=temp:rxscript.sh\nDate=", 48), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\nOptions=\nWindow=0\n"));
	ck_assert_str_eq(buf + len - 2, "\n\n");
	ck_assert_ptr_null(strstr(buf, "Content-Length"));

	struct wire_msg *got = parse(buf, len, 0);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(got->nkeys, NSENDFILE);
	assert_same(m, got);
	ck_assert_ptr_null(got->body);
	ck_assert_uint_eq(got->body_len, 0);
	ck_assert_str_eq(wire_get(got, "Execute"), "temp:\"rxscript.sh\"");
	ck_assert_str_eq(wire_get(got, "Options"), "");
	ck_assert_ptr_null(wire_get(got, "options"));
	ck_assert_ptr_null(wire_get(got, "Content-Length"));
	wire_msg_free(got);
	wire_buf_free(buf, len);
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wire_round_trips_binary_body)
{
	static const char body[] = "out\0put\nline 2\r\n\n\n";
	struct wire_msg *m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Reply", "SendFile", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Result", "Success", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_set_body(m, body, sizeof(body) - 1), 0);
	size_t len;
	char *buf = wire_build(m, &len);
	ck_assert_ptr_nonnull(buf);
	static const char head[] = "Reply=SendFile\nResult=Success\nContent-Length=18\n\n";
	ck_assert_uint_eq(len, sizeof(head) - 1 + sizeof(body) - 1);
	ck_assert_int_eq(memcmp(buf, head, sizeof(head) - 1), 0);

	struct wire_msg *got = parse(buf, len, 4096);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(got->nkeys, 3);
	ck_assert_str_eq(wire_get(got, "Content-Length"), "18");
	ck_assert_uint_eq(got->body_len, sizeof(body) - 1);
	ck_assert_int_eq(memcmp(got->body, body, sizeof(body) - 1), 0);
	ck_assert_int_eq(got->body[got->body_len], '\0');

	/* The parsed message builds back to the same bytes. */
	size_t len2;
	char *buf2 = wire_build(got, &len2);
	ck_assert_uint_eq(len2, len);
	ck_assert_int_eq(memcmp(buf, buf2, len), 0);
	wire_buf_free(buf2, len2);
	wire_msg_free(got);
	wire_buf_free(buf, len);
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wire_round_trips_empty_body)
{
	struct wire_msg *m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Reply", "SendFile", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_set_body(m, "", 0), 0);
	size_t len;
	char *buf = wire_build(m, &len);
	ck_assert_str_eq(buf, "Reply=SendFile\nContent-Length=0\n\n");
	struct wire_msg *got = parse(buf, len, 0);
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(got->body);
	ck_assert_uint_eq(got->body_len, 0);
	ck_assert_str_eq(got->body, "");
	wire_msg_free(got);
	wire_buf_free(buf, len);

	/* A NULL body removes it, and with it Content-Length. */
	ck_assert_int_eq(wire_set_body(m, NULL, 0), 0);
	buf = wire_build(m, &len);
	ck_assert_str_eq(buf, "Reply=SendFile\n\n");
	wire_buf_free(buf, len);
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wire_rebuild_keeps_content_length_in_place)
{
	static const char in[] = "A=1\nContent-Length=003\nB=2\n\nxyz";
	struct wire_msg *got = parse(in, sizeof(in) - 1, 10);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->body, "xyz");
	size_t len;
	char *buf = wire_build(got, &len);
	ck_assert_str_eq(buf, "A=1\nContent-Length=3\nB=2\n\nxyz");
	wire_buf_free(buf, len);
	wire_msg_free(got);
}
END_TEST

START_TEST(test_wire_value_keeps_everything_after_first_equals)
{
	static const char in[] = "Options=a=b==c\nRun-As=\n\n";
	struct wire_msg *got = parse(in, sizeof(in) - 1, 0);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(wire_get(got, "Options"), "a=b==c");
	ck_assert_str_eq(wire_get(got, "Run-As"), "");
	wire_msg_free(got);
}
END_TEST

START_TEST(test_wire_parses_byte_at_a_time)
{
	struct wire_msg *m = sendfile_msg();
	ck_assert_int_eq(wire_set_body(m, "echo hi\n", 8), 0);
	size_t len;
	char *buf = wire_build(m, &len);
	struct wire_parser *p = wire_parser_new(100);
	for (size_t i = 0; i < len; i++) {
		size_t used = 99;
		enum wire_status st = wire_feed(p, buf + i, 1, &used);
		ck_assert_uint_eq(used, 1);
		ck_assert_int_eq(st, i + 1 < len ? WIRE_MORE : WIRE_DONE);
		if (i + 1 < len)
			ck_assert_ptr_null(wire_parser_take(p));
	}
	struct wire_msg *got = wire_parser_take(p);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(got->nkeys, NSENDFILE + 1);
	ck_assert_str_eq(got->body, "echo hi\n");
	wire_msg_free(got);
	wire_parser_free(p);
	wire_buf_free(buf, len);
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wire_parses_every_split_in_two)
{
	static const char in[] = "Reply=StatusUpdate\nFilename=rxscript.sh\nContent-Length=5\n\nhello";
	size_t len = sizeof(in) - 1;
	for (size_t k = 0; k <= len; k++) {
		struct wire_parser *p = wire_parser_new(5);
		size_t used;
		enum wire_status st = wire_feed(p, in, k, &used);
		ck_assert_uint_eq(used, k);
		ck_assert_int_eq(st, k == len ? WIRE_DONE : WIRE_MORE);
		if (k < len) {
			ck_assert_int_eq(wire_feed(p, in + k, len - k, &used), WIRE_DONE);
			ck_assert_uint_eq(used, len - k);
		}
		struct wire_msg *got = wire_parser_take(p);
		ck_assert_str_eq(wire_get(got, "Filename"), "rxscript.sh");
		ck_assert_str_eq(got->body, "hello");
		wire_msg_free(got);
		wire_parser_free(p);
	}
}
END_TEST

START_TEST(test_wire_parses_two_messages_in_one_buffer)
{
	static const char in[] =
	    "Reply=StatusUpdate\nStatus-Code=2500\n\n"
	    "Reply=SendFile\nContent-Length=4\n\nok\n\n"
	    "Reply=Next\n";
	size_t len = sizeof(in) - 1, off = 0, used;
	struct wire_parser *p = wire_parser_new(64);

	ck_assert_int_eq(wire_feed(p, in, len, &used), WIRE_DONE);
	ck_assert_uint_eq(used, 37);
	/* Until the message is taken nothing more is consumed. */
	ck_assert_int_eq(wire_feed(p, in + used, len - used, &used), WIRE_DONE);
	ck_assert_uint_eq(used, 0);
	struct wire_msg *a = wire_parser_take(p);
	ck_assert_str_eq(wire_get(a, "Status-Code"), "2500");
	ck_assert_ptr_null(a->body);
	off = 37;

	ck_assert_int_eq(wire_feed(p, in + off, len - off, &used), WIRE_DONE);
	ck_assert_uint_eq(used, 37);
	struct wire_msg *b = wire_parser_take(p);
	ck_assert_str_eq(wire_get(b, "Reply"), "SendFile");
	ck_assert_str_eq(b->body, "ok\n\n");
	off += used;

	ck_assert_int_eq(wire_feed(p, in + off, len - off, &used), WIRE_MORE);
	ck_assert_uint_eq(used, len - off);
	ck_assert_int_eq(wire_feed(p, "\n", 1, &used), WIRE_DONE);
	struct wire_msg *c = wire_parser_take(p);
	ck_assert_str_eq(wire_get(c, "Reply"), "Next");
	wire_msg_free(a);
	wire_msg_free(b);
	wire_msg_free(c);
	wire_parser_free(p);
}
END_TEST

START_TEST(test_wire_parser_stays_failed_after_error)
{
	struct wire_parser *p = wire_parser_new(0);
	size_t used;
	ck_assert_str_eq(wire_parser_error(p), "");
	ck_assert_int_eq(wire_feed(p, "A=1\nA=2\nB=3\n\n", 13, &used), WIRE_ERROR);
	ck_assert_uint_eq(used, 8);
	ck_assert_str_eq(wire_parser_error(p), "line 2: duplicate key \"A\"");
	ck_assert_int_eq(wire_feed(p, "C=1\n\n", 5, &used), WIRE_ERROR);
	ck_assert_uint_eq(used, 0);
	ck_assert_ptr_null(wire_parser_take(p));
	ck_assert_str_eq(wire_parser_error(p), "line 2: duplicate key \"A\"");
	wire_parser_free(p);
}
END_TEST

START_TEST(test_wire_refuses_empty_message)
{
	ck_assert_str_eq(REFUSAL("\n"), "line 1: empty message");
}
END_TEST

START_TEST(test_wire_refuses_cr_at_once)
{
	ck_assert_str_eq(REFUSAL("Request=SendFile\r\n\r\n"),
	    "line 1: CR in line (lines end with LF only)");
	/* Refused at the CR itself, before the line ends. */
	struct wire_parser *p = wire_parser_new(0);
	size_t used;
	ck_assert_int_eq(wire_feed(p, "A=1\nB=x\ry", 9, &used), WIRE_ERROR);
	ck_assert_uint_eq(used, 8);
	ck_assert_str_eq(wire_parser_error(p), "line 2: CR in line (lines end with LF only)");
	wire_parser_free(p);
}
END_TEST

/* n bytes of header made of full "Xnnnn=vvv\n" lines, without the final empty line. */
static char *
header_bytes(size_t n)
{
	char *s = malloc(n + 1);
	size_t o = 0;
	int k = 0;
	while (o < n) {
		size_t left = n - o;
		size_t line = left >= 312 ? 300 : left; /* never a line too short for its key */
		int w = snprintf(s + o, n + 1 - o, "X%04d=", k++);
		memset(s + o + w, 'v', line - (size_t)w - 1);
		s[o + line - 1] = '\n';
		o += line;
	}
	s[n] = '\0';
	return s;
}

START_TEST(test_wire_accepts_header_of_exactly_16384_bytes)
{
	char *s = header_bytes(WIRE_MAX_HEADER - 1);
	ck_assert_int_eq(s[WIRE_MAX_HEADER - 2], '\n');
	struct wire_parser *p = wire_parser_new(0);
	size_t used;
	ck_assert_int_eq(wire_feed(p, s, WIRE_MAX_HEADER - 1, &used), WIRE_MORE);
	ck_assert_int_eq(wire_feed(p, "\n", 1, &used), WIRE_DONE);
	struct wire_msg *m = wire_parser_take(p);
	ck_assert_int_eq(m->nkeys, 55);
	wire_msg_free(m);
	wire_parser_free(p);
	free(s);
}
END_TEST

START_TEST(test_wire_refuses_header_over_16384_bytes_at_first_extra_byte)
{
	char *s = header_bytes(WIRE_MAX_HEADER);
	struct wire_parser *p = wire_parser_new(0);
	size_t used;
	/* 16 KiB of lines arrive in pieces: still waiting for the empty line. */
	ck_assert_int_eq(wire_feed(p, s, 10000, &used), WIRE_MORE);
	ck_assert_int_eq(wire_feed(p, s + 10000, WIRE_MAX_HEADER - 10000, &used), WIRE_MORE);
	/* Byte 16385, even the empty line, is one too many. */
	ck_assert_int_eq(wire_feed(p, "\nA=b\n\n", 6, &used), WIRE_ERROR);
	ck_assert_uint_eq(used, 1);
	ck_assert_str_eq(wire_parser_error(p), "line 56: header exceeds 16384 bytes");
	wire_parser_free(p);

	/* One endless line is cut off at the same byte. */
	char *big = malloc(WIRE_MAX_HEADER + 100);
	memcpy(big, "Options=", 8);
	memset(big + 8, 'x', WIRE_MAX_HEADER + 92);
	p = wire_parser_new(0);
	ck_assert_int_eq(wire_feed(p, big, WIRE_MAX_HEADER + 100, &used), WIRE_ERROR);
	ck_assert_uint_eq(used, WIRE_MAX_HEADER + 1);
	ck_assert_str_eq(wire_parser_error(p), "line 1: header exceeds 16384 bytes");
	wire_parser_free(p);
	free(big);
	free(s);
}
END_TEST

START_TEST(test_wire_refuses_line_without_equals)
{
	ck_assert_str_eq(REFUSAL("Request=SendFile\nA=1\nB=2\nFilename\n\n"),
	    "line 4: no '=' in line");
}
END_TEST

START_TEST(test_wire_refuses_empty_key)
{
	ck_assert_str_eq(REFUSAL("A=1\n=value\n\n"), "line 2: empty key");
}
END_TEST

START_TEST(test_wire_refuses_key_longer_than_64)
{
	char in[200];
	snprintf(in, sizeof(in), "%.64s=1\n\n",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ");
	struct wire_msg *m = parse(in, strlen(in), 0);
	ck_assert_ptr_nonnull(m); /* 64 is fine */
	wire_msg_free(m);
	snprintf(in, sizeof(in), "%.65s=1\n\n",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ");
	ck_assert_str_eq(refusal(in, strlen(in), 0),
	    "line 1: key \"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF...\" is longer than 64 characters");
}
END_TEST

START_TEST(test_wire_refuses_key_not_starting_with_letter)
{
	ck_assert_str_eq(REFUSAL("Request=SendFile\n9x=1\n\n"),
	    "line 2: key \"9x\" must start with a letter");
	ck_assert_str_eq(REFUSAL("-A=1\n\n"), "line 1: key \"-A\" must start with a letter");
}
END_TEST

START_TEST(test_wire_refuses_key_with_bad_character)
{
	ck_assert_str_eq(REFUSAL("A=1\nFile name=x\n\n"),
	    "line 2: key \"File name\" may only contain letters, digits and '-'");
	ck_assert_str_eq(REFUSAL("Sched_ID=1\n\n"),
	    "line 1: key \"Sched_ID\" may only contain letters, digits and '-'");
	/* Bytes that cannot be shown are escaped in the message. */
	ck_assert_str_eq(REFUSAL("A\0\"\\\xff=1\n\n"),
	    "line 1: key \"A\\x00\\x22\\x5c\\xff\" may only contain letters, digits and '-'");
}
END_TEST

START_TEST(test_wire_refuses_nul_in_value)
{
	ck_assert_str_eq(REFUSAL("A=1\nB=2\nC=3\nD=4\nFilename=rx\0script.sh\n\n"),
	    "line 5: value of \"Filename\" contains NUL");
}
END_TEST

START_TEST(test_wire_refuses_duplicate_key)
{
	ck_assert_str_eq(REFUSAL("Request=SendFile\nSize=6\nSize=7\n\n"),
	    "line 3: duplicate key \"Size\"");
}
END_TEST

START_TEST(test_wire_refuses_keys_differing_only_in_case)
{
	ck_assert_str_eq(REFUSAL("Size=6\nsize=7\n\n"),
	    "line 2: key \"size\" differs from \"Size\" only in case");
}
END_TEST

START_TEST(test_wire_refuses_more_than_64_keys)
{
	char in[2048];
	size_t o = 0;
	for (int i = 1; i <= 64; i++)
		o += (size_t)snprintf(in + o, sizeof(in) - o, "K%d=%d\n", i, i);
	snprintf(in + o, sizeof(in) - o, "\n");
	struct wire_msg *m = parse(in, strlen(in), 0);
	ck_assert_ptr_nonnull(m); /* 64 is fine */
	ck_assert_int_eq(m->nkeys, 64);
	wire_msg_free(m);
	snprintf(in + o, sizeof(in) - o, "K65=65\n\n");
	ck_assert_str_eq(refusal(in, strlen(in), 0), "line 65: more than 64 keys");
}
END_TEST

START_TEST(test_wire_refuses_content_length_not_a_number)
{
	ck_assert_str_eq(REFUSAL("A=1\nContent-Length=12a\n\n"),
	    "line 2: Content-Length \"12a\" is not a number");
	ck_assert_str_eq(REFUSAL("Content-Length=\n\n"),
	    "line 1: Content-Length \"\" is not a number");
	ck_assert_str_eq(REFUSAL("Content-Length=-1\n\n"),
	    "line 1: Content-Length \"-1\" is not a number");
	ck_assert_str_eq(REFUSAL("Content-Length= 5\n\n"),
	    "line 1: Content-Length \" 5\" is not a number");
}
END_TEST

START_TEST(test_wire_refuses_content_length_over_limit)
{
	ck_assert_str_eq(REFUSAL("Content-Length=99999\n\n"),
	    "line 1: Content-Length 99999 exceeds limit 4096");
	ck_assert_str_eq(REFUSAL("Content-Length=4097\n\n"),
	    "line 1: Content-Length 4097 exceeds limit 4096");
	/* Too large for size_t is still just over the limit. */
	ck_assert_str_eq(REFUSAL("Content-Length=999999999999999999999999999999\n\n"),
	    "line 1: Content-Length 999999999999999999999999999999 exceeds limit 4096");
	ck_assert_str_eq(refusal("Content-Length=1\n\nx", 19, 0),
	    "line 1: Content-Length 1 exceeds limit 0");
}
END_TEST

START_TEST(test_wire_error_texts_are_distinct)
{
	static const char *const in[] = {
		"\n", "A\r", "A\n", "=1\n", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=1\n",
		"9=1\n", "A_=1\n", "A=1\nA=1\n", "A=1\na=1\n", "Content-Length=x\n",
		"Content-Length=9999\n",
	};
	char seen[12][256];
	int n = (int)(sizeof(in) / sizeof(in[0]));
	for (int i = 0; i < n; i++) {
		/* Each text, with what it quotes left out, differs from every other. */
		const char *e = refusal(in[i], strlen(in[i]), 10);
		size_t o = 0;
		int quoted = 0;
		for (; *e != '\0' && o + 1 < sizeof(seen[i]); e++) {
			if (*e == '"')
				quoted = !quoted;
			else if (!quoted)
				seen[i][o++] = *e;
		}
		seen[i][o] = '\0';
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(seen[i], seen[j]);
	}
}
END_TEST

START_TEST(test_wire_builder_refuses_bad_keys)
{
	struct wire_msg *m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, NULL, "x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key is NULL");
	ck_assert_int_eq(wire_add(m, "", "x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "empty key");
	ck_assert_int_eq(wire_add(m, "9x", "x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key \"9x\" must start with a letter");
	ck_assert_int_eq(wire_add(m, "Run As", "x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key \"Run As\" may only contain letters, digits and '-'");
	ck_assert_int_eq(wire_add(m, "A=B", "x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key \"A=B\" may only contain letters, digits and '-'");
	char longkey[WIRE_MAX_KEYLEN + 2];
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	ck_assert_int_eq(wire_add(m, longkey, "x", err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "key \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...\" is longer than 64 characters");
	longkey[WIRE_MAX_KEYLEN] = '\0';
	ck_assert_int_eq(wire_add(m, longkey, "x", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Content-Length", "5", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key \"Content-Length\" is added by wire_build from the body");
	ck_assert_int_eq(m->nkeys, 1);
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wire_builder_refuses_bad_values)
{
	struct wire_msg *m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Filename", NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "value of \"Filename\" is NULL");
	ck_assert_int_eq(wire_add(m, "Filename", "a\nRun-As=root", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "value of \"Filename\" contains LF");
	ck_assert_int_eq(wire_add(m, "Filename", "a\r", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "value of \"Filename\" contains CR");
	ck_assert_int_eq(wire_addf(m, err, sizeof(err), "Filename", "rx%cscript", 0), -1);
	ck_assert_str_eq(err, "value of \"Filename\" contains NUL");
	ck_assert_int_eq(wire_addf(m, err, sizeof(err), "Filename", "%lc", (wint_t)0x100), -1);
	ck_assert_str_eq(err, "value of \"Filename\" cannot be formatted");
	ck_assert_int_eq(wire_addf(m, err, sizeof(err), "9x", "rx%cscript", 0), -1);
	ck_assert_str_eq(err, "key \"9x\" must start with a letter");
	ck_assert_int_eq(m->nkeys, 0);
	ck_assert_int_eq(wire_addf(m, err, sizeof(err), "Size", "%zu", (size_t)6), 0);
	ck_assert_int_eq(wire_addf(m, err, sizeof(err), "Execute", "temp:\"%s\"", "rx.sh"), 0);
	ck_assert_str_eq(wire_get(m, "Size"), "6");
	ck_assert_str_eq(wire_get(m, "Execute"), "temp:\"rx.sh\"");
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wire_builder_refuses_duplicates_and_too_many_keys)
{
	struct wire_msg *m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Size", "6", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Size", "7", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "duplicate key \"Size\"");
	ck_assert_int_eq(wire_add(m, "SIZE", "7", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key \"SIZE\" differs from \"Size\" only in case");
	for (int i = 1; i < WIRE_MAX_KEYS; i++) {
		char k[16];
		snprintf(k, sizeof(k), "K%d", i);
		ck_assert_int_eq(wire_add(m, k, "v", err, sizeof(err)), 0);
	}
	ck_assert_int_eq(wire_add(m, "Another", "v", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "more than 64 keys");
	ck_assert_int_eq(m->nkeys, WIRE_MAX_KEYS);
	wire_msg_free(m);
}
END_TEST

START_TEST(test_wire_builder_refuses_header_over_16384_bytes)
{
	struct wire_msg *m = wire_msg_new();
	char *v = malloc(WIRE_MAX_HEADER);
	/* "Options=" + value + LF + final LF is exactly 16384 bytes. */
	memset(v, 'x', WIRE_MAX_HEADER - 10);
	v[WIRE_MAX_HEADER - 10] = '\0';
	ck_assert_int_eq(wire_add(m, "Options", v, err, sizeof(err)), 0);
	size_t len;
	char *buf = wire_build(m, &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(len, WIRE_MAX_HEADER);
	struct wire_msg *got = parse(buf, len, 0);
	ck_assert_ptr_nonnull(got);
	wire_msg_free(got);
	wire_buf_free(buf, len);
	ck_assert_int_eq(wire_add(m, "A", "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "header exceeds 16384 bytes");

	/* A body's Content-Length line can push a full header over: build refuses. */
	ck_assert_int_eq(wire_set_body(m, "x", 1), 0);
	ck_assert_ptr_null(wire_build(m, &len));
	ck_assert_int_eq(wire_set_body(m, NULL, 1), -1);
	wire_msg_free(m);
	free(v);
}
END_TEST

START_TEST(test_wire_dump_masks_key_and_omits_body)
{
	struct wire_msg *m = wire_msg_new();
	ck_assert_int_eq(wire_add(m, "Request", "SendFile", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Filename", "temp:rxscript.sh", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Key", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_add(m, "Options", "", err, sizeof(err)), 0);
	ck_assert_int_eq(wire_set_body(m, "secret output", 13), 0);
	char *d = wire_dump(m);
	ck_assert_str_eq(d, "Request=SendFile\nFilename=temp:rxscript.sh\nKey=<hidden>\n"
	    "Options=\nContent-Length=13");
	free(d);
	wire_msg_free(m);

	/* A peer's "key" (any case) is masked too; control bytes are escaped. */
	static const char in[] = "key=abc\nFilename=a\x1b[2Jb\x7f\n\n";
	struct wire_msg *got = parse(in, sizeof(in) - 1, 0);
	ck_assert_ptr_nonnull(got);
	d = wire_dump(got);
	ck_assert_str_eq(d, "key=<hidden>\nFilename=a\\x1b[2Jb\\x7f");
	free(d);
	wire_msg_free(got);

	struct wire_msg *empty = wire_msg_new();
	d = wire_dump(empty);
	ck_assert_str_eq(d, "");
	free(d);
	wire_msg_free(empty);
}
END_TEST

START_TEST(test_wire_free_and_get_accept_null)
{
	wire_msg_free(NULL);
	wire_parser_free(NULL);
	wire_buf_free(NULL, 0);
	ck_assert_ptr_null(wire_get(NULL, "Key"));
	struct wire_msg *m = wire_msg_new();
	ck_assert_ptr_null(wire_get(m, NULL));
	ck_assert_ptr_null(wire_get(m, "Key"));
	ck_assert_int_eq(wire_set_body(NULL, "x", 1), -1);
	wire_msg_free(m);
}
END_TEST

Suite *
wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("round trips");
	tcase_add_test(tc, test_wire_round_trips_seed_sendfile_message);
	tcase_add_test(tc, test_wire_round_trips_binary_body);
	tcase_add_test(tc, test_wire_round_trips_empty_body);
	tcase_add_test(tc, test_wire_rebuild_keeps_content_length_in_place);
	tcase_add_test(tc, test_wire_value_keeps_everything_after_first_equals);
	suite_add_tcase(s, tc);

	tc = tcase_create("incremental");
	tcase_add_test(tc, test_wire_parses_byte_at_a_time);
	tcase_add_test(tc, test_wire_parses_every_split_in_two);
	tcase_add_test(tc, test_wire_parses_two_messages_in_one_buffer);
	tcase_add_test(tc, test_wire_parser_stays_failed_after_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_test(tc, test_wire_refuses_empty_message);
	tcase_add_test(tc, test_wire_refuses_cr_at_once);
	tcase_add_test(tc, test_wire_accepts_header_of_exactly_16384_bytes);
	tcase_add_test(tc, test_wire_refuses_header_over_16384_bytes_at_first_extra_byte);
	tcase_add_test(tc, test_wire_refuses_line_without_equals);
	tcase_add_test(tc, test_wire_refuses_empty_key);
	tcase_add_test(tc, test_wire_refuses_key_longer_than_64);
	tcase_add_test(tc, test_wire_refuses_key_not_starting_with_letter);
	tcase_add_test(tc, test_wire_refuses_key_with_bad_character);
	tcase_add_test(tc, test_wire_refuses_nul_in_value);
	tcase_add_test(tc, test_wire_refuses_duplicate_key);
	tcase_add_test(tc, test_wire_refuses_keys_differing_only_in_case);
	tcase_add_test(tc, test_wire_refuses_more_than_64_keys);
	tcase_add_test(tc, test_wire_refuses_content_length_not_a_number);
	tcase_add_test(tc, test_wire_refuses_content_length_over_limit);
	tcase_add_test(tc, test_wire_error_texts_are_distinct);
	suite_add_tcase(s, tc);

	tc = tcase_create("builder");
	tcase_add_test(tc, test_wire_builder_refuses_bad_keys);
	tcase_add_test(tc, test_wire_builder_refuses_bad_values);
	tcase_add_test(tc, test_wire_builder_refuses_duplicates_and_too_many_keys);
	tcase_add_test(tc, test_wire_builder_refuses_header_over_16384_bytes);
	tcase_add_test(tc, test_wire_dump_masks_key_and_omits_body);
	tcase_add_test(tc, test_wire_free_and_get_accept_null);
	suite_add_tcase(s, tc);
	return s;
}
