/* test_embed_answer: an upstream's embeddings list passed on with the
 * client's model (src/server/embeddings_answer.c), without a parse tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/embeddings_int.h"

static void expect(const char *body, const char *model, const char *want, long want_tokens) {
  size_t len = 0;
  long tokens = -1;
  char *got = lln__embed_answer(body, strlen(body), model, &len, &tokens);
  if (!want) {
    assert_null(got);
    return;
  }
  assert_non_null(got);
  assert_string_equal(got, want);
  assert_int_equal(len, strlen(want));
  assert_int_equal(tokens, want_tokens);
  free(got);
}

static void test_model_replaced(void **state) {
  (void)state;
  expect("{\"object\":\"list\",\"data\":[{\"embedding\":[0.1,-2e-3]}],\"model\":\"text-embedding-3-small\","
         "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}",
         "emb",
         "{\"object\":\"list\",\"data\":[{\"embedding\":[0.1,-2e-3]}],\"model\":\"emb\","
         "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}",
         7);
  /* whitespace, a model that is not a string, strings with brackets and escapes */
  expect(" { \"model\" : null , \"data\" : [ \"a]}\\\"[\" ] }\n", "m\"x",
         " { \"model\" : \"m\\\"x\" , \"data\" : [ \"a]}\\\"[\" ] }\n", 0);
}

static void test_model_added(void **state) {
  (void)state;
  expect("{\"data\":[],\"usage\":{\"prompt_tokens\":2}}", "e",
         "{\"model\":\"e\",\"data\":[],\"usage\":{\"prompt_tokens\":2}}", 2);
}

static void test_nested_model_untouched(void **state) {
  (void)state;
  expect("{\"data\":[{\"model\":\"inner\"}],\"model\":\"outer\"}", "x",
         "{\"data\":[{\"model\":\"inner\"}],\"model\":\"x\"}", 0);
}

static void test_not_a_list(void **state) {
  (void)state;
  expect("", "x", NULL, 0);
  expect("[]", "x", NULL, 0);
  expect("{}", "x", NULL, 0);
  expect("{\"data\":{}}", "x", NULL, 0);
  expect("{\"data\":[1,2]", "x", NULL, 0);        /* cut */
  expect("{\"data\":[1,2]} {}", "x", NULL, 0);    /* trailing text */
  expect("{\"data\":[\"a\x01\"]}", "x", NULL, 0); /* a raw control character */
  expect("{\"data\" [1]}", "x", NULL, 0);
  expect("{\"error\":{\"message\":\"no\"}}", "x", NULL, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_replaced),
      cmocka_unit_test(test_model_added),
      cmocka_unit_test(test_nested_model_untouched),
      cmocka_unit_test(test_not_a_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
