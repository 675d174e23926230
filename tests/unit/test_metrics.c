/* test_metrics: the series table's bound. Once a thread's table is full,
 * updates of new series are dropped, counted in
 * llmnet_metrics_dropped_updates_total and logged once; series that exist
 * keep counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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
      cmocka_unit_test(test_full_table_counts_dropped_updates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
