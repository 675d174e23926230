/* test_buf: the fast paths of util/buf.c, util/json_print.c and util/fmt.c
 * against the straightforward code they replace (printf's %llu and %llx,
 * a byte-at-a-time JSON string escaper, %.15g/%.17g for numbers,
 * vsnprintf for header lines), on fixed cases and many random inputs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/fmt.h"
#include "util/json_print.h"

#define RANDOM_ROUNDS 20000

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* ---- integers ---- */

static void expect_u64(uint64_t v) {
  char want[32], got[LLN_FMT_U64_MAX + 1];
  snprintf(want, sizeof want, "%llu", (unsigned long long)v);
  size_t n = lln_fmt_u64(got, v);
  got[n] = '\0';
  assert_string_equal(got, want);
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_put_u64(&b, v);
  assert_string_equal(b.data, want);
  lln_buf_reset(&b);
  lln_buf_put_hex(&b, v);
  snprintf(want, sizeof want, "%llx", (unsigned long long)v);
  assert_string_equal(b.data, want);
  assert_int_equal(b.len, strlen(want));
  lln_buf_free(&b);
}

static void test_integers_match_printf(void **state) {
  (void)state;
  expect_u64(0);
  expect_u64(9);
  expect_u64(10);
  expect_u64(UINT64_MAX);
  for (int i = 0; i < RANDOM_ROUNDS; i++)
    expect_u64(next_random() >> (next_random() % 64));
}

/* ---- JSON strings ---- */

/* The escaper lln_buf_json_string replaced, byte by byte. */
static void slow_json_string(lln_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  lln_buf_putc(b, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[7] = {'\\', 0};
    if (c == '"' || c == '\\')
      esc[1] = (char)c;
    else if (c == '\n')
      esc[1] = 'n';
    else if (c == '\r')
      esc[1] = 'r';
    else if (c == '\t')
      esc[1] = 't';
    else if (c < 0x20)
      memcpy(esc + 1, "u00", 3), esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
    else
      esc[0] = (char)c;
    lln_buf_puts(b, esc);
  }
  lln_buf_putc(b, '"');
}

static void expect_json_string(const char *s, size_t len) {
  lln_buf fast, slow;
  lln_buf_init(&fast);
  lln_buf_init(&slow);
  lln_buf_puts(&fast, "x");
  lln_buf_puts(&slow, "x");
  lln_buf_json_string(&fast, s, len);
  slow_json_string(&slow, s, len);
  assert_int_equal(fast.len, slow.len);
  assert_memory_equal(fast.data, slow.data, slow.len + 1);
  size_t plain = 0;
  while (plain < len && (unsigned char)s[plain] >= 0x20 && s[plain] != '"' && s[plain] != '\\')
    plain++;
  assert_int_equal(lln_json_plain_prefix(s, len), plain);
  lln_buf_free(&fast);
  lln_buf_free(&slow);
}

static void test_json_string_fixed_cases(void **state) {
  (void)state;
  static const char *const cases[] = {
      "",
      "plain",
      "exactly8",
      "sixteen bytes!!!",
      "quote \" in the middle of a longer string",
      "back\\slash",
      "\"",
      "tab\there, newline\n, cr\r, bell\a, esc\x1b, del\x7f",
      "caf\xc3\xa9 \xe2\x80\xa8 line sep \xe2\x80\xa9 para sep \xf0\x9f\x98\x80",
      "0123456789abcdef0123456789abcde\x1f",
      " !#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}~"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_json_string(cases[i], strlen(cases[i]));
  expect_json_string("nul\0inside", 10);
}

static void test_json_string_random(void **state) {
  (void)state;
  /* bytes drawn mostly from plain text, with every kind of escape, the
   * bytes next to the escaped ones and high (UTF-8) bytes mixed in */
  static const unsigned char specials[] = {0,    1,    0x1f, 0x20, 0x21, '"',  '#',  '\\', '[',  ']',
                                           '\n', '\r', '\t', 0x7f, 0x80, 0xa0, 0xc3, 0xe2, 0xff, 0x5b};
  char s[200];
  for (int round = 0; round < RANDOM_ROUNDS; round++) {
    size_t len = next_random() % sizeof s;
    unsigned density = (unsigned)(next_random() % 64) + 1;
    for (size_t i = 0; i < len; i++) {
      uint64_t r = next_random();
      s[i] = r % density == 0 ? (char)specials[(r >> 8) % sizeof specials] : (char)(' ' + (r >> 16) % 95);
    }
    expect_json_string(s, len);
  }
}

/* ---- numbers ---- */

/* The number printer lln_json_print_number replaced. */
static void slow_number(double d, char *out, size_t size) {
  if (!isfinite(d)) {
    snprintf(out, size, "null");
  } else if (d == floor(d) && fabs(d) < 9007199254740992.0) {
    snprintf(out, size, "%lld", (long long)d);
  } else {
    snprintf(out, size, "%.15g", d);
    if (strtod(out, NULL) != d)
      snprintf(out, size, "%.17g", d);
  }
}

static void expect_number(double d) {
  char want[64];
  slow_number(d, want, sizeof want);
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_puts(&b, ",");
  lln_json_print_number(d, &b);
  assert_string_equal(b.data + 1, want);
  assert_int_equal(b.len, strlen(want) + 1);
  lln_buf_free(&b);
}

static void test_numbers_fixed_cases(void **state) {
  (void)state;
  static const double cases[] = {0,
                                 -0.0,
                                 1,
                                 -1,
                                 0.5,
                                 0.442,
                                 -0.442,
                                 0.1,
                                 0.2,
                                 0.3,
                                 0.1 + 0.2,
                                 1e-4,
                                 1.5e-4,
                                 0.0001,
                                 1e-5,
                                 0.00012345,
                                 123.456,
                                 1e15,
                                 1e15 + 0.5,
                                 1e16,
                                 1e300,
                                 1e-300,
                                 2.5e-7,
                                 9007199254740993.0,
                                 3.14159265358979,
                                 1234567890.12345,
                                 99999999999999.9,
                                 0.999999999999999,
                                 4.35,
                                 1.005,
                                 NAN,
                                 INFINITY,
                                 -INFINITY,
                                 1796230397,
                                 -1796230397.25};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_number(cases[i]);
}

static void test_numbers_random(void **state) {
  (void)state;
  for (int round = 0; round < RANDOM_ROUNDS; round++) {
    /* short decimals as llmnet writes them (latencies, costs) */
    double m = (double)(next_random() % 100000000000ULL);
    int k = (int)(next_random() % 18);
    double d = m / pow(10, k);
    expect_number(next_random() & 1 ? -d : d);
    /* any finite double */
    uint64_t bits = next_random();
    memcpy(&d, &bits, sizeof d);
    expect_number(d);
    /* doubles of ordinary magnitude with all their bits */
    expect_number((double)(next_random() >> 11) / (double)(1ULL << (next_random() % 60)));
  }
}

static void test_json_print_document(void **state) {
  (void)state;
  const char *text = "{\"id\":\"chatcmpl-1\",\"created\":1796230397,\"n\":[1,-2,0.5,1e-07,true,false,null],"
                     "\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"o\":{},\"a\":[],\"lat\":0.442}";
  cJSON *doc = cJSON_Parse(text);
  assert_non_null(doc);
  lln_buf b;
  lln_buf_init(&b);
  lln_json_print(doc, &b);
  assert_string_equal(b.data, text);
  lln_buf_free(&b);
  cJSON_Delete(doc);
}

/* ---- header formats ---- */

static void expect_format(size_t size, const char *fmt, ...) {
  char want[600], got[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(want, size, fmt, ap);
  va_end(ap);
  va_start(ap, fmt);
  int ok = lln_fmt_strings(got, size, fmt, ap);
  va_end(ap);
  assert_true(ok);
  assert_string_equal(got, want);
}

static int format_handled(const char *fmt, ...) {
  char out[64];
  va_list ap;
  va_start(ap, fmt);
  int ok = lln_fmt_strings(out, sizeof out, fmt, ap);
  va_end(ap);
  return ok;
}

static void test_string_formats_match_vsnprintf(void **state) {
  (void)state;
  char long_value[700];
  memset(long_value, 'v', sizeof long_value - 1);
  long_value[sizeof long_value - 1] = '\0';
  expect_format(520, "x-request-id: %s", "0123456789abcdef");
  expect_format(520, "x-llmnet-route: %.480s", "chat>output");
  expect_format(520, "x-llmnet-route: %.480s", long_value);
  expect_format(520, "Retry-After: %.40s", long_value);
  expect_format(520, "Access-Control-Allow-Origin: %s", long_value);
  expect_format(520, "100%% %s and %.3s%%", "done", "abcdef");
  expect_format(520, "%.0s|%.s|%s", "gone", "gone", "");
  expect_format(8, "abcdefghij%s", "k");
  expect_format(1, "anything %s", "at all");
  expect_format(520, "no directives");
  assert_false(format_handled("%d", 5));
  assert_false(format_handled("%-5s", "x"));
  assert_false(format_handled("%.*s", 2, "abc"));
  assert_false(format_handled("%s", (const char *)NULL));
  assert_false(format_handled("trailing %"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_integers_match_printf),
      cmocka_unit_test(test_json_string_fixed_cases),
      cmocka_unit_test(test_json_string_random),
      cmocka_unit_test(test_numbers_fixed_cases),
      cmocka_unit_test(test_numbers_random),
      cmocka_unit_test(test_json_print_document),
      cmocka_unit_test(test_string_formats_match_vsnprintf),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
