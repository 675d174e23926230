/* ratelimit_backend: what ratelimit.c (the public API and the in-process
 * counters) and ratelimit_redis.c (the shared counters) say to each other.
 * Internal to src/upstream and to tests: nothing else includes it. */
#ifndef LLN_UPSTREAM_RATELIMIT_BACKEND_H
#define LLN_UPSTREAM_RATELIMIT_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "upstream/ratelimit.h"

/* The in-process counters. Thread-safe: one table may serve every worker. */
typedef struct lln_rl_mem lln_rl_mem;

lln_rl_mem *lln_rl_mem_new(void);
void lln_rl_mem_free(lln_rl_mem *m);
/* One take at wall-clock time `now_ms` (Unix ms): 0 when allowed and counted,
 * else the ms until the full window ends. Taking the time as an argument lets
 * tests cross window edges without waiting for them. */
long lln_rl_mem_take(lln_rl_mem *m, const char *key, int rpm, int rpd, int64_t now_ms);
/* Keys currently held (tests check that stale ones are dropped). */
size_t lln_rl_mem_size(lln_rl_mem *m);

/* The Redis-backed counters: one async connection, bound to one loop. */
typedef struct lln_rl_redis lln_rl_redis;

int lln_rl_redis_create(lln_rl_redis **out, uv_loop_t *loop, const char *url, char *err, size_t err_size);
/* Frees once the loop has run the handles' close callbacks. */
void lln_rl_redis_close(lln_rl_redis *r);
lln_ratelimit_take *lln_rl_redis_acquire(lln_rl_redis *r, const char *key, int rpm, int rpd,
                                         lln_ratelimit_cb cb, void *ud);
void lln_rl_redis_cancel(lln_ratelimit_take *t);

#endif
