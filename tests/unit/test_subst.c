/* test_subst: "$NAME", "${NAME}" and "$secrets.S.V" references in
 * configuration strings: whole identifiers only, "$$" for a literal dollar,
 * anything that is not a reference left exactly as written, and the first
 * missing name reported while the text is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "config/subst_int.h"

/* clang-format off */
static const char *const VARS[] = {
    "KEY", "k-123",
    "KEY_ID", "id-456",
    "HOST", "example.com",
    "EMPTY", "",
    "DOLLAR", "$KEY",
    "_under", "u",
    "secrets.openrouter.API_KEY", "sk-or-secret",
    "secrets.my-vault.TOKEN", "vault-token",
    "secrets", "plain-secrets-var",
    NULL};
/* clang-format on */

typedef struct {
  int calls;
} lookup_ctx;

static const char *lookup(void *ctx, const char *name) {
  lookup_ctx *c = ctx;
  c->calls++;
  for (size_t i = 0; VARS[i]; i += 2) {
    if (strcmp(VARS[i], name) == 0)
      return VARS[i + 1];
  }
  return NULL;
}

/* Substitutes `in`; expects `rc`, the output `want` and, on failure, the
 * missing name `missing`. */
static void check(const char *in, int rc, const char *want, const char *missing) {
  lln_buf out;
  lln_buf_init(&out);
  char miss[64] = "untouched";
  lookup_ctx ctx = {0};
  int got = lln_subst(in, lookup, &ctx, &out, miss, sizeof miss);
  if (got != rc)
    fail_msg("\"%s\": rc %d, expected %d (output \"%s\")", in, got, rc, out.data ? out.data : "(null)");
  assert_non_null(out.data);
  if (strcmp(out.data, want) != 0)
    fail_msg("\"%s\" -> \"%s\", expected \"%s\"", in, out.data, want);
  assert_int_equal(out.len, strlen(want));
  if (rc != 0)
    assert_string_equal(miss, missing);
  else
    assert_string_equal(miss, "untouched");
  lln_buf_free(&out);
}

static void ok(const char *in, const char *want) { check(in, 0, want, NULL); }

static void test_plain(void **state) {
  (void)state;
  ok("no references here", "no references here");
  ok("", "");
  ok("$KEY", "k-123");
  ok("$EMPTY", "");
  ok("$_under", "u");
}

static void test_braces(void **state) {
  (void)state;
  ok("${KEY}", "k-123");
  ok("${KEY}_ID", "k-123_ID"); /* braces end the name */
  ok("${HOST}/v1", "example.com/v1");
  ok("a${EMPTY}b", "ab");
}

static void test_adjacent_text(void **state) {
  (void)state;
  ok("Bearer $KEY", "Bearer k-123");
  ok("https://$HOST/api", "https://example.com/api");
  ok("$HOST:8080", "example.com:8080");
  ok("$KEY-suffix", "k-123-suffix");
  ok("$KEY.txt", "k-123.txt");
  ok("$KEY$HOST", "k-123example.com");
  ok("x$KEY,y", "xk-123,y");
}

static void test_whole_identifier(void **state) {
  (void)state;
  ok("$KEY_ID", "id-456"); /* not KEY followed by "_ID" */
  ok("$KEY_ID-$KEY", "id-456-k-123");
}

static void test_whole_identifier_missing(void **state) {
  (void)state;
  /* "$KEY_IDX" is the name KEY_IDX, never KEY followed by "_IDX". */
  check("$KEY_IDX", -1, "$KEY_IDX", "KEY_IDX");
  check("$KEYS", -1, "$KEYS", "KEYS");
}

static void test_dollar_escape(void **state) {
  (void)state;
  ok("$$", "$");
  ok("$$KEY", "$KEY");
  ok("cost: 5$$", "cost: 5$");
  ok("$$$KEY", "$k-123");
  ok("$$$$", "$$");
  ok("$${KEY}", "${KEY}");
}

static void test_lone_dollar(void **state) {
  (void)state;
  ok("$", "$");
  ok("price $5", "price $5");
  ok("a $ b", "a $ b");
  ok("end$", "end$");
  ok("$-x", "$-x");
  ok("$.", "$.");
}

static void test_unterminated_brace(void **state) {
  (void)state;
  ok("${KEY", "${KEY");
  ok("${", "${");
  ok("${}", "${}");
  ok("${KEY ${HOST}", "${KEY example.com");
  ok("${9}", "${9}");
}

static void test_secrets(void **state) {
  (void)state;
  ok("$secrets.openrouter.API_KEY", "sk-or-secret");
  ok("Bearer ${secrets.openrouter.API_KEY}", "Bearer sk-or-secret");
  ok("$secrets.my-vault.TOKEN", "vault-token"); /* secret names may have '-' */
  ok("$secrets.openrouter.API_KEY/x", "sk-or-secret/x");
  ok("$secrets", "plain-secrets-var");
  ok("$secrets.", "plain-secrets-var.");
  check("$secrets.openrouter.MISSING", -1, "$secrets.openrouter.MISSING", "secrets.openrouter.MISSING");
  check("$secrets.nosuch.API_KEY", -1, "$secrets.nosuch.API_KEY", "secrets.nosuch.API_KEY");
  check("${secrets.nosuch.X}!", -1, "${secrets.nosuch.X}!", "secrets.nosuch.X");
}

static void test_missing_keeps_text(void **state) {
  (void)state;
  check("$NOPE", -1, "$NOPE", "NOPE");
  check("Bearer ${NOPE}", -1, "Bearer ${NOPE}", "NOPE");
  /* The first missing name is reported; the rest still substitutes. */
  check("$FIRST $KEY $SECOND", -1, "$FIRST k-123 $SECOND", "FIRST");
  check("${A1}${B2}", -1, "${A1}${B2}", "A1");
}

static void test_value_not_rescanned(void **state) {
  (void)state;
  /* A value that contains '$' is inserted as is, never expanded again. */
  ok("$DOLLAR", "$KEY");
}

static void test_missing_buffer_optional(void **state) {
  (void)state;
  lln_buf out;
  lln_buf_init(&out);
  lookup_ctx ctx = {0};
  assert_int_equal(lln_subst("$NOPE and $KEY", lookup, &ctx, &out, NULL, 0), -1);
  assert_string_equal(out.data, "$NOPE and k-123");
  assert_int_equal(ctx.calls, 2);
  lln_buf_free(&out);

  /* A small `missing` buffer is truncated, not overrun. */
  lln_buf_init(&out);
  char small[5];
  assert_int_equal(lln_subst("$LONGNAME", lookup, &ctx, &out, small, sizeof small), -1);
  assert_string_equal(small, "LONG");
  lln_buf_free(&out);
}

static void test_appends(void **state) {
  (void)state;
  lln_buf out;
  lln_buf_init(&out);
  lln_buf_puts(&out, "pre:");
  lookup_ctx ctx = {0};
  assert_int_equal(lln_subst("$KEY", lookup, &ctx, &out, NULL, 0), 0);
  assert_string_equal(out.data, "pre:k-123");
  lln_buf_free(&out);
}

static void test_no_lookup_without_reference(void **state) {
  (void)state;
  lln_buf out;
  lln_buf_init(&out);
  lookup_ctx ctx = {0};
  assert_int_equal(lln_subst("$$ $ ${ $5 plain", lookup, &ctx, &out, NULL, 0), 0);
  assert_int_equal(ctx.calls, 0);
  lln_buf_free(&out);
}

static void test_has_ref(void **state) {
  (void)state;
  assert_true(lln_subst_has_ref("$KEY"));
  assert_true(lln_subst_has_ref("x ${KEY} y"));
  assert_true(lln_subst_has_ref("$secrets.a.b"));
  assert_true(lln_subst_has_ref("$$ then $KEY"));
  assert_true(lln_subst_has_ref("$5 $KEY"));
  assert_false(lln_subst_has_ref(""));
  assert_false(lln_subst_has_ref("plain"));
  assert_false(lln_subst_has_ref("$"));
  assert_false(lln_subst_has_ref("a$"));
  assert_false(lln_subst_has_ref("$$"));
  assert_false(lln_subst_has_ref("$$KEY"));
  assert_false(lln_subst_has_ref("$5"));
  assert_false(lln_subst_has_ref("$$$$"));
  /* What lln_subst leaves literal is not a reference either. */
  assert_false(lln_subst_has_ref("${KEY"));
  assert_false(lln_subst_has_ref("${}"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_braces),
      cmocka_unit_test(test_adjacent_text),
      cmocka_unit_test(test_whole_identifier),
      cmocka_unit_test(test_whole_identifier_missing),
      cmocka_unit_test(test_dollar_escape),
      cmocka_unit_test(test_lone_dollar),
      cmocka_unit_test(test_unterminated_brace),
      cmocka_unit_test(test_secrets),
      cmocka_unit_test(test_missing_keeps_text),
      cmocka_unit_test(test_value_not_rescanned),
      cmocka_unit_test(test_missing_buffer_optional),
      cmocka_unit_test(test_appends),
      cmocka_unit_test(test_no_lookup_without_reference),
      cmocka_unit_test(test_has_ref),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
