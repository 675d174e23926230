/* Tests for the secret registry and scrubber: short values are not
 * registered, every occurrence is replaced, longer keys win over keys they
 * contain, header values register their last word, and log lines carry
 * [REDACTED] instead of the value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/secrets.h"

/* Scrubs `text` and checks the count of replacements and the result. */
static void expect_scrubbed(const char *text, size_t replaced, const char *want) {
  lln_buf out;
  lln_buf_init(&out);
  assert_int_equal(lln_secrets_scrub(text, strlen(text), &out), replaced);
  lln_buf_append(&out, "", 0);
  assert_string_equal(out.data, want);
  lln_buf_free(&out);
}

static int reset(void **state) {
  (void)state;
  lln_secrets_clear();
  return 0;
}

static void test_every_occurrence_is_replaced(void **state) {
  (void)state;
  lln_secrets_add("sk-or-v1-abcdef123456", 21);
  expect_scrubbed("Incorrect API key provided: sk-or-v1-abcdef123456 (sk-or-v1-abcdef123456)", 2,
                  "Incorrect API key provided: [REDACTED] ([REDACTED])");
  expect_scrubbed("nothing secret here, sk-or-v1-abcdef12345 is not it", 0,
                  "nothing secret here, sk-or-v1-abcdef12345 is not it");
}

static void test_short_values_are_not_registered(void **state) {
  (void)state;
  lln_secrets_add("1234567", 7);
  lln_secrets_add("", 0);
  lln_secrets_add(NULL, 0);
  assert_int_equal(lln_secrets_count(), 0);
  lln_secrets_add("12345678", 8);
  lln_secrets_add("12345678", 8);
  assert_int_equal(lln_secrets_count(), 1);
}

static void test_longest_value_wins(void **state) {
  (void)state;
  lln_secrets_add("abcdefgh", 8);
  lln_secrets_add("abcdefgh-and-more", 17);
  expect_scrubbed("x abcdefgh-and-more y abcdefgh z", 2, "x [REDACTED] y [REDACTED] z");
}

static void test_header_value_and_last_word(void **state) {
  (void)state;
  lln_secrets_add_header("Authorization: Bearer tok-0123456789");
  expect_scrubbed("bad token tok-0123456789; header was Bearer tok-0123456789", 2,
                  "bad token [REDACTED]; header was [REDACTED]");
}

static void test_in_place_forms(void **state) {
  (void)state;
  lln_secrets_add("supersecretvalue", 16);
  char *str = strdup("at the end supersecretvalue");
  assert_int_equal(lln_secrets_scrub_str(&str), 1);
  assert_string_equal(str, "at the end [REDACTED]");
  free(str);
  char *none = NULL;
  assert_int_equal(lln_secrets_scrub_str(&none), 0);
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_puts(&b, "supersecretvalue");
  assert_int_equal(lln_secrets_scrub_buf(&b), 1);
  assert_string_equal(b.data, "[REDACTED]");
  lln_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_every_occurrence_is_replaced, reset),
      cmocka_unit_test_setup(test_short_values_are_not_registered, reset),
      cmocka_unit_test_setup(test_longest_value_wins, reset),
      cmocka_unit_test_setup(test_header_value_and_last_word, reset),
      cmocka_unit_test_setup(test_in_place_forms, reset),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  lln_secrets_clear();
  return rc;
}
