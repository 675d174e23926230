/* ratelimit: per-model request limits (requests per minute and per day)
 * and the budget a models entry names (requests per minute and per day, US
 * dollars per day, shared by every entry naming it), counted in fixed
 * windows in the store (server.store): in this process, or in Redis so
 * that several llmnet processes spend one provider quota together. */
#ifndef LLN_UPSTREAM_RATELIMIT_H
#define LLN_UPSTREAM_RATELIMIT_H

#include <stddef.h>

#include "config/config.h"
#include "store/store.h"

typedef struct lln_ratelimit lln_ratelimit;
/* A take waiting for the store's answer. */
typedef lln_store_op lln_ratelimit_take;

/* wait_ms 0: the request may go now (it has been counted). Otherwise the
 * budget is spent and nothing was counted: wait_ms is how long until the
 * window that is full ends. */
typedef void (*lln_ratelimit_cb)(void *ud, long wait_ms);

#define LLN_RATELIMIT_MINUTE_MS 60000L
#define LLN_RATELIMIT_DAY_MS 86400000L
/* A refusal whose limit frees within this tells the client to retry
 * (x-should-retry: true, as an SDK's default retries wait up to a minute);
 * a longer one (a day's limit) tells it not to hammer. */
#define LLN_RATELIMIT_CLIENT_RETRY_MAX_MS 60000L
/* A budget's spend is counted in nano-dollars (integers in the store). */
#define LLN_BUDGET_NANO_PER_USD 1e9
/* The windows of a model's own limits and its budget's, in this order. */
enum {
  LLN_RL_WIN_MINUTE,
  LLN_RL_WIN_DAY,
  LLN_RL_WIN_BUDGET_MINUTE,
  LLN_RL_WIN_BUDGET_DAY,
  LLN_RL_WIN_BUDGET_USD,
  LLN_RL_NWINDOWS
};

/* Counts in `store`, which must outlive the limiter. A limiter is as
 * thread-safe as its store: an in-process store may serve every worker, a
 * Redis one belongs to its loop's thread. Returns 0, or -1 (out of memory). */
int lln_ratelimit_create(lln_ratelimit **out, lln_store *store);
/* Frees; takes still waiting must have been cancelled (lln_store_close
 * cancels whatever is left). */
void lln_ratelimit_close(lln_ratelimit *rl);

/* Takes one request from `key`'s budgets (0 = no limit for that window).
 * The callback runs exactly once unless cancelled: synchronously (then NULL
 * is returned) or later (then a handle for lln_ratelimit_cancel is). When
 * the shared store cannot be reached the request is allowed and a warning
 * logged: a broken Redis must not stop all traffic. */
lln_ratelimit_take *lln_ratelimit_acquire(lln_ratelimit *rl, const char *key, int rpm, int rpd,
                                          lln_ratelimit_cb cb, void *ud);
void lln_ratelimit_cancel(lln_ratelimit_take *t);

/* What a take for a models entry ran into. */
typedef enum { LLN_LIMIT_NONE, LLN_LIMIT_RPM, LLN_LIMIT_RPD, LLN_LIMIT_USD } lln_limit_kind;

typedef struct lln_ratelimit_verdict {
  long wait_ms;             /* 0: the call may go (it has been counted) */
  const lln_budget *budget; /* the spent limit is this budget's; NULL: the entry's own "rate-limit" */
  lln_limit_kind limit;     /* which limit is spent */
  int queue;                /* the queue and longest wait of the spent limit */
  long max_wait_ms;
} lln_ratelimit_verdict;

/* Takes one call from `ep`'s own limits and its budget's in one take
 * (windows in LLN_RL_WIN_* order); NULL answer handle as for
 * lln_ratelimit_acquire. The callback reads its answer with
 * lln_ratelimit_verdict_of. Nothing to count: answered at once. */
lln_ratelimit_take *lln_ratelimit_acquire_entry(lln_ratelimit *rl, const lln_model *ep,
                                                lln_store_counts_cb cb, void *ud);
/* Reads a take's answer for `ep` (which limit is spent, which queue
 * applies) and records the budget's counts for lln_budget_stats_json. */
lln_ratelimit_verdict lln_ratelimit_verdict_of(const lln_model *ep, long wait_ms, const long *counts,
                                               size_t n);
/* Why a refused call was refused, for an error message: the entry's rate
 * limit, or `budget "NAME" (50 requests per UTC day) is spent; it resets
 * at 00:00 UTC, in 3 h 12 min`. */
void lln_ratelimit_describe(const lln_model *ep, const lln_ratelimit_verdict *v, char *out, size_t size);
/* Counts `usd` spent against budget `b` (today's UTC day). */
void lln_ratelimit_spend(lln_ratelimit *rl, const lln_budget *b, double usd);
/* Raises budget `b`'s spend today to `usd` when it counted less (a
 * provider's own figure, upstream/quota.c); never lowers it. */
void lln_ratelimit_raise_spend(lln_ratelimit *rl, const lln_budget *b, double usd);

#endif
