/* buf: a growable byte buffer, always NUL-terminated, for building request
 * bodies, responses and log lines without repeated strlen or fixed limits. */
#ifndef LLN_BUF_H
#define LLN_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct lln_buf {
  char *data;
  size_t len;
  size_t cap;
} lln_buf;

/* The first allocation of a buffer: enough for a typical response head,
 * request body or JSON answer without growing. */
#define LLN_BUF_FIRST_CAP 64
/* Digits lln_fmt_u64 writes at most (2^64 - 1 has 20). */
#define LLN_FMT_U64_MAX 20

void lln_buf_init(lln_buf *b);
void lln_buf_free(lln_buf *b);
void lln_buf_reset(lln_buf *b);
/* Grows the storage for `extra` more bytes plus the terminator (internal:
 * lln_buf_reserve calls it only when they do not fit). */
void lln__buf_grow(lln_buf *b, size_t extra);
/* Ensures room for `extra` more bytes plus the terminator. */
static inline void lln_buf_reserve(lln_buf *b, size_t extra) {
  /* len < cap whenever cap > 0 (the terminator), so this cannot wrap */
  if (extra >= b->cap - b->len)
    lln__buf_grow(b, extra);
}
static inline void lln_buf_append(lln_buf *b, const void *data, size_t len) {
  lln_buf_reserve(b, len);
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}
static inline void lln_buf_puts(lln_buf *b, const char *s) { lln_buf_append(b, s, strlen(s)); }
static inline void lln_buf_putc(lln_buf *b, char c) {
  lln_buf_reserve(b, 1);
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}
void lln_buf_printf(lln_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lln_buf_vprintf(lln_buf *b, const char *fmt, va_list ap);
/* Writes `v` in decimal at `out` (room for LLN_FMT_U64_MAX bytes, no
 * terminator) and returns the length: what printf's %llu writes. */
size_t lln_fmt_u64(char *out, uint64_t v);
/* Appends `v` in decimal (%llu), or in lowercase hexadecimal (%llx). */
void lln_buf_put_u64(lln_buf *b, uint64_t v);
void lln_buf_put_hex(lln_buf *b, uint64_t v);
/* Appends `s` as a JSON string literal, quotes included: '"', '\\' and
 * control characters escaped (\n \r \t by name, the others as \u00XX),
 * every other byte (UTF-8 included) copied as is. */
void lln_buf_json_string(lln_buf *b, const char *s, size_t len);
/* Bytes at the start of s[0..len) that lln_buf_json_string copies as they
 * are (the index of the first byte needing an escape, else len). */
size_t lln_json_plain_prefix(const char *s, size_t len);
/* Removes the first `n` bytes. */
void lln_buf_consume(lln_buf *b, size_t n);
/* Hands the storage to the caller (free() it); the buffer is left empty. */
char *lln_buf_steal(lln_buf *b);

#endif
