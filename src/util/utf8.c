/* utf8: a strict decoder-free validator (RFC 3629 table 3-7). */
#include "util/utf8.h"

int lln_utf8_valid(const char *s, size_t len, size_t *bad_at) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    unsigned char c = p[i];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0)
        lo = 0xA0;
      else if (c == 0xED)
        hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0)
        lo = 0x90;
      else if (c == 0xF4)
        hi = 0x8F;
    } else {
      goto bad;
    }
    if (i + n >= len)
      goto bad;
    if (p[i + 1] < lo || p[i + 1] > hi)
      goto bad;
    for (size_t k = 2; k <= n; k++) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF)
        goto bad;
    }
    i += n + 1;
  }
  return 1;
bad:
  if (bad_at)
    *bad_at = i;
  return 0;
}
