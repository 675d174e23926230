/* test_sha256: SHA-256 against the NIST example vectors (FIPS 180-4 /
 * SHA-256 examples): the empty message, "abc", the 448-bit two-block
 * message and one million 'a', one-shot and fed in uneven pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/sha256.h"

static void hex_of(const void *data, size_t len, char out[LLN_SHA256_HEX_SIZE]) {
  unsigned char d[LLN_SHA256_DIGEST_LEN];
  lln_sha256(data, len, d);
  lln_sha256_hex(d, out);
}

static void test_empty(void **state) {
  (void)state;
  char h[LLN_SHA256_HEX_SIZE];
  hex_of("", 0, h);
  assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_abc(void **state) {
  (void)state;
  char h[LLN_SHA256_HEX_SIZE];
  hex_of("abc", 3, h);
  assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static const char M448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char M448_HEX[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";

static void test_448_bits(void **state) {
  (void)state;
  char h[LLN_SHA256_HEX_SIZE];
  assert_int_equal(strlen(M448), 56);
  hex_of(M448, 56, h);
  assert_string_equal(h, M448_HEX);
}

static void test_incremental_pieces(void **state) {
  (void)state;
  /* Every split point of the 448-bit message gives the same digest. */
  for (size_t cut = 0; cut <= 56; cut++) {
    lln_sha256_ctx c;
    unsigned char d[LLN_SHA256_DIGEST_LEN];
    char h[LLN_SHA256_HEX_SIZE];
    lln_sha256_init(&c);
    lln_sha256_update(&c, M448, cut);
    lln_sha256_update(&c, M448 + cut, 56 - cut);
    lln_sha256_final(&c, d);
    lln_sha256_hex(d, h);
    assert_string_equal(h, M448_HEX);
  }
}

static const char MILLION_A_HEX[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void test_million_a(void **state) {
  (void)state;
  size_t n = 1000000;
  char *a = malloc(n);
  assert_non_null(a);
  memset(a, 'a', n);
  char h[LLN_SHA256_HEX_SIZE];
  hex_of(a, n, h);
  assert_string_equal(h, MILLION_A_HEX);
  /* fed in 1000 pieces of odd sizes */
  lln_sha256_ctx c;
  unsigned char d[LLN_SHA256_DIGEST_LEN];
  lln_sha256_init(&c);
  size_t off = 0, step = 1;
  while (off < n) {
    size_t take = step < n - off ? step : n - off;
    lln_sha256_update(&c, a + off, take);
    off += take;
    step = step * 7 % 997 + 1;
  }
  lln_sha256_final(&c, d);
  lln_sha256_hex(d, h);
  assert_string_equal(h, MILLION_A_HEX);
  free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),     cmocka_unit_test(test_abc),
      cmocka_unit_test(test_448_bits),  cmocka_unit_test(test_incremental_pieces),
      cmocka_unit_test(test_million_a),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
