/* gateway: llmnet's OpenAI-compatible API on top of the HTTP server:
 * /v1/chat/completions through the pipeline, /v1/models, /health; config
 * reloads and draining. */
#ifndef LLN_SERVER_GATEWAY_H
#define LLN_SERVER_GATEWAY_H

#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "server/http.h"
#include "upstream/client.h"
#include "upstream/ratelimit.h"

typedef struct lln_generation lln_generation;

typedef struct lln_gateway {
  uv_loop_t *loop;
  lln_upstream *upstream;
  lln_ratelimit *ratelimit;
  lln_http_server *http;
  lln_generation *current; /* what new requests run on */
  size_t in_flight;        /* chat requests not yet answered */
  uint64_t id_state;       /* request id generator */
} lln_gateway;

/* Starts serving `cfg`, which the gateway takes over. On failure returns
 * non-zero with err filled; `cfg` is then freed. */
int lln_gateway_start(lln_gateway *g, uv_loop_t *loop, lln_config *cfg, const char *addr, int port, char *err,
                      size_t err_size);
int lln_gateway_port(const lln_gateway *g);
/* New requests run on `cfg` (taken over); requests in flight finish on the
 * one they started with. Listen address and HTTP limits stay as started. */
void lln_gateway_reload(lln_gateway *g, lln_config *cfg);
/* Stops accepting and calls `done` when every connection has finished. */
void lln_gateway_drain(lln_gateway *g, void (*done)(void *ud), void *ud);
void lln_gateway_close(lln_gateway *g);

#endif
