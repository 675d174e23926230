/* store_int: what the store's dispatch (store.c) and its backends
 * (store_mem.c in this process, store_redis*.c shared) say to each other,
 * and the hooks unit tests use (a clock, smaller bounds, the byte count).
 * Internal to src/store and to tests. */
#ifndef LLN_STORE_STORE_INT_H
#define LLN_STORE_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store/store.h"

/* Bounds of the in-process store: every key, value, counter and group is
 * counted (with its bookkeeping) against LLN_STORE_MEM_MAX_BYTES, and the
 * number of keys and counters against LLN_STORE_MEM_MAX_ENTRIES. A put past
 * either drops expired entries first, then the oldest values (oldest put
 * first), then the oldest counters. */
#define LLN_STORE_MEM_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define LLN_STORE_MEM_MAX_ENTRIES ((size_t)500000)
/* Expired entries are swept (a full pass over the table) at most this
 * often; between sweeps a read drops the expired key it finds. */
#define LLN_STORE_MEM_SWEEP_INTERVAL_MS 1000

/* ---- the in-process backend (store_mem.c) ---- */

typedef struct lln__store_mem lln__store_mem;
typedef int64_t (*lln__store_clock)(void *ud); /* wall-clock Unix ms */

lln__store_mem *lln__store_mem_new(size_t max_bytes, size_t max_entries);
void lln__store_mem_free(lln__store_mem *m);
/* LLN_STORE_OK with *value a malloc'd copy (the caller frees it), or
 * LLN_STORE_ENOTFOUND. The copy lets the callback run outside the lock. */
int lln__store_mem_get(lln__store_mem *m, const char *key, long touch_ttl_ms, char **value, size_t *len);
int lln__store_mem_put(lln__store_mem *m, const lln_store_put *p);
/* Moves the value `key` to the newest end of the eviction order (LRU). */
void lln__store_mem_touch(lln__store_mem *m, const char *key);
/* 0 when taken from every window, else the ms until the last full one ends. */
long lln__store_mem_take(lln__store_mem *m, const lln_store_window *w, size_t n, int64_t now_ms);
/* The same, with counts[i] (NULL: not wanted) set to window i's count as
 * the take left it. */
long lln__store_mem_take_counts(lln__store_mem *m, const lln_store_window *w, size_t n, int64_t now_ms,
                                long *counts);
/* Adds `delta` to `w`'s counter in the window of `now_ms`; its new count. */
long lln__store_mem_add(lln__store_mem *m, const lln_store_window *w, long delta, int64_t now_ms);
/* Raises `w`'s counter in the window of `now_ms` to `target`; its count after. */
long lln__store_mem_raise(lln__store_mem *m, const lln_store_window *w, long target, int64_t now_ms);
/* Tests: time for expiry (NULL: the real clock), and what the store holds. */
void lln__store_mem_set_clock(lln__store_mem *m, lln__store_clock clock, void *ud);
void lln__store_mem_usage(lln__store_mem *m, size_t *bytes, size_t *entries);

/* A keyed 64-bit hash with a per-process random key (SipHash-2-4): keys
 * come from clients (session ids), so chains must not be steerable. */
uint64_t lln__store_hash(const void *data, size_t len, uint64_t salt);

/* ---- the shared backend (store_redis.c) ---- */

typedef struct lln__store_redis lln__store_redis;

/* A parsed redis:// URL (store.c). */
typedef struct lln__redis_url {
  char *host, *user, *password; /* user and password NULL when absent */
  int port, db;
} lln__redis_url;

int lln__redis_url_parse(lln__redis_url *u, const char *url, char *err, size_t err_size);
void lln__redis_url_free(lln__redis_url *u);

/* Takes `u`'s strings. */
int lln__store_redis_create(lln__store_redis **out, uv_loop_t *loop, lln__redis_url *u, char *err,
                            size_t err_size);
void lln__store_redis_close(lln__store_redis *r);
lln_store_op *lln__store_redis_get(lln__store_redis *r, const char *key, long touch_ttl_ms,
                                   lln_store_get_cb cb, void *ud);
lln_store_op *lln__store_redis_put(lln__store_redis *r, const lln_store_put *p, lln_store_done_cb cb,
                                   void *ud);
lln_store_op *lln__store_redis_take(lln__store_redis *r, const lln_store_window *w, size_t n,
                                    lln_store_take_cb cb, void *ud);
lln_store_op *lln__store_redis_take_counts(lln__store_redis *r, const lln_store_window *w, size_t n,
                                           lln_store_counts_cb cb, void *ud);
lln_store_op *lln__store_redis_add(lln__store_redis *r, const lln_store_window *w, long delta,
                                   lln_store_count_cb cb, void *ud);
lln_store_op *lln__store_redis_raise(lln__store_redis *r, const lln_store_window *w, long target,
                                     lln_store_count_cb cb, void *ud);
void lln__store_redis_cancel(lln_store_op *op);

/* ---- dispatch ---- */

struct lln_store {
  lln__store_mem *mem; /* exactly one of these */
  lln__store_redis *redis;
};

/* The in-process backend of `s`, or NULL (tests). */
lln__store_mem *lln__store_mem_of(lln_store *s);

#endif
