/* gateway: llmnet's OpenAI-compatible API on top of the HTTP server:
 * every door (doors_table.c: /v1/chat/completions, /v1/responses) through
 * the pipeline (door_run.c), /v1/llmnet/route (the routing
 * decision only, route_api.c), /v1/models, /health, /ready, /metrics,
 * the status page (/) and its data (/v1/llmnet/stats), CORS preflights;
 * config reloads and draining. */
#ifndef LLN_SERVER_GATEWAY_H
#define LLN_SERVER_GATEWAY_H

#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "config/shared.h"
#include "server/http.h"
#include "store/store.h"
#include "upstream/client.h"
#include "upstream/ratelimit.h"

typedef struct lln_generation lln_generation;

typedef struct lln_gateway {
  uv_loop_t *loop;
  lln_upstream *upstream;
  lln_store *store;             /* server.store: rate limits, pins, the decision cache */
  lln_store *own_store;         /* created here when none was given (a Redis connection per loop) */
  lln_ratelimit *ratelimit;     /* the one requests use, counting in `store` */
  lln_ratelimit *own_ratelimit; /* created here when none was given */
  lln_http_server *http;
  lln_generation *current; /* what new requests run on */
  uint64_t id_state;       /* request id generator */
  struct chat *chats;      /* requests running, for ending them at close */

  /* The response cache new requests use (held; pipeline/cache.h). */
  struct lln_response_cache *cache;
  struct lln_quota *quota; /* budgets' "sync" (upstream/quota.c): the first worker's gateway only */
  int syncs_quota;         /* this gateway is that one */
  int unready;             /* a drain is announced: GET /ready answers 503 */
} lln_gateway;

typedef struct lln_gateway_options {
  uv_loop_t *loop;
  lln_shared_config *config; /* retained by the gateway */
  /* Shared by every worker (the in-process store and the limiter counting
   * in it); NULL: the gateway creates its own from server.store (a Redis
   * connection per loop). */
  lln_store *store;
  lln_ratelimit *ratelimit;
  /* The in-process response cache every worker shares (retained); NULL:
   * the gateway makes its own, in `store` when that is Redis. */
  struct lln_response_cache *cache;
  const char *addr;
  int port;
  /* Another worker's gateway whose listening socket this one shares (NULL:
   * bind addr:port). */
  const struct lln_gateway *share;
} lln_gateway_options;

/* Starts serving. On failure returns non-zero with err filled. */
int lln_gateway_start(lln_gateway *g, const lln_gateway_options *o, char *err, size_t err_size);
int lln_gateway_port(const lln_gateway *g);
/* New requests run on `sc` (retained); requests in flight finish on the
 * one they started with. Listen address and HTTP limits stay as started. */
void lln_gateway_reload(lln_gateway *g, lln_shared_config *sc);
/* New requests use the response cache `c` (retained); requests in flight
 * keep theirs. */
void lln_gateway_set_cache(lln_gateway *g, struct lln_response_cache *c);
/* Announces a drain: GET /ready answers 503 from now on and every response
 * closes its connection, while new requests are still accepted and served
 * (server.drain-delay, before lln_gateway_drain). */
void lln_gateway_unready(lln_gateway *g);
/* Stops accepting and calls `done` when every connection has finished. */
void lln_gateway_drain(lln_gateway *g, void (*done)(void *ud), void *ud);
void lln_gateway_close(lln_gateway *g);

#endif
