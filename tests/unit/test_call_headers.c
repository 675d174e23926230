/* test_call_headers: src/upstream/call_headers.c, the header lines every
 * call to a model entry carries, in their order and exact bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "upstream/call_headers.h"

static void test_all_lines(void **state) {
  (void)state;
  char *own[] = {"HTTP-Referer: https://example.com", "X-Title: llmnet", NULL};
  lln_model m;
  memset(&m, 0, sizeof m);
  m.api_key = "sk-test";
  m.headers = own;
  char **h = lln_call_headers(&m, "req-1", "sess-9");
  assert_string_equal(h[0], "Authorization: Bearer sk-test");
  assert_string_equal(h[1], "X-Request-Id: req-1");
  assert_string_equal(h[2], "X-Session-Id: sess-9");
  assert_string_equal(h[3], "HTTP-Referer: https://example.com");
  assert_string_equal(h[4], "X-Title: llmnet");
  assert_null(h[5]);
  lln_call_headers_free(h);
}

static void test_no_key_no_session(void **state) {
  (void)state;
  lln_model m;
  memset(&m, 0, sizeof m);
  m.api_key = ""; /* an empty key sends no Authorization */
  char **h = lln_call_headers(&m, "r", NULL);
  assert_string_equal(h[0], "X-Request-Id: r");
  assert_null(h[1]);
  lln_call_headers_free(h);
  m.api_key = NULL;
  h = lln_call_headers(&m, "", NULL);
  assert_string_equal(h[0], "X-Request-Id: ");
  assert_null(h[1]);
  lln_call_headers_free(h);
  lln_call_headers_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_all_lines),
      cmocka_unit_test(test_no_key_no_session),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
