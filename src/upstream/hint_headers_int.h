/* hint_headers: reading the two response headers an upstream uses to say
 * when to call again (Retry-After, X-RateLimit-Reset), sanitised, because
 * their values may end up in llmnet's own response head. Internal to
 * src/upstream (client.c's header callback). */
#ifndef LLN_UPSTREAM_HINT_HEADERS_INT_H
#define LLN_UPSTREAM_HINT_HEADERS_INT_H

#include <stddef.h>

/* Longest Retry-After / X-RateLimit-Reset value kept (an HTTP date is 29). */
#define LLN_UP_MAX_HINT_HEADER 64

/* Copies the value of header `name` (lower case, with the colon) into *out
 * when `line` is that header and its value is well formed: a number, or for
 * Retry-After also an HTTP date. A malformed value is dropped, as if the
 * upstream had not sent the header. */
void lln__upstream_capture_hint(const char *line, size_t len, const char *name, char **out);

#endif
