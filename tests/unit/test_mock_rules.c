/* test_mock_rules: the `llmnet mock` rules file (src/mock/rules.c): strict
 * loading with messages that name the file, rule and key; matching and the
 * times/every counters; plus the mock's router (src/mock/route.c) and the
 * stream splitting it relies on (src/mock/reply.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mock/chat_int.h"
#include "mock/reply_int.h"
#include "mock/route_int.h"
#include "mock/rules_int.h"
#include "pipeline/router.h"

static int parse(lln_mock_rules *rules, const char *json, char *err, size_t err_size) {
  return lln_mock_rules_parse(rules, json, strlen(json), "rules.json", err, err_size);
}

/* Parses `json`, which must fail, and checks the message contains `want`. */
static void expect_error(const char *json, const char *want) {
  lln_mock_rules rules;
  char err[512] = "";
  int rc = parse(&rules, json, err, sizeof err);
  if (rc == 0 || !strstr(err, want))
    print_error("json: %s\nerror: %s\nwanted: %s\n", json, err, want);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err, want));
  assert_null(rules.items);
  assert_int_equal(rules.count, 0);
}

static lln_mock_rule *match_text(lln_mock_rules *rules, const char *model, const char *text) {
  lln_mock_request_view v = {.model = model, .last_user = text};
  return lln_mock_rules_match(rules, &v);
}

static size_t index_of(const lln_mock_rules *rules, const lln_mock_rule *r) {
  return r ? (size_t)(r - rules->items) + 1 : 0;
}

/* ---- loading ---- */

static void test_load_every_key(void **state) {
  (void)state;
  const char *json =
      "// comments are allowed, like in compositions\n"
      "{\"rules\": [\n"
      "  {\"when\": {\"model\": \"m1\", \"contains\": \"Hello\", \"matches\": \"^hel+o\",\n"
      "            \"router\": false, \"header\": {\"X-Tenant\": \"acme\"}},\n"
      "   \"reply\": \"fixed\", \"status\": 429, \"retry-after\": \"2\",\n"
      "   \"headers\": {\"X-Extra\": \"v\"}, \"error\": \"slow down\", \"delay-ms\": 500,\n"
      "   \"cut-after\": 3, \"times\": 2, \"every\": 3},\n"
      "  {\"raw\": \"{not json\", \"retry-after\": 7},\n"
      "  {\"tool-call\": {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\":\\\"Paris\\\"}\"}},\n"
      "  {\"tool-call\": {\"name\": \"f\", \"arguments\": {\"a\": [1, 2]}}},\n"
      "  {\"route\": \"technical-handler\"},\n"
      "  {\"error\": \"boom\"},\n"
      "  {}\n"
      "]}";
  lln_mock_rules rules;
  char err[256] = "";
  assert_int_equal(parse(&rules, json, err, sizeof err), 0);
  assert_int_equal(rules.count, 7);

  lln_mock_rule *r = &rules.items[0];
  assert_string_equal(r->model, "m1");
  assert_string_equal(r->contains, "Hello");
  assert_string_equal(r->matches, "^hel+o");
  assert_int_equal(r->router, 0);
  assert_int_equal(r->when_header_count, 1);
  assert_string_equal(r->when_headers[0].name, "X-Tenant");
  assert_string_equal(r->when_headers[0].value, "acme");
  assert_string_equal(r->reply, "fixed");
  assert_int_equal(r->status, 429);
  assert_string_equal(r->retry_after, "2");
  assert_int_equal(r->header_count, 1);
  assert_string_equal(r->headers[0].name, "X-Extra");
  assert_string_equal(r->error, "slow down");
  assert_int_equal(r->delay_ms, 500);
  assert_int_equal(r->cut_after, 3);
  assert_int_equal(r->times, 2);
  assert_int_equal(r->every, 3);

  r = &rules.items[1];
  assert_string_equal(r->raw, "{not json");
  assert_string_equal(r->retry_after, "7"); /* a number is accepted too */
  assert_int_equal(r->status, 0);
  assert_int_equal(r->cut_after, -1);
  assert_int_equal(r->router, -1);

  r = &rules.items[2];
  assert_string_equal(r->tool_name, "get_weather");
  assert_string_equal(r->tool_args, "{\"city\":\"Paris\"}");
  assert_int_equal(r->needs_tools, 1);

  assert_string_equal(rules.items[3].tool_args, "{\"a\":[1,2]}");

  r = &rules.items[4];
  assert_string_equal(r->route, "technical-handler");
  assert_int_equal(r->router, 1); /* a route only answers routing prompts */

  assert_int_equal(rules.items[5].status, 500); /* "error" alone means a server error */

  lln_mock_rules_free(&rules);
  lln_mock_rules_free(&rules); /* safe twice */
}

static void test_load_reset_and_content_type(void **state) {
  (void)state;
  const char *json = "{\"rules\": [\n"
                     "  {\"reset\": true, \"delay-ms\": 10},\n"
                     "  {\"reset\": 40},\n"
                     "  {\"reset\": 0},\n"
                     "  {\"reset\": false},\n"
                     "  {\"raw\": \"data: {oops\\n\\n\", \"content-type\": \"text/event-stream\"},\n"
                     "  {\"reply\": \"plain\"}\n"
                     "]}";
  lln_mock_rules rules;
  char err[256] = "";
  assert_int_equal(parse(&rules, json, err, sizeof err), 0);
  assert_int_equal(rules.count, 6);
  assert_int_equal(rules.items[0].reset, 1);
  assert_int_equal(rules.items[0].reset_after, -1); /* nothing at all is sent */
  assert_int_equal(rules.items[0].delay_ms, 10);
  assert_int_equal(rules.items[1].reset, 1);
  assert_int_equal(rules.items[1].reset_after, 40);
  assert_int_equal(rules.items[2].reset, 1);
  assert_int_equal(rules.items[2].reset_after, 0); /* the head, then the drop */
  assert_int_equal(rules.items[3].reset, 0);
  assert_int_equal(rules.items[3].reset_after, -1);
  assert_string_equal(rules.items[4].raw, "data: {oops\n\n");
  assert_string_equal(rules.items[4].content_type, "text/event-stream");
  assert_int_equal(rules.items[5].reset, 0);
  assert_int_equal(rules.items[5].reset_after, -1);
  assert_null(rules.items[5].content_type);
  lln_mock_rules_free(&rules);

  expect_error("{\"rules\": [{\"reset\": \"yes\"}]}", "rule 1: \"reset\" is true");
  expect_error("{\"rules\": [{\"reset\": -1}]}", "\"reset\" must be a whole number from 0");
  expect_error("{\"rules\": [{\"reset\": 1.5}]}", "\"reset\" must be a whole number");
  expect_error("{\"rules\": [{\"resett\": true}]}", "unknown key \"resett\" (did you mean \"reset\"?)");
  expect_error("{\"rules\": [{\"reply\": \"x\", \"content-type\": \"text/plain\"}]}",
               "rule 1: \"content-type\" applies to a \"raw\" body");
  expect_error("{\"rules\": [{\"raw\": \"x\", \"content-type\": \"\"}]}",
               "\"content-type\" must be a one-line");
  expect_error("{\"rules\": [{\"raw\": \"x\", \"content-type\": \"a\\r\\nB: c\"}]}",
               "\"content-type\" must be a one-line");
  expect_error("{\"rules\": [{\"raw\": \"x\", \"content-type\": 1}]}", "\"content-type\" must be a string");
}

static void test_load_empty(void **state) {
  (void)state;
  lln_mock_rules rules;
  char err[256];
  assert_int_equal(parse(&rules, "{\"rules\": []}", err, sizeof err), 0);
  assert_int_equal(rules.count, 0);
  assert_null(match_text(&rules, NULL, "hi"));
  lln_mock_rules_free(&rules);
}

static void test_unknown_keys(void **state) {
  (void)state;
  expect_error("{\"rules\": [\n  {\"reply\": \"x\"},\n  {\"stauts\": 429}\n]}",
               "rules.json: rule 2: unknown key \"stauts\" (did you mean \"status\"?) (line 3, column 4)");
  expect_error("{\"rules\": [{\"when\": {\"modle\": \"x\"}}]}",
               "rules.json: rule 1: when: unknown key \"modle\" (did you mean \"model\"?)");
  expect_error("{\"rules\": [{\"tool-call\": {\"name\": \"f\", \"args\": \"{}\"}}]}",
               "rule 1: tool-call: unknown key \"args\"");
  expect_error("{\"rules\": [{\"colour\": \"blue\"}]}", "rule 1: unknown key \"colour\"");
  expect_error("{\"rulez\": []}", "rules.json: unknown key \"rulez\" (did you mean \"rules\"?)");
  expect_error("{\"rules\": [{\"delay_ms\": 5}]}", "unknown key \"delay_ms\" (did you mean \"delay-ms\"?)");
  expect_error("{\"rules\": [{\"reply\": \"a\", \"reply\": \"b\"}]}", "rule 1: duplicate key \"reply\"");
}

static void test_wrong_types_and_values(void **state) {
  (void)state;
  expect_error("{\"rules\": [{\"status\": \"429\"}]}",
               "rule 1: \"status\" must be a whole number from 100 to 599");
  expect_error("{\"rules\": [{\"status\": 99}]}", "\"status\" must be a whole number");
  expect_error("{\"rules\": [{\"status\": 429.5}]}", "\"status\" must be a whole number");
  expect_error("{\"rules\": [{\"times\": 0}]}", "\"times\" must be a whole number from 1");
  expect_error("{\"rules\": [{\"every\": -1}]}", "\"every\" must be a whole number from 1");
  expect_error("{\"rules\": [{\"delay-ms\": -5}]}", "\"delay-ms\" must be a whole number from 0");
  expect_error("{\"rules\": [{\"reply\": 5}]}", "\"reply\" must be a string");
  expect_error("{\"rules\": [{\"when\": {\"router\": \"yes\"}}]}", "when: \"router\" must be true or false");
  expect_error("{\"rules\": [{\"when\": []}]}", "rule 1: \"when\" must be an object");
  expect_error("{\"rules\": [{\"when\": {\"matches\": \"((\"}}]}",
               "\"matches\" is not a valid regular expression");
  expect_error("{\"rules\": [{\"headers\": {\"X-A\": \"a\\r\\nB: c\"}}]}",
               "header \"X-A\" is not a valid header");
  expect_error("{\"rules\": [{\"headers\": {\"X-A\": 1}}]}", "header \"X-A\" must have a string value");
  expect_error("{\"rules\": [{\"tool-call\": {\"arguments\": \"{}\"}}]}",
               "tool-call: \"name\" must be a non-empty string");
  expect_error("{\"rules\": [{\"status\": 200, \"error\": \"x\"}]}",
               "\"error\" needs a \"status\" of 400 or more");
  expect_error("{\"rules\": [{\"when\": {\"router\": false}, \"route\": \"a\"}]}", "\"router\": false");
  expect_error("{\"rules\": [{\"route\": \"\"}]}", "\"route\" must name a target");
  expect_error("{\"rules\": [1]}", "rule 1: must be an object");
  expect_error("{\"rules\": {}}", "\"rules\" must be an array");
  expect_error("[]", "rules.json: must be an object");
  expect_error("{}", "missing \"rules\"");
}

static void test_syntax_errors_have_positions(void **state) {
  (void)state;
  expect_error("{\"rules\": [\n  {\"reply\": \"x\",}\n]}", "rules.json:2:16: ");
  expect_error("{\"rules\": [", "rules.json:1:");
  expect_error("", "rules.json:1:1: ");
}

static void test_load_file(void **state) {
  (void)state;
  char path[] = "/tmp/test_mock_rules_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *json = "{\"rules\": [{\"reply\": \"from a file\"}]}";
  assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
  close(fd);
  lln_mock_rules rules;
  char err[256] = "";
  assert_int_equal(lln_mock_rules_load(&rules, path, err, sizeof err), 0);
  assert_int_equal(rules.count, 1);
  assert_string_equal(rules.items[0].reply, "from a file");
  lln_mock_rules_free(&rules);

  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"rules\": [{\"stauts\": 1}]}", f);
  fclose(f);
  assert_int_equal(lln_mock_rules_load(&rules, path, err, sizeof err), -1);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "rule 1: unknown key \"stauts\""));
  unlink(path);

  assert_int_equal(lln_mock_rules_load(&rules, path, err, sizeof err), -1);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "cannot open"));
}

/* ---- matching ---- */

static void test_when_fields(void **state) {
  (void)state;
  lln_mock_rules rules;
  char err[256] = "";
  const char *json = "{\"rules\": ["
                     "{\"when\": {\"model\": \"gpt-x\"}, \"reply\": \"1\"},"
                     "{\"when\": {\"contains\": \"HeLLo\"}, \"reply\": \"2\"},"
                     "{\"when\": {\"matches\": \"^order [0-9]+$\"}, \"reply\": \"3\"},"
                     "{\"when\": {\"header\": {\"x-tenant\": \"acme\"}}, \"reply\": \"4\"},"
                     "{\"when\": {\"router\": true}, \"reply\": \"5\"},"
                     "{\"when\": {\"model\": \"m\", \"contains\": \"both\"}, \"reply\": \"6\"}"
                     "]}";
  assert_int_equal(parse(&rules, json, err, sizeof err), 0);

  assert_int_equal(index_of(&rules, match_text(&rules, "gpt-x", "anything")), 1);
  assert_int_equal(index_of(&rules, match_text(&rules, "gpt-x2", "anything")), 0); /* exact model */
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "say hello there")), 2);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "ORDER 42")), 3); /* case-insensitive */
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "order 42 please")), 0);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, NULL)), 0);

  lln_http_header hs[] = {{"Accept", "*/*"}, {"X-Tenant", "acme"}};
  lln_mock_request_view v = {.last_user = "hi", .headers = hs, .header_count = 2};
  assert_int_equal(index_of(&rules, lln_mock_rules_match(&rules, &v)), 4);
  hs[1].value = "ACME"; /* values compare exactly */
  assert_int_equal(index_of(&rules, lln_mock_rules_match(&rules, &v)), 0);

  v.is_router = 1;
  assert_int_equal(index_of(&rules, lln_mock_rules_match(&rules, &v)), 5);

  assert_int_equal(index_of(&rules, match_text(&rules, "m", "both of them")), 6);
  assert_int_equal(index_of(&rules, match_text(&rules, "m", "neither")), 0);
  assert_int_equal(index_of(&rules, match_text(&rules, "x", "both")), 0);
  lln_mock_rules_free(&rules);
}

static void test_first_match_wins_and_implicit_conditions(void **state) {
  (void)state;
  lln_mock_rules rules;
  char err[256] = "";
  const char *json = "{\"rules\": ["
                     "{\"when\": {\"contains\": \"poem\"}, \"route\": \"creative-handler\"},"
                     "{\"when\": {\"contains\": \"weather\"}, \"tool-call\": {\"name\": \"get_weather\"}},"
                     "{\"when\": {\"router\": false}, \"reply\": \"plain\"},"
                     "{\"reply\": \"anything\"}"
                     "]}";
  assert_int_equal(parse(&rules, json, err, sizeof err), 0);
  lln_mock_request_view v = {.last_user = "a poem about weather", .is_router = 1};
  assert_int_equal(index_of(&rules, lln_mock_rules_match(&rules, &v)), 1);
  v.is_router = 0; /* the route rule is for routing prompts only */
  assert_int_equal(index_of(&rules, lln_mock_rules_match(&rules, &v)), 3);
  v.has_tools = 1; /* the tool-call rule needs the request to offer tools */
  assert_int_equal(index_of(&rules, lln_mock_rules_match(&rules, &v)), 2);
  assert_string_equal(rules.items[1].tool_args, "{}");
  v.is_router = 1;
  v.last_user = "something else";
  assert_int_equal(index_of(&rules, lln_mock_rules_match(&rules, &v)), 4);
  lln_mock_rules_free(&rules);
}

static void test_times(void **state) {
  (void)state;
  lln_mock_rules rules;
  char err[256] = "";
  assert_int_equal(parse(&rules,
                         "{\"rules\": [{\"when\": {\"contains\": \"x\"}, \"status\": 429, \"times\": 2},"
                         "{\"reply\": \"ok\"}]}",
                         err, sizeof err),
                   0);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "y")), 2); /* not a match: not counted */
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "x")), 1);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "x")), 1);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "x")), 2);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "x")), 2);
  assert_int_equal(rules.items[0].applied, 2);
  lln_mock_rules_free(&rules);
}

static void test_every(void **state) {
  (void)state;
  lln_mock_rules rules;
  char err[256] = "";
  assert_int_equal(parse(&rules, "{\"rules\": [{\"status\": 503, \"every\": 3}]}", err, sizeof err), 0);
  int hits[9];
  for (int i = 0; i < 9; i++)
    hits[i] = match_text(&rules, NULL, "x") != NULL;
  int want[9] = {0, 0, 1, 0, 0, 1, 0, 0, 1};
  assert_memory_equal(hits, want, sizeof want);
  lln_mock_rules_free(&rules);
}

static void test_every_and_times_together(void **state) {
  (void)state;
  lln_mock_rules rules;
  char err[256] = "";
  /* times counts the answers the rule gave, so this fails the 2nd and 4th
   * calls only. */
  assert_int_equal(
      parse(&rules, "{\"rules\": [{\"status\": 500, \"every\": 2, \"times\": 2}]}", err, sizeof err), 0);
  int hits[8];
  for (int i = 0; i < 8; i++)
    hits[i] = match_text(&rules, NULL, "x") != NULL;
  int want[8] = {0, 1, 0, 1, 0, 0, 0, 0};
  assert_memory_equal(hits, want, sizeof want);
  lln_mock_rules_free(&rules);
}

static void test_counters_are_per_rule(void **state) {
  (void)state;
  lln_mock_rules rules;
  char err[256] = "";
  assert_int_equal(parse(&rules,
                         "{\"rules\": [{\"when\": {\"contains\": \"a\"}, \"reply\": \"A\", \"times\": 1},"
                         "{\"when\": {\"contains\": \"b\"}, \"reply\": \"B\", \"every\": 2}]}",
                         err, sizeof err),
                   0);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "b")), 0);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "a")), 1);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "b")), 2);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "a")), 0);
  /* "ab" matches rule 1's when-part, but rule 1 is spent: rule 2 sees its 3rd match. */
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "ab")), 0);
  assert_int_equal(index_of(&rules, match_text(&rules, NULL, "ab")), 2);
  lln_mock_rules_free(&rules);
}

/* ---- the mock router ---- */

static const lln_route_candidate SEED[] = {
    {"creative-handler", "Creative writing, storytelling, poetry"},
    {"technical-handler", "Technical questions, coding, math, science"},
};

static void test_overlap_seed_example(void **state) {
  (void)state;
  assert_int_equal(lln_mock_route_by_overlap("Write a haiku about programming", SEED, 2), 0);
  assert_int_equal(lln_mock_route_by_overlap("Tell me a story", SEED, 2), 0); /* story/storytelling */
  assert_int_equal(lln_mock_route_by_overlap("What is the math behind RSA?", SEED, 2), 1);
  assert_int_equal(lln_mock_route_by_overlap("A science question about coding", SEED, 2), 1);
  assert_int_equal(lln_mock_route_by_overlap("SCIENCE!", SEED, 2), 1); /* case-insensitive */
}

static void test_overlap_ties_and_nothing(void **state) {
  (void)state;
  /* no overlap at all: the first candidate */
  assert_int_equal(lln_mock_route_by_overlap("zzz qqq", SEED, 2), 0);
  assert_int_equal(lln_mock_route_by_overlap("", SEED, 2), 0);
  assert_int_equal(lln_mock_route_by_overlap(NULL, SEED, 2), 0);
  /* one word each: a tie goes to the first listed */
  assert_int_equal(lln_mock_route_by_overlap("poetry and math", SEED, 2), 0);
  const lln_route_candidate swapped[] = {SEED[1], SEED[0]};
  assert_int_equal(lln_mock_route_by_overlap("poetry and math", swapped, 2), 0);
  assert_int_equal(lln_mock_route_by_overlap("anything", SEED, 0), -1);
}

static void test_overlap_words(void **state) {
  (void)state;
  /* stop words ("how", "to", "do", "it" ...) never count */
  const lln_route_candidate s[] = {{"first", "nothing here"}, {"second", "how to do it in the way"}};
  assert_int_equal(lln_mock_route_by_overlap("how do I do it", s, 2), 0);

  const lln_route_candidate c[] = {
      {"general", "Everything else"},
      {"code-helper", NULL},
      {"translator", "Translate text between languages"},
  };
  /* the name counts as words too */
  assert_int_equal(lln_mock_route_by_overlap("review my code", c, 3), 1);
  /* a 4-letter common prefix relates words; 3 letters do not */
  assert_int_equal(lln_mock_route_by_overlap("translation please", c, 3), 2);
  assert_int_equal(lln_mock_route_by_overlap("tra la la", c, 3), 0);
  /* repeating a word does not outweigh two different words */
  const lln_route_candidate d[] = {{"a", "poetry poetry"}, {"b", "math science"}};
  assert_int_equal(lln_mock_route_by_overlap("poetry poetry poetry math science", d, 2), 1);
}

static void test_parse_targets_of_router_prompt(void **state) {
  (void)state;
  lln_buf prompt;
  lln_buf_init(&prompt);
  const lln_route_candidate cands[] = {SEED[0], SEED[1], {"fallback", NULL}};
  lln_router_system_prompt(&prompt, cands, 3);
  lln_arena arena;
  lln_arena_init(&arena);
  lln_route_candidate *got = NULL;
  assert_int_equal(lln_mock_parse_targets(prompt.data, &arena, &got), 3);
  assert_string_equal(got[0].name, "creative-handler");
  assert_string_equal(got[0].use_case, "Creative writing, storytelling, poetry");
  assert_string_equal(got[1].name, "technical-handler");
  assert_string_equal(got[2].name, "fallback");
  assert_null(got[2].use_case);
  lln_buf_free(&prompt);

  assert_int_equal(lln_mock_parse_targets("You are helpful.", &arena, &got), 0);
  assert_null(got);
  assert_int_equal(lln_mock_parse_targets("Targets:\nnot a list", &arena, &got), 0);
  assert_int_equal(lln_mock_parse_targets(NULL, &arena, &got), 0);
  assert_int_equal(lln_mock_parse_targets("x\r\n  Targets:  \r\n- a: one\r\n-  b \r\nend", &arena, &got), 2);
  assert_string_equal(got[0].name, "a");
  assert_string_equal(got[0].use_case, "one");
  assert_string_equal(got[1].name, "b");
  lln_arena_free(&arena);
}

static void test_chat_read(void **state) {
  (void)state;
  lln_arena arena;
  lln_arena_init(&arena);
  lln_buf prompt;
  lln_buf_init(&prompt);
  lln_router_system_prompt(&prompt, SEED, 2);
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "model", "router-model");
  cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
  cJSON *sys = cJSON_CreateObject();
  cJSON_AddStringToObject(sys, "role", "system");
  cJSON_AddStringToObject(sys, "content", prompt.data);
  cJSON_AddItemToArray(msgs, sys);
  cJSON *user = cJSON_CreateObject();
  cJSON_AddStringToObject(user, "role", "user");
  cJSON *parts = cJSON_AddArrayToObject(user, "content");
  cJSON *p1 = cJSON_CreateObject(), *p2 = cJSON_CreateObject(), *p3 = cJSON_CreateObject();
  cJSON_AddStringToObject(p1, "type", "text");
  cJSON_AddStringToObject(p1, "text", "Write a");
  cJSON_AddStringToObject(p2, "type", "image_url");
  cJSON_AddStringToObject(p3, "type", "text");
  cJSON_AddStringToObject(p3, "text", "haiku");
  cJSON_AddItemToArray(parts, p1);
  cJSON_AddItemToArray(parts, p2);
  cJSON_AddItemToArray(parts, p3);
  cJSON_AddItemToArray(msgs, user);
  cJSON_AddTrueToObject(body, "stream");

  lln_mock_chat chat;
  const char *why = NULL;
  assert_int_equal(lln_mock_chat_read(&chat, body, &arena, &why), 0);
  assert_string_equal(chat.model, "router-model");
  assert_string_equal(chat.last_user, "Write a haiku");
  assert_int_equal(chat.target_count, 2);
  assert_int_equal(chat.stream, 1);
  assert_int_equal(chat.include_usage, 0);
  assert_int_equal(chat.has_tools, 0);
  assert_int_equal(chat.prompt_words, lln_mock_count_words(prompt.data) + 3);
  assert_int_equal(lln_mock_route_by_overlap(chat.last_user, chat.targets, chat.target_count), 0);

  cJSON_DeleteItemFromObjectCaseSensitive(body, "messages");
  assert_int_equal(lln_mock_chat_read(&chat, body, &arena, &why), -1);
  assert_non_null(strstr(why, "messages"));
  cJSON_AddItemToObject(body, "messages", cJSON_CreateString("hi"));
  assert_int_equal(lln_mock_chat_read(&chat, body, &arena, &why), -1);
  cJSON_Delete(body);
  lln_buf_free(&prompt);
  lln_arena_free(&arena);
}

/* ---- stream pieces ---- */

static void check_pieces(const char *text, unsigned words, size_t want_pieces) {
  size_t len = strlen(text), pos = 0, pieces = 0;
  lln_buf joined;
  lln_buf_init(&joined);
  while (pos < len) {
    size_t end = lln_mock_next_piece(text, len, pos, words);
    assert_true(end > pos);
    lln_buf_append(&joined, text + pos, end - pos);
    pos = end;
    pieces++;
  }
  assert_string_equal(joined.data ? joined.data : "", text);
  assert_int_equal(pieces, want_pieces);
  lln_buf_free(&joined);
}

static void test_stream_pieces_rejoin_exactly(void **state) {
  (void)state;
  check_pieces("[mock] reply to: hello  there", 1, 5);
  check_pieces("[mock] reply to: hello  there", 2, 3);
  check_pieces("[mock] reply to: hello  there", 100, 1);
  check_pieces("  leading and trailing  ", 1, 3);
  check_pieces("one", 1, 1);
  check_pieces("", 1, 0);
  check_pieces("line\nbreaks\ttoo", 1, 3);
  size_t len = strlen("a b"), first = lln_mock_next_piece("a b", len, 0, 1);
  assert_int_equal(first, 1); /* the blank goes with the next word: "a", " b" */
}

static void test_utf8_cut_and_words(void **state) {
  (void)state;
  const char *s = "caf\xc3\xa9!"; /* "café!" */
  assert_int_equal(lln_mock_utf8_cut(s, 6, 100), 6);
  assert_int_equal(lln_mock_utf8_cut(s, 6, 5), 5);
  assert_int_equal(lln_mock_utf8_cut(s, 6, 4), 3); /* not inside the é */
  assert_int_equal(lln_mock_utf8_cut(s, 6, 3), 3);

  const char *args = "{\"city\":\"Paris\"}";
  size_t alen = strlen(args), pos = 0, pieces = 0;
  while (pos < alen) {
    size_t end = lln_mock_next_arg_piece(args, alen, pos);
    assert_true(end > pos);
    pos = end;
    pieces++;
  }
  assert_true(pieces >= 2);
  const char *euro = "\xe2\x82\xac\xe2\x82\xac"; /* "€€": pieces never split a character */
  assert_int_equal(lln_mock_next_arg_piece(euro, 6, 0), 3);

  assert_int_equal(lln_mock_count_words("  two\twords\n"), 2);
  assert_int_equal(lln_mock_count_words(""), 0);
  assert_int_equal(lln_mock_count_words(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_every_key),
      cmocka_unit_test(test_load_reset_and_content_type),
      cmocka_unit_test(test_load_empty),
      cmocka_unit_test(test_unknown_keys),
      cmocka_unit_test(test_wrong_types_and_values),
      cmocka_unit_test(test_syntax_errors_have_positions),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_when_fields),
      cmocka_unit_test(test_first_match_wins_and_implicit_conditions),
      cmocka_unit_test(test_times),
      cmocka_unit_test(test_every),
      cmocka_unit_test(test_every_and_times_together),
      cmocka_unit_test(test_counters_are_per_rule),
      cmocka_unit_test(test_overlap_seed_example),
      cmocka_unit_test(test_overlap_ties_and_nothing),
      cmocka_unit_test(test_overlap_words),
      cmocka_unit_test(test_parse_targets_of_router_prompt),
      cmocka_unit_test(test_chat_read),
      cmocka_unit_test(test_stream_pieces_rejoin_exactly),
      cmocka_unit_test(test_utf8_cut_and_words),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
