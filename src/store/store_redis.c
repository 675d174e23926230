/* store_redis: the Redis backend's operations. Each is one EVALSHA of a
 * Lua script, so that its reads and writes are atomic on the server:
 *   get   GET, and PEXPIRE when the read touches (an idle timeout);
 *   put   SET ... PX; with a group, a sorted set per group scored by put
 *         time: members whose key has expired are dropped, then the
 *         oldest keys (DEL) until max_entries remain;
 *   take  fixed windows counted in keys named after their window number,
 *         read on the Redis server's clock (TIME), so every host counts in
 *         the same windows; all or nothing; a window may be only checked;
 *         answers each window's count;
 *   add   INCRBY of one such window's counter (a budget's spend);
 *   raise the same counter up to a figure learnt elsewhere, never down.
 * Every key is under "llmnet:". A take's counters are
 * "llmnet:<window key>:<window number>", which for rate limits is the name
 * the counters had before the store existed, so processes of either
 * version share one budget. The connection and its failures are
 * store_redis_conn.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_redis_int.h"

#define KEY_PREFIX "llmnet:"
#define GROUP_PREFIX "llmnet:group:"
/* The oldest members of a full group checked for keys that expired on their
 * own before live keys are dropped. */
#define GROUP_EXPIRED_SCAN "63"

/* TIME makes a script non-deterministic, which Redis < 5 only accepts after
 * replicate_commands(). */
const char *const lln__redis_scripts[LLN_REDIS_NSCRIPTS] = {
    /* get: KEYS[1] = key, ARGV[1] = touch ms (0: no touch) */
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
    "return v\n",
    /* put: KEYS[1] = key, KEYS[2] = the group's sorted set (optional);
     * ARGV = value, ttl ms, max_entries */
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "if #KEYS < 2 then return 0 end\n"
    "local z, ttl, max = KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "redis.call('ZADD', z, tonumber(t[1]) * 1000000 + tonumber(t[2]), KEYS[1])\n"
    "if redis.call('PTTL', z) < ttl then redis.call('PEXPIRE', z, ttl) end\n"
    "if max <= 0 then return 0 end\n"
    "local n = redis.call('ZCARD', z)\n"
    "if n <= max then return 0 end\n"
    "for _, k in ipairs(redis.call('ZRANGE', z, 0, " GROUP_EXPIRED_SCAN ")) do\n"
    "  if n <= max then break end\n"
    "  if redis.call('EXISTS', k) == 0 then redis.call('ZREM', z, k); n = n - 1 end\n"
    "end\n"
    "while n > max do\n"
    "  local k = redis.call('ZRANGE', z, 0, 0)[1]\n"
    "  redis.call('ZREM', z, k)\n"
    "  redis.call('DEL', k)\n"
    "  n = n - 1\n"
    "end\n"
    "return 0\n",
    /* take: KEYS[i] = a window's key; ARGV[3i-2], ARGV[3i-1], ARGV[3i] =
     * its limit, length in ms and 1 when only checked (never counted).
     * {0, counts...}: counted in every window; else {the ms until the last
     * full window ends, counts...}, nothing counted. */
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local wait, keys, counts = 0, {}, {}\n"
    "for i = 1, #KEYS do\n"
    "  local limit, win = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])\n"
    "  local idx = math.floor(now / win)\n"
    "  keys[i] = KEYS[i] .. ':' .. string.format('%d', idx)\n"
    "  counts[i] = tonumber(redis.call('GET', keys[i])) or 0\n"
    "  if counts[i] >= limit then\n"
    "    local left = (idx + 1) * win - now\n"
    "    if left > wait then wait = left end\n"
    "  end\n"
    "end\n"
    "if wait == 0 then\n"
    "  for i = 1, #KEYS do\n"
    "    if ARGV[3 * i] == '0' then\n"
    "      counts[i] = redis.call('INCR', keys[i])\n"
    "      if counts[i] == 1 then redis.call('PEXPIRE', keys[i], 2 * tonumber(ARGV[3 * i - 1])) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local out = {wait}\n"
    "for i = 1, #KEYS do out[i + 1] = counts[i] end\n"
    "return out\n",
    /* add: KEYS[1] = a window's key; ARGV = the amount, the window's length
     * in ms. The counter's new value. */
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local win = tonumber(ARGV[2])\n"
    "local k = KEYS[1] .. ':' .. string.format('%d', math.floor(now / win))\n"
    "local v = redis.call('INCRBY', k, ARGV[1])\n"
    "if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, 2 * win) end\n"
    "return v\n",
    /* raise: KEYS[1] = a window's key; ARGV = the target, the window's
     * length in ms. The counter's value after: at least the target. */
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local win = tonumber(ARGV[2])\n"
    "local k = KEYS[1] .. ':' .. string.format('%d', math.floor(now / win))\n"
    "local v = tonumber(redis.call('GET', k)) or 0\n"
    "local target = tonumber(ARGV[1])\n"
    "if v < target then v = redis.call('INCRBY', k, target - v) end\n"
    "if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, 2 * win) end\n"
    "return v\n",
};

/* ---- building an op ---- */

typedef struct {
  const char *s;
  size_t len;
} arg;

/* One block: the op and a copy of its arguments' bytes (keys prefixed). */
static lln_store_op *op_new(int kind, int script, int nkeys, const char *const *prefixes, const arg *args,
                            int nargs) {
  size_t bytes = 0;
  for (int i = 0; i < nargs; i++)
    bytes += args[i].len + 1 + (i < nkeys ? strlen(prefixes[i]) : 0);
  char numkeys[8];
  snprintf(numkeys, sizeof numkeys, "%d", nkeys);
  bytes += sizeof numkeys;
  lln_store_op *op = calloc(1, sizeof *op + bytes);
  if (!op)
    return NULL;
  op->kind = kind;
  op->script = script;
  char *p = op->data;
  op->argv[0] = p;
  op->argvlen[0] = strlen(numkeys);
  memcpy(p, numkeys, op->argvlen[0] + 1);
  p += op->argvlen[0] + 1;
  for (int i = 0; i < nargs; i++) {
    size_t pre = i < nkeys ? strlen(prefixes[i]) : 0;
    op->argv[1 + i] = p;
    op->argvlen[1 + i] = pre + args[i].len;
    memcpy(p, prefixes[i < nkeys ? i : 0], pre);
    if (args[i].len)
      memcpy(p + pre, args[i].s, args[i].len);
    p[pre + args[i].len] = '\0';
    p += pre + args[i].len + 1;
  }
  op->argc = 1 + nargs;
  return op;
}

/* ---- answering ---- */

static void on_op_reply(redisAsyncContext *ac, void *reply, void *privdata);

int lln__redis_op_send(redisAsyncContext *ac, const lln__store_redis *r, lln_store_op *op, int use_sha) {
  const char *argv[2 + LLN_REDIS_MAX_ARGS];
  size_t argvlen[2 + LLN_REDIS_MAX_ARGS];
  const char *sha = r->sha[op->script];
  if (use_sha && sha[0]) {
    argv[0] = "EVALSHA";
    argv[1] = sha;
  } else {
    argv[0] = "EVAL";
    argv[1] = lln__redis_scripts[op->script];
  }
  argvlen[0] = strlen(argv[0]);
  argvlen[1] = strlen(argv[1]);
  for (int i = 0; i < op->argc; i++) {
    argv[2 + i] = op->argv[i];
    argvlen[2 + i] = op->argvlen[i];
  }
  return redisAsyncCommandArgv(ac, on_op_reply, op, 2 + op->argc, argv, argvlen);
}

/* A take's answer, {wait, counts...} (NULL: unavailable, so allowed):
 * runs either kind of take callback and frees the op. */
static void take_answer(lln_store_op *op, const redisReply *reply) {
  long counts[LLN_STORE_MAX_WINDOWS], wait = 0;
  int valid = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
              reply->element[0]->type == REDIS_REPLY_INTEGER;
  if (valid)
    wait = reply->element[0]->integer > 0 ? (long)reply->element[0]->integer : 0;
  for (size_t i = 0; i < op->n_windows; i++) {
    int at = op->slot[i];
    const redisReply *c =
        valid && at >= 0 && (size_t)at + 1 < reply->elements ? reply->element[at + 1] : NULL;
    counts[i] = !valid ? -1 : c && c->type == REDIS_REPLY_INTEGER ? (long)c->integer : 0;
  }
  void *ud = op->ud;
  int kind = op->kind;
  lln_store_take_cb take = op->cb.take;
  lln_store_counts_cb with_counts = op->cb.counts;
  size_t n = op->n_windows;
  free(op);
  if (kind == LLN_REDIS_OP_TAKE)
    take(ud, wait);
  else
    with_counts(ud, wait, counts, n);
}

/* Runs the callback with `reply` read as the op's answer (NULL reply:
 * unavailable) and frees the op. */
static void op_answer(lln_store_op *op, const redisReply *reply) {
  int ok = reply && reply->type != REDIS_REPLY_ERROR;
  void *ud = op->ud;
  if (op->kind == LLN_REDIS_OP_GET) {
    lln_store_get_cb cb = op->cb.get;
    free(op);
    if (ok && reply->type == REDIS_REPLY_STRING)
      cb(ud, LLN_STORE_OK, reply->str, reply->len);
    else
      cb(ud, ok ? LLN_STORE_ENOTFOUND : LLN_STORE_EUNAVAIL, NULL, 0);
  } else if (op->kind == LLN_REDIS_OP_PUT) {
    lln_store_done_cb cb = op->cb.done;
    free(op);
    if (cb)
      cb(ud, ok ? LLN_STORE_OK : LLN_STORE_EUNAVAIL);
  } else if (op->kind == LLN_REDIS_OP_ADD) {
    lln_store_count_cb cb = op->cb.count;
    free(op);
    if (cb)
      cb(ud, ok && reply->type == REDIS_REPLY_INTEGER ? (long)reply->integer : -1);
  } else {
    take_answer(op, ok ? reply : NULL);
  }
}

void lln__redis_op_unavailable(lln_store_op *op) { op_answer(op, NULL); }

static void on_op_reply(redisAsyncContext *ac, void *reply_, void *privdata) {
  lln_store_op *op = privdata;
  lln__store_redis *r = op->r;
  redisReply *reply = reply_;
  if (!r) { /* the store closed; the reply (if any) is of no use */
    free(op);
    return;
  }
  if (op->cancelled) {
    lln__redis_op_done(r, op);
    free(op);
    return;
  }
  if (!reply) {
    lln__redis_warn(r, "connection lost", NULL);
  } else if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
    /* The script cache was flushed (or Redis restarted): EVAL reloads it. */
    if (lln__redis_op_send(ac, r, op, 0) == REDIS_OK) {
      lln__redis_progress(r);
      return;
    }
    lln__redis_warn(r, "refused the script", reply->str);
    reply = NULL;
  } else if (reply->type == REDIS_REPLY_ERROR) {
    lln__redis_warn(r, "answered with an error", reply->str);
    reply = NULL;
  }
  lln__redis_op_done(r, op);
  op_answer(op, reply);
}

/* ---- API ---- */

lln_store_op *lln__store_redis_get(lln__store_redis *r, const char *key, long touch_ttl_ms,
                                   lln_store_get_cb cb, void *ud) {
  char touch[24];
  snprintf(touch, sizeof touch, "%ld", touch_ttl_ms > 0 ? touch_ttl_ms : 0);
  const char *const prefixes[] = {KEY_PREFIX};
  arg args[] = {{key, strlen(key)}, {touch, strlen(touch)}};
  lln_store_op *op = op_new(LLN_REDIS_OP_GET, LLN_REDIS_SCRIPT_GET, 1, prefixes, args, 2);
  if (!op) {
    cb(ud, LLN_STORE_EUNAVAIL, NULL, 0);
    return NULL;
  }
  op->cb.get = cb;
  op->ud = ud;
  return lln__redis_submit(r, op);
}

lln_store_op *lln__store_redis_put(lln__store_redis *r, const lln_store_put *p, lln_store_done_cb cb,
                                   void *ud) {
  char ttl[24], max[24];
  snprintf(ttl, sizeof ttl, "%ld", p->ttl_ms);
  snprintf(max, sizeof max, "%ld", p->max_entries > 0 ? p->max_entries : 0);
  const char *const prefixes[] = {KEY_PREFIX, GROUP_PREFIX};
  arg args[5];
  int n = 0, nkeys = p->group ? 2 : 1;
  args[n++] = (arg){p->key, strlen(p->key)};
  if (p->group)
    args[n++] = (arg){p->group, strlen(p->group)};
  args[n++] = (arg){p->value, p->len};
  args[n++] = (arg){ttl, strlen(ttl)};
  args[n++] = (arg){max, strlen(max)};
  lln_store_op *op = op_new(LLN_REDIS_OP_PUT, LLN_REDIS_SCRIPT_PUT, nkeys, prefixes, args, n);
  if (!op) {
    if (cb)
      cb(ud, LLN_STORE_EUNAVAIL);
    return NULL;
  }
  op->cb.done = cb;
  op->ud = ud;
  return lln__redis_submit(r, op);
}

/* One op for either kind of take: the windows with a limit as keys, then
 * three numbers each. */
static lln_store_op *take_op(int kind, const lln_store_window *w, size_t n) {
  const char *prefixes[LLN_STORE_MAX_WINDOWS];
  arg args[4 * LLN_STORE_MAX_WINDOWS];
  char nums[2 * LLN_STORE_MAX_WINDOWS][24];
  signed char slot[LLN_STORE_MAX_WINDOWS];
  int nkeys = 0;
  for (size_t i = 0; i < n; i++) {
    slot[i] = -1;
    if (w[i].limit > 0 && w[i].window_ms > 0) {
      slot[i] = (signed char)nkeys;
      prefixes[nkeys] = KEY_PREFIX;
      args[nkeys++] = (arg){w[i].key, strlen(w[i].key)};
    }
  }
  int k = nkeys;
  for (size_t i = 0; i < n; i++) {
    if (slot[i] >= 0) {
      char *lim = nums[2 * slot[i]], *win = nums[2 * slot[i] + 1];
      snprintf(lim, 24, "%ld", w[i].limit);
      snprintf(win, 24, "%ld", w[i].window_ms);
      args[k++] = (arg){lim, strlen(lim)};
      args[k++] = (arg){win, strlen(win)};
      args[k++] = (arg){w[i].check_only ? "1" : "0", 1};
    }
  }
  lln_store_op *op = op_new(kind, LLN_REDIS_SCRIPT_TAKE, nkeys, prefixes, args, k);
  if (op) {
    op->n_windows = n;
    memcpy(op->slot, slot, n);
  }
  return op;
}

lln_store_op *lln__store_redis_take(lln__store_redis *r, const lln_store_window *w, size_t n,
                                    lln_store_take_cb cb, void *ud) {
  lln_store_op *op = take_op(LLN_REDIS_OP_TAKE, w, n);
  if (!op) {
    cb(ud, 0);
    return NULL;
  }
  op->cb.take = cb;
  op->ud = ud;
  return lln__redis_submit(r, op);
}

lln_store_op *lln__store_redis_take_counts(lln__store_redis *r, const lln_store_window *w, size_t n,
                                           lln_store_counts_cb cb, void *ud) {
  lln_store_op *op = take_op(LLN_REDIS_OP_TAKE_COUNTS, w, n);
  if (!op) {
    long counts[LLN_STORE_MAX_WINDOWS];
    for (size_t i = 0; i < n; i++)
      counts[i] = -1;
    cb(ud, 0, counts, n);
    return NULL;
  }
  op->cb.counts = cb;
  op->ud = ud;
  return lln__redis_submit(r, op);
}

/* An add or a raise: one window's key, an amount, the window's length. */
static lln_store_op *count_op(lln__store_redis *r, int script, const lln_store_window *w, long amount,
                              lln_store_count_cb cb, void *ud) {
  char num[24], win[24];
  snprintf(num, sizeof num, "%ld", amount);
  snprintf(win, sizeof win, "%ld", w->window_ms);
  const char *const prefixes[] = {KEY_PREFIX};
  arg args[] = {{w->key, strlen(w->key)}, {num, strlen(num)}, {win, strlen(win)}};
  lln_store_op *op = op_new(LLN_REDIS_OP_ADD, script, 1, prefixes, args, 3);
  if (!op) {
    if (cb)
      cb(ud, -1);
    return NULL;
  }
  op->cb.count = cb;
  op->ud = ud;
  return lln__redis_submit(r, op);
}

lln_store_op *lln__store_redis_add(lln__store_redis *r, const lln_store_window *w, long delta,
                                   lln_store_count_cb cb, void *ud) {
  return count_op(r, LLN_REDIS_SCRIPT_ADD, w, delta, cb, ud);
}

lln_store_op *lln__store_redis_raise(lln__store_redis *r, const lln_store_window *w, long target,
                                     lln_store_count_cb cb, void *ud) {
  return count_op(r, LLN_REDIS_SCRIPT_RAISE, w, target, cb, ud);
}
