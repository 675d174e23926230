/* test_status_stats: the spend and response-cache figures of GET
 * /v1/llmnet/stats, read from the metric families llmnet_cost_usd_total
 * and llmnet_response_cache_requests_total (observe/metrics.c accessors,
 * observe/status_page.c), including updates made on other threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "observe/metrics.h"
#include "observe/status_page.h"

static void cost(const char *node, const char *model, const char *source, double usd) {
  const char *labels[] = {node, model, source};
  lln_metric_add(&LLN_M_COST, labels, usd);
}

static void cache(const char *result, double n) {
  const char *labels[] = {result};
  lln_metric_add(&LLN_M_CACHE, labels, n);
}

static double num(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  assert_non_null(v);
  assert_true(cJSON_IsNumber(v));
  return v->valuedouble;
}

static const cJSON *row(const cJSON *spend, const char *node, const char *model) {
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(spend, "models")) {
    if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "node")->valuestring, node) == 0 &&
        strcmp(cJSON_GetObjectItemCaseSensitive(it, "model")->valuestring, model) == 0)
      return it;
  }
  return NULL;
}

static void *other_thread(void *arg) {
  (void)arg;
  cost("router", "google/gemma-3-27b-it", "reported", 0.25);
  cache("hit", 2);
  return NULL;
}

static void test_empty(void **state) {
  (void)state;
  cJSON *root = cJSON_CreateObject();
  lln_status_spend_json(root);
  cJSON *c = lln_status_cache_json(root);
  const cJSON *spend = cJSON_GetObjectItemCaseSensitive(root, "spend");
  assert_true(num(spend, "usd") == 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spend, "models")), 0);
  assert_true(num(c, "hits") == 0 && num(c, "misses") == 0 && num(c, "bypass") == 0);
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "hit_rate")));
  cJSON_Delete(root);
}

static void test_spend_and_cache(void **state) {
  (void)state;
  cost("router", "google/gemma-3-27b-it", "reported", 0.5);
  cost("router", "google/gemma-3-27b-it", "computed", 0.125);
  cost("creative-handler", "meta-llama/llama-3.3-70b-instruct", "reported", 1);
  cache("miss", 1);
  cache("bypass", 3);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
  pthread_join(t, NULL);

  cJSON *root = cJSON_CreateObject();
  lln_status_spend_json(root);
  cJSON *c = lln_status_cache_json(root);
  const cJSON *spend = cJSON_GetObjectItemCaseSensitive(root, "spend");
  assert_true(fabs(num(spend, "usd") - 1.875) < 1e-9);
  assert_true(fabs(num(spend, "reported_usd") - 1.75) < 1e-9);
  assert_true(fabs(num(spend, "computed_usd") - 0.125) < 1e-9);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spend, "models")), 2);
  const cJSON *r = row(spend, "router", "google/gemma-3-27b-it");
  assert_non_null(r);
  assert_true(fabs(num(r, "usd") - 0.875) < 1e-9);
  assert_true(fabs(num(r, "reported_usd") - 0.75) < 1e-9);
  assert_true(fabs(num(r, "computed_usd") - 0.125) < 1e-9);
  r = row(spend, "creative-handler", "meta-llama/llama-3.3-70b-instruct");
  assert_non_null(r);
  assert_true(num(r, "usd") == 1 && num(r, "computed_usd") == 0);

  assert_true(num(c, "hits") == 2 && num(c, "misses") == 1 && num(c, "bypass") == 3);
  /* bypassed requests were never looked up: 2 hits of 3 lookups */
  assert_true(fabs(num(c, "hit_rate") - 2.0 / 3.0) < 1e-9);
  cJSON_Delete(root);
}

static void count_series(void *ud, const char *const *values, double value) {
  (void)values;
  double *sum = ud;
  *sum += value;
}

static void test_each_series(void **state) {
  (void)state;
  double sum = 0;
  lln_metrics_each(&LLN_M_CACHE, count_series, &sum);
  assert_true(sum == 6); /* test_spend_and_cache's 2 hits, 1 miss, 3 bypass */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_spend_and_cache),
      cmocka_unit_test(test_each_series),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
