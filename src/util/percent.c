/* percent: %XX decoding, one loop for every caller (see percent.h). */
#include "util/percent.h"

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t lln_percent_decode(const char *s, size_t n, char *out, int *malformed) {
  size_t o = 0;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
      out[o] = (char)(hi * 16 + lo);
      bad |= out[o] == '\0';
      o++;
      i += 2;
    } else {
      bad |= s[i] == '%';
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  if (malformed)
    *malformed = bad;
  return o;
}
