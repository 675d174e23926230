/* utf8: validation of request bytes before they are parsed as JSON text. */
#ifndef LLN_UTIL_UTF8_H
#define LLN_UTIL_UTF8_H

#include <stddef.h>

/* 1 when `s` is well-formed UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF), else 0 with the offset of the first bad byte in *bad_at. */
int lln_utf8_valid(const char *s, size_t len, size_t *bad_at);

#endif
