/* buf: growable NUL-terminated byte buffer. Allocation failure aborts: a
 * gateway that cannot allocate a few bytes cannot answer anyone anyway. */
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

void lln_buf_reserve(lln_buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p)
    abort();
  b->data = p;
  b->cap = cap;
  b->data[b->len] = '\0';
}

void lln_buf_append(lln_buf *b, const void *data, size_t len) {
  lln_buf_reserve(b, len);
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void lln_buf_puts(lln_buf *b, const char *s) { lln_buf_append(b, s, strlen(s)); }

void lln_buf_putc(lln_buf *b, char c) { lln_buf_append(b, &c, 1); }

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

/* Bytes that need an escape in a JSON string: control characters, '"' and
 * '\\'. Everything else, UTF-8 included, is copied as is. */
static int needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void lln_buf_json_string(lln_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  /* the worst case (every byte a \u00XX escape) is reserved once, so the
   * loop writes straight into the buffer */
  lln_buf_reserve(b, len * 6 + 2);
  char *o = b->data + b->len;
  *o++ = '"';
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    const unsigned char *run = p;
    while (p < end && !needs_escape(*p))
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
  *o++ = '"';
  b->len = (size_t)(o - b->data);
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
