/* test_metrics: series found by their label values (a value too long for
 * the series key leaves it and every later one out of the key), and the
 * series table's bound. Once a thread's table is full, updates of new
 * series are dropped, counted in llmnet_metrics_dropped_updates_total and
 * logged once; series that exist keep counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/metrics.h"

#define SERIES 4096 /* LLN_METRICS_SERIES's default */

static double rendered(const char *line_prefix) {
  lln_buf out;
  lln_buf_init(&out);
  lln_metrics_render(&out);
  const char *p = strstr(out.data, line_prefix);
  double v = p ? strtod(p + strlen(line_prefix), NULL) : -1;
  lln_buf_free(&out);
  return v;
}

typedef struct seen {
  char first_values[3][16];
  double values[8];
  size_t n;
} seen;

static void collect(void *ud, const char *const *values, double value) {
  seen *s = ud;
  if (s->n < 8) {
    for (int i = 0; i < 3; i++)
      snprintf(s->first_values[i], sizeof s->first_values[i], "%s", values[i]);
    s->values[s->n++] = value;
  }
}

/* Runs on a thread of its own: each thread's table is its own, so this
 * leaves the main thread's for the bound test. */
static void *series_by_label_values(void *arg) {
  (void)arg;
  const char *a[] = {"n", "model-a", "in"}, *b[] = {"n", "model-b", "in"}, *c[] = {"n", "model-a", "out"};
  lln_metric_add(&LLN_M_TOKENS, a, 1);
  lln_metric_add(&LLN_M_TOKENS, b, 2);
  lln_metric_add(&LLN_M_TOKENS, a, 4);
  lln_metric_add(&LLN_M_TOKENS, c, 8);
  seen got = {0};
  lln_metrics_each(&LLN_M_TOKENS, collect, &got);
  assert_int_equal(got.n, 3);
  assert_true(got.values[0] == 5 && got.values[1] == 2 && got.values[2] == 8);
  /* the key holds 1023 bytes: two values that do not fit leave the same key
   * ("n"), so they count in one series, which keeps the first's values */
  char long1[1100], long2[1100];
  memset(long1, 'x', sizeof long1 - 1), long1[sizeof long1 - 1] = '\0';
  memset(long2, 'y', sizeof long2 - 1), long2[sizeof long2 - 1] = '\0';
  const char *l1[] = {"n", long1, "in"}, *l2[] = {"n", long2, "out"};
  lln_metric_add(&LLN_M_RETRIES, (const char *[]){"r", long1}, 1);
  lln_metric_add(&LLN_M_RETRIES, (const char *[]){"r", long2}, 1);
  lln_metric_add(&LLN_M_COST, l1, 1);
  lln_metric_add(&LLN_M_COST, l2, 1);
  seen cost = {0}, retries = {0};
  lln_metrics_each(&LLN_M_COST, collect, &cost);
  lln_metrics_each(&LLN_M_RETRIES, collect, &retries);
  assert_int_equal(cost.n, 1);
  assert_true(cost.values[0] == 2);
  assert_string_equal(cost.first_values[2], "in");
  assert_int_equal(retries.n, 1);
  assert_true(retries.values[0] == 2);
  /* a value that just fits (1 + 1 + 1021 bytes) is its own series */
  char fits[1022], over[1023];
  memset(fits, 'f', sizeof fits - 1), fits[sizeof fits - 1] = '\0';
  memset(over, 'o', sizeof over - 1), over[sizeof over - 1] = '\0';
  lln_metric_add(&LLN_M_FALLBACKS, (const char *[]){"q", fits}, 1);
  lln_metric_add(&LLN_M_FALLBACKS, (const char *[]){"q", over}, 1);
  lln_metric_add(&LLN_M_FALLBACKS, (const char *[]){"q", "short"}, 1);
  seen fallbacks = {0};
  lln_metrics_each(&LLN_M_FALLBACKS, collect, &fallbacks);
  assert_int_equal(fallbacks.n, 3); /* "q\x1ffff...", "q" (over) and "q\x1fshort" */
  /* a first value fits with 1022 bytes, not 1023 (the key is empty then) */
  char first_fits[1023], first_over1[1024], first_over2[1024];
  memset(first_fits, 'a', sizeof first_fits - 1), first_fits[sizeof first_fits - 1] = '\0';
  memset(first_over1, 'b', sizeof first_over1 - 1), first_over1[sizeof first_over1 - 1] = '\0';
  memset(first_over2, 'c', sizeof first_over2 - 1), first_over2[sizeof first_over2 - 1] = '\0';
  lln_metric_add(&LLN_M_CACHE, (const char *[]){first_fits}, 1);
  lln_metric_add(&LLN_M_CACHE, (const char *[]){first_over1}, 1);
  lln_metric_add(&LLN_M_CACHE, (const char *[]){first_over2}, 1);
  seen cache = {0};
  lln_metrics_each(&LLN_M_CACHE, collect, &cache);
  assert_int_equal(cache.n, 2);
  assert_true(cache.values[0] == 1 && cache.values[1] == 2);
  return NULL;
}

static void test_series_by_label_values(void **state) {
  (void)state;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, series_by_label_values, NULL), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_full_table_counts_dropped_updates(void **state) {
  (void)state;
  assert_true(rendered("\nllmnet_metrics_dropped_updates_total ") == 0);
  char node[32];
  for (int i = 0; i < SERIES + 100; i++) {
    snprintf(node, sizeof node, "node-%d", i);
    const char *labels[] = {node, "m"};
    lln_metric_add(&LLN_M_RETRIES, labels, 1);
  }
  assert_true(rendered("\nllmnet_metrics_dropped_updates_total ") == 100);
  /* a series that made it in still counts */
  const char *first[] = {"node-0", "m"};
  lln_metric_add(&LLN_M_RETRIES, first, 1);
  assert_true(rendered("llmnet_upstream_retries_total{node=\"node-0\",model=\"m\"} ") == 2);
  assert_true(rendered("\nllmnet_metrics_dropped_updates_total ") == 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_series_by_label_values),
      cmocka_unit_test(test_full_table_counts_dropped_updates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
