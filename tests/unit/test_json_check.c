/* test_json_check: the lexical check run on request bodies before cJSON
 * parses them: raw control characters and NUL inside strings, control bytes
 * between tokens, malformed escapes and \u0000 are refused with the offset
 * of the offending byte; valid JSON (escapes included) passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "util/json_check.h"

static void passes(const char *s, size_t len) {
  size_t at = 12345;
  const char *why = NULL;
  if (lln_json_check(s, len, &at, &why) != 0)
    fail_msg("refused %.*s at %zu: %s", (int)len, s, at, why);
}

static void refused_at(const char *s, size_t len, size_t want_at) {
  size_t at = 12345;
  const char *why = NULL;
  if (lln_json_check(s, len, &at, &why) == 0)
    fail_msg("accepted %.*s", (int)len, s);
  assert_int_equal(at, want_at);
  assert_non_null(why);
  assert_true(strlen(why) > 10);
}

#define PASSES(lit) passes(lit, sizeof lit - 1)
#define REFUSED_AT(lit, at) refused_at(lit, sizeof lit - 1, at)

static void test_valid_json_passes(void **state) {
  (void)state;
  PASSES("");
  PASSES("{}");
  PASSES("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
  PASSES(" {\r\n\t\"a\" : [1, 2.5e3, true, null] }\n");
  PASSES("\"escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u001f \\u00e9 \\ud83d\\ude00\"");
  PASSES("\"caf\xc3\xa9 \x7f\"");        /* UTF-8 and DEL are allowed */
  PASSES("\"a\\\\\"");                   /* an escaped backslash closes nothing */
  PASSES("\"\\u0001 \\u0100 \\u1000\""); /* escapes of characters other than NUL */
}

static void test_raw_nul_in_string(void **state) {
  (void)state;
  REFUSED_AT("{\"content\":\"before\0after\"}", 18);
  REFUSED_AT("\"\0\"", 1);
}

static void test_raw_control_in_string(void **state) {
  (void)state;
  REFUSED_AT("{\"a\":\"x\ny\"}", 7);
  REFUSED_AT("{\"a\":\"x\ty\"}", 7);
  REFUSED_AT("{\"a\":\"\x1f\"}", 6);
  REFUSED_AT("{\"k\x01\":1}", 3); /* keys are strings too */
}

static void test_control_between_tokens(void **state) {
  (void)state;
  REFUSED_AT("{\0\"a\":1}", 1);
  REFUSED_AT("[1,\x0b"
             "2]",
             3);
  REFUSED_AT("{\"a\":1}\0", 7);
}

static void test_escaped_nul(void **state) {
  (void)state;
  REFUSED_AT("{\"a\":\"x\\u0000y\"}", 7);
  REFUSED_AT("\"\\u0000\"", 1);
  PASSES("\"\\\\u0000\""); /* an escaped backslash then the text u0000 */
}

static void test_malformed_escapes(void **state) {
  (void)state;
  REFUSED_AT("\"\\x\"", 1);
  REFUSED_AT("\"\\u12\"", 1);
  REFUSED_AT("\"\\u12g4\"", 1);
  REFUSED_AT("\"abc\\", 4); /* the text ends in an escape */
}

static void test_unterminated_string_is_left_to_the_parser(void **state) {
  (void)state;
  PASSES("{\"a\":\"open");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_json_passes),
      cmocka_unit_test(test_raw_nul_in_string),
      cmocka_unit_test(test_raw_control_in_string),
      cmocka_unit_test(test_control_between_tokens),
      cmocka_unit_test(test_escaped_nul),
      cmocka_unit_test(test_malformed_escapes),
      cmocka_unit_test(test_unterminated_string_is_left_to_the_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
