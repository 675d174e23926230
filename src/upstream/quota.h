/* quota: a budget's "sync". Where a provider reports what an account has
 * spent (OpenRouter's GET /api/v1/key: data.usage_daily, credits (US
 * dollars) used this UTC day, and data.limit_remaining), llmnet asks at
 * start and every `every` seconds and raises the budget's spend today in
 * the store to that figure (never lowers it), so a process starts from the
 * truth and calls made by other programs on the same key count too. One
 * per process, on one loop; what it read shows in lln_budget_stats_json. */
#ifndef LLN_UPSTREAM_QUOTA_H
#define LLN_UPSTREAM_QUOTA_H

#include <uv.h>

#include "config/config.h"
#include "upstream/client.h"
#include "upstream/ratelimit.h"

/* A provider's answer read at most this long (bytes, seconds). */
#define LLN_QUOTA_MAX_BODY (256 * 1024)
#define LLN_QUOTA_TIMEOUT_MS 15000L

typedef struct lln_quota lln_quota;

/* Starts syncing every budget of `cfg` with a "sync" (NULL when none has
 * one); the first read is sent at once. `up` and `rl` must outlive it. */
lln_quota *lln_quota_start(uv_loop_t *loop, lln_upstream *up, lln_ratelimit *rl, const lln_config *cfg);
/* The budgets of a reloaded composition: the old jobs stop, the new ones
 * start (with a first read at once). Returns the new handle (NULL: none). */
lln_quota *lln_quota_reload(lln_quota *q, uv_loop_t *loop, lln_upstream *up, lln_ratelimit *rl,
                            const lln_config *cfg);
/* Stops: calls in flight are cancelled, timers closed (run the loop to
 * finish closing). NULL is fine. */
void lln_quota_close(lln_quota *q);

/* Reads a provider's answer: data.usage_daily (dollars spent today) and
 * data.limit_remaining (NAN when absent or null). 0, or -1 when the body
 * is not such an answer. */
int lln_quota_parse(const char *body, size_t len, double *usage_daily, double *limit_remaining);

#endif
