/* test_failover: the failure policy (failover_int.h) as a table: which
 * failures are retried, when the next model id or a fallback node answers,
 * where a failed routing goes, which statuses pass through to the client
 * and when the client is told a retry can help (x-should-retry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pipeline/failover_int.h"

static lln_model ep = {.key = "ep", .retries = 2};
static char *one_id[] = {"m1", NULL};
static char *two_ids[] = {"m1", "m2", NULL};

static lln_node node_with(const char *name, char **ids, size_t n_ids) {
  lln_node n = {.name = (char *)name, .endpoint = &ep, .model_ids = ids, .n_model_ids = n_ids};
  return n;
}

/* A failure with plenty of time left and a short backoff. */
static lln_failure http_failure(int status, int retryable) {
  lln_failure f = {.kind = LLN_FAILURE_HTTP,
                   .http_status = status,
                   .retryable = retryable,
                   .hint_ms = -1,
                   .backoff_ms = 100,
                   .remaining_ms = 60000,
                   .upstream_calls = 1};
  return f;
}

/* What the policy decides for the first failure of a first attempt at n. */
static lln_failover first_decision(const lln_node *n, const lln_failure *f) {
  lln_attempt a = lln_attempt_start(n, 0, NULL);
  return lln_failover_decide(&a, f);
}

static void test_retry_then_next_model_then_fail(void **state) {
  (void)state;
  lln_node n = node_with("n", two_ids, 2);
  lln_failure f = http_failure(500, 1);
  lln_failover d = first_decision(&n, &f);
  assert_int_equal(d.kind, LLN_FO_RETRY);
  assert_int_equal(d.delay_ms, 100);
  assert_int_equal(d.next.retries_done, 1);
  lln_attempt a = d.next;
  a = lln_failover_decide(&a, &f).next; /* retry 2 */
  assert_int_equal(a.retries_done, 2);
  d = lln_failover_decide(&a, &f);
  assert_int_equal(d.kind, LLN_FO_NEXT_MODEL);
  assert_int_equal(d.next.model_index, 1);
  assert_int_equal(d.next.retries_done, 0);
  a = d.next;
  a.retries_done = 2;
  d = lln_failover_decide(&a, &f);
  assert_int_equal(d.kind, LLN_FO_FAIL);
  assert_int_equal(d.status, 502);
  assert_false(d.should_retry); /* llmnet spent its retries */
}

static void test_wait_past_deadline_is_not_taken(void **state) {
  (void)state;
  lln_node n = node_with("n", one_id, 1);
  lln_failure f = http_failure(429, 1);
  f.hint_ms = 30000;
  f.remaining_ms = 10000;
  lln_failover d = first_decision(&n, &f);
  assert_int_equal(d.kind, LLN_FO_FAIL);
  assert_int_equal(d.status, 429);
  assert_true(d.pass_retry_after);
  assert_false(d.should_retry);
}

static void test_request_refusals_pass_through_at_once(void **state) {
  (void)state;
  static const int statuses[] = {400, 413, 422};
  lln_node fb = node_with("fb", one_id, 1);
  lln_node *fbs[] = {&fb, NULL};
  lln_node n = node_with("n", two_ids, 2);
  n.fallbacks = fbs;
  n.n_fallbacks = 1;
  for (size_t i = 0; i < 3; i++) {
    lln_failure f = http_failure(statuses[i], 0);
    lln_failover d = first_decision(&n, &f);
    /* no next model id, no fallback: another model would refuse it too */
    assert_int_equal(d.kind, LLN_FO_FAIL);
    assert_int_equal(d.status, statuses[i]);
    assert_false(d.should_retry);
  }
}

static void test_unknown_model_tries_next_then_passes_404(void **state) {
  (void)state;
  lln_node n = node_with("n", two_ids, 2);
  lln_failure f = http_failure(404, 0);
  lln_failover d = first_decision(&n, &f);
  assert_int_equal(d.kind, LLN_FO_NEXT_MODEL);
  d = lln_failover_decide(&d.next, &f);
  assert_int_equal(d.kind, LLN_FO_FAIL);
  assert_int_equal(d.status, 404);
}

static void test_account_refusals_are_502_and_skip_model_ids(void **state) {
  (void)state;
  static const int statuses[] = {401, 402, 403};
  lln_node n = node_with("n", two_ids, 2);
  for (size_t i = 0; i < 3; i++) {
    lln_failure f = http_failure(statuses[i], 0);
    lln_failover d = first_decision(&n, &f);
    assert_int_equal(d.kind, LLN_FO_FAIL); /* the same key would be refused for m2 */
    assert_int_equal(d.status, 502);
    assert_false(d.should_retry);
  }
}

static void test_routing_failure_goes_to_default(void **state) {
  (void)state;
  lln_node router = node_with("router", one_id, 1);
  lln_attempt a = lln_attempt_start(&router, 1, NULL);
  a.retries_done = 2;
  lln_failure f = http_failure(500, 1);
  assert_int_equal(lln_failover_decide(&a, &f).kind, LLN_FO_DEFAULT);
  /* a refusal of llmnet's own routing prompt does not fail the request */
  f = http_failure(400, 0);
  assert_int_equal(lln_failover_decide(&a, &f).kind, LLN_FO_DEFAULT);
  lln_failure open = {.kind = LLN_FAILURE_CIRCUIT_OPEN, .hint_ms = 5000, .remaining_ms = 60000};
  assert_int_equal(lln_failover_decide(&a, &open).kind, LLN_FO_DEFAULT);
}

/* Item 21: the fallback list belongs to the visit it started from. */
static void test_fallback_list_belongs_to_the_visit(void **state) {
  (void)state;
  lln_node b = node_with("B", one_id, 1), c = node_with("C", one_id, 1), d_node = node_with("D", one_id, 1);
  lln_node *fbs[] = {&b, &d_node, NULL};
  lln_node a_node = node_with("A", one_id, 1);
  a_node.fallbacks = fbs;
  a_node.n_fallbacks = 2;
  lln_failure f = http_failure(500, 0);
  lln_failover d = first_decision(&a_node, &f);
  assert_int_equal(d.kind, LLN_FO_FALLBACK);
  assert_ptr_equal(d.fallback, &b);
  /* B's visit, reached by that decision, continues A's list: D next */
  lln_attempt at_b = lln_attempt_start(&b, 0, &d);
  lln_failover from_b = lln_failover_decide(&at_b, &f);
  assert_int_equal(from_b.kind, LLN_FO_FALLBACK);
  assert_ptr_equal(from_b.fallback, &d_node);
  /* D failing ends A's list */
  lln_attempt at_d = lln_attempt_start(&d_node, 0, &from_b);
  assert_int_equal(lln_failover_decide(&at_d, &f).kind, LLN_FO_FAIL);
  /* C, reached the ordinary way after B answered, has no list to continue */
  lln_failover from_c = first_decision(&c, &f);
  assert_int_equal(from_c.kind, LLN_FO_FAIL);
  assert_int_equal(from_c.status, 502);
}

static void test_own_refusals(void **state) {
  (void)state;
  lln_node n = node_with("n", one_id, 1);
  lln_attempt a = lln_attempt_start(&n, 0, NULL);
  lln_failure open = {.kind = LLN_FAILURE_CIRCUIT_OPEN, .hint_ms = 5000, .remaining_ms = 60000};
  lln_failover d = lln_failover_decide(&a, &open);
  assert_int_equal(d.status, 503);
  assert_true(d.pass_retry_after);
  assert_false(d.should_retry);
  lln_failure limited = {.kind = LLN_FAILURE_RATE_LIMITED, .hint_ms = 2000, .remaining_ms = 60000};
  d = lln_failover_decide(&a, &limited);
  assert_int_equal(d.status, 429);
  assert_true(d.should_retry); /* nothing was spent upstream */
  limited.upstream_calls = 2;
  assert_false(lln_failover_decide(&a, &limited).should_retry);
  lln_failure timeout = {.kind = LLN_FAILURE_TIMEOUT, .retryable = 1, .remaining_ms = 60000};
  a.retries_done = 2;
  d = lln_failover_decide(&a, &timeout);
  assert_int_equal(d.status, 504);
  assert_false(d.should_retry);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retry_then_next_model_then_fail),
      cmocka_unit_test(test_wait_past_deadline_is_not_taken),
      cmocka_unit_test(test_request_refusals_pass_through_at_once),
      cmocka_unit_test(test_unknown_model_tries_next_then_passes_404),
      cmocka_unit_test(test_account_refusals_are_502_and_skip_model_ids),
      cmocka_unit_test(test_routing_failure_goes_to_default),
      cmocka_unit_test(test_fallback_list_belongs_to_the_visit),
      cmocka_unit_test(test_own_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
