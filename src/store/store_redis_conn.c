/* store_redis_conn: the Redis backend's connection. Owns one hiredis async
 * connection per store, driven by the caller's libuv loop, and every
 * operation waiting on it: the name is resolved on the thread pool, AUTH,
 * SELECT and SCRIPT LOAD go ahead of any operation, and a watchdog ends a
 * silence.
 *
 * Redis shares state between replicas; it is not a dependency of the
 * request path: whenever it cannot answer (unresolvable, refused, lost,
 * silent for LLN_REDIS_REPLY_TIMEOUT_MS, or an error reply) an operation is
 * answered as unavailable (a take: allowed) and a warning logged, and the
 * connection is retried with a backoff. */
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

#include "store/store_redis_int.h"
#include "util/log.h"

/* ---- warnings ---- */

static atomic_uint_fast64_t warn_last_ms;
static atomic_uint warn_suppressed;

void lln__redis_warn(const lln__store_redis *r, const char *what, const char *detail) {
  uint64_t now = uv_hrtime() / 1000000u;
  uint_fast64_t last = atomic_load(&warn_last_ms);
  if (last != 0 && now < last + LLN_REDIS_WARN_INTERVAL_MS) {
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
  LLN_WARN("store: redis %s:%d %s%s%s; until it answers, rate limits are not counted and pins and cached "
           "routing decisions are not shared (server.store)%s",
           r->url.host, r->url.port, what, detail ? ": " : "", detail ? detail : "", more);
}

/* ---- waiting operations ---- */

static void op_link(lln__store_redis *r, lln_store_op *t) {
  t->prev = r->tail;
  t->next = NULL;
  if (r->tail)
    r->tail->next = t;
  else
    r->head = t;
  r->tail = t;
  r->waiting++;
}

static void op_unlink(lln__store_redis *r, lln_store_op *t) {
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
void lln__redis_progress(lln__store_redis *r) {
  if (r->closing)
    return;
  if (r->waiting > 0)
    uv_timer_start(&r->watchdog, on_watchdog, LLN_REDIS_REPLY_TIMEOUT_MS, 0);
  else
    uv_timer_stop(&r->watchdog);
}

static void watchdog_arm(lln__store_redis *r) {
  if (!uv_is_active((uv_handle_t *)&r->watchdog))
    uv_timer_start(&r->watchdog, on_watchdog, LLN_REDIS_REPLY_TIMEOUT_MS, 0);
}

/* Ends a live op: it leaves the list before its callback runs, which may
 * close the store or start new operations. */
void lln__redis_op_done(lln__store_redis *r, lln_store_op *op) {
  op_unlink(r, op);
  lln__redis_progress(r);
}

/* Answers every op still waiting for a connection as unavailable. They are
 * moved aside first: their callbacks may start new ops or close the store. */
static void fail_open_unsent(lln__store_redis *r) {
  lln_store_op *list = NULL, **tail = &list;
  for (lln_store_op *t = r->head, *next; t; t = next) {
    next = t->next;
    if (t->sent)
      continue;
    op_unlink(r, t);
    *tail = t;
    tail = &t->next;
  }
  *tail = NULL;
  lln__redis_progress(r);
  while (list) {
    lln_store_op *t = list;
    list = t->next;
    if (t->cancelled || r->closing)
      free(t);
    else
      lln__redis_op_unavailable(t); /* frees it */
  }
}

/* ---- connection ---- */

static void start_connect(lln__store_redis *r);

static void on_retry(uv_timer_t *timer) { start_connect(timer->data); }

static void schedule_retry(lln__store_redis *r) {
  if (r->closing)
    return;
  uv_timer_start(&r->retry, on_retry, (uint64_t)r->backoff_ms, 0);
  r->backoff_ms = r->backoff_ms * 2 > LLN_REDIS_BACKOFF_MAX_MS ? LLN_REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* Forgets the connection: hiredis may still call back on it, but only the
 * ops (which carry their own pointer) will notice. */
static redisAsyncContext *detach(lln__store_redis *r) {
  redisAsyncContext *ac = r->ac;
  r->ac = NULL;
  if (ac) {
    ac->data = NULL;
    ac->onConnect = NULL;
    ac->onDisconnect = NULL;
  }
  return ac;
}

static void connect_failed(lln__store_redis *r, const char *why) {
  r->was_down = 1;
  lln__redis_warn(r, "is unreachable", why);
  schedule_retry(r);
  fail_open_unsent(r);
}

static void on_connect(const redisAsyncContext *cac, int status) {
  lln__store_redis *r = cac->data;
  if (!r)
    return;
  if (status != REDIS_OK) {
    /* hiredis frees the context after this returns, answering its ops as unavailable. */
    detach(r);
    connect_failed(r, cac->c.errstr[0] ? cac->c.errstr : NULL);
    return;
  }
  r->backoff_ms = LLN_REDIS_BACKOFF_MIN_MS;
  if (r->was_down) {
    r->was_down = 0;
    LLN_INFO("store: connected to redis %s:%d; sharing state again", r->url.host, r->url.port);
  }
  lln__redis_progress(r);
}

static void on_disconnect(const redisAsyncContext *cac, int status) {
  (void)status;
  lln__store_redis *r = cac->data;
  if (!r)
    return;
  detach(r);
  r->was_down = 1;
  lln__redis_warn(r, "closed the connection", cac->c.errstr[0] ? cac->c.errstr : NULL);
  schedule_retry(r);
}

enum { SETUP_AUTH = 1, SETUP_SELECT, SETUP_SCRIPT /* + the script's index */ };

static void on_setup_reply(redisAsyncContext *ac, void *reply_, void *privdata) {
  lln__store_redis *r = ac->data;
  redisReply *reply = reply_;
  if (!r || !reply)
    return;
  int step = (int)(intptr_t)privdata;
  if (reply->type == REDIS_REPLY_ERROR) {
    lln__redis_warn(r,
                    step == SETUP_AUTH     ? "refused AUTH"
                    : step == SETUP_SELECT ? "refused SELECT"
                                           : "refused SCRIPT LOAD",
                    reply->str);
    return;
  }
  int script = step - SETUP_SCRIPT;
  if (script >= 0 && script < LLN_REDIS_NSCRIPTS && reply->type == REDIS_REPLY_STRING && reply->len == 40) {
    memcpy(r->sha[script], reply->str, 40);
    r->sha[script][40] = '\0';
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

static void open_connection(lln__store_redis *r, const char *ip) {
  redisAsyncContext *ac = redisAsyncConnect(ip, r->url.port);
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
  /* Queued ahead of any operation: Redis answers in order. */
  if (r->url.password) {
    if (r->url.user)
      redisAsyncCommand(ac, on_setup_reply, (void *)SETUP_AUTH, "AUTH %s %s", r->url.user, r->url.password);
    else
      redisAsyncCommand(ac, on_setup_reply, (void *)SETUP_AUTH, "AUTH %s", r->url.password);
  }
  if (r->url.db)
    redisAsyncCommand(ac, on_setup_reply, (void *)SETUP_SELECT, "SELECT %d", r->url.db);
  for (int i = 0; i < LLN_REDIS_NSCRIPTS; i++)
    redisAsyncCommand(ac, on_setup_reply, (void *)(intptr_t)(SETUP_SCRIPT + i), "SCRIPT LOAD %s",
                      lln__redis_scripts[i]);
  int refused = 0;
  for (lln_store_op *t = r->head; t; t = t->next) {
    if (t->sent)
      continue;
    if (lln__redis_op_send(ac, r, t, 0) == REDIS_OK)
      t->sent = 1;
    else
      refused = 1;
  }
  if (refused)
    fail_open_unsent(r);
}

static void maybe_free(lln__store_redis *r) {
  if (!r->closing || r->open_refs > 0)
    return;
  lln__redis_url_free(&r->url);
  free(r);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  lln__store_redis *r = req->data;
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
static void start_connect(lln__store_redis *r) {
  if (r->closing || r->ac || r->resolving)
    return;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  r->gai.data = r;
  int rc = uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->url.host, NULL, &hints);
  if (rc != 0) {
    connect_failed(r, uv_strerror(rc));
    return;
  }
  r->resolving = 1;
  r->open_refs++;
}

static void on_watchdog(uv_timer_t *timer) {
  lln__store_redis *r = timer->data;
  char why[64];
  snprintf(why, sizeof why, "no answer within %d ms", LLN_REDIS_REPLY_TIMEOUT_MS);
  r->was_down = 1;
  if (r->ac) {
    lln__redis_warn(r, "is not answering", why);
    redisAsyncContext *ac = detach(r);
    schedule_retry(r);
    redisAsyncFree(ac); /* answers the sent ops as unavailable */
  } else {
    /* Still resolving: let the waiters go; the lookup carries on. */
    lln__redis_warn(r, "cannot be resolved yet", why);
    fail_open_unsent(r);
  }
}

/* ---- API ---- */

static void on_handle_closed(uv_handle_t *h) {
  lln__store_redis *r = h->data;
  r->open_refs--;
  maybe_free(r);
}

int lln__store_redis_create(lln__store_redis **out, uv_loop_t *loop, lln__redis_url *u, char *err,
                            size_t err_size) {
  *out = NULL;
  lln__store_redis *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, err_size, "out of memory");
    lln__redis_url_free(u);
    return -1;
  }
  r->url = *u;
  memset(u, 0, sizeof *u);
  r->loop = loop;
  r->backoff_ms = LLN_REDIS_BACKOFF_MIN_MS;
  uv_timer_init(loop, &r->retry);
  uv_timer_init(loop, &r->watchdog);
  r->retry.data = r->watchdog.data = r;
  r->open_refs = 2;
  start_connect(r);
  *out = r;
  return 0;
}

void lln__store_redis_close(lln__store_redis *r) {
  if (!r || r->closing)
    return;
  r->closing = 1;
  redisAsyncContext *ac = detach(r);
  for (lln_store_op *t = r->head, *next; t; t = next) {
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

lln_store_op *lln__redis_submit(lln__store_redis *r, lln_store_op *op) {
  op->r = r;
  if (!r->ac && !r->resolving) {
    lln__redis_warn(r, "is unreachable", "reconnecting");
    lln__redis_op_unavailable(op);
    return NULL;
  }
  if (r->ac) {
    if (lln__redis_op_send(r->ac, r, op, 1) != REDIS_OK) {
      /* The context is going down (its ops are being failed right now). */
      lln__redis_warn(r, "is unreachable", "connection closing");
      lln__redis_op_unavailable(op);
      return NULL;
    }
    op->sent = 1;
  }
  op_link(r, op);
  watchdog_arm(r);
  return op;
}

void lln__store_redis_cancel(lln_store_op *t) {
  lln__store_redis *r = t->r;
  if (!r || t->cancelled)
    return;
  if (t->sent) {
    t->cancelled = 1; /* its reply callback frees it */
    return;
  }
  op_unlink(r, t);
  free(t);
  lln__redis_progress(r);
}
