/* test_expand: src/hooks/expand.c. Variables by whole names, the literal
 * forms ($$, a lone $), each escaping mode, and that inserted values are
 * never expanded again, whatever they contain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hooks/expand_int.h"

#include "lookup_vars.h"

static const var VARS[] = {
    {"INPUT", "hello world"},
    {"INPUT_LENGTH", "11"},
    {"NODE", "router"},
    {"EMPTY", ""},
    {"_x1", "under"},
    {"EVIL_SECRET", "$secrets.openai.key"},
    {"EVIL_REF", "$INPUT ${NODE} $$"},
    {"HDR", "x\r\nEvil: 1"},
    {"CTRL", "a\tb\x01\x1f\x7f"
             "c"},
    {"QUOTE", "say \"hi\" \\ back\nslash\r/"},
    {"UTF8", "caf\xc3\xa9 \xe2\x9c\x93"},
    {"URLV", "a b&c=d/e?f#g%h+i~j-k.l_m"},
    {"INJECT", "; rm -rf / `id` $(id) 'q' \"dq\"\nnext"},
    {NULL, NULL},
};

static int lookups;

static const char *lookup(void *ctx, const char *name, size_t len) {
  lookups++;
  return var_find(ctx, name, len);
}

/* expands into a static buffer so tests read as one line each */
static const char *ex(const char *tmpl, lln_expand_mode mode) {
  static char out[1024];
  lln_buf b;
  lln_buf_init(&b);
  lln_expand(tmpl, mode, lookup, (void *)VARS, &b);
  assert_non_null(b.data);
  assert_int_equal(strlen(b.data), b.len);
  assert_true(b.len < sizeof out);
  memcpy(out, b.data, b.len + 1);
  lln_buf_free(&b);
  return out;
}

static const char *text(const char *tmpl) { return ex(tmpl, LLN_EXPAND_TEXT); }

static void test_whole_names(void **state) {
  (void)state;
  assert_string_equal(text("$INPUT_LENGTH"), "11");
  assert_string_equal(text("$INPUT"), "hello world");
  assert_string_equal(text("[$INPUT_LENGTH|$INPUT]"), "[11|hello world]");
  /* a longer unset name is not a prefix match of a set one */
  assert_string_equal(text("$INPUTX"), "");
  assert_string_equal(text("$INPUT_LENGTHS"), "");
  assert_string_equal(text("$_x1!"), "under!");
  assert_string_equal(text("$NODE.name"), "router.name");
  assert_string_equal(text("$NODE-$NODE"), "router-router");
}

static void test_braces(void **state) {
  (void)state;
  assert_string_equal(text("${INPUT}_LENGTH"), "hello world_LENGTH");
  assert_string_equal(text("${INPUT_LENGTH}"), "11");
  assert_string_equal(text("a${NODE}b"), "arouterb");
  /* not a well-formed reference: kept as written */
  assert_string_equal(text("${NODE"), "${NODE");
  assert_string_equal(text("${}"), "${}");
  assert_string_equal(text("${1A}"), "${1A}");
  assert_string_equal(text("${NO-DE}"), "${NO-DE}");
}

static void test_literal_dollars(void **state) {
  (void)state;
  assert_string_equal(text("$$"), "$");
  assert_string_equal(text("$$INPUT"), "$INPUT");
  assert_string_equal(text("$$$INPUT"), "$hello world");
  assert_string_equal(text("cost: 5$"), "cost: 5$");
  assert_string_equal(text("$"), "$");
  assert_string_equal(text("$5 and $ and $-x"), "$5 and $ and $-x");
  assert_string_equal(text("a$"), "a$");
}

static void test_unset_and_empty(void **state) {
  (void)state;
  assert_string_equal(text("<$NOPE>"), "<>");
  assert_string_equal(text("<${NOPE}>"), "<>");
  assert_string_equal(text("<$EMPTY>"), "<>");
  assert_string_equal(text(""), "");
  assert_string_equal(text("plain text"), "plain text");

  lln_buf b;
  lln_buf_init(&b);
  lln_expand(NULL, LLN_EXPAND_TEXT, lookup, (void *)VARS, &b);
  assert_non_null(b.data);
  assert_int_equal(b.len, 0);
  /* no lookup at all: every variable is unset */
  lln_expand("x$INPUT$$y", LLN_EXPAND_TEXT, NULL, NULL, &b);
  assert_string_equal(b.data, "x$y");
  lln_buf_free(&b);
}

static void test_appends_to_buffer(void **state) {
  (void)state;
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_puts(&b, "pre:");
  lln_expand("$NODE", LLN_EXPAND_JSON, lookup, (void *)VARS, &b);
  lln_expand("\"$QUOTE\"", LLN_EXPAND_JSON, lookup, (void *)VARS, &b);
  assert_string_equal(b.data, "pre:router\"say \\\"hi\\\" \\\\ back\\nslash\\r/\"");
  lln_buf_free(&b);
}

static void test_no_reexpansion(void **state) {
  (void)state;
  assert_string_equal(text("$EVIL_SECRET"), "$secrets.openai.key");
  assert_string_equal(text("$EVIL_REF"), "$INPUT ${NODE} $$");
  /* one lookup per reference: the value was not scanned for more */
  lookups = 0;
  assert_string_equal(text("[$EVIL_REF]"), "[$INPUT ${NODE} $$]");
  assert_int_equal(lookups, 1);
  for (int m = LLN_EXPAND_TEXT; m <= LLN_EXPAND_JSON; m++)
    assert_string_equal(ex("$EVIL_SECRET", (lln_expand_mode)m), "$secrets.openai.key");
  assert_string_equal(ex("$EVIL_SECRET", LLN_EXPAND_URL), "%24secrets.openai.key");
}

static void test_injection_is_literal(void **state) {
  (void)state;
  assert_string_equal(text("$INJECT"), "; rm -rf / `id` $(id) 'q' \"dq\"\nnext");
  assert_string_equal(text("echo $INJECT!"), "echo ; rm -rf / `id` $(id) 'q' \"dq\"\nnext!");
  assert_string_equal(ex("$INJECT", LLN_EXPAND_HEADER), "; rm -rf / `id` $(id) 'q' \"dq\" next");
  assert_string_equal(ex("$INJECT", LLN_EXPAND_JSON), "; rm -rf / `id` $(id) 'q' \\\"dq\\\"\\nnext");
  assert_string_equal(ex("$INJECT", LLN_EXPAND_URL),
                      "%3B%20rm%20-rf%20%2F%20%60id%60%20%24%28id%29%20%27q%27%20%22dq%22%0Anext");
}

static void test_header_mode(void **state) {
  (void)state;
  const char *h = ex("X-Input: $HDR", LLN_EXPAND_HEADER);
  assert_string_equal(h, "X-Input: x  Evil: 1");
  assert_null(strchr(h, '\r'));
  assert_null(strchr(h, '\n'));
  assert_string_equal(ex("$CTRL", LLN_EXPAND_HEADER), "a b   c");
  assert_string_equal(ex("$UTF8", LLN_EXPAND_HEADER), "caf\xc3\xa9 \xe2\x9c\x93");
  assert_string_equal(ex("$QUOTE", LLN_EXPAND_HEADER), "say \"hi\" \\ back slash /");
}

static void test_json_mode(void **state) {
  (void)state;
  assert_string_equal(ex("$QUOTE", LLN_EXPAND_JSON), "say \\\"hi\\\" \\\\ back\\nslash\\r/");
  assert_string_equal(ex("$CTRL", LLN_EXPAND_JSON), "a\\tb\\u0001\\u001f\x7f"
                                                    "c");
  assert_string_equal(ex("$UTF8", LLN_EXPAND_JSON), "caf\xc3\xa9 \xe2\x9c\x93");
  /* the template's own quotes are JSON syntax and stay */
  assert_string_equal(ex("{\"text\": \"$HDR\", \"n\": $INPUT_LENGTH}", LLN_EXPAND_JSON),
                      "{\"text\": \"x\\r\\nEvil: 1\", \"n\": 11}");
}

static void test_url_mode(void **state) {
  (void)state;
  assert_string_equal(ex("$URLV", LLN_EXPAND_URL), "a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi~j-k.l_m");
  assert_string_equal(ex("$UTF8", LLN_EXPAND_URL), "caf%C3%A9%20%E2%9C%93");
  /* only values are encoded: the template's own ?, & and / are the URL's */
  assert_string_equal(ex("http://h:1/a/b?q=$INPUT&n=${NODE}#f", LLN_EXPAND_URL),
                      "http://h:1/a/b?q=hello%20world&n=router#f");
  assert_string_equal(ex("http://h/$$x", LLN_EXPAND_URL), "http://h/$x");
}

static void test_text_mode_keeps_everything(void **state) {
  (void)state;
  assert_string_equal(text("$QUOTE"), "say \"hi\" \\ back\nslash\r/");
  assert_string_equal(text("$CTRL"), "a\tb\x01\x1f\x7f"
                                     "c");
  assert_string_equal(text("$HDR"), "x\r\nEvil: 1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whole_names),
      cmocka_unit_test(test_braces),
      cmocka_unit_test(test_literal_dollars),
      cmocka_unit_test(test_unset_and_empty),
      cmocka_unit_test(test_appends_to_buffer),
      cmocka_unit_test(test_no_reexpansion),
      cmocka_unit_test(test_injection_is_literal),
      cmocka_unit_test(test_header_mode),
      cmocka_unit_test(test_json_mode),
      cmocka_unit_test(test_url_mode),
      cmocka_unit_test(test_text_mode_keeps_everything),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
