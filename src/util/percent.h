/* percent: decoding %XX escapes (RFC 3986), for URL parts llmnet reads: a
 * Redis URL's user and password, a model id in a request path. */
#ifndef LLN_UTIL_PERCENT_H
#define LLN_UTIL_PERCENT_H

#include <stddef.h>

/* Decodes [s, s+n) into `out`, which must hold n + 1 bytes (decoding never
 * grows the text); NUL-terminates it and returns its length. A '%' not
 * followed by two hex digits is copied as it is. *malformed (when not NULL)
 * is set to 1 when there was such a '%' or an escape decoded to NUL, else
 * to 0: callers that must refuse those check it. */
size_t lln_percent_decode(const char *s, size_t n, char *out, int *malformed);

#endif
