/* keys: the pieces every strict JSON reader here shares (the composition
 * loader, the mock's rules): which known key a misspelt one meant, and the
 * JSON pointer that names a member's place in the file. */
#ifndef LLN_CONFIG_KEYS_H
#define LLN_CONFIG_KEYS_H

#include "util/buf.h"

/* 1 when `key` is one of `known` (NULL-terminated). */
int lln_key_known(const char *key, const char *const *known);
/* The known key closest to `key` (edit distance under 3, where case and
 * '-' against '_' do not count: "on-failure" finds "on_failure"), or NULL. */
const char *lln_key_suggest(const char *key, const char *const *known);
/* Appends "/token" to a JSON pointer, escaping '~' and '/' (RFC 6901). */
void lln_pointer_append(lln_buf *pointer, const char *token);

#endif
