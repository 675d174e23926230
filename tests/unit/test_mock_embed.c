/* test_mock_embed: the mock's embeddings answer (src/mock/embed.c):
 * deterministic vectors, dimensions, base64 = the same floats, usage, and
 * the 400s for inputs OpenAI refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mock/embed_int.h"

/* The answer for request `json` (must be accepted), parsed. */
static cJSON *answer(const char *json) {
  lln_arena *ar = lln_arena_create();
  cJSON *body = cJSON_Parse(json);
  lln_mock_embed e;
  const char *why = NULL;
  assert_int_equal(lln_mock_embed_read(&e, body, ar, &why), 0);
  lln_buf b;
  lln_buf_init(&b);
  lln_mock_embed_json(&b, &e);
  cJSON *out = cJSON_ParseWithLength(b.data, b.len);
  assert_non_null(out);
  lln_buf_free(&b);
  cJSON_Delete(body);
  lln_arena_destroy(ar);
  return out;
}

static const cJSON *vector(const cJSON *list, int i) {
  return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "data"), i), "embedding");
}

static void test_deterministic_and_sized(void **state) {
  (void)state;
  cJSON *a = answer("{\"model\":\"m\",\"input\":[\"hello world\",\"x\"]}");
  cJSON *b = answer("{\"model\":\"other\",\"input\":\"hello world\"}");
  assert_int_equal(cJSON_GetArraySize(vector(a, 0)), 8);
  assert_true(cJSON_Compare(vector(a, 0), vector(b, 0), 1));
  assert_false(cJSON_Compare(vector(a, 0), vector(a, 1), 1));
  assert_string_equal(cJSON_GetObjectItem(a, "model")->valuestring, "m");
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "usage"), "prompt_tokens")->valueint, 3);
  cJSON *c = answer("{\"input\":[[1,2,3],[4]],\"dimensions\":3}");
  assert_int_equal(cJSON_GetArraySize(vector(c, 1)), 3);
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "usage"), "total_tokens")->valueint, 4);
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(c);
}

static int b64(char ch) {
  const char *A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return (int)(strchr(A, ch) - A);
}

static void test_base64_is_the_same_floats(void **state) {
  (void)state;
  cJSON *f = answer("{\"input\":\"same\",\"dimensions\":5}");
  cJSON *b = answer("{\"input\":\"same\",\"dimensions\":5,\"encoding_format\":\"base64\"}");
  const char *s = vector(b, 0)->valuestring;
  unsigned char bytes[24] = {0};
  size_t n = 0;
  for (size_t i = 0; s[i] && s[i] != '='; i += 4) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++)
      v = v << 6 | (uint32_t)(s[i + k] && s[i + k] != '=' ? b64(s[i + k]) : 0);
    bytes[n++] = (unsigned char)(v >> 16);
    bytes[n++] = (unsigned char)(v >> 8);
    bytes[n++] = (unsigned char)v;
  }
  for (int i = 0; i < 5; i++) {
    uint32_t u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 | (uint32_t)bytes[4 * i + 2] << 16 |
                 (uint32_t)bytes[4 * i + 3] << 24;
    float x;
    memcpy(&x, &u, 4);
    assert_float_equal(x, cJSON_GetArrayItem(vector(f, 0), i)->valuedouble, 1e-6);
  }
  cJSON_Delete(f);
  cJSON_Delete(b);
}

static void test_refused(void **state) {
  (void)state;
  static const char *const bad[] = {"{}",
                                    "{\"input\":[]}",
                                    "{\"input\":5}",
                                    "{\"input\":[\"a\",1]}",
                                    "{\"input\":\"a\",\"dimensions\":0}",
                                    "{\"input\":\"a\",\"encoding_format\":\"hex\"}",
                                    "[]"};
  lln_arena *ar = lln_arena_create();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *body = cJSON_Parse(bad[i]);
    lln_mock_embed e;
    const char *why = NULL;
    assert_int_equal(lln_mock_embed_read(&e, body, ar, &why), -1);
    assert_non_null(why);
    cJSON_Delete(body);
  }
  lln_arena_destroy(ar);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deterministic_and_sized),
      cmocka_unit_test(test_base64_is_the_same_floats),
      cmocka_unit_test(test_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
