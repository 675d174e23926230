/* test_router: the routing prompt's shape (llmnet mock relies on it) and the
 * reading of a router model's reply: reasoning dropped, a line that is
 * exactly a name, else the name in the final answer line outside a
 * negation; and the early decision on a streaming reply, which must agree
 * with the full reading for every prefix of every reply in the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
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

#define C 0 /* creative-handler */
#define T 1 /* technical-handler */
#define NONE LLN_ROUTER_NONE
#define AMB LLN_ROUTER_AMBIGUOUS

typedef struct row {
  const char *reply;
  int want;
} row;

/* Replies of real and imagined router models, with the seed pipeline's
 * two handlers. */
static const row TABLE[] = {
    /* exact, case, quotes and markup */
    {"creative-handler", C},
    {"technical-handler", T},
    {"  technical-handler \n", T},
    {"Technical-Handler", T},
    {"CREATIVE-HANDLER", C},
    {"\"technical-handler\"", T},
    {"'creative-handler'", C},
    {"`technical-handler`", T},
    {"```technical-handler```", T},
    {"```\ncreative-handler\n```", C},
    {"**creative-handler**", C},
    {"__technical-handler__", T},
    {"technical-handler.", T},
    {"\"technical-handler.\"\n", T},
    {"Creative-Handler.", C},
    {"- creative-handler", C},
    {"## technical-handler", T},
    {"\xE2\x80\x9C"
     "creative-handler"
     "\xE2\x80\x9D",
     C},
    {"Answer: TECHNICAL-HANDLER", T},
    {"Target: creative-handler", C},
    {"**Final answer:** technical-handler", T},
    {"creative-handler\nBecause the user asks for a poem, not code.", C},
    {"technical-handler\n\nThe question is about Python; creative-handler would not fit.", T},
    /* sentences: the final answer line */
    {"The best target is technical-handler.", T},
    {"I would route this to creative-handler because it is a poem.", C},
    {"target=\"creative-handler\"", C},
    {"(technical-handler)", T},
    {"I think creative-handler, not technical-handler", C},
    {"Not technical-handler but creative-handler.", C},
    {"creative-handler rather than technical-handler", C},
    {"Use technical-handler instead of creative-handler.", T},
    {"It isn't technical-handler; creative-handler fits.", C},
    {"This isn't a job for technical-handler, creative-handler it is", C},
    {"No technical-handler here. Go with creative-handler", C},
    {"Let me think.\nIt could be technical-handler or creative-handler.\nFinal: creative-handler is best", C},
    {"Options: creative-handler, technical-handler.\nThe request is a poem, so creative-handler.", C},
    {"Options: creative-handler, technical-handler.\nIt is a poem.", AMB},
    {"Either creative-handler or technical-handler.", AMB},
    {"creative-handler or technical-handler, hard to say", AMB},
    {"Definitely not technical-handler.", NONE},
    {"creative-handler seems right.\nDefinitely not technical-handler.", C},
    /* reasoning blocks */
    {"<think>technical-handler? no, a poem</think>creative-handler", C},
    {"<think>\nThe user wants code.\ntechnical-handler\n</think>\ncreative-handler", C},
    {"<THINK>technical-handler</THINK>\ncreative-handler\n", C},
    {"<thinking>creative-handler</thinking> technical-handler", T},
    {"<reasoning>creative-handler</reasoning>\n\nAnswer: technical-handler", T},
    {"<reflection>maybe creative-handler</reflection>technical-handler.", T},
    {"<think type=\"brief\">creative</think>technical-handler", T},
    {"<think>creative-handler is the one\ntechnical-handler", NONE}, /* unclosed: hides the rest */
    {"technical-handler\n<think>creative-handler", T},
    {"Hmm, a poem.</think>\ncreative-handler", C}, /* a stray closing tag */
    {"<think>a poem</think>", NONE},
    /* nothing */
    {"I don't know", NONE},
    {"handler", NONE},
    {"technical", NONE},
    {"", NONE},
    {"   \n\t ", NONE},
    {"\"\"", NONE},
    {".", NONE},
    {"creative-handlers are nice", NONE},
    {"procreative-handler", NONE},
};

static void test_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof TABLE / sizeof *TABLE; i++) {
    int got = seed(TABLE[i].reply);
    if (got != TABLE[i].want)
      fail_msg("reply %zu \"%s\": got %d, want %d", i, TABLE[i].reply, got, TABLE[i].want);
  }
}

/* For every prefix of every reply in the table, an early decision equals
 * the final reading of the whole reply, and comes once the name's line is
 * complete. */
static void check_prefixes(const char *reply, const lln_route_candidate *c, size_t n) {
  size_t len = strlen(reply);
  int final = lln_router_parse_reply(reply, len, c, n);
  for (size_t k = 0; k <= len; k++) {
    int early = lln_router_early(reply, k, c, n);
    if (early != LLN_ROUTER_NONE && early != final)
      fail_msg("\"%s\" cut at %zu: early %d, final %d", reply, k, early, final);
  }
}

static void test_early_agrees_with_parse(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof TABLE / sizeof *TABLE; i++) {
    check_prefixes(TABLE[i].reply, SEED, 2);
    /* and the same reply followed by more lines */
    char more[512];
    snprintf(more, sizeof more, "%s\ntechnical-handler\nor creative-handler?\n", TABLE[i].reply);
    check_prefixes(more, SEED, 2);
  }
  const lln_route_candidate pre[] = {{"code", NULL}, {"code-review", NULL}, {"Code", NULL}};
  check_prefixes("code-review\nbecause code", pre, 3);
  check_prefixes("<think>code\n</think>\ncode\n", pre, 3);
}

/* A fixed-seed generator, so a failure repeats. */
static uint32_t next_rand(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

/* Replies made of the pieces that matter to the rules, in random order:
 * names, negations, clause ends, reasoning tags (whole and split), markup.
 * For every prefix of each, an early decision equals the final reading,
 * and the final reading is a candidate, NONE or AMBIGUOUS. */
static void test_early_agrees_on_random_replies(void **state) {
  (void)state;
  static const char *const PIECES[] = {"creative-handler",
                                       "technical-handler",
                                       "Creative-Handler",
                                       "creative",
                                       "not ",
                                       "no, ",
                                       "isn't ",
                                       "rather than ",
                                       "instead of ",
                                       "but ",
                                       " ",
                                       "\n",
                                       "\n",
                                       "<think>",
                                       "</think>",
                                       "<THINKING>",
                                       "</thinking>",
                                       "<reasoning>",
                                       "</reasoning>",
                                       "<thi",
                                       "nk>",
                                       "</",
                                       "\"",
                                       "`",
                                       "**",
                                       "- ",
                                       "Answer: ",
                                       ".",
                                       ",",
                                       "I pick ",
                                       "\xE2\x80\x9C",
                                       "\xE2\x80\x9D",
                                       "_",
                                       "#",
                                       ">",
                                       ":",
                                       "?"};
  const size_t n_pieces = sizeof PIECES / sizeof *PIECES;
  uint32_t x = 0x2545F491;
  char reply[512];
  for (int round = 0; round < 4000; round++) {
    size_t len = 0, pieces = 1 + next_rand(&x) % 14;
    for (size_t k = 0; k < pieces; k++) {
      const char *p = PIECES[next_rand(&x) % n_pieces];
      size_t pl = strlen(p);
      if (len + pl >= sizeof reply)
        break;
      memcpy(reply + len, p, pl);
      len += pl;
    }
    reply[len] = '\0';
    int final = lln_router_parse_reply(reply, len, SEED, 2);
    assert_true(final == C || final == T || final == NONE || final == AMB);
    check_prefixes(reply, SEED, 2);
  }
}

static void test_early(void **state) {
  (void)state;
  const char *r = "creative-handler\nThe user asks for a poem.";
  /* nothing until the line is complete */
  assert_int_equal(lln_router_early(r, strlen("creative-handler"), SEED, 2), NONE);
  assert_int_equal(lln_router_early(r, strlen("creative-handler\n"), SEED, 2), C);
  assert_int_equal(lln_router_early(r, strlen(r), SEED, 2), C);
  /* inside a reasoning block: no decision, even on a complete line */
  const char *t = "<think>\ntechnical-handler\n";
  assert_int_equal(lln_router_early(t, strlen(t), SEED, 2), NONE);
  const char *t2 = "<think>\ntechnical-handler\n</think>\ncreative-handler\n";
  assert_int_equal(lln_router_early(t2, strlen(t2), SEED, 2), C);
  /* a sentence line is not an early decision */
  const char *s = "I pick creative-handler\n";
  assert_int_equal(lln_router_early(s, strlen(s), SEED, 2), NONE);
  assert_int_equal(seed(s), C);
  const char *a = "**Answer:** `technical-handler`\n";
  assert_int_equal(lln_router_early(a, strlen(a), SEED, 2), T);
  assert_int_equal(lln_router_early(NULL, 0, SEED, 2), NONE);
  /* a name after 32 KiB of reasoning: no early decision, the full reading finds it */
  size_t big = 40 * 1024;
  char *longr = malloc(big + 64);
  assert_non_null(longr);
  memcpy(longr, "<think>", 7);
  memset(longr + 7, 'x', big);
  strcpy(longr + 7 + big, "</think>\ncreative-handler\nbecause");
  assert_int_equal(lln_router_early(longr, strlen(longr), SEED, 2), NONE);
  assert_int_equal(seed(longr), C);
  free(longr);
  assert_int_equal(lln_router_early(a, strlen(a), NULL, 0), NONE);
}

static void test_exact_beats_case_insensitive(void **state) {
  (void)state;
  const lln_route_candidate cands[] = {{"Alpha", NULL}, {"alpha", NULL}};
  assert_int_equal(parse("alpha", cands, 2), 1);
  assert_int_equal(parse("Alpha", cands, 2), 0);
  assert_int_equal(parse("ALPHA", cands, 2), 0); /* first case-insensitive match */
  assert_int_equal(parse("I pick alpha.", cands, 2), 1);
}

static void test_names_that_prefix_each_other(void **state) {
  (void)state;
  const lln_route_candidate cands[] = {{"code", "short"}, {"code-review", "reviews"}};
  assert_int_equal(parse("code-review", cands, 2), 1);
  assert_int_equal(parse("code", cands, 2), 0);
  assert_int_equal(parse("use code", cands, 2), 0);
  assert_int_equal(parse("I pick code-review.", cands, 2), 1);
  assert_int_equal(parse("code-review, not code", cands, 2), 1);
  assert_int_equal(parse("code, not code-review", cands, 2), 0);
  /* both named and nothing picks one */
  assert_int_equal(parse("code or code-review", cands, 2), AMB);
  const lln_route_candidate rev[] = {{"code-review", NULL}, {"code", NULL}};
  assert_int_equal(parse("use code", rev, 2), 1);
  assert_int_equal(parse("use code-review now", rev, 2), 0);
  /* a name with a space holds a shorter one */
  const lln_route_candidate sp[] = {{"writer", NULL}, {"senior writer", NULL}};
  assert_int_equal(parse("the senior writer should answer", sp, 2), 1);
  assert_int_equal(parse("the writer should answer", sp, 2), 0);
  /* version-like names */
  const lln_route_candidate v[] = {{"gpt-4", NULL}, {"gpt-4.1", NULL}};
  assert_int_equal(parse("route to gpt-4.1 please", v, 2), 1);
  assert_int_equal(parse("route to gpt-4.", v, 2), 0);
}

static void test_no_match(void **state) {
  (void)state;
  assert_int_equal(lln_router_parse_reply(NULL, 0, SEED, 2), NONE);
  assert_int_equal(parse("creative-handler", NULL, 0), NONE);
}

static void test_names_are_tokens(void **state) {
  (void)state;
  const lln_route_candidate cands[] = {{"creative", NULL}, {"math", NULL}};
  assert_int_equal(parse("creative-handler-2", cands, 2), NONE);
  assert_int_equal(parse("procreative", cands, 2), NONE);
  assert_int_equal(parse("creatives", cands, 2), NONE);
  assert_int_equal(parse("my_creative", cands, 2), NONE);
  assert_int_equal(parse("aftermath", cands, 2), NONE);
  assert_int_equal(parse("mathematics", cands, 2), NONE);
  assert_int_equal(parse("use math, please", cands, 2), 1);
  assert_int_equal(parse("creative!", cands, 2), 0);
  assert_int_equal(parse("Route: creative", cands, 2), 0);
  /* a hyphenated word holding "no" is not a negation */
  const lln_route_candidate op[] = {{"no-op", NULL}, {"worker", NULL}};
  assert_int_equal(parse("no-op", op, 2), 0);
  assert_int_equal(parse("a no-op worker", op, 2), AMB);
  assert_int_equal(parse("use the worker, no-op is wrong", op, 2), AMB);
}

static void test_len_is_respected(void **state) {
  (void)state;
  /* Only the first `len` bytes are the reply. */
  const char *reply = "technical-handler and more";
  assert_int_equal(lln_router_parse_reply(reply, 17, SEED, 2), T);
  assert_int_equal(lln_router_parse_reply(reply, 9, SEED, 2), NONE);
  const lln_route_candidate cands[] = {{"code", NULL}, {"code-review", NULL}};
  /* "code-review" cut after "code-": a name glued to '-' is not a token. */
  assert_int_equal(lln_router_parse_reply("code-review", 5, cands, 2), NONE);
  assert_int_equal(lln_router_parse_reply("code-review", 4, cands, 2), 0);
  /* a last line in another script is the final answer line too */
  assert_int_equal(seed("creative-handler or technical-handler?\nC'est technical-handler, pas "
                        "creative-handler.\n\xE2\x9C\x93 "
                        "\xE6\x8A\x80\xE6\x9C\xAF"),
                   AMB);
  assert_int_equal(seed("Options: creative-handler, technical-handler\n\xE2\x86\x92 technical-handler"), T);
  /* a NUL inside the reply is a byte like any other */
  const char nul[] = "x\0creative-handler";
  assert_int_equal(lln_router_parse_reply(nul, sizeof nul - 1, SEED, 2), C);
}

static void test_prompt_says_excerpt(void **state) {
  (void)state;
  lln_buf b;
  lln_buf_init(&b);
  lln_router_system_prompt(&b, SEED, 2);
  assert_non_null(strstr(b.data, "latest message"));
  assert_non_null(strstr(b.data, "earlier turns"));
  lln_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prompt_lists_targets),
      cmocka_unit_test(test_prompt_no_candidates),
      cmocka_unit_test(test_prompt_says_excerpt),
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_early_agrees_with_parse),
      cmocka_unit_test(test_early_agrees_on_random_replies),
      cmocka_unit_test(test_early),
      cmocka_unit_test(test_exact_beats_case_insensitive),
      cmocka_unit_test(test_names_that_prefix_each_other),
      cmocka_unit_test(test_no_match),
      cmocka_unit_test(test_names_are_tokens),
      cmocka_unit_test(test_len_is_respected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
