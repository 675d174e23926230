/* test_explain: `llmnet explain` and the shared pieces it stands on. The
 * variables (vars.h) have the values COMPOSITION.md gives them; the flow's
 * rules (decide_int.h) say what a number of candidates means; explain keeps the
 * candidates whose condition holds, reports the values each condition read,
 * marks conditions on a model's answer as unknown, and tells when the router
 * model is needed with the exact prompt it would get. */
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
#include "pipeline/decide_int.h"
#include "pipeline/explain.h"
#include "pipeline/router.h"
#include "pipeline/vars.h"

#include "config_fixtures.h"

static const lln_node *node(const lln_config *cfg, const char *name) {
  const lln_node *n = lln_config_node(cfg, name);
  if (!n)
    fail_msg("no node \"%s\"", name);
  return n;
}

static void explain_init(lln_explain *e, const lln_config *cfg, const char *prompt,
                         const char *const *headers, size_t n_headers) {
  lln_explain_request req = {.prompt = prompt, .headers = headers, .n_headers = n_headers};
  char err[256];
  if (lln_explain_init(e, cfg, &req, err, sizeof err) != 0)
    fail_msg("lln_explain_init: %s", err);
}

static char *explain_text(const lln_config *cfg, const char *prompt) {
  lln_explain e;
  explain_init(&e, cfg, prompt, NULL, 0);
  lln_buf b;
  lln_buf_init(&b);
  lln_explain_write(&e, &b);
  lln_explain_free(&e);
  return lln_buf_steal(&b);
}

static void expect_contains(const char *text, const char *needle) {
  if (!strstr(text, needle))
    fail_msg("expected to find\n  %s\nin\n%s", needle, text);
}

static void expect_lacks(const char *text, const char *needle) {
  if (strstr(text, needle))
    fail_msg("did not expect\n  %s\nin\n%s", needle, text);
}

/* The line of `text` that starts (after spaces) with `start`. */
static char *line_of(const char *text, const char *start) {
  for (const char *p = text; *p;) {
    const char *end = strchr(p, '\n');
    if (!end)
      end = p + strlen(p);
    const char *q = p;
    while (*q == ' ')
      q++;
    if (strncmp(q, start, strlen(start)) == 0)
      return strndup(p, (size_t)(end - p));
    p = *end ? end + 1 : end;
  }
  fail_msg("no line starts with \"%s\" in\n%s", start, text);
  return NULL;
}

/* A pipeline where later hops read the answer, a header and the hop count. */
static const char *const LATER =
    "{\"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://localhost:1\"}},"
    " \"architecture\": ["
    "  {\"name\": \"entry\", \"layer\": 0, \"model\": \"m\", \"output-to\": [1],"
    "   \"extra-options\": {\"UseHeaderKeys\": [\"X_TIER\"]}},"
    "  {\"name\": \"gold\", \"layer\": 1, \"model\": \"m\", \"if\": \"$X_TIER == 'gold'\", \"output-to\": "
    "[2]},"
    "  {\"name\": \"plain\", \"layer\": 1, \"model\": \"m\", \"if\": \"!$X_TIER && $WORD_COUNT > 100\"},"
    "  {\"name\": \"check\", \"layer\": 2, \"model\": \"m\", \"if\": \"$HOP_COUNT == 1 && $PREV_NODE == "
    "'gold'\","
    "   \"output-to\": [3]},"
    "  {\"name\": \"todo\", \"layer\": 3, \"model\": \"m\", \"if\": \"$OUTPUT contains 'TODO'\"},"
    "  {\"name\": \"first\", \"layer\": 3, \"model\": \"m\", \"if\": \"$HOP_COUNT == 0 && $WORD_COUNT > 1\"},"
    "  {\"name\": \"any\", \"layer\": 3, \"model\": \"m\", \"if\": \"$CURRENT_LAYER == 3\"}"
    "]}";

/* ---- vars ---- */

static void test_vars_values(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "conditional-routing.json");
  lln_var_header h = {"X_TIER", "gold"};
  lln_vars v = {.initial_input = "hello brave new world",
                .input = "hello brave new world",
                .request_id = "r1",
                .headers = &h,
                .n_headers = 1};
  lln_vars_set_target(&v, node(&cfg, "short-input-handler"), 1700000000);
  assert_string_equal(lln_vars_get(&v, "WORD_COUNT"), "4");
  assert_string_equal(lln_vars_get(&v, "INPUT_LENGTH"), "21");
  assert_string_equal(lln_vars_get(&v, "INPUT"), "hello brave new world");
  assert_string_equal(lln_vars_get(&v, "CURRENT_INPUT"), "hello brave new world");
  assert_null(lln_vars_get(&v, "OUTPUT"));
  assert_string_equal(lln_vars_get(&v, "NODE"), "short-input-handler");
  assert_string_equal(lln_vars_get(&v, "CURRENT_LAYER"), "1");
  assert_string_equal(lln_vars_get(&v, "PREV_LAYER"), "-1");
  assert_null(lln_vars_get(&v, "PREV_NODE"));
  assert_string_equal(lln_vars_get(&v, "HOP_COUNT"), "0");
  assert_string_equal(lln_vars_get(&v, "TIMESTAMP"), "1700000000");
  assert_string_equal(lln_vars_get(&v, "REQUEST_ID"), "r1");
  assert_string_equal(lln_vars_get(&v, "X_TIER"), "gold");
  assert_null(lln_vars_get(&v, "X_TIE"));
  assert_null(lln_vars_get(&v, "ROUTE_DECISION"));

  /* after an answer: INPUT and the counts follow the answer */
  v.node = node(&cfg, "long-input-handler");
  v.output = "ok";
  v.hops = 1;
  v.route_decision = "long-input-handler";
  lln_vars_set_target(&v, node(&cfg, "response-refiner"), 1700000000);
  assert_string_equal(lln_vars_get(&v, "INPUT"), "ok");
  assert_string_equal(lln_vars_get(&v, "OUTPUT"), "ok");
  assert_string_equal(lln_vars_get(&v, "INITIAL_INPUT"), "hello brave new world");
  assert_string_equal(lln_vars_get(&v, "WORD_COUNT"), "1");
  assert_string_equal(lln_vars_get(&v, "INPUT_LENGTH"), "2");
  assert_string_equal(lln_vars_get(&v, "PREV_NODE"), "long-input-handler");
  assert_string_equal(lln_vars_get(&v, "PREV_LAYER"), "1");
  assert_string_equal(lln_vars_get(&v, "CURRENT_LAYER"), "2");
  assert_string_equal(lln_vars_get(&v, "HOP_COUNT"), "1");
  assert_string_equal(lln_vars_get(&v, "ROUTE_DECISION"), "long-input-handler");

  /* characters, not bytes */
  v.output = "h\xc3\xa9llo";
  lln_vars_set_target(&v, NULL, 0);
  assert_string_equal(lln_vars_get(&v, "INPUT_LENGTH"), "5");
  assert_null(lln_vars_get(&v, "NODE"));

  assert_true(lln_vars_from_output("WORD_COUNT", 10));
  assert_true(lln_vars_from_output("OUTPUT", 6));
  assert_true(lln_vars_from_output("INPUT", 5));
  assert_false(lln_vars_from_output("INITIAL_INPUT", 13));
  assert_false(lln_vars_from_output("HOP_COUNT", 9));
  lln_config_free(&cfg);
}

static const char *fake_header(void *ctx, const char *name) {
  (void)ctx;
  return strcmp(name, "X_TIER") == 0 ? "silver" : NULL;
}

static void test_vars_headers(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, LATER);
  lln_var_header *h = NULL;
  assert_int_equal(lln_vars_collect_headers(&cfg, fake_header, NULL, &h), 1);
  assert_string_equal(h[0].name, "X_TIER");
  assert_string_equal(h[0].value, "silver");
  free(h);
  assert_int_equal(lln_vars_collect_headers(&cfg, NULL, NULL, &h), 0);
  assert_null(h);
  lln_config_free(&cfg);
}

/* ---- decide ---- */

static void test_decide_rules(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "dual-expert.json");
  const lln_node *entry = cfg.entry, *sales = node(&cfg, "sales-expert"),
                 *support = node(&cfg, "support-expert");
  assert_int_equal(lln_decide_enter(entry), LLN_ENTER_ROUTE);
  assert_int_equal(lln_decide_enter(sales), LLN_ENTER_ANSWER);
  assert_int_equal(lln_decide_enter(node(&cfg, "output")), LLN_ENTER_RESPOND);
  assert_int_equal(lln_decide_next(entry, 0, 0), LLN_NEXT_ANSWER_ITSELF);
  assert_int_equal(lln_decide_next(entry, 0, 1), LLN_NEXT_RESPOND);
  assert_int_equal(lln_decide_next(sales, 0, 0), LLN_NEXT_RESPOND);
  assert_int_equal(lln_decide_next(sales, 1, 1), LLN_NEXT_GO);
  assert_int_equal(lln_decide_next(entry, 2, 0), LLN_NEXT_ROUTE);
  const lln_node *both[] = {sales, support};
  assert_true(support->is_default);
  assert_ptr_equal(lln_decide_default(both, 2), support);
  const lln_node *reversed[] = {support, sales};
  assert_ptr_equal(lln_decide_default(reversed, 2), support);
  const lln_node *one[] = {sales};
  assert_ptr_equal(lln_decide_default(one, 1), sales);
  assert_ptr_equal(lln_decide_router(&cfg), entry);
  assert_true(lln_decide_ends_pipeline(sales));
  assert_false(lln_decide_ends_pipeline(entry));
  lln_config_free(&cfg);
}

/* ---- explain: candidate filtering ---- */

static void test_targets_short_prompt(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "conditional-routing.json");
  lln_explain e;
  explain_init(&e, &cfg, "hello there friend", NULL, 0);
  lln_explain_target t[4];
  assert_int_equal(lln_explain_targets(&e, cfg.entry, t), 2);
  assert_string_equal(t[0].node->name, "short-input-handler");
  assert_int_equal(t[0].verdict, LLN_EXPLAIN_HOLDS);
  assert_string_equal(t[0].values, "WORD_COUNT=3");
  assert_string_equal(t[1].node->name, "long-input-handler");
  assert_int_equal(t[1].verdict, LLN_EXPLAIN_FAILS);
  assert_string_equal(t[1].values, "WORD_COUNT=3");
  lln_explain_targets_free(t, 2);
  lln_explain_free(&e);

  explain_init(&e, &cfg, "one two three four five six seven eight nine ten eleven", NULL, 0);
  lln_explain_targets(&e, cfg.entry, t);
  assert_int_equal(t[0].verdict, LLN_EXPLAIN_FAILS);
  assert_int_equal(t[1].verdict, LLN_EXPLAIN_HOLDS);
  assert_string_equal(t[1].values, "WORD_COUNT=11");
  lln_explain_targets_free(t, 2);
  lln_explain_free(&e);
  lln_config_free(&cfg);
}

static void test_targets_without_conditions(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "seed-pipeline.json");
  lln_explain e;
  explain_init(&e, &cfg, "Write a haiku", NULL, 0);
  lln_explain_target t[3];
  assert_int_equal(lln_explain_targets(&e, cfg.entry, t), 2);
  assert_int_equal(t[0].verdict, LLN_EXPLAIN_HOLDS);
  assert_int_equal(t[1].verdict, LLN_EXPLAIN_HOLDS);
  assert_null(t[0].values);
  lln_explain_targets_free(t, 2);
  lln_explain_free(&e);
  lln_config_free(&cfg);
}

static void test_targets_after_an_answer(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, LATER);
  const char *headers[] = {"x_tier:  gold  ", "Unused: 1"};
  lln_explain e;
  explain_init(&e, &cfg, "hello", headers, 2);
  lln_explain_target t[4];
  /* header variables: matched case-insensitively, value trimmed */
  lln_explain_targets(&e, cfg.entry, t);
  assert_int_equal(t[0].verdict, LLN_EXPLAIN_HOLDS);
  assert_string_equal(t[0].values, "X_TIER=\"gold\"");
  assert_int_equal(t[1].verdict, LLN_EXPLAIN_FAILS);
  /* && stops at the first false operand: WORD_COUNT was never read */
  assert_string_equal(t[1].values, "X_TIER=\"gold\"");
  lln_explain_targets_free(t, 2);

  /* "gold" answered: its text is unknown, everything else is not */
  const lln_node *gold = node(&cfg, "gold"), *check = node(&cfg, "check");
  e.vars.node = gold;
  e.vars.hops = 1;
  e.answered = 1;
  e.answered_by = gold;
  e.vars.input = e.vars.output = "";
  lln_explain_targets(&e, gold, t);
  assert_int_equal(t[0].verdict, LLN_EXPLAIN_HOLDS);
  assert_string_equal(t[0].values, "HOP_COUNT=1, PREV_NODE=\"gold\"");
  lln_explain_targets_free(t, 1);

  e.vars.node = check;
  e.vars.hops = 2;
  e.answered_by = check;
  assert_int_equal(lln_explain_targets(&e, check, t), 3);
  assert_int_equal(t[0].verdict, LLN_EXPLAIN_UNKNOWN);
  assert_string_equal(t[0].values, "OUTPUT=?");
  /* decided without the answer: the hop count is known and false */
  assert_int_equal(t[1].verdict, LLN_EXPLAIN_FAILS);
  assert_string_equal(t[1].values, "HOP_COUNT=2");
  assert_int_equal(t[2].verdict, LLN_EXPLAIN_HOLDS);
  assert_string_equal(t[2].values, "CURRENT_LAYER=3");
  lln_explain_targets_free(t, 3);
  lln_explain_free(&e);
  lln_config_free(&cfg);
}

static void test_bad_header(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, LATER);
  const char *headers[] = {"no colon here"};
  lln_explain_request req = {.prompt = "x", .headers = headers, .n_headers = 1};
  lln_explain e;
  char err[256] = "";
  assert_int_equal(lln_explain_init(&e, &cfg, &req, err, sizeof err), -1);
  expect_contains(err, "Name: value");
  lln_config_free(&cfg);
}

/* ---- explain: the whole walk ---- */

static void test_walk_rules_only(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "conditional-routing.json");
  char *s = explain_text(&cfg, "hello there friend");
  char *l = line_of(s, "short-input-handler ");
  expect_contains(l, "holds");
  expect_lacks(l, "does not hold");
  expect_contains(l, "if $WORD_COUNT < 10  (WORD_COUNT=3)");
  free(l);
  l = line_of(s, "long-input-handler ");
  expect_contains(l, "does not hold");
  free(l);
  expect_contains(s, "one candidate left: go to short-input-handler without a model call");
  expect_contains(s, "the response leaves here with short-input-handler's answer");
  expect_contains(s, "route: router > short-input-handler > output\n");
  expect_contains(s, "router model: not needed\n");
  expect_lacks(s, "system prompt");
  free(s);
  lln_config_free(&cfg);
}

static void test_walk_router(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "seed-pipeline.json");
  char *s = explain_text(&cfg, "Write a haiku about programming");
  expect_contains(s, "2 candidates left: the router model chooses");
  /* the exact prompt, line by line, from the router's own code */
  lln_route_candidate rc[] = {{"creative-handler", "Creative writing, storytelling, poetry"},
                              {"technical-handler", "Technical questions, coding, math, science"}};
  lln_buf prompt;
  lln_buf_init(&prompt);
  lln_router_system_prompt(&prompt, rc, 2);
  for (char *line = strtok(prompt.data, "\n"); line; line = strtok(NULL, "\n")) {
    char want[512];
    snprintf(want, sizeof want, "     | %s\n", line);
    expect_contains(s, want);
  }
  lln_buf_free(&prompt);
  expect_contains(s, "   user message:\n     | Write a haiku about programming\n");
  expect_contains(s, "goes to creative-handler (the first candidate; none is marked default)");
  expect_contains(s,
                  "- technical-handler (layer 1): answers with model router-gemma (inherited from router)");
  expect_contains(s, "no output-to: technical-handler's answer is the response");
  expect_contains(s, "router model: needed");
  free(s);
  lln_config_free(&cfg);
}

static void test_walk_stops_at_unknown(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, LATER);
  const char *headers[] = {"X_TIER: gold"};
  lln_explain e;
  explain_init(&e, &cfg, "hello", headers, 1);
  lln_buf b;
  lln_buf_init(&b);
  lln_explain_write(&e, &b);
  lln_explain_free(&e);
  expect_contains(b.data, "header X_TIER: \"gold\" (a variable through UseHeaderKeys)");
  expect_contains(b.data, "gold's answer as the user message");
  expect_contains(b.data, "depends on the answer  if $OUTPUT contains 'TODO'  (OUTPUT=?)");
  expect_contains(b.data, "which of todo and any stay candidates depends on check's answer");
  expect_contains(b.data, "route: entry > gold > check > (depends on check's answer)");
  lln_buf_free(&b);

  /* no header: every condition says no, so the entry answers itself */
  char *s = explain_text(&cfg, "hello");
  expect_contains(s, "no candidate left: entry answers the request itself");
  expect_contains(s, "whether plain stays a candidate depends on entry's answer");
  free(s);
  lln_config_free(&cfg);
}

/* "if this fails, X answers" comes from the flow's own failover decision
 * (failover_int.h): the next model id, then the fallback nodes in order, then
 * the status the request fails with. */
static void test_walk_failover(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, "{\"models\": {\"m\": {\"type\": \"external\", \"interface\": \"openai-api\", "
                  "\"url\": \"http://127.0.0.1:9\", \"api-key\": null, \"retries\": 1}},"
                  "\"architecture\": ["
                  "{\"name\": \"A\", \"layer\": 0, \"model\": \"m\", \"fallback\": [\"B\", \"D\"],"
                  " \"extra-options\": {\"model_override\": [\"a1\", \"a2\"]}},"
                  "{\"name\": \"B\", \"layer\": 1, \"model\": \"m\"},"
                  "{\"name\": \"D\", \"layer\": 1, \"model\": \"m\"}]}");
  char *s = explain_text(&cfg, "hello");
  expect_contains(s,
                  "if it fails, A tries model \"a2\", B answers instead, D answers instead, then the request "
                  "fails (HTTP 502)");
  free(s);
  lln_config_free(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vars_values),
      cmocka_unit_test(test_vars_headers),
      cmocka_unit_test(test_decide_rules),
      cmocka_unit_test(test_targets_short_prompt),
      cmocka_unit_test(test_targets_without_conditions),
      cmocka_unit_test(test_targets_after_an_answer),
      cmocka_unit_test(test_bad_header),
      cmocka_unit_test(test_walk_rules_only),
      cmocka_unit_test(test_walk_router),
      cmocka_unit_test(test_walk_stops_at_unknown),
      cmocka_unit_test(test_walk_failover),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
