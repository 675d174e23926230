/* buf: a growable byte buffer, always NUL-terminated, for building request
 * bodies, responses and log lines without repeated strlen or fixed limits. */
#ifndef LLN_BUF_H
#define LLN_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct lln_buf {
  char *data;
  size_t len;
  size_t cap;
} lln_buf;

void lln_buf_init(lln_buf *b);
void lln_buf_free(lln_buf *b);
void lln_buf_reset(lln_buf *b);
/* Ensures room for `extra` more bytes plus the terminator. */
void lln_buf_reserve(lln_buf *b, size_t extra);
void lln_buf_append(lln_buf *b, const void *data, size_t len);
void lln_buf_puts(lln_buf *b, const char *s);
void lln_buf_putc(lln_buf *b, char c);
void lln_buf_printf(lln_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lln_buf_vprintf(lln_buf *b, const char *fmt, va_list ap);
/* Appends `s` as a JSON string literal, quotes included. */
void lln_buf_json_string(lln_buf *b, const char *s, size_t len);
/* Removes the first `n` bytes. */
void lln_buf_consume(lln_buf *b, size_t n);
/* Hands the storage to the caller (free() it); the buffer is left empty. */
char *lln_buf_steal(lln_buf *b);

#endif
