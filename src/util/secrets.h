/* secrets: the process-wide registry of secret values llmnet has loaded
 * (model api keys and header values, Vault values, inbound api-keys,
 * function headers and credential-like env values), and the scrubber that
 * replaces every occurrence of one with "[REDACTED]" in text that leaves
 * llmnet: upstream error bodies and relayed headers (upstream/client.c) and
 * log lines (util/log.c). Values shorter than LLN_SECRET_MIN_LEN are not
 * registered: they are too likely to occur in ordinary text. The registry
 * only grows (a reload adds the new composition's values; an old key
 * stays scrubbed), up to LLN_SECRETS_MAX values; it is safe to use from
 * every thread. */
#ifndef LLN_UTIL_SECRETS_H
#define LLN_UTIL_SECRETS_H

#include <stddef.h>

#include "util/buf.h"

#define LLN_SECRET_MIN_LEN 8
#define LLN_SECRETS_MAX 4096
#define LLN_REDACTED "[REDACTED]"

/* Registers a value (copied); shorter ones and duplicates are ignored. */
void lln_secrets_add(const char *value, size_t len);
/* Registers the value of a "Name: value" header line, and its last
 * space-separated word ("Bearer KEY" -> KEY too). */
void lln_secrets_add_header(const char *line);
/* Number of registered values. */
size_t lln_secrets_count(void);
/* Appends `text` to `out` with every registered value replaced by
 * LLN_REDACTED; returns how many were replaced. */
size_t lln_secrets_scrub(const char *text, size_t len, lln_buf *out);
/* Scrubs a malloc'ed NUL-terminated string: when it holds a secret, *s is
 * replaced by a new string. Returns how many were replaced; *s may be NULL. */
size_t lln_secrets_scrub_str(char **s);
/* Scrubs a buffer in place; returns how many were replaced. */
size_t lln_secrets_scrub_buf(lln_buf *b);
/* Forgets every value (tests). */
void lln_secrets_clear(void);

#endif
