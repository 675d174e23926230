/* test_config_checks: the checks the loader makes on substituted values and
 * on the whole graph, at validate and at run alike: api keys that
 * substitute to nothing, header values with a line break once substituted
 * (models, api keys, hook functions), NUL escapes, fallback cycles,
 * extra-options that llmnet writes itself, and --dry-run's masking of an
 * api-key that contains '$'. Fixtures live in tests/fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/describe.h"

#ifndef LLN_FIXTURES
#error "LLN_FIXTURES must name the fixtures directory"
#endif

static const lln_load_mode MODES[] = {LLN_LOAD_VALIDATE, LLN_LOAD_RUN};

static int load(lln_config *cfg, lln_diags *d, const char *name, lln_load_mode mode) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", LLN_FIXTURES, name);
  lln_load_options opts = {.mode = mode};
  lln_diags_init(d, path);
  return lln_config_load(cfg, path, &opts, d);
}

/* The first error whose message contains every NULL-terminated needle. */
static const lln_diag *find_error(const lln_diags *d, ...) {
  for (size_t i = 0; i < d->count; i++) {
    const lln_diag *g = &d->items[i];
    if (g->severity != LLN_DIAG_ERROR)
      continue;
    int all = 1;
    va_list ap;
    va_start(ap, d);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *)) {
      if (!strstr(g->message, n))
        all = 0;
    }
    va_end(ap);
    if (all)
      return g;
  }
  lln_diags_print(d, stderr);
  return NULL;
}

/* ---- item 12: api keys that substitute to empty or blank ---- */

static void test_empty_api_key_refused(void **state) {
  (void)state;
  setenv("LLN_TEST_EMPTY_KEY", "", 1);
  for (size_t m = 0; m < 2; m++) {
    lln_config cfg;
    lln_diags d;
    assert_int_equal(load(&cfg, &d, "bad-empty-api-key.json", MODES[m]), -1);
    const lln_diag *g = find_error(&d, "api-keys[1]", "$LLN_TEST_EMPTY_KEY", "empty", NULL);
    assert_non_null(g);
    assert_int_equal(g->line, 4);
    assert_non_null(find_error(&d, "api-keys[2]", "whitespace", NULL));
    assert_null(find_error(&d, "api-keys[0]", NULL));
    lln_diags_free(&d);
  }
  /* blanks from the variable are refused the same way */
  setenv("LLN_TEST_EMPTY_KEY", " \t ", 1);
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load(&cfg, &d, "bad-empty-api-key.json", LLN_LOAD_RUN), -1);
  assert_non_null(find_error(&d, "api-keys[1]", "only whitespace", "$LLN_TEST_EMPTY_KEY", NULL));
  lln_diags_free(&d);
  unsetenv("LLN_TEST_EMPTY_KEY");
}

/* An unset variable is still a warning at validate (and an error at run),
 * not an "empty key". */
static void test_unset_api_key_is_not_empty(void **state) {
  (void)state;
  unsetenv("LLN_TEST_EMPTY_KEY");
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load(&cfg, &d, "bad-empty-api-key.json", LLN_LOAD_VALIDATE), -1);
  assert_null(find_error(&d, "api-keys[1]", NULL));
  assert_non_null(find_error(&d, "api-keys[2]", NULL));
  lln_diags_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_api_key_refused),
      cmocka_unit_test(test_unset_api_key_is_not_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
