/* test_url: the base-URL -> chat-completions (and embeddings) endpoint rule of
 * src/config/url.c (COMPOSITION.md "models"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "config/url_int.h"

static void expect_url(const char *base, const char *want) {
  char *got = lln_url_chat_completions(base);
  if (!want) {
    if (got)
      print_error("base '%s' gave '%s', wanted NULL\n", base ? base : "(null)", got);
    assert_null(got);
    return;
  }
  assert_non_null(got);
  assert_string_equal(got, want);
  free(got);
}

static void test_documented_examples(void **state) {
  (void)state;
  expect_url("https://openrouter.ai/api", "https://openrouter.ai/api/v1/chat/completions");
  expect_url("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1/chat/completions");
  expect_url("http://localhost:11434/v1", "http://localhost:11434/v1/chat/completions");
  expect_url("http://localhost:11434/v1/", "http://localhost:11434/v1/chat/completions");
  expect_url("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/chat/completions");
}

static void test_trailing_slashes(void **state) {
  (void)state;
  expect_url("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1/chat/completions");
  expect_url("https://openrouter.ai/api/", "https://openrouter.ai/api/v1/chat/completions");
  expect_url("https://openrouter.ai/api//", "https://openrouter.ai/api/v1/chat/completions");
  expect_url("https://x.test/v1///", "https://x.test/v1/chat/completions");
  expect_url("https://x.test", "https://x.test/v1/chat/completions");
}

static void test_v1_must_be_a_whole_segment(void **state) {
  (void)state;
  expect_url("https://x.test/v1beta", "https://x.test/v1beta/v1/chat/completions");
  expect_url("https://x.test/apiv1", "https://x.test/apiv1/v1/chat/completions");
  expect_url("https://x.test/v1/openai", "https://x.test/v1/openai/v1/chat/completions");
  expect_url("https://x.test/a/b/v1", "https://x.test/a/b/v1/chat/completions");
  /* A host named v1 is not a path ending in /v1. */
  expect_url("http://v1:1", "http://v1:1/v1/chat/completions");
}

static void test_query_kept_fragment_dropped(void **state) {
  (void)state;
  expect_url("https://x.test/api?a=b", "https://x.test/api/v1/chat/completions?a=b");
  expect_url("https://x.test/api/v1/?a=b&c=d", "https://x.test/api/v1/chat/completions?a=b&c=d");
  expect_url("https://x.test?key=1", "https://x.test/v1/chat/completions?key=1");
  expect_url("http://127.0.0.1:8000/v1?x=%2F", "http://127.0.0.1:8000/v1/chat/completions?x=%2F");
  expect_url("https://x.test/api#frag", "https://x.test/api/v1/chat/completions");
  expect_url("https://x.test/api?a=b#frag", "https://x.test/api/v1/chat/completions?a=b");
  expect_url("https://x.test/api?", "https://x.test/api/v1/chat/completions");
}

static void test_scheme_case_insensitive(void **state) {
  (void)state;
  expect_url("HTTPS://x.test/api", "https://x.test/api/v1/chat/completions");
  expect_url("Http://x.test", "http://x.test/v1/chat/completions");
}

static void test_hosts(void **state) {
  (void)state;
  expect_url("http://[::1]:8080/v1", "http://[::1]:8080/v1/chat/completions");
  expect_url("http://[::1]", "http://[::1]/v1/chat/completions");
  expect_url("http://user:pw@x.test:81/api", "http://user:pw@x.test:81/api/v1/chat/completions");
  expect_url("  https://x.test/v1\n", "https://x.test/v1/chat/completions");
}

static void test_rejected(void **state) {
  (void)state;
  expect_url(NULL, NULL);
  expect_url("", NULL);
  expect_url("openrouter.ai/api", NULL);
  expect_url("ftp://x.test/", NULL);
  expect_url("file:///etc/passwd", NULL);
  expect_url("httpx://x.test", NULL);
  expect_url("http:/x.test", NULL);
  expect_url("http://", NULL);
  expect_url("https://", NULL);
  expect_url("http:///v1", NULL);
  expect_url("http://?a=b", NULL);
  expect_url("http://:8000/v1", NULL);
  expect_url("http://user@/v1", NULL);
  expect_url("http://[]:80", NULL);
  expect_url("http://[::1", NULL);
  expect_url("http://[::1]x/", NULL);
  expect_url("http://x.test/a b", NULL);
  expect_url("http://x.test/a\tb", NULL);
}

/* The embeddings endpoint follows the same rule (POST /v1/embeddings). */
static void test_embeddings_url(void **state) {
  (void)state;
  const char *cases[][2] = {
      {"https://openrouter.ai/api", "https://openrouter.ai/api/v1/embeddings"},
      {"https://api.openai.com/v1/", "https://api.openai.com/v1/embeddings"},
      {"http://127.0.0.1:8000?x=1#f", "http://127.0.0.1:8000/v1/embeddings?x=1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = lln_url_embeddings(cases[i][0]);
    assert_non_null(got);
    assert_string_equal(got, cases[i][1]);
    free(got);
  }
  assert_null(lln_url_embeddings("ftp://x.test"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_documented_examples),
      cmocka_unit_test(test_trailing_slashes),
      cmocka_unit_test(test_v1_must_be_a_whole_segment),
      cmocka_unit_test(test_query_kept_fragment_dropped),
      cmocka_unit_test(test_scheme_case_insensitive),
      cmocka_unit_test(test_hosts),
      cmocka_unit_test(test_rejected),
      cmocka_unit_test(test_embeddings_url),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
