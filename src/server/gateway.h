/* gateway: llmnet's OpenAI-compatible API on top of the HTTP server:
 * /v1/chat/completions through the pipeline, /v1/models, /health. */
#ifndef LLN_SERVER_GATEWAY_H
#define LLN_SERVER_GATEWAY_H

#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "server/http.h"
#include "upstream/breaker.h"
#include "upstream/client.h"

typedef struct lln_gateway {
  const lln_config *cfg;
  uv_loop_t *loop;
  lln_upstream *upstream;
  lln_http_server *http;
  uint64_t id_state; /* request id generator */
  lln_breaker *breakers; /* one per model */
} lln_gateway;

int lln_gateway_start(lln_gateway *g, uv_loop_t *loop, const lln_config *cfg, const char *addr, int port,
                      char *err, size_t err_size);
int lln_gateway_port(const lln_gateway *g);
void lln_gateway_close(lln_gateway *g);

#endif
