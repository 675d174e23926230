/* test_percent: %XX decoding (util/percent.c) as the Redis URL parser and
 * GET /v1/models/{id} use it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/percent.h"

static void expect_decoded(const char *in, const char *want, int want_malformed) {
  char out[64];
  int malformed = -1;
  size_t n = lln_percent_decode(in, strlen(in), out, &malformed);
  assert_int_equal(n, strlen(want));
  assert_string_equal(out, want);
  assert_int_equal(malformed, want_malformed);
}

static void test_escapes_decode(void **state) {
  (void)state;
  expect_decoded("p%40ss%3Aw%2fd", "p@ss:w/d", 0);
  expect_decoded("plain+text", "plain+text", 0);
  expect_decoded("", "", 0);
}

static void test_malformed_escapes_stay_as_written(void **state) {
  (void)state;
  expect_decoded("100%", "100%", 1);
  expect_decoded("a%4", "a%4", 1);
  expect_decoded("%zz", "%zz", 1);
}

static void test_escaped_nul_is_reported(void **state) {
  (void)state;
  char out[8];
  int malformed = 0;
  size_t n = lln_percent_decode("a%00b", 5, out, &malformed);
  assert_int_equal(n, 3);
  assert_int_equal(malformed, 1);
  assert_memory_equal(out, "a\0b", 3);
}

static void test_only_n_bytes_are_read(void **state) {
  (void)state;
  char out[8];
  /* "%41" cut after "%4": the escape is incomplete within n */
  size_t n = lln_percent_decode("x%41", 3, out, NULL);
  assert_int_equal(n, 3);
  assert_string_equal(out, "x%4");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escapes_decode),
      cmocka_unit_test(test_malformed_escapes_stay_as_written),
      cmocka_unit_test(test_escaped_nul_is_reported),
      cmocka_unit_test(test_only_n_bytes_are_read),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
