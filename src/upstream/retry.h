/* retry: which upstream failures are worth another try, and how long to
 * wait first: exponential backoff with jitter, or what the upstream asked
 * for in Retry-After / X-RateLimit-Reset when that is longer. */
#ifndef LLN_UPSTREAM_RETRY_H
#define LLN_UPSTREAM_RETRY_H

#include <stdint.h>
#include <time.h>

#include "upstream/client.h"

/* 1 for 429, 500, 502, 503, 504, connection errors, resets and timeouts. */
int lln_retryable(const lln_upstream_response *resp);

/* The longest wait an upstream's hint can ask for (one day); a longer or
 * absurd one (Retry-After: 1e300) counts as this. */
#define LLN_RETRY_MAX_HINT_MS (24L * 60 * 60 * 1000)

/* Milliseconds the upstream asked us to wait, from Retry-After (seconds or
 * an HTTP date) or X-RateLimit-Reset (epoch seconds, epoch milliseconds, or
 * seconds from now), at most LLN_RETRY_MAX_HINT_MS; -1 when it said nothing
 * usable (negative, NaN, infinite, not a number). `now` is Unix time. */
long lln_retry_hint_ms(const char *retry_after, const char *rate_limit_reset, time_t now);

/* The wait before retry number `retry` (0 = first): base * 2^retry capped
 * at cap_ms, scaled by a jitter in [0.5, 1) from `random`. */
long lln_backoff_ms(int retry, long base_ms, long cap_ms, uint64_t random);

#endif
