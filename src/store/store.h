/* store: the state llmnet keeps beside requests (server.store): keys that
 * expire, bounded values and windowed counters, in this process or in
 * Redis so that every replica of a deployment sees the same state. Rate
 * limits count in it; session pins and the routing decision cache live in
 * it; budgets, response caches and stored responses will reuse it.
 *
 * Like libuv: the caller owns the handle (create/close), answers come
 * through callbacks, errors are negative codes. An operation answers either
 * synchronously (its callback runs before the call returns, which then
 * returns NULL) or later (a handle is returned; lln_store_cancel stops the
 * callback from ever running). A store that cannot be reached answers
 * LLN_STORE_EUNAVAIL (get/put) or "allowed" (take): a broken Redis must not
 * stop traffic; it is logged. */
#ifndef LLN_STORE_STORE_H
#define LLN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct lln_store lln_store;
typedef struct lln_store_op lln_store_op;

#define LLN_STORE_MAX_KEY 512           /* bytes of a key */
#define LLN_STORE_MAX_VALUE (64 * 1024) /* bytes of a value */
#define LLN_STORE_MAX_WINDOWS 6         /* counters one take may hold */

enum {
  LLN_STORE_OK = 0,
  LLN_STORE_ENOTFOUND = -1, /* no such key, or it expired */
  LLN_STORE_EUNAVAIL = -2,  /* the shared store could not be reached */
  LLN_STORE_EINVAL = -3     /* key or value too long, bad arguments */
};

/* `url` NULL or "memory": in this process; thread-safe, so one store may
 * serve every worker. "redis://[USER:PASSWORD@]HOST:PORT[/DB]" (%-encoded):
 * shared; one connection bound to `loop`, so one store per worker thread.
 * Returns 0, or -1 with `err` filled (a bad URL; an unreachable Redis is
 * not an error at start). */
int lln_store_create(lln_store **out, uv_loop_t *loop, const char *url, char *err, size_t err_size);
/* The same, with the in-process store holding at most `memory_max_bytes`
 * (0: the default, 64 MiB); ignored for Redis. */
int lln_store_create_bounded(lln_store **out, uv_loop_t *loop, const char *url, size_t memory_max_bytes,
                             char *err, size_t err_size);
/* Cancels pending operations (their callbacks do not run) and frees. A
 * Redis store finishes closing in close callbacks: run the loop before
 * uv_loop_close. */
void lln_store_close(lln_store *s);
/* 1 for a Redis store (state shared between processes), 0 in process. */
int lln_store_shared(const lln_store *s);

/* `value` is valid only during the callback; status LLN_STORE_OK or a
 * negative code (then value is NULL). */
typedef void (*lln_store_get_cb)(void *ud, int status, const char *value, size_t len);
typedef void (*lln_store_done_cb)(void *ud, int status);
/* wait_ms 0: allowed and counted in every window; else nothing was counted
 * and wait_ms is how long until the full window ends. */
typedef void (*lln_store_take_cb)(void *ud, long wait_ms);

/* Reads `key`. touch_ttl_ms > 0 also restarts its time to live (an idle
 * timeout, as session pins have). */
lln_store_op *lln_store_get(lln_store *s, const char *key, long touch_ttl_ms, lln_store_get_cb cb, void *ud);

typedef struct lln_store_put {
  const char *key;
  const void *value;
  size_t len;
  long ttl_ms; /* > 0 */
  /* A bounded set of keys: at most max_entries keys put with the same
   * group live at once; putting one more drops the group's oldest. NULL
   * group: bounded only by the store's own limits. */
  const char *group;
  long max_entries;
} lln_store_put;

/* Stores a value; `cb` may be NULL (nobody waits for the answer). */
lln_store_op *lln_store_put_value(lln_store *s, const lln_store_put *p, lln_store_done_cb cb, void *ud);

/* One fixed window of a counter: at most `limit` takes per `window_ms`.
 * check_only: a take only checks it (refused while its count >= limit) and
 * never counts in it; lln_store_add counts in it (a budget's spend). */
typedef struct lln_store_window {
  const char *key;
  long limit;
  long window_ms;
  int check_only;
} lln_store_window;

/* Takes one from every window at once, or from none of them when one is
 * full. `now_ms` is wall-clock Unix ms (windows are aligned to it, so
 * processes agree); tests pass their own. A Redis store counts on the
 * Redis server's clock instead, so hosts whose clocks differ still agree. */
lln_store_op *lln_store_take(lln_store *s, const lln_store_window *w, size_t n, int64_t now_ms,
                             lln_store_take_cb cb, void *ud);

/* counts[i]: window i's count as the take left it (after counting, when
 * allowed); 0 for a window without a limit; -1 for every window when the
 * store could not be reached (then the take is allowed, wait_ms 0). */
typedef void (*lln_store_counts_cb)(void *ud, long wait_ms, const long *counts, size_t n);
/* lln_store_take that also answers each window's count (budgets report
 * what they have used). */
lln_store_op *lln_store_take_counts(lln_store *s, const lln_store_window *w, size_t n, int64_t now_ms,
                                    lln_store_counts_cb cb, void *ud);

/* The count of `w`'s counter after an add; -1: the store could not be
 * reached (nothing was added). */
typedef void (*lln_store_count_cb)(void *ud, long count);
/* Adds `delta` (>= 0; 0 reads) to `w`'s counter in the window `now_ms`
 * falls in, whatever its limit: what a call cost, known once it is done.
 * `cb` may be NULL. */
lln_store_op *lln_store_add(lln_store *s, const lln_store_window *w, long delta, int64_t now_ms,
                            lln_store_count_cb cb, void *ud);

/* Raises `w`'s counter in the window of `now_ms` to `target` when it is
 * lower (never lowers it): a count learnt elsewhere (a provider's own
 * figure of today's spend). Answers the counter's value after; `cb` may be
 * NULL. */
lln_store_op *lln_store_raise(lln_store *s, const lln_store_window *w, long target, int64_t now_ms,
                              lln_store_count_cb cb, void *ud);

void lln_store_cancel(lln_store_op *op);

/* The response cache's reads (pipeline/cache.c): lln_store_get that also
 * marks `key` as just used, so the in-process store evicts the least
 * recently used value first instead of the oldest put (an LRU); Redis
 * reads as lln_store_get (its maxmemory policy decides what goes). */
lln_store_op *lln_store_get_recent(lln_store *s, const char *key, lln_store_get_cb cb, void *ud);
/* Bytes the in-process store holds (bookkeeping counted), 0 for Redis. */
size_t lln_store_memory_bytes(lln_store *s);

#endif
