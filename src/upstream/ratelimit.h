/* ratelimit: per-model request budgets (requests per minute and per day),
 * counted in fixed windows, in this process or shared through Redis so that
 * several llmnet processes spend one provider quota together. */
#ifndef LLN_UPSTREAM_RATELIMIT_H
#define LLN_UPSTREAM_RATELIMIT_H

#include <stddef.h>
#include <uv.h>

typedef struct lln_ratelimit lln_ratelimit;
typedef struct lln_ratelimit_take lln_ratelimit_take;

/* wait_ms 0: the request may go now (it has been counted). Otherwise the
 * budget is spent and nothing was counted: wait_ms is how long until the
 * window that is full ends. */
typedef void (*lln_ratelimit_cb)(void *ud, long wait_ms);

/* `store` NULL or "memory": counters in this process. "redis://HOST:PORT"
 * (optionally "/DB", and "[USER]:PASSWORD@" before the host, %-encoded):
 * counters in Redis, shared. Returns 0, or -1 with err filled (a bad URL; an
 * unreachable Redis is not an error at start). */
int lln_ratelimit_create(lln_ratelimit **out, uv_loop_t *loop, const char *store, char *err, size_t err_size);
/* Cancels pending takes (their callbacks are not called) and frees. With a
 * Redis store the last of it is released by close callbacks on the loop: run
 * the loop before uv_loop_close. A "memory" limiter may be shared by several
 * threads; a Redis one belongs to its loop's thread (one per worker). */
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
