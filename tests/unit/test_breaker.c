/* test_breaker: the circuit breaker's states; the probe ticket: a
 * half-open probe that is cancelled instead of settled hands the probe on,
 * so the circuit cannot stay open for good (issue 10, item 20); and the
 * model table: one breaker per (endpoint, model id), so a node inheriting
 * the router's endpoint with another model id has its own (item 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "upstream/breaker.h"
#include "upstream/model_state.h"

#include "config_fixtures.h"

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

/* Opens b (threshold 1) with a failure at 0 ms and takes its probe at
 * COOLDOWN_MS (1000), when the cooldown ends. */
static void start_probing(lln_breaker *b) {
  long wait = 0;
  lln_breaker_record(b, 0, 0, 1, COOLDOWN_MS, 0);
  assert_int_equal(lln_breaker_allow(b, COOLDOWN_MS, &wait), LLN_BREAKER_PROBE);
}

static void test_failed_probe_reopens(void **state) {
  (void)state;
  lln_breaker b = {0};
  start_probing(&b);
  long wait = 0;
  lln_breaker_record(&b, 0, 1, 1, COOLDOWN_MS, 1100);
  assert_int_equal(lln_breaker_allow(&b, 1200, &wait), LLN_BREAKER_DENY);
  assert_int_equal(lln_breaker_allow(&b, 2100, &wait), LLN_BREAKER_PROBE);
}

static void test_cancelled_probe_is_released(void **state) {
  (void)state;
  lln_breaker b = {0};
  start_probing(&b);
  long wait = 0;
  /* the run holding the probe is cancelled (client gone, request timeout) */
  lln_breaker_release(&b);
  assert_int_equal(lln_breaker_allow(&b, 1001, &wait), LLN_BREAKER_PROBE);
}

static void test_late_failure_does_not_free_the_probe(void **state) {
  (void)state;
  lln_breaker b = {0};
  start_probing(&b);
  long wait = 0;
  /* a call that went out before the circuit opened fails now: the probe
   * in flight keeps its claim */
  lln_breaker_record(&b, 0, 0, 1, COOLDOWN_MS, 1001);
  assert_int_equal(lln_breaker_allow(&b, 2002, &wait), LLN_BREAKER_DENY);
}

static void test_model_table_per_endpoint_and_model_id(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, "{\"models\": {"
                  "\"shared\": {\"type\": \"external\", \"interface\": \"openai-api\", "
                  "\"url\": \"http://127.0.0.1:9\", \"api-key\": null},"
                  "\"other\": {\"type\": \"external\", \"interface\": \"openai-api\", "
                  "\"url\": \"http://127.0.0.1:9\", \"api-key\": null}},"
                  "\"architecture\": ["
                  "{\"name\": \"router\", \"layer\": 0, \"model\": \"shared\", \"output-to\": [1],"
                  " \"extra-options\": {\"model_override\": \"gemma\"}},"
                  "{\"name\": \"coder\", \"layer\": 1, \"use-case\": \"code\","
                  " \"extra-options\": {\"model_override\": [\"qwen\", \"gemma\"]}},"
                  "{\"name\": \"writer\", \"layer\": 1, \"model\": \"other\", \"use-case\": \"prose\","
                  " \"extra-options\": {\"model_override\": \"gemma\"}}]}");
  const lln_node *router = lln_config_node(&cfg, "router");
  const lln_node *coder = lln_config_node(&cfg, "coder");
  const lln_node *writer = lln_config_node(&cfg, "writer");
  assert_ptr_equal(coder->endpoint, router->endpoint); /* inherited, as in the seed */
  lln_model_table *t = lln_model_table_new(&cfg);
  lln_breaker *router_b = lln_model_table_breaker(t, router, 0);
  /* another model id on the same endpoint: its own breaker */
  assert_ptr_not_equal(lln_model_table_breaker(t, coder, 0), router_b);
  /* the same model id on the same endpoint: the same model, one breaker */
  assert_ptr_equal(lln_model_table_breaker(t, coder, 1), router_b);
  /* the same model id at another endpoint: another breaker */
  assert_ptr_not_equal(lln_model_table_breaker(t, writer, 0), router_b);
  /* coder's outage opens coder's circuit only */
  lln_breaker *coder_b = lln_model_table_breaker(t, coder, 0);
  for (int i = 0; i < 5; i++)
    lln_breaker_record(coder_b, 0, 0, 5, COOLDOWN_MS, 100);
  long wait = 0;
  assert_int_equal(lln_breaker_allow(coder_b, 200, &wait), LLN_BREAKER_DENY);
  assert_int_equal(lln_breaker_allow(router_b, 200, &wait), LLN_BREAKER_PASS);
  /* the rate-limit queue stays per endpoint */
  assert_true(lln_model_table_enqueue(t, router->endpoint, 1));
  assert_false(lln_model_table_enqueue(t, coder->endpoint, 1));
  assert_true(lln_model_table_enqueue(t, writer->endpoint, 1));
  lln_model_table_dequeue(t, router->endpoint);
  lln_model_table_dequeue(t, writer->endpoint);
  lln_model_table_free(t);
  lln_config_free(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_opens_after_threshold_and_probes),
      cmocka_unit_test(test_failed_probe_reopens),
      cmocka_unit_test(test_cancelled_probe_is_released),
      cmocka_unit_test(test_late_failure_does_not_free_the_probe),
      cmocka_unit_test(test_model_table_per_endpoint_and_model_id),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
