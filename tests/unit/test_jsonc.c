/* Unit tests for config/jsonc: comment handling, strict syntax errors with positions, path positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config/jsonc.h"

static int parse_str(lln_jsonc_doc *doc, const char *s, char *err, size_t n) {
  return lln_jsonc_parse(doc, s, strlen(s), err, n);
}

/* Expects a parse failure with exactly this "LINE:COL: message". */
static void expect_error(const char *src, const char *want) {
  lln_jsonc_doc doc;
  char err[256];
  int rc = parse_str(&doc, src, err, sizeof err);
  if (rc == 0)
    fail_msg("parsed but expected error \"%s\" for input: %s", want, src);
  assert_string_equal(err, want);
  assert_null(doc.root);
  assert_null(doc.text);
  lln_jsonc_free(&doc);
}

static void expect_pos(const lln_jsonc_doc *doc, const char *path, int want_line, int want_col) {
  int line = -1, col = -1;
  if (lln_jsonc_position(doc, path, &line, &col) != 0)
    fail_msg("path \"%s\" not found", path);
  if (line != want_line || col != want_col)
    fail_msg("path \"%s\": got %d:%d, want %d:%d", path, line, col, want_line, want_col);
}

static void expect_no_path(const lln_jsonc_doc *doc, const char *path) {
  int line = -1, col = -1;
  assert_int_equal(lln_jsonc_position(doc, path, &line, &col), -1);
}

static void test_comments_everywhere(void **state) {
  (void)state;
  const char *src = "// leading line comment\n"
                    "/* leading\n   block */ {\n"
                    "  // before a key\n"
                    "  \"a\" /* between key and colon */ : /* between colon and value */ 1, // after comma\n"
                    "  \"b\": [ /* in empty-ish array */ 1, /* mid */ 2 /* before close */ ], /**/\n"
                    "  \"c\": {/*x*/}, \"d\": [//\n"
                    "  ],\n"
                    "  \"e\": true /* multi\n line\n block */\n"
                    "} // trailing\n"
                    "/* trailing block */ // no newline at end";
  lln_jsonc_doc doc;
  char err[256] = "";
  if (parse_str(&doc, src, err, sizeof err) != 0)
    fail_msg("unexpected error: %s", err);
  assert_non_null(doc.root);
  assert_int_equal(cJSON_GetObjectItem(doc.root, "a")->valueint, 1);
  cJSON *b = cJSON_GetObjectItem(doc.root, "b");
  assert_int_equal(cJSON_GetArraySize(b), 2);
  assert_int_equal(cJSON_GetArrayItem(b, 1)->valueint, 2);
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(doc.root, "c")));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc.root, "d")), 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(doc.root, "e")));

  /* Blanking keeps length and every newline, and removes all comment text. */
  assert_int_equal(doc.text_len, strlen(src));
  for (size_t i = 0; i < doc.text_len; i++)
    if (src[i] == '\n' || doc.text[i] == '\n')
      assert_int_equal(src[i], doc.text[i]);
  assert_null(strstr(doc.text, "//"));
  assert_null(strstr(doc.text, "/*"));
  assert_null(strstr(doc.text, "trailing"));
  assert_int_equal(doc.text[doc.text_len], '\0');

  expect_pos(&doc, "/a", 5, 3);
  expect_pos(&doc, "/e", 9, 3);
  lln_jsonc_free(&doc);
}

static void test_slashes_inside_strings(void **state) {
  (void)state;
  const char *src = "{\"url\": \"https://openrouter.ai/api\", // real comment\n"
                    " \"glob\": \"a /* not a comment */ b\",\n"
                    " \"q\": \"say \\\"hi\\\" // still string\", \"bs\": \"ends with \\\\\" // comment\n"
                    " , \"odd\": \"1\\\" // inside /* too\"\n"
                    "}";
  lln_jsonc_doc doc;
  char err[256] = "";
  if (parse_str(&doc, src, err, sizeof err) != 0)
    fail_msg("unexpected error: %s", err);
  assert_string_equal(cJSON_GetObjectItem(doc.root, "url")->valuestring, "https://openrouter.ai/api");
  assert_string_equal(cJSON_GetObjectItem(doc.root, "glob")->valuestring, "a /* not a comment */ b");
  assert_string_equal(cJSON_GetObjectItem(doc.root, "q")->valuestring, "say \"hi\" // still string");
  assert_string_equal(cJSON_GetObjectItem(doc.root, "bs")->valuestring, "ends with \\");
  assert_string_equal(cJSON_GetObjectItem(doc.root, "odd")->valuestring, "1\" // inside /* too");
  assert_null(strstr(doc.text, "real comment"));
  lln_jsonc_free(&doc);
}

static void test_error_missing_comma(void **state) {
  (void)state;
  expect_error("{\n  \"a\": 1\n  \"b\": 2\n}", "3:3: expected ',' or '}' after object member");
  expect_error("[1 2]", "1:4: expected ',' or ']' after array element");
  expect_error("{\"a\": {\"x\": 1} \"b\": 2}", "1:16: expected ',' or '}' after object member");
}

static void test_error_trailing_comma(void **state) {
  (void)state;
  expect_error("{\n  \"a\": 1,\n}", "2:9: trailing comma is not JSON");
  expect_error("[1, 2, /* c */ ]", "1:6: trailing comma is not JSON");
  expect_error("{\"a\": [1,\n// x\n]}", "1:9: trailing comma is not JSON");
}

static void test_error_strings(void **state) {
  (void)state;
  expect_error("{\"a\": \"abc", "1:7: unterminated string");
  expect_error("{\n  \"a\": \"abc\n}", "2:8: unterminated string");
  /* A missing quote must not hide a later comment problem or swallow the file into the string. */
  expect_error("{\"a\": \"abc\n, // \"b\": 1\n}", "1:7: unterminated string");
  expect_error("{\"a\": \"x\\q\"}", "1:9: invalid escape in string: backslash followed by 'q'");
  expect_error("{\"a\": \"\\u12G4\"}", "1:8: invalid \\u escape: expected 4 hex digits");
  expect_error("{\"a\": \"\\ud800x\"}", "1:8: invalid \\u escape: unpaired UTF-16 surrogate");
  expect_error("{\"a\": \"tab\there\"}", "1:11: control character in string (escape it, e.g. \\t)");
  expect_error("{'a': 1}", "1:2: object keys must be double-quoted, not single-quoted");
  expect_error("{a: 1}", "1:2: object keys must be double-quoted");
  expect_error("{\"a\": 'x'}", "1:7: single-quoted strings are not JSON; use double quotes");
}

static void test_error_comments(void **state) {
  (void)state;
  expect_error("{\"a\": 1 /* oops\n}", "1:9: unterminated comment");
  expect_error("{\n  \"a\": 1\n}\n/*/", "4:1: unterminated comment");
  /* The earlier problem is reported, not the comment at the end. */
  expect_error("{\"a\" 1 /* x", "1:6: expected ':' after object key, found '1'");
  expect_error("{\"a\": 1 / 2}", "1:9: expected ',' or '}' after object member");
  expect_error("[/ 1]", "1:2: unexpected '/' (comments start with // or /*)");
}

static void test_error_structure(void **state) {
  (void)state;
  expect_error("{\"a\": 1} x", "1:10: unexpected content after the top-level value");
  expect_error("[1]\n// fine\n[2]", "3:1: unexpected content after the top-level value");
  expect_error("", "1:1: empty document, expected a JSON value");
  expect_error("  \n // only a comment\n", "3:1: empty document, expected a JSON value");
  expect_error("{\n  \"a\": [1, 2\n", "3:1: unexpected end of input: '[' opened at 2:8 is not closed");
  expect_error("{\"a\": ", "1:7: unexpected end of input, expected a value");
  expect_error("{\"a\": }", "1:7: expected a value, found '}'");
  expect_error("{\"a\": tru}",
               "1:7: expected a value, found an unquoted word (strings must be double-quoted; "
               "literals are true, false and null)");
  expect_error("[01]", "1:2: invalid number: leading zeros are not allowed");
  expect_error("[1.]", "1:2: invalid number: expected digits after '.'");
  expect_error("[+1]", "1:2: expected a value, found '+'");
  expect_error("[-]", "1:2: invalid number");
  expect_error("[1e]", "1:2: invalid number: expected digits in the exponent");
  expect_error("{,}", "1:2: expected '\"' to begin an object key, found ','");
  expect_error("{\"a\" 1}", "1:6: expected ':' after object key, found '1'");
  expect_error("[1,,2]", "1:4: expected a value, found ','");
}

static void test_bom_and_lengths(void **state) {
  (void)state;
  lln_jsonc_doc doc;
  char err[256] = "";
  const char bom[] = "\xef\xbb\xbf{\"a\": 1}";
  assert_int_equal(lln_jsonc_parse(&doc, bom, sizeof bom - 1, err, sizeof err), 0);
  assert_int_equal(cJSON_GetObjectItem(doc.root, "a")->valueint, 1);
  expect_pos(&doc, "/a", 1, 2);
  lln_jsonc_free(&doc);

  expect_error("\xef\xbb\xbf{\"a\" 1}", "1:6: expected ':' after object key, found '1'");

  /* Not NUL-terminated: only the first len bytes count. */
  const char slice[] = "[1,2]garbage";
  assert_int_equal(lln_jsonc_parse(&doc, slice, 5, err, sizeof err), 0);
  assert_int_equal(cJSON_GetArraySize(doc.root), 2);
  lln_jsonc_free(&doc);
  assert_int_equal(lln_jsonc_parse(&doc, slice, 4, err, sizeof err), -1);
  assert_string_equal(err, "1:5: unexpected end of input: '[' opened at 1:1 is not closed");

  /* Free is safe on a zeroed and on an already freed doc. */
  lln_jsonc_doc zero;
  memset(&zero, 0, sizeof zero);
  lln_jsonc_free(&zero);
  lln_jsonc_free(&zero);
  assert_null(zero.root);

  /* A NUL byte inside a string is not JSON and must not silently truncate the value. */
  const char nul[] = "{\"a\": \"x\0y\"}";
  assert_int_equal(lln_jsonc_parse(&doc, nul, sizeof nul - 1, err, sizeof err), -1);
  assert_string_equal(err, "1:9: control character in string (escape it, e.g. \\t)");
}

static void test_positions(void **state) {
  (void)state;
  const char *src = "{\n"                                       /* 1 */
                    "  \"models\": {\n"                         /* 2 */
                    "    \"gpt\": { \"url\": \"https://x\" }\n" /* 3 */
                    "  },\n"                                    /* 4 */
                    "  \"architecture\": [\n"                   /* 5 */
                    "    \"a\",\n"                              /* 6 */
                    "    [1, [2, 3]],\n"                        /* 7 */
                    "    { \"if\": \"x\", \"then\": [] }\n"     /* 8 */
                    "  ],\n"                                    /* 9 */
                    "  \"a/b\": 1, \"m~n\": 2, \"\": 3,\n"      /* 10 */
                    "  \"2\": \"key not index\",\n"             /* 11 */
                    "  \"caf\\u00e9\": 4, \"q\\\"uote\": 5,\n"  /* 12 */
                    "  \"dup\": 1, \"dup\": 2\n"                /* 13 */
                    "}\n";
  lln_jsonc_doc doc;
  char err[256] = "";
  if (parse_str(&doc, src, err, sizeof err) != 0)
    fail_msg("unexpected error: %s", err);
  expect_pos(&doc, "", 1, 1);
  expect_pos(&doc, "/models", 2, 3);
  expect_pos(&doc, "/models/gpt", 3, 5);
  expect_pos(&doc, "/models/gpt/url", 3, 14);
  expect_pos(&doc, "/architecture", 5, 3);
  expect_pos(&doc, "/architecture/0", 6, 5);
  expect_pos(&doc, "/architecture/1", 7, 5);
  expect_pos(&doc, "/architecture/1/0", 7, 6);
  expect_pos(&doc, "/architecture/1/1", 7, 9);
  expect_pos(&doc, "/architecture/1/1/1", 7, 13);
  expect_pos(&doc, "/architecture/2", 8, 5);
  expect_pos(&doc, "/architecture/2/if", 8, 7);
  expect_pos(&doc, "/architecture/2/then", 8, 18);
  expect_pos(&doc, "/a~1b", 10, 3);
  expect_pos(&doc, "/m~0n", 10, 13);
  expect_pos(&doc, "/", 10, 23);
  expect_pos(&doc, "/2", 11, 3);
  expect_pos(&doc, "/caf\xc3\xa9", 12, 3);
  expect_pos(&doc, "/q\"uote", 12, 19);
  expect_pos(&doc, "/dup", 13, 3);

  expect_no_path(&doc, "/nope");
  expect_no_path(&doc, "/models/gpt/url/deeper");
  expect_no_path(&doc, "/architecture/3");
  expect_no_path(&doc, "/architecture/01");
  expect_no_path(&doc, "/architecture/-");
  expect_no_path(&doc, "/architecture/if");
  expect_no_path(&doc, "/a/b");   /* unescaped '/' splits the key */
  expect_no_path(&doc, "/m~2n");  /* invalid escape */
  expect_no_path(&doc, "/m~");    /* truncated escape */
  expect_no_path(&doc, "models"); /* not a pointer */
  expect_no_path(&doc, "/gpt");   /* only direct children of the root */
  expect_no_path(&doc, "/architecture/99999999999999999999999999");
  lln_jsonc_free(&doc);
  expect_no_path(&doc, "");
}

static void test_positions_after_comments(void **state) {
  (void)state;
  const char *src = "/* header\n   spanning */ [ // one\n"
                    "  /* a */ {\"k\": /* b */ 1},\n"
                    "  \"x\" ]";
  lln_jsonc_doc doc;
  char err[256] = "";
  if (parse_str(&doc, src, err, sizeof err) != 0)
    fail_msg("unexpected error: %s", err);
  expect_pos(&doc, "", 2, 16);
  expect_pos(&doc, "/0", 3, 11);
  expect_pos(&doc, "/0/k", 3, 12);
  expect_pos(&doc, "/1", 4, 3);
  lln_jsonc_free(&doc);
}

static void test_nesting_limit(void **state) {
  (void)state;
  size_t depth = CJSON_NESTING_LIMIT;
  char *s = malloc(2 * depth + 2);
  memset(s, '[', depth);
  memset(s + depth, ']', depth);
  lln_jsonc_doc doc;
  char err[256] = "";
  assert_int_equal(lln_jsonc_parse(&doc, s, 2 * depth, err, sizeof err), 0);
  expect_pos(&doc, "/0/0/0", 1, 4);
  lln_jsonc_free(&doc);

  memset(s, '[', depth + 1);
  memset(s + depth + 1, ']', depth + 1);
  assert_int_equal(lln_jsonc_parse(&doc, s, 2 * depth + 2, err, sizeof err), -1);
  char want[64];
  snprintf(want, sizeof want, "1:%d: nesting deeper than %d levels", CJSON_NESTING_LIMIT + 1,
           CJSON_NESTING_LIMIT);
  assert_string_equal(err, want);
  free(s);
}

/* A megabyte of members must index and look up in linear time (the test would time out otherwise). */
static void test_large_document(void **state) {
  (void)state;
  size_t members = 40000;
  size_t cap = members * 40 + 64;
  char *s = malloc(cap);
  size_t n = 0;
  n += (size_t)snprintf(s + n, cap - n, "{\"list\": [\n");
  for (size_t i = 0; i < members; i++)
    n += (size_t)snprintf(s + n, cap - n, "  {\"k%zu\": [%zu, \"v\"]}%s\n", i, i, i + 1 < members ? "," : "");
  n += (size_t)snprintf(s + n, cap - n, "]}");
  lln_jsonc_doc doc;
  char err[256] = "";
  assert_int_equal(lln_jsonc_parse(&doc, s, n, err, sizeof err), 0);
  char path[64];
  snprintf(path, sizeof path, "/list/%zu/k%zu/1", members - 1, members - 1);
  int line, col;
  assert_int_equal(lln_jsonc_position(&doc, path, &line, &col), 0);
  assert_int_equal(line, (int)members + 1);
  snprintf(path, sizeof path, "/list/%zu/k0", members - 1);
  expect_no_path(&doc, path);
  lln_jsonc_free(&doc);
  free(s);
}

static void test_load_file(void **state) {
  (void)state;
  char path[] = "/tmp/test_jsonc_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *body = "{\n  // comment\n  \"a\": 1\n  \"b\": 2\n}\n";
  assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
  close(fd);

  lln_jsonc_doc doc;
  char err[512] = "";
  assert_int_equal(lln_jsonc_load_file(&doc, path, err, sizeof err), -1);
  char want[512];
  snprintf(want, sizeof want, "%s:4:3: expected ',' or '}' after object member", path);
  assert_string_equal(err, want);

  FILE *f = fopen(path, "w");
  fputs("{\"ok\": [true] /* done */}", f);
  fclose(f);
  assert_int_equal(lln_jsonc_load_file(&doc, path, err, sizeof err), 0);
  assert_true(cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetObjectItem(doc.root, "ok"), 0)));
  expect_pos(&doc, "/ok/0", 1, 9);
  lln_jsonc_free(&doc);
  unlink(path);

  assert_int_equal(lln_jsonc_load_file(&doc, path, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s: No such file or directory", path);
  assert_string_equal(err, want);
  assert_int_equal(lln_jsonc_load_file(&doc, "/tmp", err, sizeof err), -1);
  assert_string_equal(err, "/tmp: Is a directory");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_comments_everywhere), cmocka_unit_test(test_slashes_inside_strings),
      cmocka_unit_test(test_error_missing_comma), cmocka_unit_test(test_error_trailing_comma),
      cmocka_unit_test(test_error_strings),       cmocka_unit_test(test_error_comments),
      cmocka_unit_test(test_error_structure),     cmocka_unit_test(test_bom_and_lengths),
      cmocka_unit_test(test_positions),           cmocka_unit_test(test_positions_after_comments),
      cmocka_unit_test(test_nesting_limit),       cmocka_unit_test(test_large_document),
      cmocka_unit_test(test_load_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
