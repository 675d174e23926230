/* test_cost: what one call cost (src/pipeline/cost.c): usage.cost as
 * reported wins over a price, a price computes the cost from the token
 * counts (cached prompt tokens at their own price), and garbage (negative,
 * NaN, infinite, 1e300, strings, fractional counts, more cached tokens than
 * prompt tokens) is ignored, never trusted and never a crash. Also the
 * models entry's "price" as the loader reads it (src/config/price.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config_fixtures.h"
#include "pipeline/cost.h"

/* $1 per million prompt tokens, $2 per million completion tokens. */
static const lln_price PRICE = {.set = 1, .prompt = 1.0, .completion = 2.0};
/* The same with cached prompt tokens at $0.25 per million. */
static const lln_price CACHED = {
    .set = 1, .prompt = 1.0, .completion = 2.0, .has_cached = 1, .cached_prompt = 0.25};

static lln_cost cost_of(const char *usage_json, const lln_price *price) {
  cJSON *usage = usage_json ? cJSON_Parse(usage_json) : NULL;
  if (usage_json)
    assert_non_null(usage);
  lln_cost c = lln_cost_of(usage, price, "test");
  cJSON_Delete(usage);
  return c;
}

static void assert_usd(double got, double want) {
  if (fabs(got - want) > 1e-15 + fabs(want) * 1e-12)
    fail_msg("cost %.17g, expected %.17g", got, want);
}

static void test_reported_cost(void **state) {
  (void)state;
  lln_cost c = cost_of("{\"prompt_tokens\": 10, \"completion_tokens\": 5, \"cost\": 0.00042}", NULL);
  assert_int_equal(c.source, LLN_COST_REPORTED);
  assert_usd(c.usd, 0.00042);
  assert_string_equal(lln_cost_source_name(c.source), "reported");
  /* zero is a cost (a free model), not an absence */
  c = cost_of("{\"prompt_tokens\": 10, \"completion_tokens\": 5, \"cost\": 0}", NULL);
  assert_int_equal(c.source, LLN_COST_REPORTED);
  assert_usd(c.usd, 0);
}

static void test_reported_wins_over_price(void **state) {
  (void)state;
  lln_cost c = cost_of("{\"prompt_tokens\": 1000, \"completion_tokens\": 1000, \"cost\": 0.5}", &PRICE);
  assert_int_equal(c.source, LLN_COST_REPORTED);
  assert_usd(c.usd, 0.5);
}

static void test_computed_cost(void **state) {
  (void)state;
  lln_cost c =
      cost_of("{\"prompt_tokens\": 1000, \"completion_tokens\": 500, \"total_tokens\": 1500}", &PRICE);
  assert_int_equal(c.source, LLN_COST_COMPUTED);
  assert_string_equal(lln_cost_source_name(c.source), "computed");
  /* 1000 * $1/M + 500 * $2/M */
  assert_usd(c.usd, 0.002);
  /* a null cost is no cost: the price applies */
  c = cost_of("{\"prompt_tokens\": 1000, \"completion_tokens\": 0, \"cost\": null}", &PRICE);
  assert_int_equal(c.source, LLN_COST_COMPUTED);
  assert_usd(c.usd, 0.001);
}

static void test_cached_tokens(void **state) {
  (void)state;
  const char *u = "{\"prompt_tokens\": 1000, \"completion_tokens\": 100,"
                  " \"prompt_tokens_details\": {\"cached_tokens\": 800}}";
  /* 200 uncached at $1, 800 cached at $0.25, 100 completion at $2 */
  lln_cost c = cost_of(u, &CACHED);
  assert_int_equal(c.source, LLN_COST_COMPUTED);
  assert_usd(c.usd, (200 * 1.0 + 800 * 0.25 + 100 * 2.0) / 1e6);
  /* without a cached-prompt price every prompt token is a prompt token */
  c = cost_of(u, &PRICE);
  assert_usd(c.usd, (1000 * 1.0 + 100 * 2.0) / 1e6);
  /* cached tokens that cannot be: priced as uncached */
  c = cost_of("{\"prompt_tokens\": 10, \"completion_tokens\": 0,"
              " \"prompt_tokens_details\": {\"cached_tokens\": 20}}",
              &CACHED);
  assert_usd(c.usd, 10 / 1e6);
  c = cost_of("{\"prompt_tokens\": 10, \"completion_tokens\": 0,"
              " \"prompt_tokens_details\": {\"cached_tokens\": \"5\"}}",
              &CACHED);
  assert_usd(c.usd, 10 / 1e6);
  c = cost_of("{\"prompt_tokens\": 10, \"completion_tokens\": 0, \"prompt_tokens_details\": 7}", &CACHED);
  assert_usd(c.usd, 10 / 1e6);
}

/* usage.cost values that are not a cost: ignored; the price (when there is
 * one) applies instead, and the reason is worth telling without one. */
static void test_garbage_reported(void **state) {
  (void)state;
  static const char *const bad[] = {"-0.01", "1e300", "\"0.01\"", "true", "{}", "[1]", "1e999", "-1e999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char u[200];
    snprintf(u, sizeof u, "{\"prompt_tokens\": 1000, \"completion_tokens\": 0, \"cost\": %s}", bad[i]);
    lln_cost c = cost_of(u, NULL);
    if (c.source != LLN_COST_UNKNOWN)
      fail_msg("usage.cost %s was taken for a cost", bad[i]);
    assert_true(c.telling);
    assert_non_null(strstr(c.why, "usage.cost"));
    c = cost_of(u, &PRICE);
    assert_int_equal(c.source, LLN_COST_COMPUTED);
    assert_usd(c.usd, 0.001);
  }
  /* NaN cannot be written in JSON; a tree can still carry it */
  cJSON *usage = cJSON_CreateObject();
  cJSON_AddNumberToObject(usage, "cost", NAN);
  lln_cost c = lln_cost_of(usage, NULL, "test");
  assert_int_equal(c.source, LLN_COST_UNKNOWN);
  cJSON_Delete(usage);
}

static void test_garbage_tokens(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"prompt_tokens\": -5, \"completion_tokens\": 1}",
      "{\"prompt_tokens\": 1.5, \"completion_tokens\": 1}",
      "{\"prompt_tokens\": 1e300, \"completion_tokens\": 1}",
      "{\"prompt_tokens\": \"10\", \"completion_tokens\": 1}",
      "{\"prompt_tokens\": 10}",
      "{\"completion_tokens\": 10}",
      "{}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    lln_cost c = cost_of(bad[i], &PRICE);
    if (c.source != LLN_COST_UNKNOWN)
      fail_msg("%s was priced", bad[i]);
    assert_true(c.telling);
  }
  /* a huge but whole count at the highest price: above LLN_COST_MAX_USD */
  const lln_price dear = {.set = 1, .prompt = 1e6, .completion = 1e6};
  lln_cost c = cost_of("{\"prompt_tokens\": 9000000000000000, \"completion_tokens\": 0}", &dear);
  assert_int_equal(c.source, LLN_COST_UNKNOWN);
}

static void test_nothing_to_go_on(void **state) {
  (void)state;
  lln_cost c = cost_of(NULL, &PRICE);
  assert_int_equal(c.source, LLN_COST_UNKNOWN);
  assert_false(c.telling);
  assert_null(lln_cost_source_name(c.source));
  c = cost_of("[]", &PRICE);
  assert_int_equal(c.source, LLN_COST_UNKNOWN);
  /* no cost and no price: unknown, and common enough not to be traced */
  c = cost_of("{\"prompt_tokens\": 10, \"completion_tokens\": 5}", NULL);
  assert_int_equal(c.source, LLN_COST_UNKNOWN);
  assert_false(c.telling);
  const lln_price unset = {0};
  c = cost_of("{\"prompt_tokens\": 10, \"completion_tokens\": 5}", &unset);
  assert_int_equal(c.source, LLN_COST_UNKNOWN);
}

/* ---- "price" in a models entry ---- */

static char *with_price(const char *price) {
  static const char fmt[] =
      "{\"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://127.0.0.1:9/v1\","
      " \"price\": %s}},\n"
      " \"architecture\": [{\"name\": \"a\", \"layer\": 0, \"model\": \"m\"}]}";
  size_t n = sizeof fmt + strlen(price);
  char *s = malloc(n);
  assert_non_null(s);
  snprintf(s, n, fmt, price);
  return s;
}

static void test_price_loads(void **state) {
  (void)state;
  char *json = with_price("{\"prompt\": 0.15, \"completion\": 0.6, \"cached-prompt\": 0.075}");
  lln_config cfg;
  load_text(&cfg, json);
  const lln_price *p = &cfg.models[0].price;
  assert_true(p->set);
  assert_usd(p->prompt, 0.15);
  assert_usd(p->completion, 0.6);
  assert_true(p->has_cached);
  assert_usd(p->cached_prompt, 0.075);
  lln_config_free(&cfg);
  free(json);
  json = with_price("{\"prompt\": 0, \"completion\": 3}");
  load_text(&cfg, json);
  assert_true(cfg.models[0].price.set);
  assert_false(cfg.models[0].price.has_cached);
  lln_config_free(&cfg);
  free(json);
}

static void price_error(const char *price, const char *needle1, const char *needle2) {
  char *json = with_price(price);
  char path[] = "/tmp/llmnet-price-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
  close(fd);
  lln_load_options opts = {.mode = LLN_LOAD_VALIDATE};
  lln_diags d;
  lln_diags_init(&d, path);
  lln_config cfg;
  int rc = lln_config_load(&cfg, path, &opts, &d);
  unlink(path);
  if (rc == 0)
    fail_msg("expected an error for price %s", price);
  if (!find_diag(&d, LLN_DIAG_ERROR, "model \"m\"", needle1, needle2, NULL)) {
    lln_diags_print(&d, stderr);
    fail_msg("price %s: no error with \"%s\" and \"%s\"", price, needle1, needle2 ? needle2 : "");
  }
  lln_diags_free(&d);
  free(json);
}

static void test_price_errors(void **state) {
  (void)state;
  price_error("{\"prompt\": 1}", "needs \"completion\"", "remove \"price\"");
  price_error("{\"completion\": 1}", "needs \"prompt\"", NULL);
  price_error("{\"prompt\": -1, \"completion\": 1}", "price \"prompt\" must be a number", "from 0");
  price_error("{\"prompt\": \"0.1\", \"completion\": 1}", "price \"prompt\" must be a number", NULL);
  price_error("{\"prompt\": 1, \"completion\": 1e300}", "price \"completion\"", "1000000");
  price_error("{\"prompt\": 1, \"completion\": 1, \"cached-prompt\": null}", "price \"cached-prompt\"", NULL);
  price_error("{\"prompt\": 1, \"completion\": 1, \"completon\": 2}", "unknown key \"completon\"",
              "did you mean \"completion\"");
  price_error("{\"prompt\": 1, \"completion\": 1, \"currency\": \"EUR\"}", "unknown key \"currency\"",
              "\"cached-prompt\"");
  price_error("0.5", "\"price\" must be an object", "{\"prompt\"");
  price_error("[1, 2]", "\"price\" must be an object", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reported_cost),    cmocka_unit_test(test_reported_wins_over_price),
      cmocka_unit_test(test_computed_cost),    cmocka_unit_test(test_cached_tokens),
      cmocka_unit_test(test_garbage_reported), cmocka_unit_test(test_garbage_tokens),
      cmocka_unit_test(test_nothing_to_go_on), cmocka_unit_test(test_price_loads),
      cmocka_unit_test(test_price_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
