/* buf: growable NUL-terminated byte buffer. Allocation failure aborts: a
 * gateway that cannot allocate a few bytes cannot answer anyone anyway.
 * The hot appends are inline in buf.h; here are growth, the formatters
 * and JSON string escaping (a 16-bytes-at-a-time scan for the first byte
 * needing an escape where SSE2 is there, whole clean runs copied at once). */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lln_buf_init(lln_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void lln_buf_free(lln_buf *b) {
  free(b->data);
  lln_buf_init(b);
}

void lln_buf_reset(lln_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void lln__buf_grow(lln_buf *b, size_t extra) {
  if (extra > SIZE_MAX / 4 - b->len)
    abort();
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : LLN_BUF_FIRST_CAP;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p)
    abort();
  b->data = p;
  b->cap = cap;
  b->data[b->len] = '\0';
}

void lln_buf_vprintf(lln_buf *b, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n <= 0)
    return;
  lln_buf_reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void lln_buf_printf(lln_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lln_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

size_t lln_fmt_u64(char *out, uint64_t v) {
  char tmp[LLN_FMT_U64_MAX];
  char *p = tmp + sizeof tmp;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  size_t n = (size_t)(tmp + sizeof tmp - p);
  memcpy(out, p, n);
  return n;
}

void lln_buf_put_u64(lln_buf *b, uint64_t v) {
  lln_buf_reserve(b, LLN_FMT_U64_MAX);
  b->len += lln_fmt_u64(b->data + b->len, v);
  b->data[b->len] = '\0';
}

void lln_buf_put_hex(lln_buf *b, uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  char tmp[16];
  char *p = tmp + sizeof tmp;
  do {
    *--p = digits[v & 15];
    v >>= 4;
  } while (v);
  lln_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* 1 for the bytes that need an escape in a JSON string: control characters,
 * '"' and '\\'. */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,         1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, ['"'] = 1, ['\\'] = 1,
};

#if defined(__SSE2__)
#include <emmintrin.h>

/* Bit i set when byte i of the 16 at `p` needs an escape. */
static inline unsigned escape_mask16(const unsigned char *p) {
  __m128i v = _mm_loadu_si128((const __m128i *)p);
  __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v); /* v <= 0x1f, unsigned */
  __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
  __m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
  return (unsigned)_mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, bslash)));
}

/* 16 bytes at a time; the last few are copied into a block padded with
 * spaces (which never need an escape) rather than read past the end. */
size_t lln_json_plain_prefix(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    unsigned m = escape_mask16(p + i);
    if (m)
      return i + (size_t)__builtin_ctz(m);
  }
  if (i < len) {
    unsigned char tail[16];
    memset(tail, ' ', sizeof tail);
    memcpy(tail, p + i, len - i);
    unsigned m = escape_mask16(tail);
    if (m)
      return i + (size_t)__builtin_ctz(m);
  }
  return len;
}
#else
size_t lln_json_plain_prefix(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len && !needs_escape[p[i]])
    i++;
  return i;
}
#endif

/* The escaped form of s[0..len), whose first byte needs an escape, at the
 * end of `b` (room reserved for the worst case). */
static void escape_rest(lln_buf *b, const unsigned char *p, size_t len) {
  static const char hex[] = "0123456789abcdef";
  lln_buf_reserve(b, len * 6 + 1);
  char *o = b->data + b->len;
  const unsigned char *end = p + len;
  while (p < end) {
    const unsigned char *run = p;
    while (p < end && !needs_escape[*p])
      p++;
    memcpy(o, run, (size_t)(p - run));
    o += p - run;
    if (p == end)
      break;
    unsigned char c = *p++;
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    default: *o++ = 'u', *o++ = '0', *o++ = '0', *o++ = hex[c >> 4], *o++ = hex[c & 15]; break;
    }
  }
  b->len = (size_t)(o - b->data);
}

void lln_buf_json_string(lln_buf *b, const char *s, size_t len) {
  size_t plain = lln_json_plain_prefix(s, len);
  lln_buf_reserve(b, plain + 2);
  char *o = b->data + b->len;
  *o++ = '"';
  memcpy(o, s, plain);
  b->len += plain + 1;
  if (plain < len)
    escape_rest(b, (const unsigned char *)s + plain, len - plain);
  b->data[b->len++] = '"';
  b->data[b->len] = '\0';
}

void lln_buf_consume(lln_buf *b, size_t n) {
  if (n >= b->len) {
    lln_buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

char *lln_buf_steal(lln_buf *b) {
  if (!b->data)
    lln_buf_reserve(b, 0), b->data[0] = '\0';
  char *p = b->data;
  lln_buf_init(b);
  return p;
}
