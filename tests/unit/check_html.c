/* Unit tests for web/html: escaping, the page formatter, output cut to size, script tokens. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "web/html.h"

#include "tests/unit/webtest.h"

START_TEST(test_html_esc_turns_markup_into_text)
{
	html_esc(b, "<script>alert(\"x\")</script> & 'y'");
	ck_assert_str_eq(text(), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;");
	html_esc(b, NULL);
	html_escn(b, "a<b", 2);
	ck_assert_str_eq(text(), "a&lt;");
}
END_TEST

START_TEST(test_html_esc_replaces_invalid_utf8_and_control_characters)
{
	/* kept: tab, LF, CR, é, €, 😀; replaced: ESC, DEL, a lone continuation byte, an
	 * overlong encoding, a surrogate and a sequence cut at the end */
	html_esc(b, "a\tb\nc\r\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
	ck_assert_str_eq(text(), "a\tb\nc\r\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
	html_esc(b, "\x1B[31m\x7F\x80\xC0\xAF\xED\xA0\x80x\xE2\x82");
	ck_assert_str_eq(text(), "\xEF\xBF\xBD[31m\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
				 "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx\xEF\xBF\xBD\xEF\xBF\xBD");
}
END_TEST

START_TEST(test_html_put_escapes_values_and_keeps_the_format)
{
	html_put(b, "<a href=\"/x?job=%u\" title=\"%s\">%s</a> %d %D %R 100%%", "a b&c/<d>", "\"q\"",
	    "<i>", -3, 12345678901LL, "<b>raw</b>");
	ck_assert_str_eq(text(), "<a href=\"/x?job=a%20b%26c%2F%3Cd%3E\" title=\"&quot;q&quot;\">&lt;i&gt;</a> "
				 "-3 12345678901 <b>raw</b> 100%");
	html_put(b, "%s|%R|%", NULL, NULL);
	ck_assert_str_eq(text(), "||%");
}
END_TEST

START_TEST(test_html_output_cuts_at_bytes_and_lines)
{
	ck_assert_int_eq(html_output(b, "one\ntwo\n", 8, 100, 10), 0);
	ck_assert_str_eq(text(), "one\ntwo\n");
	ck_assert_int_eq(html_output(b, "1\n2\n3\n4\n", 8, 100, 2), 1);
	ck_assert_str_eq(text(), "1\n2\n");
	/* never inside a character: "é" is two bytes */
	ck_assert_int_eq(html_output(b, "ab\xC3\xA9z", 5, 3, 10), 1);
	ck_assert_str_eq(text(), "ab");
	ck_assert_int_eq(html_output(b, "<x>", 3, 2, 10), 1);
	ck_assert_str_eq(text(), "&lt;x");
	/* two lines exactly: nothing left out */
	ck_assert_int_eq(html_output(b, "1\n2\n", 4, 100, 2), 0);
	ck_assert_str_eq(text(), "1\n2\n");
}
END_TEST

START_TEST(test_html_script_highlights_the_tokens_render_replaces)
{
	const char *s = "echo %COMPNAME% %PATH% %NAME:raw% %#!inventory@ram_mb% %#^!site@name% "
			"%#*\"SELECT '<b>' || $1\"% 100% %DATE";
	html_script(b, s, strlen(s));
	ck_assert_str_eq(text(), "echo <span class=\"tok\">%COMPNAME%</span> %PATH% "
				 "<span class=\"tok\">%NAME:raw%</span> <span class=\"tok\">%#!inventory@ram_mb%</span> "
				 "<span class=\"tok\">%#^!site@name%</span> "
				 "<span class=\"tok\">%#*&quot;SELECT &#39;&lt;b&gt;&#39; || $1&quot;%</span> 100% %DATE");
	const char *t = "%%ID%<%#!bad%";
	html_script(b, t, strlen(t));
	ck_assert_str_eq(text(), "%<span class=\"tok\">%ID%</span>&lt;%#!bad%");
}
END_TEST

START_TEST(test_html_duration_picks_a_readable_unit)
{
	char d[32];
	html_duration(-1, d, sizeof(d));
	ck_assert_str_eq(d, "-");
	html_duration(850, d, sizeof(d));
	ck_assert_str_eq(d, "850 ms");
	html_duration(12345, d, sizeof(d));
	ck_assert_str_eq(d, "12.3 s");
	html_duration(245000, d, sizeof(d));
	ck_assert_str_eq(d, "4 m 05 s");
	html_duration(7380000, d, sizeof(d));
	ck_assert_str_eq(d, "2 h 03 m");
	html_duration(273600000, d, sizeof(d));
	ck_assert_str_eq(d, "3 d 04 h");
}
END_TEST

START_TEST(test_html_urlenc_keeps_unreserved_only)
{
	char u[17];
	html_urlenc("a-b_c.d~e f/é", u, sizeof(u));
	ck_assert_str_eq(u, "a-b_c.d~e%20f%2F");
	html_urlenc(NULL, u, sizeof(u));
	ck_assert_str_eq(u, "");
}
END_TEST

Suite *
html_suite(void)
{
	Suite *s = suite_create("html");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_html_esc_turns_markup_into_text);
	tcase_add_test(tc, test_html_esc_replaces_invalid_utf8_and_control_characters);
	tcase_add_test(tc, test_html_put_escapes_values_and_keeps_the_format);
	tcase_add_test(tc, test_html_output_cuts_at_bytes_and_lines);
	tcase_add_test(tc, test_html_script_highlights_the_tokens_render_replaces);
	tcase_add_test(tc, test_html_duration_picks_a_readable_unit);
	tcase_add_test(tc, test_html_urlenc_keeps_unreserved_only);
	suite_add_tcase(s, tc);
	return s;
}
