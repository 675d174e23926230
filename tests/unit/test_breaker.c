/* test_breaker: the circuit breaker's states, and the probe ticket: a
 * half-open probe that is cancelled instead of settled hands the probe on,
 * so the circuit cannot stay open for good (issue 10, item 20). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "upstream/breaker.h"

#define THRESHOLD 2
#define COOLDOWN_MS 1000

static void test_opens_after_threshold_and_probes(void **state) {
  (void)state;
  lln_breaker b = {0};
  long wait = 0;
  assert_int_equal(lln_breaker_allow(&b, 0, &wait), LLN_BREAKER_PASS);
  lln_breaker_record(&b, 0, 0, THRESHOLD, COOLDOWN_MS, 0);
  assert_int_equal(lln_breaker_allow(&b, 1, &wait), LLN_BREAKER_PASS);
  lln_breaker_record(&b, 0, 0, THRESHOLD, COOLDOWN_MS, 10);
  assert_int_equal(lln_breaker_allow(&b, 500, &wait), LLN_BREAKER_DENY);
  assert_int_equal(wait, 510);
  /* cooldown over: one probe, the others wait */
  assert_int_equal(lln_breaker_allow(&b, 1010, &wait), LLN_BREAKER_PROBE);
  assert_int_equal(lln_breaker_allow(&b, 1011, &wait), LLN_BREAKER_DENY);
  assert_int_equal(wait, LLN_BREAKER_PROBE_BUSY_MS);
  /* the probe succeeds: closed */
  lln_breaker_record(&b, 1, 1, THRESHOLD, COOLDOWN_MS, 1020);
  assert_int_equal(lln_breaker_allow(&b, 1021, &wait), LLN_BREAKER_PASS);
}

static void test_failed_probe_reopens(void **state) {
  (void)state;
  lln_breaker b = {0};
  long wait = 0;
  lln_breaker_record(&b, 0, 0, 1, COOLDOWN_MS, 0);
  assert_int_equal(lln_breaker_allow(&b, 1000, &wait), LLN_BREAKER_PROBE);
  lln_breaker_record(&b, 0, 1, 1, COOLDOWN_MS, 1100);
  assert_int_equal(lln_breaker_allow(&b, 1200, &wait), LLN_BREAKER_DENY);
  assert_int_equal(lln_breaker_allow(&b, 2100, &wait), LLN_BREAKER_PROBE);
}

static void test_cancelled_probe_is_released(void **state) {
  (void)state;
  lln_breaker b = {0};
  long wait = 0;
  lln_breaker_record(&b, 0, 0, 1, COOLDOWN_MS, 0);
  assert_int_equal(lln_breaker_allow(&b, 1000, &wait), LLN_BREAKER_PROBE);
  /* the run holding the probe is cancelled (client gone, request timeout) */
  lln_breaker_release(&b);
  assert_int_equal(lln_breaker_allow(&b, 1001, &wait), LLN_BREAKER_PROBE);
}

static void test_late_failure_does_not_free_the_probe(void **state) {
  (void)state;
  lln_breaker b = {0};
  long wait = 0;
  lln_breaker_record(&b, 0, 0, 1, COOLDOWN_MS, 0);
  assert_int_equal(lln_breaker_allow(&b, 1000, &wait), LLN_BREAKER_PROBE);
  /* a call that went out before the circuit opened fails now: the probe
   * in flight keeps its claim */
  lln_breaker_record(&b, 0, 0, 1, COOLDOWN_MS, 1001);
  assert_int_equal(lln_breaker_allow(&b, 2002, &wait), LLN_BREAKER_DENY);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_opens_after_threshold_and_probes),
      cmocka_unit_test(test_failed_probe_reopens),
      cmocka_unit_test(test_cancelled_probe_is_released),
      cmocka_unit_test(test_late_failure_does_not_free_the_probe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
