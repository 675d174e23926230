/* test_route_input: what a routing decision reads of a conversation: the
 * kind of the newest turn, the router's input (newest turn, earlier context,
 * budget in code points, parts named), the session id rule, the session
 * fingerprint and the decision cache key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/route_input_int.h"
#include "pipeline/text_int.h"
#include "util/utf8.h"

static cJSON *msgs(const char *json) {
  cJSON *m = cJSON_Parse(json);
  if (!m)
    fail_msg("bad fixture: %s", json);
  return m;
}

static lln_turn_kind kind(const char *json) {
  cJSON *m = msgs(json);
  lln_turn_kind k = lln_route_turn_kind(m);
  cJSON_Delete(m);
  return k;
}

static void test_turn_kind(void **state) {
  (void)state;
  assert_int_equal(kind("[{\"role\":\"user\",\"content\":\"hi\"}]"), LLN_TURN_USER);
  assert_int_equal(kind("[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"hi\"},"
                        "{\"role\":\"system\",\"content\":\"late system\"}]"),
                   LLN_TURN_USER);
  assert_int_equal(
      kind("[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":null,"
           "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
           "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"}]"),
      LLN_TURN_TOOL);
  assert_int_equal(kind("[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"function\",\"name\":\"f\","
                        "\"content\":\"42\"}]"),
                   LLN_TURN_TOOL);
  assert_int_equal(
      kind("[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"Once\"}]"),
      LLN_TURN_ASSISTANT);
  assert_int_equal(kind("[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":null,"
                        "\"tool_calls\":[]},{\"role\":\"developer\",\"content\":\"d\"}]"),
                   LLN_TURN_ASSISTANT);
  assert_int_equal(
      kind("[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"developer\",\"content\":\"d\"}]"),
      LLN_TURN_NONE);
  assert_int_equal(kind("[]"), LLN_TURN_NONE);
  assert_int_equal(lln_route_turn_kind(NULL), LLN_TURN_NONE);
}

/* The router input of a conversation; *has is the return value. */
static char *input(const char *json, int with_previous, size_t max_chars, int *has) {
  cJSON *m = msgs(json);
  lln_buf b;
  lln_buf_init(&b);
  *has = lln_route_input(m, with_previous, max_chars, &b);
  cJSON_Delete(m);
  assert_non_null(b.data);
  assert_int_equal(strlen(b.data), b.len);
  return lln_buf_steal(&b);
}

static const char CODING[] =
    "[{\"role\":\"system\",\"content\":\"You help.\"},"
    "{\"role\":\"user\",\"content\":\"Write a Python function that merges two sorted lists.\"},"
    "{\"role\":\"assistant\",\"content\":\"def merge(a, b):\\n    return sorted(a + b)\"},"
    "{\"role\":\"user\",\"content\":\"Can you add comments to it?\"}]";

static void test_short_turn_gets_previous_exchange(void **state) {
  (void)state;
  int has;
  char *s = input(CODING, 0, 8000, &has);
  assert_int_equal(has, 1);
  assert_string_equal(s, "Latest message:\nCan you add comments to it?\n\n"
                         "Earlier in the conversation:\n"
                         "User: Write a Python function that merges two sorted lists.\n"
                         "Assistant: def merge(a, b):\n    return sorted(a + b)");
  free(s);
}

static void test_long_turn_alone_unless_turn_mode(void **state) {
  (void)state;
  const char *json = "[{\"role\":\"user\",\"content\":\"Write a poem\"},"
                     "{\"role\":\"assistant\",\"content\":\"Roses are red\"},"
                     "{\"role\":\"user\",\"content\":\"Now explain how a hash map handles collisions, with "
                     "open addressing and chaining compared in detail please\"}]";
  int has;
  char *s = input(json, 0, 8000, &has);
  assert_int_equal(has, 1);
  assert_string_equal(s, "Now explain how a hash map handles collisions, with open addressing and chaining "
                         "compared in detail please");
  free(s);
  s = input(json, 1, 8000, &has);
  assert_non_null(strstr(s, "Latest message:\nNow explain"));
  assert_non_null(strstr(s, "\nUser: Write a poem\nAssistant: Roses are red"));
  free(s);
}

static void test_single_turn_is_plain(void **state) {
  (void)state;
  int has;
  char *s =
      input("[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"  write a poem \"}]",
            1, 8000, &has);
  assert_int_equal(has, 1);
  assert_string_equal(s, "write a poem");
  free(s);
}

static void test_tool_loop_context(void **state) {
  (void)state;
  /* tool results and tool-call-only assistant turns are not context; the
   * answers after them are */
  const char *json =
      "[{\"role\":\"user\",\"content\":\"What is the weather in Paris?\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
      "\"function\":{\"name\":\"weather\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"SECRET-TOOL-OUTPUT\"},"
      "{\"role\":\"assistant\",\"content\":\"It is sunny.\"},"
      "{\"role\":\"user\",\"content\":\"And tomorrow?\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c2\",\"type\":\"function\","
      "\"function\":{\"name\":\"weather\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"rain\"}]";
  int has;
  char *s = input(json, 0, 8000, &has);
  assert_int_equal(has, 1);
  assert_string_equal(s, "Latest message:\nAnd tomorrow?\n\nEarlier in the conversation:\n"
                         "User: What is the weather in Paris?\nAssistant: It is sunny.");
  assert_null(strstr(s, "SECRET"));
  free(s);
}

static void test_parts(void **state) {
  (void)state;
  const char *json = "[{\"role\":\"user\",\"content\":["
                     "{\"type\":\"text\",\"text\":\"What is in this picture?\"},"
                     "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}},"
                     "{\"type\":\"input_image\",\"image_url\":\"x\"},"
                     "{\"type\":\"file\",\"file\":{\"file_id\":\"f\"}},"
                     "{\"type\":\"input_file\",\"file_id\":\"f\"},"
                     "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}},"
                     "{\"type\":\"mystery\"}]}]";
  int has;
  char *s = input(json, 0, 8000, &has);
  assert_int_equal(has, 1);
  assert_string_equal(s, "What is in this picture?\n[image]\n[image]\n[file]\n[file]\n[audio]");
  assert_null(strstr(s, "base64"));
  free(s);
}

static void test_no_user_text(void **state) {
  (void)state;
  int has;
  char *s = input("[{\"role\":\"system\",\"content\":\"You are a poet.\"}]", 0, 8000, &has);
  assert_int_equal(has, 0);
  assert_string_equal(s, "");
  free(s);
  s = input("[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]}]", 0,
            8000, &has);
  assert_int_equal(has, 0);
  assert_string_equal(s, "[image]");
  free(s);
  s = input("[{\"role\":\"user\",\"content\":\"   \"}]", 0, 8000, &has);
  assert_int_equal(has, 0);
  free(s);
  s = input("[{\"role\":\"user\",\"content\":null}]", 0, 8000, &has);
  assert_int_equal(has, 0);
  free(s);
  /* assistant text is not user text */
  s = input("[{\"role\":\"assistant\",\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":[{\"type\":"
            "\"input_audio\",\"input_audio\":{}}]}]",
            0, 8000, &has);
  assert_int_equal(has, 0);
  free(s);
  /* an image-only turn after a text turn reads that turn */
  s = input("[{\"role\":\"user\",\"content\":\"Describe the next image as a poem\"},"
            "{\"role\":\"assistant\",\"content\":\"Send it.\"},"
            "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}}]}]",
            0, 8000, &has);
  assert_int_equal(has, 1);
  assert_non_null(strstr(s, "Latest message:\n[image]\n"));
  assert_non_null(strstr(s, "User: Describe the next image as a poem"));
  free(s);
  s = input("{\"not\":\"an array\"}", 0, 8000, &has);
  assert_int_equal(has, 0);
  assert_string_equal(s, "");
  free(s);
}

/* A conversation of one user message of `n` copies of `unit`. */
static char *one_message(const char *unit, size_t n) {
  size_t ul = strlen(unit);
  char *json = malloc(n * ul + 64);
  assert_non_null(json);
  char *p = json + sprintf(json, "[{\"role\":\"user\",\"content\":\"");
  for (size_t i = 0; i < n; i++, p += ul)
    memcpy(p, unit, ul);
  strcpy(p, "\"}]");
  return json;
}

static void test_huge_message_keeps_head_and_tail(void **state) {
  (void)state;
  /* 225 KB paste: "HEAD" + filler + "TAIL" */
  size_t n = 225000;
  char *json = malloc(n + 64);
  assert_non_null(json);
  int off = sprintf(json, "[{\"role\":\"user\",\"content\":\"HEAD");
  memset(json + off, 'x', n);
  strcpy(json + off + n, "TAIL\"}]");
  int has;
  char *s = input(json, 0, 8000, &has);
  assert_int_equal(has, 1);
  assert_true(lln_utf8_length(s) <= 8000);
  assert_true(lln_utf8_length(s) >= 7990);
  assert_memory_equal(s, "HEAD", 4);
  assert_string_equal(s + strlen(s) - 4, "TAIL");
  char marker[64];
  /* 225008 characters, 8000 - 30 kept */
  snprintf(marker, sizeof marker, "[\xE2\x80\xA6 %d characters omitted \xE2\x80\xA6]", 225008 - (8000 - 31));
  assert_non_null(strstr(s, marker));
  free(s);
  free(json);
}

static void test_budget_is_code_points_and_utf8_safe(void **state) {
  (void)state;
  /* "é" is 2 bytes, "€" 3, "😀" 4: cuts never split one */
  const char *units[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "a\xE2\x82\xAC"};
  size_t budgets[] = {1, 5, 31, 32, 40, 100, 257, 8000};
  for (size_t u = 0; u < 4; u++) {
    char *json = one_message(units[u], 3000);
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
      int has;
      char *s = input(json, 0, budgets[b], &has);
      assert_int_equal(has, 1);
      assert_true(lln_utf8_valid(s, strlen(s), NULL));
      assert_true(lln_utf8_length(s) <= budgets[b]);
      free(s);
    }
    free(json);
  }
}

static void test_budget_with_context(void **state) {
  (void)state;
  /* a short follow-up after a huge answer: the answer is cut, the user turn
   * kept whole, the whole within budget */
  size_t n = 50000;
  char *json = malloc(n + 256);
  assert_non_null(json);
  int off = sprintf(json, "[{\"role\":\"user\",\"content\":\"Write a long story about a dragon\"},"
                          "{\"role\":\"assistant\",\"content\":\"");
  memset(json + off, 'y', n);
  strcpy(json + off + n, "\"},{\"role\":\"user\",\"content\":\"shorter please\"}]");
  size_t budgets[] = {300, 1000, 8000};
  for (size_t b = 0; b < 3; b++) {
    int has;
    char *s = input(json, 0, budgets[b], &has);
    assert_int_equal(has, 1);
    assert_true(lln_utf8_length(s) <= budgets[b]);
    assert_non_null(strstr(s, "Latest message:\nshorter please\n"));
    assert_non_null(strstr(s, "User: Write a long story about a dragon\nAssistant: yyy"));
    assert_non_null(strstr(s, "characters omitted"));
    free(s);
  }
  /* too small a budget for context: the latest message alone */
  int has;
  char *s = input(json, 0, 60, &has);
  assert_string_equal(s, "shorter please");
  free(s);
  free(json);
}

static uint32_t next_rand(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

/* Random text of 1-, 2-, 3- and 4-byte characters, white space included. */
static cJSON *random_text(uint32_t *x, size_t max_chars) {
  static const char *const UNITS[] = {"a", "Z", " ", "\n", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                      "."};
  size_t n = next_rand(x) % (max_chars + 1);
  lln_buf b;
  lln_buf_init(&b);
  for (size_t i = 0; i < n; i++)
    lln_buf_puts(&b, UNITS[next_rand(x) % 8]);
  lln_buf_append(&b, "", 0);
  cJSON *s = cJSON_CreateString(b.data);
  lln_buf_free(&b);
  return s;
}

/* Random conversations and budgets: the input is valid UTF-8, within the
 * budget, and user text is found whenever the newest turn has some. */
static void test_random_budgets(void **state) {
  (void)state;
  static const char *const ROLES[] = {"user", "assistant", "tool", "system"};
  uint32_t x = 0x9E3779B9;
  for (int round = 0; round < 600; round++) {
    cJSON *m = cJSON_CreateArray();
    size_t n = 1 + next_rand(&x) % 6;
    for (size_t i = 0; i < n; i++) {
      cJSON *msg = cJSON_CreateObject();
      cJSON_AddStringToObject(msg, "role", i + 1 == n ? "user" : ROLES[next_rand(&x) % 4]);
      cJSON_AddItemToObject(msg, "content", random_text(&x, next_rand(&x) % 4 ? 100 : 5000));
      cJSON_AddItemToArray(m, msg);
    }
    size_t budget = next_rand(&x) % 3000;
    lln_buf b;
    lln_buf_init(&b);
    lln_route_input(m, (int)(next_rand(&x) % 2), budget, &b);
    assert_non_null(b.data);
    assert_true(lln_utf8_valid(b.data, b.len, NULL));
    if (lln_utf8_length(b.data) > budget)
      fail_msg("round %d: %zu characters over a budget of %zu", round, lln_utf8_length(b.data), budget);
    lln_buf_free(&b);
    cJSON_Delete(m);
  }
}

static void test_session_id_valid(void **state) {
  (void)state;
  assert_true(lln_session_id_valid("abc"));
  assert_true(lln_session_id_valid("conv_123-XYZ:1/2 three"));
  assert_false(lln_session_id_valid(""));
  assert_false(lln_session_id_valid(NULL));
  assert_false(lln_session_id_valid(" lead"));
  assert_false(lln_session_id_valid("trail "));
  assert_false(lln_session_id_valid("new\nline"));
  assert_false(lln_session_id_valid("tab\there"));
  assert_false(lln_session_id_valid("caf\xC3\xA9"));
  char id[LLN_SESSION_ID_MAX + 2];
  memset(id, 'a', sizeof id);
  id[LLN_SESSION_ID_MAX] = '\0';
  assert_true(lln_session_id_valid(id));
  id[LLN_SESSION_ID_MAX] = 'a';
  id[LLN_SESSION_ID_MAX + 1] = '\0';
  assert_false(lln_session_id_valid(id));
}

static int fp(const char *json, char out[LLN_HEX_DIGEST_SIZE]) {
  cJSON *m = msgs(json);
  int rc = lln_session_fingerprint(m, out);
  cJSON_Delete(m);
  return rc;
}

static void test_fingerprint(void **state) {
  (void)state;
  char a[LLN_HEX_DIGEST_SIZE], b[LLN_HEX_DIGEST_SIZE];
  assert_int_equal(fp("[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"Q1\"}]", a),
                   0);
  assert_int_equal(strlen(a), 64);
  /* later turns, tool calls and their ids do not change it */
  assert_int_equal(fp("[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"Q1\"},"
                      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_RANDOM1\","
                      "\"type\":\"function\","
                      "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                      "{\"role\":\"tool\",\"tool_call_id\":\"call_RANDOM1\",\"content\":\"r\"},"
                      "{\"role\":\"assistant\",\"content\":\"A1\"},{\"role\":\"user\",\"content\":\"Q2\"}]",
                      b),
                   0);
  assert_string_equal(a, b);
  /* the same text as a parts array is the same opening */
  assert_int_equal(fp("[{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"S\"}]},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Q1\"}]}]",
                      b),
                   0);
  assert_string_equal(a, b);
  /* another opening is another conversation */
  assert_int_equal(fp("[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"Q2\"}]", b),
                   0);
  assert_string_not_equal(a, b);
  assert_int_equal(fp("[{\"role\":\"system\",\"content\":\"T\"},{\"role\":\"user\",\"content\":\"Q1\"}]", b),
                   0);
  assert_string_not_equal(a, b);
  assert_int_equal(fp("[{\"role\":\"user\",\"content\":\"Q1\"}]", b), 0);
  assert_string_not_equal(a, b);
  /* fields are separated: "S"+"Q1" is not "SQ"+"1" */
  assert_int_equal(fp("[{\"role\":\"system\",\"content\":\"SQ\"},{\"role\":\"user\",\"content\":\"1\"}]", b),
                   0);
  assert_string_not_equal(a, b);
  /* no user message: no session */
  assert_int_equal(fp("[{\"role\":\"system\",\"content\":\"S\"}]", b), -1);
  assert_int_equal(lln_session_fingerprint(NULL, b), -1);
}

static void test_cache_key(void **state) {
  (void)state;
  const lln_route_candidate c[] = {{"creative-handler", "Poetry"}, {"technical-handler", "Code"}};
  char a[LLN_HEX_DIGEST_SIZE], b[LLN_HEX_DIGEST_SIZE];
  lln_route_cache_key("router", c, 2, "Write a  poem\n about the sea ", a);
  assert_int_equal(strlen(a), 64);
  lln_route_cache_key("router", c, 2, "write a poem about the SEA", b);
  assert_string_equal(a, b);
  lln_route_cache_key("router", c, 2, "write a poem about the lake", b);
  assert_string_not_equal(a, b);
  lln_route_cache_key("router2", c, 2, "write a poem about the sea", b);
  assert_string_not_equal(a, b);
  lln_route_cache_key("router", c, 1, "write a poem about the sea", b);
  assert_string_not_equal(a, b);
  const lln_route_candidate d[] = {{"creative-handler", "Poems"}, {"technical-handler", "Code"}};
  lln_route_cache_key("router", d, 2, "write a poem about the sea", b);
  assert_string_not_equal(a, b);
  const lln_route_candidate e[] = {{"creative-handler", NULL}, {"technical-handler", "Code"}};
  lln_route_cache_key("router", e, 2, "write a poem about the sea", b);
  assert_string_not_equal(a, b);
}

/* A model's answer read by a later routing layer: clipped in characters
 * (not bytes) with the same marker as a message, and no text means none. */
static void test_answer_text(void **state) {
  (void)state;
  lln_buf out;
  lln_buf_init(&out);
  /* 300 two-byte characters fit a 300-character budget whole */
  char text[601];
  for (size_t i = 0; i < 300; i++)
    memcpy(text + 2 * i, "\xC3\xA9", 2);
  text[600] = '\0';
  assert_int_equal(lln_route_input_text(text, 300, &out), 1);
  assert_string_equal(out.data, text);
  lln_buf_reset(&out);
  assert_int_equal(lln_route_input_text(text, 200, &out), 1);
  assert_non_null(strstr(out.data, " characters omitted "));
  assert_true(lln_utf8_valid(out.data, out.len, NULL));
  lln_buf_reset(&out);
  assert_int_equal(lln_route_input_text(" \n\t ", 200, &out), 0);
  lln_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_turn_kind),
      cmocka_unit_test(test_short_turn_gets_previous_exchange),
      cmocka_unit_test(test_long_turn_alone_unless_turn_mode),
      cmocka_unit_test(test_single_turn_is_plain),
      cmocka_unit_test(test_tool_loop_context),
      cmocka_unit_test(test_parts),
      cmocka_unit_test(test_no_user_text),
      cmocka_unit_test(test_huge_message_keeps_head_and_tail),
      cmocka_unit_test(test_budget_is_code_points_and_utf8_safe),
      cmocka_unit_test(test_budget_with_context),
      cmocka_unit_test(test_random_budgets),
      cmocka_unit_test(test_session_id_valid),
      cmocka_unit_test(test_fingerprint),
      cmocka_unit_test(test_cache_key),
      cmocka_unit_test(test_answer_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
