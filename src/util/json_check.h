/* json_check: a lexical check of JSON text for what cJSON accepts but JSON
 * forbids and llmnet must not forward: raw control characters (U+0000 to
 * U+001F) inside strings, control bytes other than JSON's four whitespace
 * characters between tokens, malformed escapes, and the escape \u0000
 * (cJSON's strings end at NUL, so the text after it would be cut silently).
 * It does not check the grammar: cJSON does that after this passes. */
#ifndef LLN_UTIL_JSON_CHECK_H
#define LLN_UTIL_JSON_CHECK_H

#include <stddef.h>

/* 0 when `s` passes; -1 with the offset of the offending byte in *bad_at
 * and a static description in *why (either may be NULL). */
int lln_json_check(const char *s, size_t len, size_t *bad_at, const char **why);

#endif
