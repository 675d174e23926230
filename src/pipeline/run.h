/* run: one request's trip through the composition: choosing candidates,
 * asking the router, calling each handler's model and building the
 * OpenAI-shaped response. It knows nothing of sockets: the caller hands it
 * the parsed request and gets one result back. */
#ifndef LLN_PIPELINE_RUN_H
#define LLN_PIPELINE_RUN_H

#include <cjson/cJSON.h>

#include "config/config.h"
#include "upstream/client.h"

typedef struct lln_run lln_run;

typedef struct lln_run_result {
  int status;              /* HTTP status for the client */
  const char *error;       /* when status >= 400: a message naming node and model */
  const char *retry_after; /* an upstream's Retry-After to pass on, or NULL */
  const char *body;        /* the chat.completion JSON when status == 200 */
  size_t body_len;
  const char *route;       /* node names joined by '>' */
} lln_run_result;

typedef void (*lln_run_done)(void *ud, const lln_run_result *res);
/* Request header lookup (case-insensitive), for UseHeaderKeys. */
typedef const char *(*lln_run_header)(void *ctx, const char *name);

typedef struct lln_run_params {
  const lln_config *cfg;
  lln_upstream *upstream;
  uv_loop_t *loop;
  cJSON *request; /* the client's parsed body; the run takes ownership */
  const char *request_id;
  lln_run_header header;
  void *header_ctx;
  lln_run_done done; /* called exactly once, unless the run is cancelled */
  void *ud;
} lln_run_params;

/* Checks the request and starts it. A request the pipeline cannot accept
 * (no messages, ...) is answered through `done` before this returns. */
lln_run *lln_run_start(const lln_run_params *p);
/* Stops a run whose `done` has not been called yet; it will not be. */
void lln_run_cancel(lln_run *run);
/* Releases a run after `done` (or after cancel). */
void lln_run_free(lln_run *run);

#endif
