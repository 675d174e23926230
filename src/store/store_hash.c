/* store_hash: SipHash-2-4 with a key drawn once per process from the
 * kernel, for the in-process store's table. Its keys come from clients
 * (x-session-id, message fingerprints), and an unkeyed hash would let one
 * client send keys that all land in one chain. */
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/store_int.h"

static uint64_t sip_key[2];
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_init(void) {
  if (getrandom(sip_key, sizeof sip_key, 0) != (ssize_t)sizeof sip_key) {
    /* No entropy (very early boot): still different per process. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sip_key[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)ts.tv_sec;
    sip_key[1] = (uint64_t)(uintptr_t)&ts * 0xC2B2AE3D27D4EB4FULL;
  }
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                             \
  do {                                                                                                       \
    v0 += v1;                                                                                                \
    v1 = ROTL(v1, 13);                                                                                       \
    v1 ^= v0;                                                                                                \
    v0 = ROTL(v0, 32);                                                                                       \
    v2 += v3;                                                                                                \
    v3 = ROTL(v3, 16);                                                                                       \
    v3 ^= v2;                                                                                                \
    v0 += v3;                                                                                                \
    v3 = ROTL(v3, 21);                                                                                       \
    v3 ^= v0;                                                                                                \
    v2 += v1;                                                                                                \
    v1 = ROTL(v1, 17);                                                                                       \
    v1 ^= v2;                                                                                                \
    v2 = ROTL(v2, 32);                                                                                       \
  } while (0)

uint64_t lln__store_hash(const void *data, size_t len, uint64_t salt) {
  pthread_once(&sip_once, sip_init);
  const unsigned char *p = data;
  uint64_t k0 = sip_key[0] ^ salt, k1 = sip_key[1];
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  uint64_t b = (uint64_t)len << 56;
  size_t whole = len & ~(size_t)7;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m;
    memcpy(&m, p + i, 8); /* little-endian hosts only matter for speed, not for correctness */
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  for (size_t i = 0; i < (len & 7); i++)
    b |= (uint64_t)p[whole + i] << (8 * i);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}
