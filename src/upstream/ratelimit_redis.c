/* ratelimit_redis: the shared rate-limit backend. Owns one hiredis async
 * connection per lln_ratelimit, driven by the caller's libuv loop, and every
 * take waiting on it. A take is one EVALSHA of a Lua script that reads the
 * Redis server's clock, so every host counts in the same windows, and checks
 * and increments both windows atomically.
 *
 * Redis is an optimisation of the provider's quota, not a dependency of the
 * request path: whenever it cannot answer (unresolvable, refused, lost,
 * silent for LLN_RL_REPLY_TIMEOUT_MS, or an error reply) the take is allowed
 * and a warning logged, and the connection is retried with a backoff.
 *
 * Lifetimes: hiredis calls every registered reply callback exactly once, with
 * NULL when the context goes away. So a take that has been sent is only ever
 * freed by its reply callback; cancel and close just mark it (close also
 * forgets the limiter in it, t->r = NULL). The limiter itself is freed once
 * its timers are closed and its name lookup has returned, never inside a
 * call, so code that has just run a user callback may still read r->closing. */
#include <arpa/inet.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/ratelimit_backend_int.h"
#include "util/log.h"
#include "util/percent.h"

/* Reconnect backoff: quick enough to pick a restarted Redis up within a
 * moment, slow enough not to spin on a dead one. */
#define LLN_RL_BACKOFF_MIN_MS 100
#define LLN_RL_BACKOFF_MAX_MS 5000
/* Redis answers in well under a millisecond; a connection or reply this late
 * means it is gone, and requests must not wait for TCP to notice. */
#define LLN_RL_REPLY_TIMEOUT_MS 1000
/* One warning per interval per process, however many workers see the outage. */
#define LLN_RL_WARN_INTERVAL_MS 5000

/* KEYS[1] = "llmnet:rl:<key>", ARGV = rpm, rpd (0 = no limit for that window).
 * Returns 0 (allowed and counted in both windows) or the ms until the full
 * window ends (nothing counted). TIME makes the script non-deterministic,
 * which Redis < 5 only accepts after replicate_commands(). */
static const char script[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local s = tonumber(t[1])\n"
    "local now = s * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local rpm, rpd = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local mw, dw = math.floor(s / 60), math.floor(s / 86400)\n"
    "local mk, dk = KEYS[1] .. ':m:' .. mw, KEYS[1] .. ':d:' .. dw\n"
    "if rpd > 0 and (tonumber(redis.call('GET', dk)) or 0) >= rpd then\n"
    "  return (dw + 1) * 86400000 - now\n"
    "end\n"
    "if rpm > 0 and (tonumber(redis.call('GET', mk)) or 0) >= rpm then\n"
    "  return (mw + 1) * 60000 - now\n"
    "end\n"
    "if rpm > 0 and redis.call('INCR', mk) == 1 then redis.call('EXPIRE', mk, 120) end\n"
    "if rpd > 0 and redis.call('INCR', dk) == 1 then redis.call('EXPIRE', dk, 172800) end\n"
    "return 0\n";

struct lln_ratelimit_take {
  lln_rl_redis *r; /* NULL once the limiter is closed */
  lln_ratelimit_take *prev, *next;
  lln_ratelimit_cb cb;
  void *ud;
  int rpm, rpd;
  unsigned sent : 1; /* hiredis holds a callback for it */
  unsigned cancelled : 1;
  char key[];
};

struct lln_rl_redis {
  uv_loop_t *loop;
  char *host, *user, *password; /* user and password NULL when absent */
  int port, db;
  redisAsyncContext *ac; /* connecting or connected; NULL otherwise */
  int resolving;         /* gai is in flight */
  uv_getaddrinfo_t gai;
  uv_timer_t retry;    /* next connection attempt */
  uv_timer_t watchdog; /* runs while takes wait; restarted on every answer */
  int backoff_ms;
  int open_refs; /* timers not yet closed + gai in flight */
  int closing;
  int was_down; /* log the recovery only after an outage was reported */
  /* Waiting takes, oldest first: unsent ones (while the name resolves) and
   * sent ones, cancelled or not, until their reply. */
  lln_ratelimit_take *head, *tail;
  size_t waiting;
  char sha[41]; /* the script's SHA1 once SCRIPT LOAD answered */
};

/* ---- warnings ---- */

static atomic_uint_fast64_t warn_last_ms;
static atomic_uint warn_suppressed;

static void rl_warn(const lln_rl_redis *r, const char *what, const char *detail) {
  uint64_t now = uv_hrtime() / 1000000u;
  uint_fast64_t last = atomic_load(&warn_last_ms);
  if (last != 0 && now < last + LLN_RL_WARN_INTERVAL_MS) {
    atomic_fetch_add(&warn_suppressed, 1);
    return;
  }
  if (!atomic_compare_exchange_strong(&warn_last_ms, &last, now)) {
    atomic_fetch_add(&warn_suppressed, 1);
    return;
  }
  char more[48] = "";
  unsigned n = atomic_exchange(&warn_suppressed, 0);
  if (n)
    snprintf(more, sizeof more, " (%u similar warnings suppressed)", n);
  LLN_WARN("rate limit: redis %s:%d %s%s%s; requests are allowed without counting until it answers%s",
           r->host, r->port, what, detail ? ": " : "", detail ? detail : "", more);
}

/* ---- takes ---- */

static void take_link(lln_rl_redis *r, lln_ratelimit_take *t) {
  t->prev = r->tail;
  t->next = NULL;
  if (r->tail)
    r->tail->next = t;
  else
    r->head = t;
  r->tail = t;
  r->waiting++;
}

static void take_unlink(lln_rl_redis *r, lln_ratelimit_take *t) {
  if (t->prev)
    t->prev->next = t->next;
  else
    r->head = t->next;
  if (t->next)
    t->next->prev = t->prev;
  else
    r->tail = t->prev;
  t->prev = t->next = NULL;
  r->waiting--;
}

static void on_watchdog(uv_timer_t *timer);

/* Something answered (or the last waiter left): the timeout counts afresh. */
static void watchdog_progress(lln_rl_redis *r) {
  if (r->closing)
    return;
  if (r->waiting > 0)
    uv_timer_start(&r->watchdog, on_watchdog, LLN_RL_REPLY_TIMEOUT_MS, 0);
  else
    uv_timer_stop(&r->watchdog);
}

static void watchdog_arm(lln_rl_redis *r) {
  if (!uv_is_active((uv_handle_t *)&r->watchdog))
    uv_timer_start(&r->watchdog, on_watchdog, LLN_RL_REPLY_TIMEOUT_MS, 0);
}

static void on_take_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int take_send(redisAsyncContext *ac, const char *sha, lln_ratelimit_take *t) {
  if (sha && sha[0])
    return redisAsyncCommand(ac, on_take_reply, t, "EVALSHA %s 1 llmnet:rl:%s %d %d", sha, t->key, t->rpm,
                             t->rpd);
  return redisAsyncCommand(ac, on_take_reply, t, "EVAL %s 1 llmnet:rl:%s %d %d", script, t->key, t->rpm,
                           t->rpd);
}

/* Ends a live take: it leaves the list before its callback runs, which may
 * close the limiter or start new takes. */
static void take_finish(lln_rl_redis *r, lln_ratelimit_take *t, long wait_ms) {
  take_unlink(r, t);
  watchdog_progress(r);
  lln_ratelimit_cb cb = t->cb;
  void *ud = t->ud;
  free(t);
  cb(ud, wait_ms);
}

static void on_take_reply(redisAsyncContext *ac, void *reply_, void *privdata) {
  lln_ratelimit_take *t = privdata;
  lln_rl_redis *r = t->r;
  redisReply *reply = reply_;
  if (!r) { /* the limiter closed; the reply (if any) is of no use */
    free(t);
    return;
  }
  if (t->cancelled) {
    take_unlink(r, t);
    watchdog_progress(r);
    free(t);
    return;
  }
  long wait = 0;
  if (!reply) {
    rl_warn(r, "connection lost", NULL);
  } else if (reply->type == REDIS_REPLY_INTEGER) {
    wait = reply->integer > 0 ? (long)reply->integer : 0;
  } else if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
    /* The script cache was flushed (or Redis restarted): EVAL reloads it. */
    if (take_send(ac, NULL, t) == REDIS_OK) {
      watchdog_progress(r);
      return;
    }
    rl_warn(r, "refused the script", reply->str);
  } else {
    rl_warn(r, "answered with an error",
            reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply type");
  }
  take_finish(r, t, wait);
}

/* Allows every take still waiting for a connection. They are moved aside
 * first: their callbacks may start new takes or close the limiter. */
static void fail_open_unsent(lln_rl_redis *r) {
  lln_ratelimit_take *list = NULL, **tail = &list;
  for (lln_ratelimit_take *t = r->head, *next; t; t = next) {
    next = t->next;
    if (t->sent)
      continue;
    take_unlink(r, t);
    *tail = t;
    tail = &t->next;
  }
  *tail = NULL;
  watchdog_progress(r);
  while (list) {
    lln_ratelimit_take *t = list;
    list = t->next;
    lln_ratelimit_cb cb = t->cb;
    void *ud = t->ud;
    int cancelled = t->cancelled || r->closing;
    free(t);
    if (!cancelled)
      cb(ud, 0);
  }
}

/* ---- connection ---- */

static void start_connect(lln_rl_redis *r);

static void on_retry(uv_timer_t *timer) { start_connect(timer->data); }

static void schedule_retry(lln_rl_redis *r) {
  if (r->closing)
    return;
  uv_timer_start(&r->retry, on_retry, (uint64_t)r->backoff_ms, 0);
  r->backoff_ms = r->backoff_ms * 2 > LLN_RL_BACKOFF_MAX_MS ? LLN_RL_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* Forgets the connection: hiredis may still call back on it, but only the
 * takes (which carry their own pointer) will notice. */
static redisAsyncContext *detach(lln_rl_redis *r) {
  redisAsyncContext *ac = r->ac;
  r->ac = NULL;
  if (ac) {
    ac->data = NULL;
    ac->onConnect = NULL;
    ac->onDisconnect = NULL;
  }
  return ac;
}

static void connect_failed(lln_rl_redis *r, const char *why) {
  r->was_down = 1;
  rl_warn(r, "is unreachable", why);
  schedule_retry(r);
  fail_open_unsent(r);
}

static void on_connect(const redisAsyncContext *cac, int status) {
  lln_rl_redis *r = cac->data;
  if (!r)
    return;
  if (status != REDIS_OK) {
    /* hiredis frees the context after this returns, failing its takes open. */
    detach(r);
    connect_failed(r, cac->c.errstr[0] ? cac->c.errstr : NULL);
    return;
  }
  r->backoff_ms = LLN_RL_BACKOFF_MIN_MS;
  if (r->was_down) {
    r->was_down = 0;
    LLN_INFO("rate limit: connected to redis %s:%d; counting again", r->host, r->port);
  }
  watchdog_progress(r);
}

static void on_disconnect(const redisAsyncContext *cac, int status) {
  (void)status;
  lln_rl_redis *r = cac->data;
  if (!r)
    return;
  detach(r);
  r->was_down = 1;
  rl_warn(r, "closed the connection", cac->c.errstr[0] ? cac->c.errstr : NULL);
  schedule_retry(r);
}

enum { SETUP_AUTH = 1, SETUP_SELECT, SETUP_SCRIPT };

static void on_setup_reply(redisAsyncContext *ac, void *reply_, void *privdata) {
  lln_rl_redis *r = ac->data;
  redisReply *reply = reply_;
  if (!r || !reply)
    return;
  int step = (int)(intptr_t)privdata;
  if (reply->type == REDIS_REPLY_ERROR) {
    rl_warn(r,
            step == SETUP_AUTH     ? "refused AUTH"
            : step == SETUP_SELECT ? "refused SELECT"
                                   : "refused SCRIPT LOAD",
            reply->str);
    return;
  }
  if (step == SETUP_SCRIPT && reply->type == REDIS_REPLY_STRING && reply->len == 40) {
    memcpy(r->sha, reply->str, 40);
    r->sha[40] = '\0';
  }
}

/* hiredis 0.14's libuv adapter ignores a poll error, and libuv reports a
 * refused or reset socket as just that (UV_EBADF, no events, handle stopped):
 * the connection would hang until the watchdog. These hooks replace the
 * adapter's four and pass the error on as readiness, so hiredis reads the
 * socket error itself (what later hiredis releases do). */
static void poll_ready(uv_poll_t *handle, int status, int events) {
  redisLibuvEvents *p = handle->data;
  int ev = status < 0 ? p->events : events;
  if (p->context && (ev & UV_READABLE))
    redisAsyncHandleRead(p->context);
  if (p->context && (ev & UV_WRITABLE))
    redisAsyncHandleWrite(p->context);
}

static void poll_update(redisLibuvEvents *p, int add, int del) {
  p->events = (p->events | add) & ~del;
  if (p->events)
    uv_poll_start(&p->handle, p->events, poll_ready);
  else
    uv_poll_stop(&p->handle);
}

static void poll_add_read(void *p) { poll_update(p, UV_READABLE, 0); }
static void poll_del_read(void *p) { poll_update(p, 0, UV_READABLE); }
static void poll_add_write(void *p) { poll_update(p, UV_WRITABLE, 0); }
static void poll_del_write(void *p) { poll_update(p, 0, UV_WRITABLE); }

static void open_connection(lln_rl_redis *r, const char *ip) {
  redisAsyncContext *ac = redisAsyncConnect(ip, r->port);
  if (!ac) {
    connect_failed(r, "out of memory");
    return;
  }
  if (ac->err) {
    char why[128];
    snprintf(why, sizeof why, "%s", ac->errstr);
    redisAsyncFree(ac);
    connect_failed(r, why);
    return;
  }
  if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    connect_failed(r, "cannot watch the socket");
    return;
  }
  ac->ev.addRead = poll_add_read;
  ac->ev.delRead = poll_del_read;
  ac->ev.addWrite = poll_add_write;
  ac->ev.delWrite = poll_del_write;
  ac->data = r;
  r->ac = ac;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  redisEnableKeepAlive(&ac->c);
  /* Queued ahead of any take: Redis answers in order. */
  if (r->password) {
    if (r->user)
      redisAsyncCommand(ac, on_setup_reply, (void *)SETUP_AUTH, "AUTH %s %s", r->user, r->password);
    else
      redisAsyncCommand(ac, on_setup_reply, (void *)SETUP_AUTH, "AUTH %s", r->password);
  }
  if (r->db)
    redisAsyncCommand(ac, on_setup_reply, (void *)SETUP_SELECT, "SELECT %d", r->db);
  redisAsyncCommand(ac, on_setup_reply, (void *)SETUP_SCRIPT, "SCRIPT LOAD %s", script);
  int refused = 0;
  for (lln_ratelimit_take *t = r->head; t; t = t->next) {
    if (t->sent)
      continue;
    if (take_send(ac, NULL, t) == REDIS_OK)
      t->sent = 1;
    else
      refused = 1;
  }
  if (refused)
    fail_open_unsent(r);
}

static void maybe_free(lln_rl_redis *r) {
  if (!r->closing || r->open_refs > 0)
    return;
  free(r->host);
  free(r->user);
  free(r->password);
  free(r);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  lln_rl_redis *r = req->data;
  r->resolving = 0;
  r->open_refs--;
  if (r->closing) {
    uv_freeaddrinfo(res);
    maybe_free(r);
    return;
  }
  if (status != 0 || !res) {
    uv_freeaddrinfo(res);
    connect_failed(r, uv_strerror(status));
    return;
  }
  /* hiredis itself prefers IPv4; "localhost" often lists ::1 first while
   * Redis listens on 127.0.0.1 only. */
  struct addrinfo *pick = res;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  char ip[INET6_ADDRSTRLEN] = "";
  if (pick->ai_family == AF_INET6)
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr, ip, sizeof ip);
  else
    inet_ntop(AF_INET, &((struct sockaddr_in *)pick->ai_addr)->sin_addr, ip, sizeof ip);
  uv_freeaddrinfo(res);
  open_connection(r, ip);
}

/* The name is resolved on libuv's thread pool: getaddrinfo inside hiredis
 * would block the loop for as long as DNS takes. */
static void start_connect(lln_rl_redis *r) {
  if (r->closing || r->ac || r->resolving)
    return;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  r->gai.data = r;
  int rc = uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->host, NULL, &hints);
  if (rc != 0) {
    connect_failed(r, uv_strerror(rc));
    return;
  }
  r->resolving = 1;
  r->open_refs++;
}

static void on_watchdog(uv_timer_t *timer) {
  lln_rl_redis *r = timer->data;
  char why[64];
  snprintf(why, sizeof why, "no answer within %d ms", LLN_RL_REPLY_TIMEOUT_MS);
  r->was_down = 1;
  if (r->ac) {
    rl_warn(r, "is not answering", why);
    redisAsyncContext *ac = detach(r);
    schedule_retry(r);
    redisAsyncFree(ac); /* fails the sent takes open */
  } else {
    /* Still resolving: let the waiters go; the lookup carries on. */
    rl_warn(r, "cannot be resolved yet", why);
    fail_open_unsent(r);
  }
}

/* ---- URL ---- */

/* A copy of [s, s+n) with %XX decoded, so passwords may hold ':' '@' '/'. */
static char *dup_decoded(const char *s, size_t n) {
  char *out = malloc(n + 1);
  if (out)
    lln_percent_decode(s, n, out, NULL);
  return out;
}

static int parse_number(const char *s, size_t n, long max, long *out) {
  if (n == 0 || n > 9)
    return -1;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]. Errors never quote the URL:
 * it may carry a password. */
static int parse_url(lln_rl_redis *r, const char *url, char *err, size_t err_size) {
  if (strncmp(url, "rediss://", 9) == 0) {
    snprintf(err, err_size, "rate-limit store: rediss:// (TLS) is not supported; use redis://HOST:PORT");
    return -1;
  }
  const char *p = url + strlen("redis://");
  const char *end = p + strcspn(p, "/?#");
  const char *at = NULL;
  for (const char *q = p; q < end; q++) {
    if (*q == '@')
      at = q;
  }
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
      if (colon > p && !(r->user = dup_decoded(p, (size_t)(colon - p))))
        goto oom;
      if (!(r->password = dup_decoded(colon + 1, (size_t)(at - colon - 1))))
        goto oom;
    } else if (!(r->password = dup_decoded(p, (size_t)(at - p)))) {
      goto oom;
    }
    p = at + 1;
  }
  const char *host = p, *host_end, *port = NULL;
  if (*p == '[') {
    host = p + 1;
    host_end = memchr(host, ']', (size_t)(end - host));
    if (!host_end) {
      snprintf(err, err_size, "rate-limit store: bad Redis URL: unclosed '[' in the host");
      return -1;
    }
    p = host_end + 1;
    if (p < end && *p != ':') {
      snprintf(err, err_size, "rate-limit store: bad Redis URL: unexpected text after the host");
      return -1;
    }
  } else {
    host_end = memchr(p, ':', (size_t)(end - p));
    if (!host_end)
      host_end = end;
    p = host_end;
  }
  if (host_end == host) {
    snprintf(err, err_size, "rate-limit store: bad Redis URL: no host (use redis://HOST:PORT)");
    return -1;
  }
  if (p < end && *p == ':')
    port = p + 1;
  long v = 6379;
  if (port && (parse_number(port, (size_t)(end - port), 65535, &v) != 0 || v == 0)) {
    snprintf(err, err_size, "rate-limit store: bad Redis URL: the port must be a number from 1 to 65535");
    return -1;
  }
  r->port = (int)v;
  v = 0;
  if (*end == '/' && end[1] && parse_number(end + 1, strlen(end + 1), 100000, &v) != 0) {
    snprintf(err, err_size,
             "rate-limit store: bad Redis URL: the path must be a database number (/0, /1 ...)");
    return -1;
  }
  if (*end == '?' || *end == '#') {
    snprintf(err, err_size, "rate-limit store: bad Redis URL: query strings and fragments are not supported");
    return -1;
  }
  r->db = (int)v;
  if (!(r->host = malloc((size_t)(host_end - host) + 1)))
    goto oom;
  memcpy(r->host, host, (size_t)(host_end - host));
  r->host[host_end - host] = '\0';
  return 0;
oom:
  snprintf(err, err_size, "out of memory");
  return -1;
}

/* ---- API ---- */

static void on_handle_closed(uv_handle_t *h) {
  lln_rl_redis *r = h->data;
  r->open_refs--;
  maybe_free(r);
}

int lln_rl_redis_create(lln_rl_redis **out, uv_loop_t *loop, const char *url, char *err, size_t err_size) {
  *out = NULL;
  if (!loop) {
    snprintf(err, err_size, "rate-limit store: a Redis store needs an event loop");
    return -1;
  }
  lln_rl_redis *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  if (parse_url(r, url, err, err_size) != 0) {
    free(r->host);
    free(r->user);
    free(r->password);
    free(r);
    return -1;
  }
  r->loop = loop;
  r->backoff_ms = LLN_RL_BACKOFF_MIN_MS;
  uv_timer_init(loop, &r->retry);
  uv_timer_init(loop, &r->watchdog);
  r->retry.data = r->watchdog.data = r;
  r->open_refs = 2;
  start_connect(r);
  *out = r;
  return 0;
}

void lln_rl_redis_close(lln_rl_redis *r) {
  if (!r || r->closing)
    return;
  r->closing = 1;
  redisAsyncContext *ac = detach(r);
  for (lln_ratelimit_take *t = r->head, *next; t; t = next) {
    next = t->next;
    if (t->sent) {
      t->r = NULL; /* freed by its reply callback, which hiredis runs below or later */
      t->cancelled = 1;
    } else {
      free(t);
    }
  }
  r->head = r->tail = NULL;
  r->waiting = 0;
  if (r->resolving)
    uv_cancel((uv_req_t *)&r->gai);
  uv_close((uv_handle_t *)&r->retry, on_handle_closed);
  uv_close((uv_handle_t *)&r->watchdog, on_handle_closed);
  if (ac)
    redisAsyncFree(ac);
}

lln_ratelimit_take *lln_rl_redis_acquire(lln_rl_redis *r, const char *key, int rpm, int rpd,
                                         lln_ratelimit_cb cb, void *ud) {
  if (!r->ac && !r->resolving) {
    rl_warn(r, "is unreachable", "reconnecting");
    cb(ud, 0);
    return NULL;
  }
  if (!key)
    key = "";
  size_t len = strlen(key);
  lln_ratelimit_take *t = calloc(1, sizeof *t + len + 1);
  if (!t) {
    cb(ud, 0);
    return NULL;
  }
  memcpy(t->key, key, len + 1);
  t->r = r;
  t->cb = cb;
  t->ud = ud;
  t->rpm = rpm > 0 ? rpm : 0;
  t->rpd = rpd > 0 ? rpd : 0;
  if (r->ac) {
    if (take_send(r->ac, r->sha, t) != REDIS_OK) {
      /* The context is going down (its takes are being failed right now). */
      free(t);
      rl_warn(r, "is unreachable", "connection closing");
      cb(ud, 0);
      return NULL;
    }
    t->sent = 1;
  }
  take_link(r, t);
  watchdog_arm(r);
  return t;
}

void lln_rl_redis_cancel(lln_ratelimit_take *t) {
  lln_rl_redis *r = t->r;
  if (!r || t->cancelled)
    return;
  if (t->sent) {
    t->cancelled = 1; /* its reply callback frees it */
    return;
  }
  take_unlink(r, t);
  free(t);
  watchdog_progress(r);
}
