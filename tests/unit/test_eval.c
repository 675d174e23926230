/* test_eval: `llmnet eval`'s cases file reader and its reports, without a
 * network: the reader's accepted shapes and its FILE:LINE errors, and the
 * report's figures on outcomes set by the test (the nearest-rank latency
 * percentiles over the cases the router decided, the confusion table, the
 * accuracy, the failures). The runs themselves are tested end to end in
 * tests/integration/eval.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "server/eval_int.h"
#include "util/xalloc.h"

#include "config_fixtures.h"

/* Writes `text` to a temporary cases file; the caller unlinks it. */
static char *cases_file(const char *text) {
  char *path = strdup("/tmp/llmnet-eval-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

/* Reads `text` as a cases file of the seed pipeline; returns the reader's
 * status and what it printed on err. */
static int read_cases(const char *text, lln_eval_cases *cs, char **err_text) {
  lln_config cfg;
  load_fixture(&cfg, "seed-pipeline.json");
  char *path = cases_file(text);
  char *buf = NULL;
  size_t len = 0;
  FILE *err = open_memstream(&buf, &len);
  int rc = lln_eval_cases_read(cs, path, &cfg, err);
  fclose(err);
  unlink(path);
  free(path);
  lln_config_free(&cfg);
  *err_text = buf;
  return rc;
}

static void test_reads_prompts_messages_sessions(void **state) {
  (void)state;
  lln_eval_cases cs;
  char *err;
  int rc = read_cases(
      "{\"prompt\": \"Write a haiku\", \"expect\": \"creative-handler\", \"note\": \"why\"}\n"
      "\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"expect\": \"technical-handler\", "
      "\"session\": \"s-1\", \"headers\": {\"X-Tier\": \"gold\"}}\n",
      &cs, &err);
  assert_int_equal(rc, 0);
  assert_string_equal(err, "");
  assert_int_equal(cs.n, 2);
  assert_int_equal(cs.items[0].line, 1);
  assert_int_equal(cs.items[1].line, 3); /* the blank line counts */
  cJSON *body = cJSON_Parse(cs.items[0].body);
  const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 0);
  assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, "user");
  assert_string_equal(cJSON_GetObjectItem(m, "content")->valuestring, "Write a haiku");
  assert_null(cJSON_GetObjectItem(body, "expect")); /* only the request goes to the run */
  cJSON_Delete(body);
  assert_string_equal(cs.items[1].expect, "technical-handler");
  assert_int_equal(cs.items[1].n_headers, 2);
  assert_string_equal(cs.items[1].headers[0].name, "x-session-id");
  assert_string_equal(cs.items[1].headers[0].value, "s-1");
  assert_string_equal(cs.items[1].headers[1].name, "X-Tier");
  lln_eval_cases_free(&cs);
  free(err);
}

static void test_bad_lines_name_file_line_and_fix(void **state) {
  (void)state;
  lln_eval_cases cs;
  char *err;
  int rc = read_cases("{\"prompt\": \"ok\", \"expect\": \"creative-handler\"}\n"
                      "[1, 2]\n"
                      "{\"prompt\": \"x\", \"expect\": \"nobody\"}\n"
                      "{\"prompt\": 3, \"expect\": \"router\"}\n"
                      "{\"messages\": [], \"expect\": \"router\"}\n"
                      "{\"prompt\": \"x\", \"expect\": \"router\", \"session\": \"\"}\n"
                      "{\"prompt\": \"x\", \"expect\": \"router\", \"headers\": {\"a\": 1}}\n",
                      &cs, &err);
  assert_int_equal(rc, -1);
  assert_int_equal(cs.n, 0); /* nothing is kept when a line is bad */
  assert_non_null(strstr(err, ":2: not a JSON object; each line is one case"));
  assert_non_null(strstr(err, ":3: \"expect\": \"nobody\" is not a node of"));
  assert_non_null(strstr(err, "(its nodes: router, creative-handler, technical-handler)"));
  assert_non_null(strstr(err, ":4: \"prompt\" must be a string"));
  assert_non_null(strstr(err, ":5: \"messages\" must be a non-empty array"));
  assert_non_null(strstr(err, ":6: \"session\" must be a non-empty string"));
  assert_non_null(strstr(err, ":7: header \"a\" must be a string"));
  assert_null(strstr(err, ":1:"));
  free(err);
}

static void test_problems_are_capped(void **state) {
  (void)state;
  char text[4096] = "";
  for (int i = 0; i < LLN_EVAL_MAX_PROBLEMS + 5; i++)
    strcat(text, "nope\n");
  lln_eval_cases cs;
  char *err;
  assert_int_equal(read_cases(text, &cs, &err), -1);
  assert_non_null(strstr(err, "... and 5 more problems"));
  free(err);
}

static void test_line_bound(void **state) {
  (void)state;
  size_t n = LLN_EVAL_MAX_LINE + 64;
  char *text = malloc(n + 256);
  strcpy(text, "{\"prompt\": \"ok\", \"expect\": \"router\"}\n{\"prompt\": \"");
  size_t at = strlen(text);
  memset(text + at, 'a', n);
  strcpy(text + at + n, "\", \"expect\": \"router\"}\n");
  lln_eval_cases cs;
  char *err;
  assert_int_equal(read_cases(text, &cs, &err), -1);
  assert_non_null(strstr(err, ":2: the line is "));
  assert_non_null(strstr(err, "over the limit of 4194304; split the conversation"));
  free(err);
  free(text);
}

/* A case with its outcome, as eval.c records it. */
static void outcome(lln_eval_case *c, long line, const char *expect, const char *chose, const char *decided,
                    double ms) {
  memset(c, 0, sizeof *c);
  c->line = line;
  c->expect = lln_xstrdup(expect);
  c->body = lln_xstrdup("{}");
  c->status = chose ? 200 : 400;
  c->chose = chose ? lln_xstrdup(chose) : NULL;
  c->decided = decided ? lln_xstrdup(decided) : NULL;
  c->decision_ms = ms;
  c->tokens = decided && strcmp(decided, "router") == 0 ? 10 : 0;
  c->router_calls = c->tokens ? 1 : 0;
  if (!chose)
    c->error = lln_xstrdup("bad request");
}

static cJSON *json_report(lln_eval_cases *cs) {
  lln_config cfg;
  load_fixture(&cfg, "seed-pipeline.json");
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  lln_eval_report_json(cs, &cfg, out);
  fclose(out);
  lln_config_free(&cfg);
  cJSON *j = cJSON_Parse(buf);
  assert_non_null(j);
  free(buf);
  return j;
}

static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  assert_true(cJSON_IsNumber(v));
  return v->valuedouble;
}

static void test_report_figures(void **state) {
  (void)state;
  /* 100 router decisions of 1..100 ms (shuffled), a pin at 0.01 ms and a
   * refused request: the percentiles are over the router's 100 only */
  lln_eval_cases cs = {.n = 102};
  cs.items = calloc(cs.n, sizeof *cs.items);
  for (int i = 0; i < 100; i++) {
    int ms = (i * 37) % 100 + 1;
    int wrong = ms <= 10; /* ten technical cases go to creative */
    outcome(&cs.items[i], i + 1, ms % 2 ? "technical-handler" : "creative-handler",
            wrong    ? "creative-handler"
            : ms % 2 ? "technical-handler"
                     : "creative-handler",
            "router", ms);
  }
  outcome(&cs.items[100], 101, "creative-handler", "creative-handler", "pin", 0.01);
  outcome(&cs.items[101], 102, "technical-handler", NULL, NULL, 0);
  cJSON *j = json_report(&cs);
  assert_int_equal(num(j, "cases"), 102);
  /* wrong: ms 1,3,5,7,9 are technical cases sent to creative; 2..10 even are creative anyway */
  assert_int_equal(num(j, "correct"), 102 - 5 - 1);
  assert_true(num(j, "accuracy") == (102.0 - 6) / 102.0);
  const cJSON *lat = cJSON_GetObjectItem(j, "latency_ms");
  assert_true(num(lat, "p50") == 50 && num(lat, "p95") == 95 && num(lat, "p99") == 99);
  assert_int_equal(num(j, "tokens"), 1000);
  const cJSON *dec = cJSON_GetObjectItem(j, "decided");
  assert_int_equal(num(dec, "router"), 100);
  assert_int_equal(num(dec, "pin"), 1);
  assert_int_equal(num(dec, "(none)"), 1);
  const cJSON *tech = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "confusion"), "technical-handler");
  assert_int_equal(num(tech, "technical-handler"), 45);
  assert_int_equal(num(tech, "creative-handler"), 5);
  assert_int_equal(num(tech, "(error)"), 1);
  const cJSON *fails = cJSON_GetObjectItem(j, "failures");
  assert_int_equal(cJSON_GetArraySize(fails), 6);
  const cJSON *last = cJSON_GetArrayItem(fails, 5);
  assert_int_equal(num(last, "line"), 102);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(last, "chose")));
  assert_string_equal(cJSON_GetObjectItem(last, "error")->valuestring, "bad request");
  cJSON_Delete(j);
  lln_eval_cases_free(&cs);
}

static void test_failed_router_call_is_a_failure(void **state) {
  (void)state;
  lln_eval_cases cs = {.n = 1};
  cs.items = calloc(1, sizeof *cs.items);
  outcome(&cs.items[0], 1, "creative-handler", "creative-handler", "default", 0);
  assert_true(lln_eval_case_correct(&cs.items[0]));
  cs.items[0].error = lln_xstrdup("the upstream answered HTTP 500");
  assert_false(lln_eval_case_correct(&cs.items[0]));
  cJSON *j = json_report(&cs);
  assert_int_equal(num(j, "correct"), 0);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "latency_ms"), "p50")));
  cJSON_Delete(j);
  lln_eval_cases_free(&cs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_prompts_messages_sessions),
      cmocka_unit_test(test_bad_lines_name_file_line_and_fix),
      cmocka_unit_test(test_problems_are_capped),
      cmocka_unit_test(test_line_bound),
      cmocka_unit_test(test_report_figures),
      cmocka_unit_test(test_failed_router_call_is_a_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
