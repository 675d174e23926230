/* test_router: the routing prompt's shape (llmnet mock relies on it) and the
 * forgiving reading of a router model's reply: exact, case-insensitive, then
 * the longest candidate name found as a whole token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "pipeline/router.h"

static const lln_route_candidate SEED[] = {
    {"creative-handler", "Creative writing, storytelling, poetry"},
    {"technical-handler", "Technical questions, coding, math, science"},
};

static int parse(const char *reply, const lln_route_candidate *c, size_t n) {
  return lln_router_parse_reply(reply, strlen(reply), c, n);
}

static int seed(const char *reply) { return parse(reply, SEED, 2); }

static void test_prompt_lists_targets(void **state) {
  (void)state;
  const lln_route_candidate cands[] = {
      {"creative-handler", "Creative writing"},
      {"technical-handler", "Coding, math"},
      {"plain", NULL},
      {"empty-use", ""},
  };
  lln_buf b;
  lln_buf_init(&b);
  lln_router_system_prompt(&b, cands, 4);
  assert_non_null(b.data);
  assert_int_equal(strlen(b.data), b.len);
  const char *t = strstr(b.data, "\nTargets:\n");
  assert_non_null(t);
  assert_non_null(strstr(t, "\n- creative-handler: Creative writing\n"
                            "- technical-handler: Coding, math\n"
                            "- plain\n"
                            "- empty-use\n"));
  /* Candidates come after the Targets: line, in order. */
  assert_true(strstr(b.data, "- creative-handler") > t);
  assert_true(strstr(b.data, "- technical-handler") < strstr(b.data, "- plain"));
  /* No "name:" with an empty use-case. */
  assert_null(strstr(b.data, "- plain:"));
  assert_null(strstr(b.data, "- empty-use:"));
  lln_buf_free(&b);
}

static void test_prompt_no_candidates(void **state) {
  (void)state;
  lln_buf b;
  lln_buf_init(&b);
  lln_router_system_prompt(&b, NULL, 0);
  assert_non_null(strstr(b.data, LLN_ROUTER_TARGETS_LINE "\n"));
  assert_null(strstr(b.data, "\n- "));
  lln_buf_free(&b);
}

static void test_exact(void **state) {
  (void)state;
  assert_int_equal(seed("creative-handler"), 0);
  assert_int_equal(seed("technical-handler"), 1);
  assert_int_equal(seed("  technical-handler \n"), 1);
}

static void test_case_insensitive(void **state) {
  (void)state;
  assert_int_equal(seed("Technical-Handler"), 1);
  assert_int_equal(seed("CREATIVE-HANDLER"), 0);
}

static void test_exact_beats_case_insensitive(void **state) {
  (void)state;
  const lln_route_candidate cands[] = {{"Alpha", NULL}, {"alpha", NULL}};
  assert_int_equal(parse("alpha", cands, 2), 1);
  assert_int_equal(parse("Alpha", cands, 2), 0);
  assert_int_equal(parse("ALPHA", cands, 2), 0); /* first case-insensitive match */
}

static void test_quotes_backticks_period(void **state) {
  (void)state;
  assert_int_equal(seed("\"technical-handler\""), 1);
  assert_int_equal(seed("'creative-handler'"), 0);
  assert_int_equal(seed("`technical-handler`"), 1);
  assert_int_equal(seed("```technical-handler```"), 1);
  assert_int_equal(seed("**creative-handler**"), 0);
  assert_int_equal(seed("technical-handler."), 1);
  assert_int_equal(seed("\"technical-handler.\"\n"), 1);
  assert_int_equal(seed("Creative-Handler."), 0);
}

static void test_sentence(void **state) {
  (void)state;
  assert_int_equal(seed("The best target is technical-handler."), 1);
  assert_int_equal(seed("I would route this to creative-handler because it is a poem."), 0);
  assert_int_equal(seed("Answer: TECHNICAL-HANDLER"), 1);
  assert_int_equal(seed("target=\"creative-handler\""), 0);
  assert_int_equal(seed("(technical-handler)"), 1);
}

static void test_longest_name_wins(void **state) {
  (void)state;
  const lln_route_candidate cands[] = {{"code", "short"}, {"code-review", "reviews"}};
  assert_int_equal(parse("code-review", cands, 2), 1);
  assert_int_equal(parse("code", cands, 2), 0);
  assert_int_equal(parse("use code", cands, 2), 0);
  assert_int_equal(parse("I pick code-review.", cands, 2), 1);
  /* Both present as tokens: the longer name is taken. */
  assert_int_equal(parse("code or code-review", cands, 2), 1);
  /* Order of candidates does not matter. */
  const lln_route_candidate rev[] = {{"code-review", NULL}, {"code", NULL}};
  assert_int_equal(parse("use code", rev, 2), 1);
  assert_int_equal(parse("use code-review now", rev, 2), 0);
}

static void test_no_match(void **state) {
  (void)state;
  assert_int_equal(seed("I don't know"), -1);
  assert_int_equal(seed("handler"), -1);
  assert_int_equal(seed("technical"), -1);
  assert_int_equal(seed(""), -1);
  assert_int_equal(seed("   \n\t "), -1);
  assert_int_equal(seed("\"\""), -1);
  assert_int_equal(seed("."), -1);
  assert_int_equal(lln_router_parse_reply(NULL, 0, SEED, 2), -1);
  assert_int_equal(parse("creative-handler", NULL, 0), -1);
}

static void test_names_are_tokens(void **state) {
  (void)state;
  const lln_route_candidate cands[] = {{"creative", NULL}, {"math", NULL}};
  assert_int_equal(parse("creative-handler-2", cands, 2), -1);
  assert_int_equal(parse("procreative", cands, 2), -1);
  assert_int_equal(parse("creatives", cands, 2), -1);
  assert_int_equal(parse("my_creative", cands, 2), -1);
  assert_int_equal(parse("aftermath", cands, 2), -1);
  assert_int_equal(parse("mathematics", cands, 2), -1);
  assert_int_equal(parse("use math, please", cands, 2), 1);
  assert_int_equal(parse("creative!", cands, 2), 0);
  assert_int_equal(parse("Route: creative", cands, 2), 0);
}

static void test_len_is_respected(void **state) {
  (void)state;
  /* Only the first `len` bytes are the reply. */
  const char *reply = "technical-handler and more";
  assert_int_equal(lln_router_parse_reply(reply, 17, SEED, 2), 1);
  assert_int_equal(lln_router_parse_reply(reply, 9, SEED, 2), -1);
  const lln_route_candidate cands[] = {{"code", NULL}, {"code-review", NULL}};
  /* "code-review" cut after "code-": a name glued to '-' is not a token. */
  assert_int_equal(lln_router_parse_reply("code-review", 5, cands, 2), -1);
  assert_int_equal(lln_router_parse_reply("code-review", 4, cands, 2), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prompt_lists_targets),
      cmocka_unit_test(test_prompt_no_candidates),
      cmocka_unit_test(test_exact),
      cmocka_unit_test(test_case_insensitive),
      cmocka_unit_test(test_exact_beats_case_insensitive),
      cmocka_unit_test(test_quotes_backticks_period),
      cmocka_unit_test(test_sentence),
      cmocka_unit_test(test_longest_name_wins),
      cmocka_unit_test(test_no_match),
      cmocka_unit_test(test_names_are_tokens),
      cmocka_unit_test(test_len_is_respected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
