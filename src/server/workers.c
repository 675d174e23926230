/* workers: thread start-up, the command mailbox and the shutdown order.
 * A worker's loop and gateway are set up on the control thread before the
 * worker thread starts, so binding errors are reported synchronously. */
#include "server/workers.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cache.h"
#include "server/gateway_int.h"
#include "store/store.h"
#include "upstream/ratelimit.h"
#include "util/log.h"

typedef enum { CMD_NONE, CMD_RELOAD, CMD_UNREADY, CMD_DRAIN, CMD_CLOSE } command;

typedef struct worker {
  lln_workers *owner;
  uv_thread_t thread;
  uv_loop_t loop;
  lln_gateway gateway;
  uv_async_t wake;
  uv_mutex_t lock; /* guards the mailbox below */
  int unready, drain, close;
  lln_shared_config *reload; /* retained for the worker */
  lln_response_cache *cache; /* a new shared response cache (retained for the worker), or NULL */
  int started;
} worker;

struct lln_workers {
  worker *w;
  unsigned n;
  int port;
  lln_store *shared_store;          /* the in-process store, shared by all workers */
  lln_ratelimit *shared_ratelimit;  /* counting in it */
  lln_response_cache *shared_cache; /* the in-process response cache, shared by all workers */
  uv_async_t drained;               /* on the control loop */
  atomic_uint n_drained;
  void (*on_drained)(void *ud);
  void *ud;
};

static void on_worker_drained(void *ud) {
  worker *w = ud;
  lln_workers *ws = w->owner;
  if (atomic_fetch_add(&ws->n_drained, 1) + 1 == ws->n)
    uv_async_send(&ws->drained);
}

static void on_wake(uv_async_t *a) {
  worker *w = a->data;
  uv_mutex_lock(&w->lock);
  lln_shared_config *reload = w->reload;
  lln_response_cache *cache = w->cache;
  int unready = w->unready, drain = w->drain, close = w->close;
  w->reload = NULL;
  w->cache = NULL;
  w->unready = 0;
  w->drain = 0;
  uv_mutex_unlock(&w->lock);
  if (cache) {
    if (!close)
      lln_gateway_set_cache(&w->gateway, cache);
    lln_response_cache_release(cache);
  }
  if (reload) {
    if (!close)
      lln_gateway_reload(&w->gateway, reload);
    lln_shared_config_release(reload);
  }
  if (unready && !close)
    lln_gateway_unready(&w->gateway);
  if (close) {
    lln_gateway_close(&w->gateway);
    uv_close((uv_handle_t *)&w->wake, NULL);
  } else if (drain) {
    lln_gateway_drain(&w->gateway, on_worker_drained, w);
  }
}

static void run_worker(void *arg) {
  worker *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void on_all_drained(uv_async_t *a) {
  lln_workers *ws = a->data;
  if (ws->on_drained)
    ws->on_drained(ws->ud);
}

static void post(worker *w, command cmd, lln_shared_config *sc, lln_response_cache *cache) {
  uv_mutex_lock(&w->lock);
  if (cmd == CMD_RELOAD) {
    if (w->reload)
      lln_shared_config_release(w->reload);
    lln_shared_config_retain(sc);
    w->reload = sc;
    if (cache) {
      lln_response_cache_release(w->cache);
      lln_response_cache_retain(cache);
      w->cache = cache;
    }
  } else if (cmd == CMD_UNREADY) {
    w->unready = 1;
  } else if (cmd == CMD_DRAIN) {
    w->drain = 1;
  } else if (cmd == CMD_CLOSE) {
    w->close = 1;
  }
  uv_mutex_unlock(&w->lock);
  uv_async_send(&w->wake);
}

/* Brings one worker up on the calling thread; its loop runs later. */
static int setup(lln_workers *ws, worker *w, const lln_workers_options *o, int port, char *err,
                 size_t err_size) {
  w->owner = ws;
  uv_loop_init(&w->loop);
  uv_mutex_init(&w->lock);
  lln_gateway_options go = {.loop = &w->loop,
                            .config = o->config,
                            .store = ws->shared_store,
                            .ratelimit = ws->shared_ratelimit,
                            .cache = ws->shared_cache,
                            .addr = o->addr,
                            .port = port,
                            .share = w == ws->w ? NULL : &ws->w[0].gateway};
  if (lln_gateway_start(&w->gateway, &go, err, err_size) != 0) {
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    uv_mutex_destroy(&w->lock);
    return -1;
  }
  uv_async_init(&w->loop, &w->wake, on_wake);
  w->wake.data = w;
  w->started = 1;
  return 0;
}

static void teardown(worker *w) {
  uv_loop_close(&w->loop);
  uv_mutex_destroy(&w->lock);
  if (w->reload)
    lln_shared_config_release(w->reload);
  lln_response_cache_release(w->cache);
}

int lln_workers_start(lln_workers **out, const lln_workers_options *o, char *err, size_t err_size) {
  lln_workers *ws = calloc(1, sizeof *ws);
  if (!ws)
    abort();
  ws->n = o->count ? o->count : uv_available_parallelism();
  if (ws->n == 0)
    ws->n = 1;
  ws->w = calloc(ws->n, sizeof *ws->w);
  if (!ws->w)
    abort();
  ws->on_drained = o->on_drained;
  ws->ud = o->ud;
  const lln_server_settings *server = &lln_shared_config_get(o->config)->server;
  const char *store = server->store;
  /* the in-process store must be one for all workers, or each would grant
   * the whole budget and keep its own pins; a Redis store is a connection
   * per worker loop, which each gateway makes */
  if (!store || strcmp(store, "memory") == 0) {
    char store_err[200];
    size_t cache_bytes = lln_shared_config_get(o->config)->response_cache.max_bytes;
    if (lln_store_create_bounded(&ws->shared_store, NULL, NULL, server->store_max_bytes, store_err,
                                 sizeof store_err) != 0 ||
        lln_ratelimit_create(&ws->shared_ratelimit, ws->shared_store) != 0 ||
        !(ws->shared_cache = lln_response_cache_new_memory(cache_bytes))) {
      snprintf(err, err_size, "server.store: %s", ws->shared_store ? "out of memory" : store_err);
      lln_ratelimit_close(ws->shared_ratelimit);
      lln_store_close(ws->shared_store);
      lln_response_cache_release(ws->shared_cache);
      free(ws->w);
      free(ws);
      return -1;
    }
  }
  int port = o->port;
  for (unsigned i = 0; i < ws->n; i++) {
    if (setup(ws, &ws->w[i], o, port, err, err_size) != 0) {
      ws->n = i; /* the ones set up so far are closed below */
      for (unsigned k = 0; k < i; k++)
        post(&ws->w[k], CMD_CLOSE, NULL, NULL);
      for (unsigned k = 0; k < i; k++) {
        uv_run(&ws->w[k].loop, UV_RUN_DEFAULT);
        teardown(&ws->w[k]);
      }
      lln_ratelimit_close(ws->shared_ratelimit);
      lln_store_close(ws->shared_store);
      lln_response_cache_release(ws->shared_cache);
      free(ws->w);
      free(ws);
      return -1;
    }
    port = lln_gateway_port(&ws->w[i].gateway); /* port 0: the others join the one the kernel chose */
  }
  ws->port = port;
  uv_async_init(o->control, &ws->drained, on_all_drained);
  ws->drained.data = ws;
  for (unsigned i = 0; i < ws->n; i++)
    uv_thread_create(&ws->w[i].thread, run_worker, &ws->w[i]);
  *out = ws;
  return 0;
}

int lln_workers_port(const lln_workers *w) { return w->port; }

unsigned lln_workers_count(const lln_workers *w) { return w->n; }

/* A reload whose response-cache.max-bytes differs gets a new (empty)
 * in-process cache; otherwise the entries stay. */
void lln_workers_reload(lln_workers *ws, lln_shared_config *sc) {
  lln_response_cache *fresh = NULL;
  size_t bytes = lln_shared_config_get(sc)->response_cache.max_bytes;
  if (ws->shared_cache && lln_response_cache_max_bytes(ws->shared_cache) != bytes &&
      (fresh = lln_response_cache_new_memory(bytes))) {
    lln_response_cache_release(ws->shared_cache);
    ws->shared_cache = fresh;
  }
  for (unsigned i = 0; i < ws->n; i++)
    post(&ws->w[i], CMD_RELOAD, sc, fresh);
}

void lln_workers_unready(lln_workers *ws) {
  for (unsigned i = 0; i < ws->n; i++)
    post(&ws->w[i], CMD_UNREADY, NULL, NULL);
}

void lln_workers_drain(lln_workers *ws) {
  for (unsigned i = 0; i < ws->n; i++)
    post(&ws->w[i], CMD_DRAIN, NULL, NULL);
}

static void free_workers(uv_handle_t *h) {
  lln_workers *ws = h->data;
  free(ws->w);
  free(ws);
}

void lln_workers_stop(lln_workers *ws) {
  for (unsigned i = 0; i < ws->n; i++)
    post(&ws->w[i], CMD_CLOSE, NULL, NULL);
  for (unsigned i = 0; i < ws->n; i++) {
    uv_thread_join(&ws->w[i].thread);
    teardown(&ws->w[i]);
  }
  /* after every worker's runs: the rate limiter, then the store */
  lln_ratelimit_close(ws->shared_ratelimit);
  lln_store_close(ws->shared_store);
  lln_response_cache_release(ws->shared_cache);
  uv_close((uv_handle_t *)&ws->drained, free_workers);
}
