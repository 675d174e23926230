/* test_budget: a models entry's budget at run time (src/upstream/budget.c
 * and the budget half of src/upstream/ratelimit.c) over the in-process
 * store: one take for the entry's own limits and its budget's, which limit
 * a refusal names and which queue applies, the refusal's message, spending
 * dollars against usd-per-day, the budget's queue, and the stats a process
 * reports (lln_budget_stats_json). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "upstream/budget.h"
#include "upstream/quota.h"
#include "upstream/ratelimit.h"

#include "store_answer.h"

static answer take(lln_ratelimit *rl, const lln_model *ep) {
  answer t = {0};
  assert_null(lln_ratelimit_acquire_entry(rl, ep, on_counts, &t)); /* the memory store answers at once */
  assert_int_equal(t.called, 1);
  return t;
}

typedef struct {
  lln_store *store;
  lln_ratelimit *rl;
} env;

static int setup(void **state) {
  static env e;
  char err[128];
  assert_int_equal(lln_store_create(&e.store, NULL, "memory", err, sizeof err), 0);
  assert_int_equal(lln_ratelimit_create(&e.rl, e.store), 0);
  *state = &e;
  return 0;
}

static int teardown(void **state) {
  env *e = *state;
  lln_ratelimit_close(e->rl);
  lln_store_close(e->store);
  return 0;
}

/* Tests that count in the real current minute start well inside it. */
static void away_from_minute_edge(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec % 60 >= 55) {
    struct timespec nap = {61 - ts.tv_sec % 60, 0};
    nanosleep(&nap, NULL);
  }
}

static lln_model entry(const char *key, lln_budget *b) {
  lln_model m = {0};
  m.key = (char *)key;
  m.rl_queue = 7;
  m.rl_max_wait_ms = 1000;
  m.budget = b;
  return m;
}

/* Two entries naming one budget spend it together; the refusal names the
 * budget's day limit and its queue. */
static void test_shared_day(void **state) {
  env *e = *state;
  lln_budget b = {.name = "shared-day", .rpd = 3, .queue = 2, .max_wait_ms = 5000};
  lln_model a = entry("a", &b), c = entry("c", &b);
  for (int i = 0; i < 3; i++) {
    answer t = take(e->rl, i % 2 ? &c : &a);
    assert_int_equal(t.wait, 0);
    assert_int_equal(t.counts[LLN_RL_WIN_BUDGET_DAY], i + 1);
    lln_ratelimit_verdict v = lln_ratelimit_verdict_of(i % 2 ? &c : &a, t.wait, t.counts, t.n);
    assert_null(v.budget);
  }
  answer t = take(e->rl, &c);
  assert_true(t.wait > 0 && t.wait <= LLN_RATELIMIT_DAY_MS);
  lln_ratelimit_verdict v = lln_ratelimit_verdict_of(&c, t.wait, t.counts, t.n);
  assert_ptr_equal(v.budget, &b);
  assert_int_equal(v.limit, LLN_LIMIT_RPD);
  assert_int_equal(v.queue, 2);
  assert_int_equal(v.max_wait_ms, 5000);
  char msg[300];
  lln_ratelimit_describe(&c, &v, msg, sizeof msg);
  assert_non_null(
      strstr(msg, "budget \"shared-day\" (3 requests per UTC day) is spent; it resets at 00:00 UTC, in "));
}

/* The entry's own rpm and its budget's rpm in one take: the entry's limit
 * fills first and is named (its queue applies); nothing was counted in the
 * budget by the refusal. */
static void test_own_limit_first(void **state) {
  env *e = *state;
  away_from_minute_edge();
  lln_budget b = {.name = "wide", .rpm = 10, .queue = 2, .max_wait_ms = 5000};
  lln_model a = entry("own-first", &b);
  a.rpm = 1;
  assert_int_equal(take(e->rl, &a).wait, 0);
  answer t = take(e->rl, &a);
  assert_true(t.wait > 0 && t.wait <= LLN_RATELIMIT_MINUTE_MS);
  assert_int_equal(t.counts[LLN_RL_WIN_BUDGET_MINUTE], 1);
  lln_ratelimit_verdict v = lln_ratelimit_verdict_of(&a, t.wait, t.counts, t.n);
  assert_null(v.budget);
  assert_int_equal(v.limit, LLN_LIMIT_RPM);
  assert_int_equal(v.queue, 7);
  char msg[300];
  lln_ratelimit_describe(&a, &v, msg, sizeof msg);
  assert_non_null(strstr(msg, "llmnet's rate limit for this model (rpm 1, rpd 0) is reached"));
  /* another entry on the same budget still passes */
  lln_model other = entry("own-first-2", &b);
  assert_int_equal(take(e->rl, &other).wait, 0);
}

static void test_minute_message(void **state) {
  env *e = *state;
  away_from_minute_edge();
  lln_budget b = {.name = "per-minute", .rpm = 1, .queue = 1, .max_wait_ms = 0};
  lln_model a = entry("pm", &b);
  assert_int_equal(take(e->rl, &a).wait, 0);
  answer t = take(e->rl, &a);
  lln_ratelimit_verdict v = lln_ratelimit_verdict_of(&a, t.wait, t.counts, t.n);
  assert_ptr_equal(v.budget, &b);
  assert_int_equal(v.limit, LLN_LIMIT_RPM);
  char msg[300];
  lln_ratelimit_describe(&a, &v, msg, sizeof msg);
  assert_non_null(strstr(msg, "budget \"per-minute\" (1 request per minute) is spent; it resets in "));
  assert_null(strstr(msg, "00:00 UTC"));
}

/* usd-per-day: spend is added after calls; a call is refused once the
 * day's spend has reached the limit, never before. */
static void test_dollars(void **state) {
  env *e = *state;
  lln_budget b = {.name = "dollars", .usd_per_day = 0.01, .queue = 1, .max_wait_ms = 1000};
  lln_model a = entry("usd", &b);
  assert_int_equal(take(e->rl, &a).wait, 0);
  lln_ratelimit_spend(e->rl, &b, 0.006);
  answer t = take(e->rl, &a);
  assert_int_equal(t.wait, 0);
  assert_int_equal(t.counts[LLN_RL_WIN_BUDGET_USD], 6000000);
  lln_ratelimit_spend(e->rl, &b, 0.004);
  lln_ratelimit_spend(e->rl, &b, -1);  /* ignored */
  lln_ratelimit_spend(e->rl, NULL, 1); /* no budget: nothing */
  t = take(e->rl, &a);
  assert_true(t.wait > 0);
  assert_int_equal(t.counts[LLN_RL_WIN_BUDGET_USD], 10000000);
  lln_ratelimit_verdict v = lln_ratelimit_verdict_of(&a, t.wait, t.counts, t.n);
  assert_int_equal(v.limit, LLN_LIMIT_USD);
  char msg[300];
  lln_ratelimit_describe(&a, &v, msg, sizeof msg);
  assert_non_null(strstr(msg, "budget \"dollars\" ($0.01 per UTC day) is spent; it resets at 00:00 UTC"));
  /* the stats show what this process saw: 2 calls and $0.01 today */
  lln_config cfg = {0};
  cfg.budgets = &b;
  cfg.n_budgets = 1;
  cJSON *arr = cJSON_CreateArray();
  lln_budget_stats_json(arr, &cfg);
  assert_int_equal(cJSON_GetArraySize(arr), 1);
  cJSON *o = cJSON_GetArrayItem(arr, 0);
  assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "dollars");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "rpm")));
  assert_int_equal(cJSON_GetObjectItem(o, "requests_today")->valueint, 2);
  assert_true(cJSON_GetObjectItem(o, "usd_today")->valuedouble > 0.00999 &&
              cJSON_GetObjectItem(o, "usd_today")->valuedouble < 0.01001);
  assert_true(cJSON_GetObjectItem(o, "usd_per_day")->valuedouble == 0.01);
  double day_reset = cJSON_GetObjectItem(o, "day_resets_at")->valuedouble;
  assert_true((long long)day_reset % LLN_RATELIMIT_DAY_MS == 0);
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "seen_at")));
  cJSON_Delete(arr);
}

/* A budget never seen reads zeros; the queue holds at most `queue`. */
static void test_queue_and_unseen(void **state) {
  (void)state;
  lln_budget b = {.name = "queue-only", .rpd = 5, .queue = 2};
  assert_int_equal(lln_budget_enqueue(&b), 1);
  assert_int_equal(lln_budget_enqueue(&b), 1);
  assert_int_equal(lln_budget_enqueue(&b), 0);
  lln_budget_dequeue(&b);
  assert_int_equal(lln_budget_enqueue(&b), 1);
  lln_budget_dequeue(&b);
  lln_budget_dequeue(&b);
  lln_config cfg = {0};
  cfg.budgets = &b;
  cfg.n_budgets = 1;
  cJSON *arr = cJSON_CreateArray();
  lln_budget_stats_json(arr, &cfg);
  cJSON *o = cJSON_GetArrayItem(arr, 0);
  assert_int_equal(cJSON_GetObjectItem(o, "rpd")->valueint, 5);
  assert_int_equal(cJSON_GetObjectItem(o, "requests_today")->valueint, 0);
  assert_int_equal(cJSON_GetObjectItem(o, "waiting")->valueint, 0);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "seen_at")));
  cJSON_Delete(arr);
}

/* What a provider's key endpoint answers (OpenRouter's GET /api/v1/key). */
static void test_quota_parse(void **state) {
  (void)state;
  double usage, left;
  const char *ok = "{\"data\": {\"usage_daily\": 0.25, \"limit_remaining\": 4.5, \"is_free_tier\": false}}";
  assert_int_equal(lln_quota_parse(ok, strlen(ok), &usage, &left), 0);
  assert_true(usage == 0.25 && left == 4.5);
  const char *unlimited = "{\"data\": {\"usage_daily\": 0, \"limit_remaining\": null}}";
  assert_int_equal(lln_quota_parse(unlimited, strlen(unlimited), &usage, &left), 0);
  assert_true(usage == 0 && isnan(left));
  const char *bad[] = {"{}", "not json", "{\"data\": {\"usage_daily\": \"1\"}}",
                       "{\"data\": {\"usage_daily\": -1}}", "{\"data\": []}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(lln_quota_parse(bad[i], strlen(bad[i]), &usage, &left), -1);
}

/* A provider's figure raises today's spend (never lowers it). */
static void test_raise_spend(void **state) {
  env *e = *state;
  lln_budget b = {.name = "raised", .usd_per_day = 1, .queue = 1};
  lln_model a = entry("raised", &b);
  lln_ratelimit_raise_spend(e->rl, &b, 0.5);
  assert_int_equal(take(e->rl, &a).counts[LLN_RL_WIN_BUDGET_USD], 500000000);
  lln_ratelimit_raise_spend(e->rl, &b, 0.2);
  assert_int_equal(take(e->rl, &a).counts[LLN_RL_WIN_BUDGET_USD], 500000000);
  lln_ratelimit_raise_spend(e->rl, &b, 1.0);
  assert_true(take(e->rl, &a).wait > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_shared_day, setup, teardown),
      cmocka_unit_test_setup_teardown(test_own_limit_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_minute_message, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dollars, setup, teardown),
      cmocka_unit_test(test_queue_and_unseen),
      cmocka_unit_test(test_quota_parse),
      cmocka_unit_test_setup_teardown(test_raise_spend, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
