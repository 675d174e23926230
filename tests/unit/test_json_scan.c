/* test_json_scan: the object scanner behind spliced stream events and
 * answers (src/util/json_scan.h): member spans for keys with escapes and
 * values holding braces and quotes, every kind of value, whitespace, the
 * member bound, and refusals with the offending offset: truncations at
 * every byte, trailing garbage, numbers outside JSON's grammar, raw control
 * characters, bad escapes and surrogates, nesting past the depth bound;
 * and an object that only starts the text (lln_json_scan_object_at).
 * Every verdict is checked against cJSON: what the scanner accepts, cJSON
 * reads as the same object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_scan.h"

#define MAX 8

static lln_json_member members[MAX];

/* Compared as printed: cJSON_Compare finds no two infinities equal, and
 * takes time exponential in the depth of nested objects. */
static int same(const cJSON *a, const cJSON *b) {
  char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
  int eq = pa && pb && strcmp(pa, pb) == 0;
  free(pa);
  free(pb);
  return eq;
}

static lln_json_scan scan(const char *s, size_t len, int want_rc) {
  lln_json_scan sc = {.members = members, .max = MAX};
  int rc = lln_json_scan_object(s, len, &sc);
  if (rc != want_rc)
    fail_msg("%s %.*s", rc == 0 ? "accepted" : "refused", (int)len, s);
  cJSON *tree = cJSON_ParseWithLength(s, len);
  if (rc == 0) {
    /* what the scanner takes, cJSON reads, with the same members */
    assert_true(cJSON_IsObject(tree));
    assert_int_equal((size_t)cJSON_GetArraySize(tree), sc.count);
    const cJSON *c = tree->child;
    for (size_t i = 0; i < sc.count && i < MAX; i++, c = c->next) {
      cJSON *v = cJSON_ParseWithLength(s + members[i].val_off, members[i].val_len);
      assert_non_null(v);
      assert_true(same(v, c));
      cJSON_Delete(v);
    }
  } else {
    assert_true(sc.error_at <= len);
  }
  cJSON_Delete(tree);
  return sc;
}

#define OK(lit) scan(lit, sizeof lit - 1, 0)
#define BAD(lit) scan(lit, sizeof lit - 1, -1)

static void span_is(const char *s, size_t off, size_t len, const char *want) {
  if (len != strlen(want) || memcmp(s + off, want, len) != 0)
    fail_msg("span \"%.*s\", want \"%s\"", (int)len, s + off, want);
}

static void member_is(const char *s, size_t i, const char *key, const char *value) {
  span_is(s, members[i].key_off, members[i].key_len, key);
  span_is(s, members[i].val_off, members[i].val_len, value);
}

static void test_members_and_spans(void **state) {
  (void)state;
  const char s[] = " {\"id\" : \"x\",\n\t\"choices\":[{\"delta\":{\"content\":\"}{\\\"]\"}}],\"n\":-1.5e+3,"
                   "\"t\":true,\"f\":false,\"z\":null,\"o\":{}} \r\n";
  lln_json_scan sc = OK(s);
  assert_int_equal(sc.count, 7);
  assert_int_equal(sc.flags, 0);
  member_is(s, 0, "id", "\"x\"");
  member_is(s, 1, "choices", "[{\"delta\":{\"content\":\"}{\\\"]\"}}]");
  member_is(s, 2, "n", "-1.5e+3");
  member_is(s, 3, "t", "true");
  member_is(s, 4, "f", "false");
  member_is(s, 5, "z", "null");
  member_is(s, 6, "o", "{}");
  assert_true(lln_json_key_is(s, &members[1], "choices"));
  assert_false(lln_json_key_is(s, &members[1], "choice"));
  assert_int_equal(OK("{}").count, 0);
  assert_int_equal(OK(" { } ").count, 0);
}

static void test_escaped_keys(void **state) {
  (void)state;
  const char s[] = "{\"mod\\u0065l\":\"m\",\"a\\\"b\":1,\"c:d\":2,\"\":3}";
  lln_json_scan sc = OK(s);
  assert_int_equal(sc.count, 4);
  assert_true(sc.flags & LLN_JSON_SCAN_ESCAPED_KEY);
  assert_true(members[0].key_escaped);
  span_is(s, members[0].key_off, members[0].key_len, "mod\\u0065l");
  assert_false(lln_json_key_is(s, &members[0], "model")); /* escaped: never equal as written */
  member_is(s, 1, "a\\\"b", "1");
  member_is(s, 2, "c:d", "2");
  member_is(s, 3, "", "3");
  assert_false(members[2].key_escaped);
  assert_false(OK("{\"a\":\"\\n\"}").flags & LLN_JSON_SCAN_ESCAPED_KEY); /* escapes in values only */
}

static void test_duplicates_are_reported(void **state) {
  (void)state;
  const char s[] = "{\"a\":1,\"a\":2}";
  lln_json_scan sc = OK(s);
  assert_int_equal(sc.count, 2);
  member_is(s, 0, "a", "1");
  member_is(s, 1, "a", "2");
}

static void test_members_past_the_bound(void **state) {
  (void)state;
  char s[512];
  size_t n = (size_t)snprintf(s, sizeof s, "{");
  for (int i = 0; i < 12; i++)
    n += (size_t)snprintf(s + n, sizeof s - n, "%s\"k%d\":%d", i ? "," : "", i, i);
  n += (size_t)snprintf(s + n, sizeof s - n, "}");
  lln_json_scan sc = scan(s, n, 0);
  assert_int_equal(sc.count, 12); /* counted, the first MAX reported */
  member_is(s, MAX - 1, "k7", "7");
  s[n - 2] = 'x'; /* a fault past the bound is still found */
  scan(s, n, -1);
}

static void test_numbers(void **state) {
  (void)state;
  OK("{\"a\":0,\"b\":-0.5,\"c\":1e5,\"d\":1E-5,\"e\":12.25e+2,\"f\":123456789012345}");
  assert_int_equal(OK("{\"a\":[0,1.5,-2e3]}").flags, 0);
  /* JSON's grammar, where cJSON is looser */
  BAD("{\"a\":01}");
  BAD("{\"a\":1.}");
  BAD("{\"a\":-.5}");
  BAD("{\"a\":.5}");
  BAD("{\"a\":+1}");
  BAD("{\"a\":1e}");
  BAD("{\"a\":1e+}");
  BAD("{\"a\":-}");
  BAD("{\"a\":0x10}");
  BAD("{\"a\":1-2}");
  BAD("{\"a\":Infinity}");
  BAD("{\"a\":NaN}");
  /* too long for cJSON to read whole */
  BAD("{\"a\":1234567890123456789012345678901234567890123456789012345678901234}");
  /* values a reader of doubles would not see as written are flagged */
  assert_true(OK("{\"a\":-0}").flags & LLN_JSON_SCAN_INEXACT_NUMBER);
  assert_true(OK("{\"a\":-0.0e3}").flags & LLN_JSON_SCAN_INEXACT_NUMBER);
  assert_true(OK("{\"a\":[1e999]}").flags & LLN_JSON_SCAN_INEXACT_NUMBER);
  assert_true(OK("{\"a\":{\"b\":9007199254740993}}").flags & LLN_JSON_SCAN_INEXACT_NUMBER);
  assert_false(OK("{\"a\":1e-400}").flags & LLN_JSON_SCAN_INEXACT_NUMBER); /* 0, as read */
}

static void test_strings(void **state) {
  (void)state;
  OK("{\"a\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 caf\xc3\xa9 \x7f\"}");
  OK("{\"a\":\"\\\\\",\"b\":\"{\\\"\"}"); /* an escaped backslash closes nothing */
  BAD("{\"a\":\"\\x\"}");
  BAD("{\"a\":\"\\u12\"}");
  BAD("{\"a\":\"\\u12G4\"}");
  BAD("{\"a\":\"\\u0000\"}");        /* cJSON would cut the string there */
  BAD("{\"a\":\"\\ud83d\"}");        /* a lone high surrogate */
  BAD("{\"a\":\"\\ud83d\\u0041\"}"); /* not followed by a low one */
  BAD("{\"a\":\"\\ude00\"}");        /* a lone low surrogate */
  BAD("{\"a\":\"tab\there\"}");
  BAD("{\"a\":\"nl\nhere\"}");
  BAD("{\"a\":\"nul\0here\"}");
  BAD("{\"a\":\"open}");
  BAD("{\"a\":\"ends in a backslash\\");
  BAD("{\"a\\u0000\":1}");
  BAD("{a:1}");
  BAD("{'a':1}");
}

static void test_structure(void **state) {
  (void)state;
  BAD("");
  BAD("   ");
  BAD("[]");
  BAD("\"a\"");
  BAD("1");
  BAD("{");
  BAD("}");
  BAD("{\"a\"}");
  BAD("{\"a\":}");
  BAD("{\"a\":1,}");
  BAD("{,\"a\":1}");
  BAD("{\"a\":1 \"b\":2}");
  BAD("{\"a\":[1,]}");
  BAD("{\"a\":[,1]}");
  BAD("{\"a\":[1 2]}");
  BAD("{\"a\":{\"b\":1]}");
  BAD("{\"a\":[1}]");
  BAD("{\"a\":tru}");
  BAD("{\"a\":nulls}");
  BAD("\xef\xbb\xbf{}"); /* a byte order mark */
  BAD("\x0b{}");         /* a control byte as whitespace */
  /* trailing garbage, which cJSON_ParseWithLength ignores */
  lln_json_scan sc = BAD("{\"a\":1} x");
  assert_int_equal(sc.error_at, 8);
  BAD("{}{}");
  BAD("{} \0");
}

static void test_every_truncation_is_refused(void **state) {
  (void)state;
  const char s[] = "{\"id\":\"c\\u00e9\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a}\"},"
                   "\"logprobs\":null,\"finish_reason\":null}],\"n\":-12.5e-3,\"b\":[true,false]}";
  OK(s);
  for (size_t n = 0; n < sizeof s - 1; n++)
    scan(s, n, -1);
}

static void nested(char *s, size_t *n, int depth) {
  *n = 0;
  s[(*n)++] = '{';
  s[(*n)++] = '"';
  s[(*n)++] = 'a';
  s[(*n)++] = '"';
  s[(*n)++] = ':';
  for (int i = 1; i < depth; i++) {
    if (i % 2) {
      s[(*n)++] = '[';
    } else {
      memcpy(s + *n, "{\"b\":", 5);
      *n += 5;
    }
  }
  s[(*n)++] = '1';
  for (int i = depth - 1; i >= 1; i--)
    s[(*n)++] = i % 2 ? ']' : '}';
  s[(*n)++] = '}';
}

static void test_deep_nesting(void **state) {
  (void)state;
  static char s[LLN_JSON_SCAN_MAX_DEPTH * 8 + 64];
  size_t n;
  nested(s, &n, LLN_JSON_SCAN_MAX_DEPTH);
  scan(s, n, 0);
  nested(s, &n, LLN_JSON_SCAN_MAX_DEPTH + 1);
  scan(s, n, -1); /* cJSON takes it (its bound is 1000); the scanner says no */
  /* far deeper than either: refused without recursion */
  static char deep[200000];
  size_t k = 0;
  memcpy(deep, "{\"a\":", 5);
  k = 5;
  while (k < sizeof deep - 2)
    deep[k++] = '[';
  lln_json_scan sc = {.members = members, .max = MAX};
  assert_int_equal(lln_json_scan_object(deep, k, &sc), -1);
}

static void test_object_at(void **state) {
  (void)state;
  size_t end = 99;
  lln_json_scan sc = {.members = members, .max = MAX};
  const char a[] = " {\"x\":[1,\"}\"]} , 3]";
  assert_int_equal(lln_json_scan_object_at(a, sizeof a - 1, &sc, &end), 0);
  assert_int_equal(end, 14); /* just past the brace; the rest is not looked at */
  assert_int_equal(sc.count, 1);
  member_is(a, 0, "x", "[1,\"}\"]");
  assert_int_equal(lln_json_scan_object_at("{} x", 4, &sc, &end), 0);
  assert_int_equal(end, 2);
  assert_int_equal(lln_json_scan_object_at("[{}]", 4, &sc, &end), -1);
  assert_int_equal(lln_json_scan_object_at("{\"a\":1", 6, &sc, &end), -1);
  assert_int_equal(lln_json_scan_object_at("{\"a\":1,}", 8, &sc, &end), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_members_and_spans),
      cmocka_unit_test(test_escaped_keys),
      cmocka_unit_test(test_duplicates_are_reported),
      cmocka_unit_test(test_members_past_the_bound),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_structure),
      cmocka_unit_test(test_every_truncation_is_refused),
      cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_object_at),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
