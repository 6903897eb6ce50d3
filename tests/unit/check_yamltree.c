/*
 * Unit tests for common/yamltree: positions in characters, the one refusal policy
 * (aliases, anchors, tags, depth, node count, file size, NUL), the error collector.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/yamltree.h"

static const struct yt_limits lim = {1024 * 1024, 1000};
static struct arena *arena;
static struct yt_errors errs;
static struct yt_doc doc;

static void
setup(void)
{
	arena = NULL;
	memset(&errs, 0, sizeof(errs));
	memset(&doc, 0, sizeof(doc));
}

static void
teardown(void)
{
	yt_errors_free(&errs);
	arena_free(arena);
}

static int
parse_lim(const char *text, const struct yt_limits *l)
{
	return yt_parse(&arena, text, strlen(text), l, &doc, &errs);
}

static int
parse(const char *text)
{
	return parse_lim(text, &lim);
}

/* Every error as the user sees it, one per line ("t.yaml:L:C: msg"). */
static const char *
printed(void)
{
	static char out[4096];
	FILE *fp = fmemopen(out, sizeof(out), "w");
	ck_assert_ptr_nonnull(fp);
	if (errs.file == NULL)
		errs.file = strdup("t.yaml");
	yt_errors_sort(&errs);
	yt_errors_print(&errs, fp);
	fclose(fp);
	return out;
}

/* The value of the first key of a map. */
static const struct yt_node *
first_value(const struct yt_node *map)
{
	ck_assert_ptr_nonnull(map);
	ck_assert_int_eq(map->type, YT_MAP);
	ck_assert_ptr_nonnull(map->first);
	return map->first->next;
}

START_TEST(test_yamltree_builds_a_tree_with_positions)
{
	ck_assert_int_eq(parse("a: 1\nb:\n  - x\n  - 'y'\nc: ~\nd:\n"), 0);
	ck_assert_uint_eq(errs.n, 0);
	const struct yt_node *r = doc.root;
	ck_assert_int_eq(r->type, YT_MAP);
	ck_assert_uint_eq(r->n, 8);
	const struct yt_node *b = r->first->next->next->next;
	ck_assert_int_eq(b->type, YT_SEQ);
	ck_assert_uint_eq(b->n, 2);
	ck_assert_int_eq(b->first->pos.line, 3);
	ck_assert_int_eq(b->first->pos.col, 5);
	ck_assert_str_eq(b->first->s, "x");
	ck_assert_int_eq(b->first->plain, 1);
	ck_assert_int_eq(b->last->plain, 0);
	const struct yt_node *c = b->next->next;
	ck_assert_int_eq(c->null, 1);
	ck_assert_int_eq(c->next->next->null, 1);
	ck_assert_int_eq(parse("''\n"), 0);
	ck_assert_int_eq(doc.root->null, 0);
	ck_assert_int_eq(parse("# only a comment\n"), 0);
	ck_assert_ptr_null(doc.root);
}
END_TEST

START_TEST(test_yamltree_columns_count_characters_not_bytes)
{
	/* é is 2 bytes, 日 3: the alias is the 11th character and the 14th byte */
	ck_assert_int_eq(parse("a: [\"\xc3\xa9\xe6\x97\xa5\", *x]\n\"\xc3\xbc\": 1\n"), 0);
	ck_assert_str_eq(printed(), "t.yaml:1:11: a: YAML alias *x is not allowed\n");
	const struct yt_node *u = doc.root->first->next->next;
	ck_assert_str_eq(u->s, "\xc3\xbc");
	ck_assert_int_eq(u->next->pos.line, 2);
	ck_assert_int_eq(u->next->pos.col, 6);
}
END_TEST

START_TEST(test_yamltree_reader_error_column_counts_characters)
{
	ck_assert_int_eq(parse("k: \"\xc3\xa9\xff\"\n"), -1);
	ck_assert_str_eq(printed(), "t.yaml:1:6: YAML syntax error: invalid leading UTF-8 octet\n");
	yt_errors_free(&errs);
	/* a byte order mark takes no column, as in libyaml's own marks */
	ck_assert_int_eq(parse("\xef\xbb\xbfk: \"\xff\"\n"), -1);
	ck_assert_str_eq(printed(), "t.yaml:1:5: YAML syntax error: invalid leading UTF-8 octet\n");
}
END_TEST

START_TEST(test_yamltree_syntax_error_names_its_context)
{
	ck_assert_int_eq(parse("a: [1, 2\nb: 3\n"), -1);
	ck_assert_str_eq(printed(), "t.yaml:2:2: YAML syntax error: did not find expected ',' or ']' "
	    "(while parsing a flow sequence at 1:4)\n");
}
END_TEST

START_TEST(test_yamltree_refuses_aliases_anchors_and_tags_with_key_path)
{
	ck_assert_int_eq(parse("a: {b: &x 1, c: *x, d: !!binary eA==, e: !loc [1]}\n"
	    "f: [!!str x]\n"), 0);
	ck_assert_str_eq(printed(),
	    "t.yaml:1:8: a.b: YAML anchor &x is not allowed\n"
	    "t.yaml:1:17: a.c: YAML alias *x is not allowed\n"
	    "t.yaml:1:24: a.d: YAML tag !!binary is not allowed\n"
	    "t.yaml:1:42: a.e: YAML tag !loc is not allowed\n"
	    "t.yaml:2:5: f: YAML tag !!str is not allowed\n");
	const struct yt_node *a = first_value(doc.root);
	const struct yt_node *b = a->first->next, *c = b->next->next, *d = c->next->next;
	ck_assert_int_eq(b->type, YT_SCALAR); /* reported, not dropped */
	ck_assert_int_eq(c->type, YT_BAD);
	ck_assert_int_eq(d->type, YT_BAD);
	ck_assert_int_eq(d->next->next->type, YT_SEQ); /* kept: its nesting stays right */
	ck_assert_int_eq(doc.root->last->first->type, YT_BAD);
}
END_TEST

START_TEST(test_yamltree_refuses_alias_bomb_without_expanding)
{
	ck_assert_int_eq(parse("a: &a [x, x]\nb: [*a, *a]\n"), 0);
	ck_assert_str_eq(printed(),
	    "t.yaml:1:4: a: YAML anchor &a is not allowed\n"
	    "t.yaml:2:5: b: YAML alias *a is not allowed\n"
	    "t.yaml:2:9: b: YAML alias *a is not allowed\n");
	ck_assert_uint_eq(doc.root->last->n, 2);
}
END_TEST

START_TEST(test_yamltree_refuses_nesting_past_the_limit)
{
	char text[256];
	memset(text, '[', YT_MAX_DEPTH);
	memset(text + YT_MAX_DEPTH, ']', YT_MAX_DEPTH);
	text[2 * YT_MAX_DEPTH] = '\0';
	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_eq(errs.n, 0);

	memset(text, '[', YT_MAX_DEPTH + 1);
	memset(text + YT_MAX_DEPTH + 1, ']', YT_MAX_DEPTH + 1);
	text[2 * YT_MAX_DEPTH + 2] = '\0';
	ck_assert_int_eq(parse(text), -1);
	ck_assert_str_eq(printed(), "t.yaml:1:33: maps and lists nest deeper than 32 levels\n");
}
END_TEST

START_TEST(test_yamltree_refuses_more_nodes_than_the_limit)
{
	static const struct yt_limits three = {1024, 3};
	ck_assert_int_eq(parse_lim("[1, 2]", &three), 0);
	ck_assert_int_eq(parse_lim("[1, 2, 3]", &three), -1);
	ck_assert_str_eq(printed(), "t.yaml:1:8: more than 3 YAML nodes in one file (the limit)\n");
}
END_TEST

START_TEST(test_yamltree_refuses_second_document_and_nul)
{
	ck_assert_int_eq(parse("a: \"x\\0y\"\n---\nb: 1\n"), -1);
	ck_assert_str_eq(printed(),
	    "t.yaml:1:4: a: value contains a NUL character\n"
	    "t.yaml:2:1: only one YAML document is allowed\n");
}
END_TEST

/* A file of len bytes of YAML comment in a fresh temporary folder; its path. */
static const char *
comment_file(char *dir, size_t len)
{
	static char path[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f.yaml", dir);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputc('#', fp);
	for (size_t i = 1; i < len; i++)
		fputc(i == len - 1 ? '\n' : 'x', fp);
	fclose(fp);
	return path;
}

START_TEST(test_yamltree_load_refuses_a_file_over_the_size_limit)
{
	static const struct yt_limits small = {16, 100}, mib = {1024 * 1024, 100};
	char dir[] = "/tmp/pgfleet-yamltree-XXXXXX";
	const char *path = comment_file(dir, 16);

	ck_assert_int_eq(yt_load(&arena, path, &small, &doc, &errs), 0);
	ck_assert_uint_eq(doc.len, 16);
	ck_assert_int_eq(doc.src[16], '\0');
	ck_assert_ptr_null(doc.root);
	FILE *fp = fopen(path, "a");
	fputc('\n', fp);
	fclose(fp);
	ck_assert_int_eq(yt_load(&arena, path, &small, &doc, &errs), -1);
	ck_assert_str_eq(printed(), "t.yaml: the file is larger than 16 bytes (the limit)\n");
	yt_errors_free(&errs);
	ck_assert_int_eq(yt_load(&arena, path, &mib, &doc, &errs), 0);
	unlink(path);
	ck_assert_int_eq(yt_load(&arena, path, &mib, &doc, &errs), -1);
	ck_assert_str_eq(printed(), "t.yaml: cannot open: No such file or directory\n");
	rmdir(dir);
}
END_TEST

START_TEST(test_yamltree_errors_sort_print_and_count_dropped)
{
	errs.max = 3;
	errs.file = strdup("b.yaml");
	yt_errors_add(&errs, (struct yt_pos){3, 4}, "third %d", 3);
	yt_errors_add(&errs, (struct yt_pos){0, 0}, "whole file");
	yt_errors_add(&errs, (struct yt_pos){3, 4}, "after third at the same place");
	yt_errors_add(&errs, (struct yt_pos){1, 9}, "dropped");
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_uint_eq(yt_errors_count(&errs), 4);
	ck_assert_str_eq(printed(), "b.yaml: whole file\n"
	    "b.yaml:3:4: third 3\n"
	    "b.yaml:3:4: after third at the same place\n"
	    "b.yaml: 1 more errors not shown\n");
	char *t = yt_error_text(&errs, 1);
	ck_assert_str_eq(t, "b.yaml:3:4: third 3");
	free(t);
	yt_errors_free(&errs);
	ck_assert_uint_eq(yt_errors_count(&errs), 0);
	yt_errors_free(&errs);
}
END_TEST

Suite *
yamltree_suite(void)
{
	Suite *s = suite_create("yamltree");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_yamltree_builds_a_tree_with_positions);
	tcase_add_test(tc, test_yamltree_columns_count_characters_not_bytes);
	tcase_add_test(tc, test_yamltree_reader_error_column_counts_characters);
	tcase_add_test(tc, test_yamltree_syntax_error_names_its_context);
	tcase_add_test(tc, test_yamltree_refuses_aliases_anchors_and_tags_with_key_path);
	tcase_add_test(tc, test_yamltree_refuses_alias_bomb_without_expanding);
	tcase_add_test(tc, test_yamltree_refuses_nesting_past_the_limit);
	tcase_add_test(tc, test_yamltree_refuses_more_nodes_than_the_limit);
	tcase_add_test(tc, test_yamltree_refuses_second_document_and_nul);
	tcase_add_test(tc, test_yamltree_load_refuses_a_file_over_the_size_limit);
	tcase_add_test(tc, test_yamltree_errors_sort_print_and_count_dropped);
	suite_add_tcase(s, tc);
	return s;
}
