/* store_redis_int: what the Redis backend's connection (store_redis_conn.c:
 * name lookup, connect, AUTH/SELECT/SCRIPT LOAD, watchdog, reconnect,
 * warnings) and its operations (store_redis.c: the Lua scripts, sending,
 * reading replies) say to each other. Internal to src/store. */
#ifndef LLN_STORE_STORE_REDIS_INT_H
#define LLN_STORE_STORE_REDIS_INT_H

#include <hiredis/async.h>
#include <stddef.h>

#include "store/store_int.h"

/* Reconnect backoff: quick enough to pick a restarted Redis up within a
 * moment, slow enough not to spin on a dead one. */
#define LLN_REDIS_BACKOFF_MIN_MS 100
#define LLN_REDIS_BACKOFF_MAX_MS 5000
/* Redis answers in well under a millisecond; a connection or reply this late
 * means it is gone, and requests must not wait for TCP to notice. */
#define LLN_REDIS_REPLY_TIMEOUT_MS 1000
/* One warning per interval per process, however many workers see the outage. */
#define LLN_REDIS_WARN_INTERVAL_MS 5000
/* Arguments after EVAL/EVALSHA and the script: numkeys, keys, values. */
#define LLN_REDIS_MAX_ARGS (1 + 4 * LLN_STORE_MAX_WINDOWS)

enum {
  LLN_REDIS_SCRIPT_GET,
  LLN_REDIS_SCRIPT_PUT,
  LLN_REDIS_SCRIPT_TAKE,
  LLN_REDIS_SCRIPT_ADD,
  LLN_REDIS_SCRIPT_RAISE,
  LLN_REDIS_NSCRIPTS
};
extern const char *const lln__redis_scripts[LLN_REDIS_NSCRIPTS];

enum { LLN_REDIS_OP_GET, LLN_REDIS_OP_PUT, LLN_REDIS_OP_TAKE, LLN_REDIS_OP_TAKE_COUNTS, LLN_REDIS_OP_ADD };

/* One operation: an EVALSHA of one script. Lifetimes: hiredis calls every
 * registered reply callback exactly once, with NULL when the context goes
 * away, so an operation that has been sent is only ever freed by its reply
 * callback; cancel and close just mark it (close also forgets the store in
 * it, op->r = NULL). */
struct lln_store_op {
  lln__store_redis *r; /* NULL once the store is closed */
  lln_store_op *prev, *next;
  int kind, script;
  union {
    lln_store_get_cb get;
    lln_store_done_cb done;
    lln_store_take_cb take;
    lln_store_counts_cb counts;
    lln_store_count_cb count;
  } cb;
  /* TAKE_COUNTS: the caller's windows, and where each one's count is in
   * the reply (-1: a window without a limit, not sent). */
  size_t n_windows;
  signed char slot[LLN_STORE_MAX_WINDOWS];
  void *ud;
  unsigned sent : 1; /* hiredis holds a callback for it */
  unsigned cancelled : 1;
  int argc;
  const char *argv[LLN_REDIS_MAX_ARGS];
  size_t argvlen[LLN_REDIS_MAX_ARGS];
  char data[]; /* the arguments' bytes */
};

/* The store. The struct is freed once its timers are closed and its name
 * lookup has returned, never inside a call, so code that has just run a
 * user callback may still read r->closing. */
struct lln__store_redis {
  uv_loop_t *loop;
  lln__redis_url url;
  redisAsyncContext *ac; /* connecting or connected; NULL otherwise */
  int resolving;         /* gai is in flight */
  uv_getaddrinfo_t gai;
  uv_timer_t retry;    /* next connection attempt */
  uv_timer_t watchdog; /* runs while operations wait; restarted on every answer */
  int backoff_ms;
  int open_refs; /* timers not yet closed + gai in flight */
  int closing;
  int was_down; /* log the recovery only after an outage was reported */
  /* Waiting operations, oldest first: unsent ones (while the name resolves)
   * and sent ones, cancelled or not, until their reply. */
  lln_store_op *head, *tail;
  size_t waiting;
  char sha[LLN_REDIS_NSCRIPTS][41]; /* each script's SHA1 once SCRIPT LOAD answered */
};

/* ---- store_redis_conn.c ---- */

/* Logs an outage at most once per LLN_REDIS_WARN_INTERVAL_MS. */
void lln__redis_warn(const lln__store_redis *r, const char *what, const char *detail);
/* Queues `op` (sending it when connected) and returns it, or answers it
 * as unavailable and returns NULL when Redis is known to be down. */
lln_store_op *lln__redis_submit(lln__store_redis *r, lln_store_op *op);
/* Something answered: the watchdog's timeout counts afresh. */
void lln__redis_progress(lln__store_redis *r);
/* Takes a live op off the list before its callback runs. */
void lln__redis_op_done(lln__store_redis *r, lln_store_op *op);

/* ---- store_redis.c ---- */

/* EVALSHA (EVAL without a SHA yet, or after NOSCRIPT); REDIS_OK or not. */
int lln__redis_op_send(redisAsyncContext *ac, const lln__store_redis *r, lln_store_op *op, int use_sha);
/* Runs `op`'s callback with the answer for an unreachable Redis. */
void lln__redis_op_unavailable(lln_store_op *op);

#endif
