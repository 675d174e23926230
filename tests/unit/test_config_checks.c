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

#include "config_fixtures.h"

static const lln_load_mode MODES[] = {LLN_LOAD_VALIDATE, LLN_LOAD_RUN};

static int load(lln_config *cfg, lln_diags *d, const char *name, lln_load_mode mode) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", LLN_FIXTURES, name);
  lln_load_options opts = {.mode = mode};
  lln_diags_init(d, path);
  return lln_config_load(cfg, path, &opts, d);
}

/* The first error whose message contains every needle (a NULL-terminated
 * list). */
#define find_error(d, ...) find_diag((d), LLN_DIAG_ERROR, __VA_ARGS__)

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

/* ---- item 16: header values checked after substitution ---- */

#define NL_SECRET "sk-secret-0123456789"

static void test_header_line_break_after_substitution(void **state) {
  (void)state;
  setenv("LLN_TEST_NL_HEADER", "ok\r\nX-Injected: 1", 1);
  setenv("LLN_TEST_NL_KEY", NL_SECRET "\nX-Evil: 1", 1);
  for (size_t m = 0; m < 2; m++) {
    lln_config cfg;
    lln_diags d;
    assert_int_equal(load(&cfg, &d, "bad-header-newline.json", MODES[m]), -1);
    assert_non_null(find_error(&d, "model \"m\": header X-Team", "line break", NULL));
    assert_non_null(find_error(&d, "model \"m\": api-key", "line break", NULL));
    assert_non_null(find_error(&d, "function \"notify\": header X-Auth", "line break", NULL));
    assert_non_null(find_error(&d, "server: api-keys[0]", "line break", NULL));
    expect_no_diag_contains(&d, NL_SECRET);
    expect_no_diag_contains(&d, "X-Injected");
    lln_diags_free(&d);
  }
  /* the same file with one-line values loads */
  setenv("LLN_TEST_NL_HEADER", "one-line", 1);
  setenv("LLN_TEST_NL_KEY", NL_SECRET, 1);
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load(&cfg, &d, "bad-header-newline.json", LLN_LOAD_RUN), 0);
  assert_string_equal(cfg.models[0].headers[0], "X-Team: team-one-line");
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_NL_HEADER");
  unsetenv("LLN_TEST_NL_KEY");
}

/* "\u0000" would cut the C string silently: refused where it is written. */
static void test_nul_escape_refused(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load(&cfg, &d, "bad-nul-escape.json", LLN_LOAD_VALIDATE), -1);
  const lln_diag *g = find_error(&d, "NUL", NULL);
  assert_non_null(g);
  assert_int_equal(g->line, 2);
  lln_diags_free(&d);
}

/* ---- item 21: fallback cycles ---- */

static void test_fallback_cycle_reported(void **state) {
  (void)state;
  for (size_t m = 0; m < 2; m++) {
    lln_config cfg;
    lln_diags d;
    assert_int_equal(load(&cfg, &d, "bad-fallback-cycle.json", MODES[m]), -1);
    const lln_diag *g = find_error(&d, "fallbacks form a cycle", "a -> b -> c -> a", NULL);
    assert_non_null(g);
    assert_int_equal(g->line, 8); /* c's "fallback": ["a"] closes it */
    assert_non_null(strstr(g->message, "remove \"a\" from the \"fallback\" of node \"c\""));
    lln_diags_free(&d);
  }
}

static void test_fallback_chain_without_cycle_loads(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load(&cfg, &d, "fallback-chain.json", LLN_LOAD_RUN), 0);
  assert_int_equal(d.errors, 0);
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

/* ---- item 24: extra-options llmnet sets itself ---- */

static void test_reserved_extra_options(void **state) {
  (void)state;
  for (size_t m = 0; m < 2; m++) {
    lln_config cfg;
    lln_diags d;
    assert_int_equal(load(&cfg, &d, "bad-reserved-options.json", MODES[m]), -1);
    assert_non_null(find_error(&d, "node \"chat\"", "\"model\"", "model_override", NULL));
    assert_non_null(find_error(&d, "node \"chat\"", "\"stream\"", "remove it", NULL));
    assert_non_null(find_error(&d, "node \"chat\"", "\"messages\"", "remove it", NULL));
    assert_null(find_error(&d, "temperature", NULL));
    assert_int_equal(d.errors, 3);
    lln_diags_free(&d);
  }
}

/* ---- item 14: --dry-run masks an api-key whatever it contains ---- */

#define DOLLAR_KEY "sk-live$ABC$$def{0123456789}xyz"

static char *describe(const lln_config *cfg) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  lln_config_describe(cfg, "127.0.0.1", 8080, f);
  fclose(f);
  return text;
}

static void test_dry_run_masks_key_with_dollar(void **state) {
  (void)state;
  setenv("LLN_TEST_NL_KEY", DOLLAR_KEY, 1);
  setenv("LLN_TEST_NL_HEADER", "h", 1);
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load(&cfg, &d, "bad-header-newline.json", LLN_LOAD_VALIDATE), 0);
  assert_string_equal(cfg.models[0].api_key, DOLLAR_KEY);
  char *text = describe(&cfg);
  if (strstr(text, "$ABC") || strstr(text, "def{0123"))
    fail_msg("--dry-run shows the key:\n%s", text);
  assert_non_null(strstr(text, "key sk-\xe2\x80\xa6}xyz"));
  free(text);
  lln_config_free(&cfg);
  lln_diags_free(&d);

  /* an unset variable is named, and nothing of the rest of the key shows */
  unsetenv("LLN_TEST_NL_KEY");
  assert_int_equal(load(&cfg, &d, "bad-header-newline.json", LLN_LOAD_VALIDATE), 0);
  text = describe(&cfg);
  assert_non_null(strstr(text, "key $LLN_TEST_NL_KEY (not set)"));
  free(text);
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_NL_HEADER");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_api_key_refused),
      cmocka_unit_test(test_unset_api_key_is_not_empty),
      cmocka_unit_test(test_header_line_break_after_substitution),
      cmocka_unit_test(test_nul_escape_refused),
      cmocka_unit_test(test_fallback_cycle_reported),
      cmocka_unit_test(test_fallback_chain_without_cycle_loads),
      cmocka_unit_test(test_reserved_extra_options),
      cmocka_unit_test(test_dry_run_masks_key_with_dollar),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
