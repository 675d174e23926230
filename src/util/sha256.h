/* sha256: SHA-256 (FIPS 180-4), incremental and one-shot, with a hex
 * helper. Used for session fingerprints and decision-cache keys, where a
 * collision-resistant digest of conversation text names a stored value. */
#ifndef LLN_UTIL_SHA256_H
#define LLN_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define LLN_SHA256_DIGEST_LEN 32
#define LLN_SHA256_BLOCK_LEN 64
/* 64 hex digits and a NUL. */
#define LLN_SHA256_HEX_SIZE (2 * LLN_SHA256_DIGEST_LEN + 1)

typedef struct lln_sha256_ctx {
  uint32_t h[8];
  uint64_t total; /* bytes hashed so far */
  unsigned char block[LLN_SHA256_BLOCK_LEN];
  size_t used; /* bytes waiting in block */
} lln_sha256_ctx;

void lln_sha256_init(lln_sha256_ctx *c);
void lln_sha256_update(lln_sha256_ctx *c, const void *data, size_t len);
/* Writes the digest; the context must be initialised again before reuse. */
void lln_sha256_final(lln_sha256_ctx *c, unsigned char out[LLN_SHA256_DIGEST_LEN]);
void lln_sha256(const void *data, size_t len, unsigned char out[LLN_SHA256_DIGEST_LEN]);
/* Lowercase hex of a digest, NUL-terminated. */
void lln_sha256_hex(const unsigned char digest[LLN_SHA256_DIGEST_LEN], char out[LLN_SHA256_HEX_SIZE]);

#endif
