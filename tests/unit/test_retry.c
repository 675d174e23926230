/* Tests for the retry arithmetic: an upstream's Retry-After and
 * X-RateLimit-Reset are read as waits within LLN_RETRY_MAX_HINT_MS, and
 * absurd values (1e300, inf, nan, negative) never reach a cast to long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "upstream/retry.h"

static const time_t NOW = 1700000000;

static void test_plain_seconds(void **state) {
  (void)state;
  assert_int_equal(lln_retry_hint_ms("2", NULL, NOW), 2000);
  assert_int_equal(lln_retry_hint_ms("0.5", NULL, NOW), 500);
  assert_int_equal(lln_retry_hint_ms(NULL, NULL, NOW), -1);
  assert_int_equal(lln_retry_hint_ms("soon", NULL, NOW), -1);
}

static void test_huge_retry_after_is_clamped(void **state) {
  (void)state;
  assert_int_equal(lln_retry_hint_ms("1e300", NULL, NOW), LLN_RETRY_MAX_HINT_MS);
  assert_int_equal(lln_retry_hint_ms("99999999999999999999", NULL, NOW), LLN_RETRY_MAX_HINT_MS);
  assert_int_equal(lln_retry_hint_ms("86401", NULL, NOW), LLN_RETRY_MAX_HINT_MS);
  assert_int_equal(lln_retry_hint_ms("86399", NULL, NOW), 86399000L);
}

static void test_non_finite_and_negative_are_ignored(void **state) {
  (void)state;
  assert_int_equal(lln_retry_hint_ms("inf", NULL, NOW), -1);
  assert_int_equal(lln_retry_hint_ms("nan", NULL, NOW), -1);
  assert_int_equal(lln_retry_hint_ms("-5", NULL, NOW), -1);
  assert_int_equal(lln_retry_hint_ms(NULL, "-1e300", NOW), -1);
  assert_int_equal(lln_retry_hint_ms(NULL, "infinity", NOW), -1);
}

static void test_rate_limit_reset_forms(void **state) {
  (void)state;
  /* epoch seconds, epoch milliseconds, seconds from now */
  assert_int_equal(lln_retry_hint_ms(NULL, "1700000003", NOW), 3000);
  assert_int_equal(lln_retry_hint_ms(NULL, "1700000004000", NOW), 4000);
  assert_int_equal(lln_retry_hint_ms(NULL, "7", NOW), 7000);
  assert_int_equal(lln_retry_hint_ms(NULL, "1699999990", NOW), 0);
  /* far-future resets are a day at most */
  assert_int_equal(lln_retry_hint_ms(NULL, "1e300", NOW), LLN_RETRY_MAX_HINT_MS);
  assert_int_equal(lln_retry_hint_ms(NULL, "1e18", NOW), LLN_RETRY_MAX_HINT_MS);
}

static void test_http_date(void **state) {
  (void)state;
  /* 2023-11-14T22:13:20Z is NOW; ten seconds later */
  assert_int_equal(lln_retry_hint_ms("Tue, 14 Nov 2023 22:13:30 GMT", NULL, NOW), 10000);
  assert_int_equal(lln_retry_hint_ms("Fri, 31 Dec 9999 23:59:59 GMT", NULL, NOW), LLN_RETRY_MAX_HINT_MS);
}

static void test_backoff(void **state) {
  (void)state;
  assert_int_equal(lln_backoff_ms(0, 100, 1000, 0), 50);
  assert_int_equal(lln_backoff_ms(10, 100, 1000, 0), 500);
  assert_int_equal(lln_backoff_ms(1000, 100, 1000, 999), 999);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_seconds),
      cmocka_unit_test(test_huge_retry_after_is_clamped),
      cmocka_unit_test(test_non_finite_and_negative_are_ignored),
      cmocka_unit_test(test_rate_limit_reset_forms),
      cmocka_unit_test(test_http_date),
      cmocka_unit_test(test_backoff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
