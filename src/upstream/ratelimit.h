/* ratelimit: per-model request budgets (requests per minute and per day),
 * counted in fixed windows in the store (server.store): in this process,
 * or in Redis so that several llmnet processes spend one provider quota
 * together. */
#ifndef LLN_UPSTREAM_RATELIMIT_H
#define LLN_UPSTREAM_RATELIMIT_H

#include <stddef.h>

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

#endif
