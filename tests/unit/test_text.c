/* test_text: what the pipeline reads out of chat messages (content strings,
 * parts arrays, the last user message), the WORD_COUNT and INPUT_LENGTH
 * counts, and strict UTF-8 validation of request bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "pipeline/text_int.h"
#include "util/utf8.h"

/* ---- content and messages ---- */

static void content_is(const char *json, const char *want) {
  cJSON *v = cJSON_Parse(json);
  if (!v)
    fail_msg("fixture does not parse: %s", json);
  lln_buf out;
  lln_buf_init(&out);
  lln_content_text(v, &out);
  assert_non_null(out.data); /* always a string, even when empty */
  if (strcmp(out.data, want) != 0)
    fail_msg("%s -> \"%s\", expected \"%s\"", json, out.data, want);
  assert_int_equal(out.len, strlen(want));
  lln_buf_free(&out);
  cJSON_Delete(v);
}

static void test_content_string(void **state) {
  (void)state;
  content_is("\"hello world\"", "hello world");
  content_is("\"\"", "");
  content_is("\"line1\\nline2\"", "line1\nline2");
  content_is("\"caf\\u00e9\"", "caf\xc3\xa9");
}

static void test_content_parts(void **state) {
  (void)state;
  content_is("[{\"type\":\"text\",\"text\":\"first\"},{\"type\":\"text\",\"text\":\"second\"}]",
             "first\nsecond");
  content_is("[{\"type\":\"text\",\"text\":\"only\"}]", "only");
  /* Image parts add nothing, not even a separator. */
  content_is("[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}},"
             "{\"type\":\"text\",\"text\":\"describe this\"},"
             "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}},"
             "{\"type\":\"text\",\"text\":\"and this\"}]",
             "describe this\nand this");
  content_is("[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]", "");
  content_is("[]", "");
  /* Malformed parts are skipped rather than trusted. */
  content_is(
      "[\"bare string\", 5, null, {\"type\":\"text\",\"text\":7}, {\"type\":\"text\",\"text\":\"ok\"}]",
      "ok");
}

static void test_content_other(void **state) {
  (void)state;
  content_is("null", "");
  content_is("42", "");
  content_is("{\"text\":\"an object is not content\"}", "");
  content_is("true", "");
  lln_buf out;
  lln_buf_init(&out);
  lln_content_text(NULL, &out);
  assert_non_null(out.data);
  assert_string_equal(out.data, "");
  lln_buf_free(&out);
}

static void test_content_appends(void **state) {
  (void)state;
  cJSON *v = cJSON_CreateString("tail");
  lln_buf out;
  lln_buf_init(&out);
  lln_buf_puts(&out, "head:");
  lln_content_text(v, &out);
  assert_string_equal(out.data, "head:tail");
  lln_buf_free(&out);
  cJSON_Delete(v);
}

static void last_user_is(const char *json, const char *want) {
  cJSON *v = cJSON_Parse(json);
  if (!v)
    fail_msg("fixture does not parse: %s", json);
  lln_buf out;
  lln_buf_init(&out);
  lln_last_user_text(v, &out);
  assert_non_null(out.data);
  if (strcmp(out.data, want) != 0)
    fail_msg("%s -> \"%s\", expected \"%s\"", json, out.data, want);
  lln_buf_free(&out);
  cJSON_Delete(v);
}

static void test_last_user(void **state) {
  (void)state;
  last_user_is("[{\"role\":\"system\",\"content\":\"be brief\"},"
               "{\"role\":\"user\",\"content\":\"first question\"},"
               "{\"role\":\"assistant\",\"content\":\"first answer\"},"
               "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"second\"},"
               "{\"type\":\"text\",\"text\":\"question\"}]},"
               "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
               "{\"role\":\"tool\",\"content\":\"tool output\",\"tool_call_id\":\"1\"}]",
               "second\nquestion");
  last_user_is("[{\"role\":\"user\",\"content\":\"only\"}]", "only");
  last_user_is("[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"assistant\",\"content\":\"a\"}]", "");
  last_user_is("[]", "");
  last_user_is("null", "");
  /* Roles are matched exactly; a message without one is skipped. */
  last_user_is("[{\"role\":\"user\",\"content\":\"real\"},{\"role\":\"User\",\"content\":\"no\"},"
               "{\"content\":\"no role\"},{\"role\":5,\"content\":\"bad role\"}]",
               "real");
  /* The last user message counts even when its content is empty. */
  last_user_is("[{\"role\":\"user\",\"content\":\"earlier\"},{\"role\":\"user\",\"content\":null}]", "");
}

/* ---- counts ---- */

static void test_word_count(void **state) {
  (void)state;
  assert_int_equal(lln_word_count(""), 0);
  assert_int_equal(lln_word_count("   \t\n "), 0);
  assert_int_equal(lln_word_count("one"), 1);
  assert_int_equal(lln_word_count("  one  "), 1);
  assert_int_equal(lln_word_count("Write a haiku about the sea"), 6);
  assert_int_equal(lln_word_count("tabs\tand\nnewlines\r\nand  doubles"), 5);
  assert_int_equal(lln_word_count("hyphen-ated words, punctuation!"), 3);
  assert_int_equal(lln_word_count("caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac"), 3);
  /* Exactly ten words: the boundary of "$WORD_COUNT < 10". */
  assert_int_equal(lln_word_count("a b c d e f g h i j"), 10);
}

static void test_utf8_length(void **state) {
  (void)state;
  assert_int_equal(lln_utf8_length(""), 0);
  assert_int_equal(lln_utf8_length("hello"), 5);
  assert_int_equal(lln_utf8_length("caf\xc3\xa9"), 4);  /* 2-byte */
  assert_int_equal(lln_utf8_length("\xe2\x82\xac"), 1); /* 3-byte euro sign */
  assert_int_equal(lln_utf8_length("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), 3);
  assert_int_equal(lln_utf8_length("\xf0\x9f\x98\x80!"), 2); /* 4-byte emoji */
  /* Invalid bytes count one each. */
  assert_int_equal(lln_utf8_length("\x80"), 1);
  assert_int_equal(lln_utf8_length("a\x80\xbf"
                                   "b"),
                   4);
  assert_int_equal(lln_utf8_length("\xff\xfe"), 2);
  assert_int_equal(lln_utf8_length("\xc0\xaf"), 2);     /* overlong '/' */
  assert_int_equal(lln_utf8_length("\xed\xa0\x80"), 3); /* surrogate */
  assert_int_equal(lln_utf8_length("\xe2\x82"
                                   "a"),
                   3);                                      /* truncated, then 'a' */
  assert_int_equal(lln_utf8_length("x\xf0\x9f\x98"), 4);    /* truncated at the end */
  assert_int_equal(lln_utf8_length("\xf4\x90\x80\x80"), 4); /* past U+10FFFF */
}

/* ---- UTF-8 validation ---- */

static void valid(const char *s, size_t len) {
  size_t bad = 12345;
  if (!lln_utf8_valid(s, len, &bad))
    fail_msg("rejected valid UTF-8 at %zu", bad);
  assert_int_equal(bad, 12345); /* untouched */
}

static void invalid(const char *s, size_t len, size_t at) {
  size_t bad = 12345;
  if (lln_utf8_valid(s, len, &bad))
    fail_msg("accepted invalid UTF-8 (expected a problem at %zu)", at);
  assert_int_equal(bad, at);
}

#define VALID(lit) valid(lit, sizeof(lit) - 1)
#define INVALID(lit, at) invalid(lit, sizeof(lit) - 1, at)

static void test_utf8_valid(void **state) {
  (void)state;
  VALID("");
  VALID("plain ASCII {\"json\": true}");
  VALID("\x00\x7f");
  VALID("\xc2\x80");         /* U+0080, smallest 2-byte */
  VALID("\xdf\xbf");         /* U+07FF */
  VALID("\xe0\xa0\x80");     /* U+0800, smallest 3-byte */
  VALID("\xed\x9f\xbf");     /* U+D7FF, just below the surrogates */
  VALID("\xee\x80\x80");     /* U+E000, just above */
  VALID("\xef\xbf\xbf");     /* U+FFFF */
  VALID("\xf0\x90\x80\x80"); /* U+10000, smallest 4-byte */
  VALID("\xf0\x9f\x98\x80"); /* emoji */
  VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
  VALID("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z");
  assert_true(lln_utf8_valid("abc", 3, NULL));
}

static void test_utf8_overlongs(void **state) {
  (void)state;
  INVALID("\xc0\x80", 0); /* overlong NUL */
  INVALID("\xc1\xbf", 0);
  INVALID("ab\xc0\xaf", 2); /* overlong '/' */
  INVALID("\xe0\x80\x80", 0);
  INVALID("\xe0\x9f\xbf", 0); /* overlong U+07FF */
  INVALID("\xf0\x80\x80\x80", 0);
  INVALID("\xf0\x8f\xbf\xbf", 0); /* overlong U+FFFF */
}

static void test_utf8_surrogates(void **state) {
  (void)state;
  INVALID("\xed\xa0\x80", 0);             /* U+D800 */
  INVALID("x\xed\xbf\xbf", 1);            /* U+DFFF */
  INVALID("\xed\xa0\xbd\xed\xb8\x80", 0); /* CESU-8 pair */
}

static void test_utf8_out_of_range(void **state) {
  (void)state;
  INVALID("\xf4\x90\x80\x80", 0); /* U+110000 */
  INVALID("\xf5\x80\x80\x80", 0);
  INVALID("\xf8\x88\x80\x80\x80", 0); /* old 5-byte form */
  INVALID("\xfe", 0);
  INVALID("ok\xff", 2);
}

static void test_utf8_bad_sequences(void **state) {
  (void)state;
  INVALID("\x80", 0); /* lone continuation */
  INVALID("a\xbf", 1);
  INVALID("\xc3", 0); /* truncated at the end */
  INVALID("abc\xe2\x82", 3);
  INVALID("\xf0\x9f\x98", 0);
  INVALID("\xc3"
          "a",
          0); /* lead byte, then no continuation */
  INVALID("\xe2\x28\xa1", 0);
  INVALID("\xf0\x9f\x28\x80", 0);
  INVALID("\xe2\x82\xac\xe2\x82", 3); /* good euro sign, then a truncated one */
  /* `len` bounds the input: a sequence cut by it is truncated. */
  assert_false(lln_utf8_valid("\xe2\x82\xac", 2, NULL));
  assert_true(lln_utf8_valid("a\xe2\x82\xac", 1, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_content_string),    cmocka_unit_test(test_content_parts),
      cmocka_unit_test(test_content_other),     cmocka_unit_test(test_content_appends),
      cmocka_unit_test(test_last_user),         cmocka_unit_test(test_word_count),
      cmocka_unit_test(test_utf8_length),       cmocka_unit_test(test_utf8_valid),
      cmocka_unit_test(test_utf8_overlongs),    cmocka_unit_test(test_utf8_surrogates),
      cmocka_unit_test(test_utf8_out_of_range), cmocka_unit_test(test_utf8_bad_sequences),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
