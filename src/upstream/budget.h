/* budget: the top-level "budgets" at run time. A budget is an account's
 * quota (requests per minute and per day, US dollars per day) that every
 * call through any models entry naming it spends, router calls included:
 * counted in server.store (upstream/ratelimit.c), so that processes
 * sharing a Redis share it. This module keeps what the process knows of
 * each budget beside the store: its queue of waiting requests and the
 * counts it last saw, by name, so they survive a reload. Thread-safe: one
 * lock for every worker. */
#ifndef LLN_UPSTREAM_BUDGET_H
#define LLN_UPSTREAM_BUDGET_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "config/config.h"

/* Budgets tracked by one process, reloads included: a name past this is
 * still counted in the store, but neither queued nor shown. */
#define LLN_BUDGET_MAX_STATES 1024

/* Appends one object per budget of `cfg` to the JSON array `out`, as this
 * process last saw it: name, its limits, the requests used this minute and
 * this day, the dollars spent today, and when each window resets (Unix
 * ms). For /v1/llmnet/stats and the status page. */
void lln_budget_stats_json(cJSON *out, const lln_config *cfg);

/* The process's state of the budget named like `b`: created on first use,
 * it lives until exit (a store's late answer may still write to it). NULL
 * past LLN_BUDGET_MAX_STATES names. */
typedef struct lln_budget_state lln_budget_state;
lln_budget_state *lln_budget_state_of(const lln_budget *b);
/* A store answer: the budget's requests this minute and this UTC day and
 * its spend today in nano-dollars, at `now_ms` (Unix ms); -1: not in this
 * answer. */
void lln_budget_state_saw(lln_budget_state *st, long minute, long day, long nano, int64_t now_ms);

/* A provider's own figures (upstream/quota.c): dollars spent today, and the
 * key's remaining credit (NAN: unlimited or not told). */
void lln_budget_state_synced(lln_budget_state *st, double usage_daily, double limit_remaining);

/* Takes a place in `b`'s queue (at most b->queue wait at once); 0 when
 * it is full. */
int lln_budget_enqueue(const lln_budget *b);
void lln_budget_dequeue(const lln_budget *b);

#endif
