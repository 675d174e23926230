/* Unit tests for config/envfile: dotenv syntax, quoting, duplicates, errors that never show values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/envfile_int.h"

static void parse_ok(lln_envfile *f, const char *text) {
  char err[256] = "";
  if (lln_envfile_parse(f, text, strlen(text), err, sizeof err) != 0)
    fail_msg("unexpected error: %s", err);
}

static void expect_entry(const lln_envfile *f, const char *key, const char *want) {
  const char *got = lln_envfile_get(f, key);
  if (!got)
    fail_msg("key %s missing", key);
  assert_string_equal(got, want);
}

/* Expects exactly this error, and that no part of `secret` leaks into it. */
static void expect_error(const char *text, const char *want, const char *secret) {
  lln_envfile f;
  char err[256] = "";
  if (lln_envfile_parse(&f, text, strlen(text), err, sizeof err) == 0)
    fail_msg("parsed but expected \"%s\"", want);
  assert_string_equal(err, want);
  if (secret)
    assert_null(strstr(err, secret));
  assert_null(f.entries);
  assert_int_equal(f.count, 0);
  lln_envfile_free(&f);
}

static void test_basic_and_comments(void **state) {
  (void)state;
  lln_envfile f;
  parse_ok(&f, "# a comment\n"
               "\n"
               "   \t\n"
               "A=1\n"
               "  # indented comment\n"
               "B = two\n"
               "C\t=\tthree   \n"
               "EMPTY=\n"
               "EMPTY2 =   \n"
               "lower_case_9=x\n"
               "LAST=no newline");
  assert_int_equal(f.count, 7);
  expect_entry(&f, "A", "1");
  expect_entry(&f, "B", "two");
  expect_entry(&f, "C", "three");
  expect_entry(&f, "EMPTY", "");
  expect_entry(&f, "EMPTY2", "");
  expect_entry(&f, "lower_case_9", "x");
  expect_entry(&f, "LAST", "no newline");
  assert_null(lln_envfile_get(&f, "a"));
  assert_null(lln_envfile_get(&f, "MISSING"));
  /* Order of first appearance is kept. */
  assert_string_equal(f.entries[0].key, "A");
  assert_string_equal(f.entries[6].key, "LAST");
  lln_envfile_free(&f);
  lln_envfile_free(&f);
  assert_null(lln_envfile_get(&f, "A"));
}

static void test_unquoted_comments(void **state) {
  (void)state;
  lln_envfile f;
  parse_ok(&f, "URL=https://example.com/#frag\n"
               "PASS=pa#ss\n"
               "WITH=value # trailing comment\n"
               "TAB=value\t# tab comment\n"
               "ONLY= # nothing but a comment\n"
               "HASH=#leading\n"
               "INNER=a b  c \n"
               "EQ=a=b=c\n"
               "DOLLAR=$HOME\n");
  expect_entry(&f, "URL", "https://example.com/#frag");
  expect_entry(&f, "PASS", "pa#ss");
  expect_entry(&f, "WITH", "value");
  expect_entry(&f, "TAB", "value");
  expect_entry(&f, "ONLY", "");
  expect_entry(&f, "HASH", "#leading");
  expect_entry(&f, "INNER", "a b  c");
  expect_entry(&f, "EQ", "a=b=c");
  expect_entry(&f, "DOLLAR", "$HOME");
  lln_envfile_free(&f);
}

static void test_export_values(void **state) {
  (void)state;
  lln_envfile f;
  parse_ok(&f, "export A=1\n"
               "  export\tB = 2\n"
               "export=3\n"
               "exportC=4\n"
               "export = 5\n");
  assert_int_equal(f.count, 4);
  expect_entry(&f, "A", "1");
  expect_entry(&f, "B", "2");
  expect_entry(&f, "export", "5");
  expect_entry(&f, "exportC", "4");
  assert_null(lln_envfile_get(&f, "export A"));
  lln_envfile_free(&f);
}

static void test_double_quoted(void **state) {
  (void)state;
  lln_envfile f;
  parse_ok(&f, "A=\"hello world\"\n"
               "B=\"line1\\nline2\\tTab \\\"q\\\" back\\\\slash\"\n"
               "C=\"keep # inside\" # but drop this\n"
               "D=\"multi\n"
               "line\n"
               "value\"\n"
               "E = \"  padded  \"   \n"
               "F=\"C:\\path\\x\"\n"
               "G=\"single 'quotes' inside\"\n"
               "H=\"\"\n"
               "AFTER=ok\n");
  expect_entry(&f, "A", "hello world");
  expect_entry(&f, "B", "line1\nline2\tTab \"q\" back\\slash");
  expect_entry(&f, "C", "keep # inside");
  expect_entry(&f, "D", "multi\nline\nvalue");
  expect_entry(&f, "E", "  padded  ");
  expect_entry(&f, "F", "C:\\path\\x");
  expect_entry(&f, "G", "single 'quotes' inside");
  expect_entry(&f, "H", "");
  expect_entry(&f, "AFTER", "ok");
  lln_envfile_free(&f);
}

static void test_single_quoted(void **state) {
  (void)state;
  lln_envfile f;
  parse_ok(&f, "A='literal \\n $HOME \"dq\"'\n"
               "B='# not a comment' # comment\n"
               "C='two\nlines'\n"
               "D=''\n");
  expect_entry(&f, "A", "literal \\n $HOME \"dq\"");
  expect_entry(&f, "B", "# not a comment");
  expect_entry(&f, "C", "two\nlines");
  expect_entry(&f, "D", "");
  lln_envfile_free(&f);
}

static void test_duplicates_override(void **state) {
  (void)state;
  lln_envfile f;
  parse_ok(&f, "K=first\nOTHER=x\nK=\"second\"\nK=third\n");
  assert_int_equal(f.count, 2);
  expect_entry(&f, "K", "third");
  assert_string_equal(f.entries[0].key, "K");
  lln_envfile_free(&f);
}

static void test_crlf_and_bom(void **state) {
  (void)state;
  lln_envfile f;
  parse_ok(&f, "\xef\xbb\xbf"
               "A=1\r\n"
               "B=\"q\"\r\n"
               "# c\r\n"
               "\r\n"
               "C=x # c\r\n"
               "D=end\r");
  assert_int_equal(f.count, 4);
  expect_entry(&f, "A", "1");
  expect_entry(&f, "B", "q");
  expect_entry(&f, "C", "x");
  expect_entry(&f, "D", "end");
  lln_envfile_free(&f);

  /* Not NUL-terminated: only the first len bytes count. */
  const char slice[] = "A=12345";
  assert_int_equal(lln_envfile_parse(&f, slice, 4, NULL, 0), 0);
  expect_entry(&f, "A", "12");
  lln_envfile_free(&f);

  assert_int_equal(lln_envfile_parse(&f, "", 0, NULL, 0), 0);
  assert_int_equal(f.count, 0);
  lln_envfile_free(&f);
}

static void test_malformed(void **state) {
  (void)state;
  expect_error("A=1\n\nsk-live-123456\n", "3: expected KEY=VALUE", "sk-live");
  expect_error("A=1\nJUSTAKEY\n", "2: expected KEY=VALUE", NULL);
  expect_error("KEY value-secret\n", "1: expected KEY=VALUE", "secret");
  expect_error("=hunter2\n", "1: expected KEY=VALUE, found no key before '='", "hunter2");
  expect_error(
      "1KEY=hunter2\n",
      "1: expected KEY=VALUE, the key is not valid (letters, digits and '_', not starting with a digit)",
      "hunter2");
  expect_error(
      "MY-KEY=hunter2\n",
      "1: expected KEY=VALUE, the key is not valid (letters, digits and '_', not starting with a digit)",
      "hunter2");
  expect_error("A=1\nTOKEN=\"hunter2\n\nB=2\n", "2: unterminated quoted value for TOKEN", "hunter2");
  expect_error("TOKEN='hunter2\n", "1: unterminated quoted value for TOKEN", "hunter2");
  expect_error("A=\"x\ny\"\nTOKEN=\"hunter2\"trailing\n",
               "3: unexpected text after the closing quote of TOKEN", "hunter2");
  expect_error("TOKEN='a' 'b'\n", "1: unexpected text after the closing quote of TOKEN", NULL);
  expect_error("export\n", "1: expected KEY=VALUE", NULL);

  const char nul[] = "TOKEN=hun\0ter2\n";
  lln_envfile f;
  char err[128];
  assert_int_equal(lln_envfile_parse(&f, nul, sizeof nul - 1, err, sizeof err), -1);
  assert_string_equal(err, "1: NUL byte in the value of TOKEN");

  /* A short error buffer truncates instead of overflowing. */
  char small[6];
  assert_int_equal(lln_envfile_parse(&f, "bad line\n", 9, small, sizeof small), -1);
  assert_string_equal(small, "1: ex");
}

static char *write_temp(const char *dir, const char *name, const char *body) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *path = malloc(n);
  snprintf(path, n, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(body, f);
  fclose(f);
  return path;
}

static void test_load(void **state) {
  (void)state;
  char dir[] = "/tmp/test_envfile_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *good = write_temp(dir, "good.env", "export OPENROUTER_API_KEY=\"sk-or-1\"\n# c\nX=y\n");
  char *bad = write_temp(dir, "bad.env", "A=1\nB=\"open\n");

  lln_envfile f;
  char err[512] = "";
  if (lln_envfile_load(&f, good, err, sizeof err) != 0)
    fail_msg("unexpected error: %s", err);
  expect_entry(&f, "OPENROUTER_API_KEY", "sk-or-1");
  expect_entry(&f, "X", "y");
  lln_envfile_free(&f);

  char want[512];
  assert_int_equal(lln_envfile_load(&f, bad, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s:2: unterminated quoted value for B", bad);
  assert_string_equal(err, want);

  /* "~/" expands to $HOME; the message keeps the path as the user wrote it. */
  const char *old_home = getenv("HOME");
  char *saved = old_home ? strdup(old_home) : NULL;
  setenv("HOME", dir, 1);
  assert_int_equal(lln_envfile_load(&f, "~/good.env", err, sizeof err), 0);
  expect_entry(&f, "X", "y");
  lln_envfile_free(&f);
  assert_int_equal(lln_envfile_load(&f, "~/missing.env", err, sizeof err), -1);
  assert_string_equal(err, "~/missing.env: No such file or directory");
  unsetenv("HOME");
  assert_int_equal(lln_envfile_load(&f, "~/good.env", err, sizeof err), -1);
  assert_string_equal(err, "~/good.env: cannot expand '~': HOME is not set");
  if (saved)
    setenv("HOME", saved, 1);
  free(saved);

  assert_int_equal(lln_envfile_load(&f, dir, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s: Is a directory", dir);
  assert_string_equal(err, want);

  unlink(good);
  unlink(bad);
  rmdir(dir);
  free(good);
  free(bad);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic_and_comments),
      cmocka_unit_test(test_unquoted_comments),
      cmocka_unit_test(test_export_values),
      cmocka_unit_test(test_double_quoted),
      cmocka_unit_test(test_single_quoted),
      cmocka_unit_test(test_duplicates_override),
      cmocka_unit_test(test_crlf_and_bom),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
