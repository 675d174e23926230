/* cache_key: the response cache's key (docs/CONFIG.md "Response cache"):
 * a SHA-256 of the canonical request (every member but stream,
 * stream_options, user and metadata, object keys sorted at every depth so
 * their order does not matter), the entry node and the values of the
 * request headers that conditions read. Pure; internal to src/pipeline
 * and to tests. */
#ifndef LLN_PIPELINE_CACHE_KEY_H
#define LLN_PIPELINE_CACHE_KEY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "pipeline/vars.h"
#include "util/buf.h"
#include "util/sha256.h"

/* The request's canonical text: JSON with object keys sorted (bytewise) at
 * every depth, numbers as %.17g, no whitespace; at the top level the
 * members that do not change the answer are left out. */
void lln_cache_canonical(const cJSON *request, lln_buf *out);

/* The key's 64 hex digits: the canonical request, `entry` (the node the
 * request enters at) and the `n` headers (name and value, in the
 * composition's order). */
void lln_cache_key(const cJSON *request, const char *entry, const lln_var_header *headers, size_t n,
                   char out[LLN_SHA256_HEX_SIZE]);

#endif
