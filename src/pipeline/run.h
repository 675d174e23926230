/* run: one request's trip through the composition: choosing candidates,
 * asking the router, calling each handler's model and building the
 * OpenAI-shaped response. It knows nothing of sockets: the caller hands it
 * the parsed request and gets one result back. */
#ifndef LLN_PIPELINE_RUN_H
#define LLN_PIPELINE_RUN_H

#include <cjson/cJSON.h>

#include "config/config.h"
#include "upstream/client.h"
#include "upstream/model_state.h"
#include "upstream/ratelimit.h"
#include "util/arena.h"
#include "util/openai_error.h"

typedef struct lln_run lln_run;
struct lln_store; /* store/store.h */

/* Where a streamed response goes ("stream": true). The run decides when
 * the response becomes a stream: at the final hop's first byte, or earlier
 * when a keep-alive is due; errors before that get a plain error status. */
typedef struct lln_run_stream_sink {
  /* Send the event-stream head; `route` is the whole route when the final
   * hop's first event starts the stream, NULL when a keep-alive does. */
  void (*start)(void *ud, const char *route);
  int (*event)(void *ud, const char *data, size_t len); /* one event; 1 = the client is behind */
  void (*comment)(void *ud);                            /* an SSE keep-alive comment */
} lln_run_stream_sink;

/* An error as the client gets it: the OpenAI error object plus whether a
 * retry of the whole request could help (the x-should-retry header). */
typedef struct lln_run_error {
  lln_openai_error body;   /* status, message naming node and model, upstream's param/code */
  const char *retry_after; /* an upstream's Retry-After to pass on, or NULL */
  int should_retry;
} lln_run_error;

typedef struct lln_run_result {
  int status;                         /* HTTP status for the client (a failed stream: the error's) */
  const char *error;                  /* when status >= 400: a message naming node and model */
  const lln_openai_error *error_body; /* the whole error object, or NULL */
  int should_retry;                   /* errors: x-should-retry */
  const char *retry_after;            /* an upstream's Retry-After to pass on, or NULL */
  const char *body;                   /* the chat.completion JSON when status == 200 */
  size_t body_len;
  const cJSON *json; /* the same answer as a tree (status 200, not streamed), valid during done */
  const char *route; /* node names joined by '>' */
  int streamed;      /* the response went out as a stream (an error ended it with an error event) */
  const cJSON *hops; /* the trace of every upstream call, for the log */
  long tokens;       /* total tokens over every hop */
  const char *input; /* the user's latest text, for --log-content */
  /* Routing (route_only answers with these; every result carries them):
   * how the last choice was made (condition, pin, cache, router, default,
   * no-input, ambiguous, model, single) or NULL when nothing was chosen,
   * what the router read (or would have), the time spent deciding, the
   * conversation's session id and the router calls made. */
  const char *decided;
  const char *router_input;
  double decision_ms;
  const char *session;
  int router_calls;
  /* Cost (pipeline/cost.c): usage.cost summed over every hop, router calls
   * included, in US dollars; cost_known 0 when no hop reported or computed
   * one. */
  double cost_usd;
  int cost_known;
  /* The response cache (pipeline/cache.c): "hit", "miss" or "bypass"; NULL
   * when the composition has no "response-cache". x-llmnet-cache. */
  const char *cache;
} lln_run_result;

typedef void (*lln_run_done)(void *ud, const lln_run_result *res);
/* Request header lookup (case-insensitive), for UseHeaderKeys. */
typedef const char *(*lln_run_header)(void *ctx, const char *name);

typedef struct lln_run_params {
  const lln_config *cfg;
  lln_upstream *upstream;
  uv_loop_t *loop;
  lln_arena *arena; /* made with lln_arena_create; the run takes it and frees it when released */
  cJSON *request;   /* the client's parsed body, parsed in `arena` (LLN_JSON_SCOPE) */
  const char *request_id;
  lln_run_header header;
  void *header_ctx;
  lln_run_done done;                 /* called exactly once, unless the run is cancelled */
  const lln_run_stream_sink *stream; /* set when the client asked to stream */
  lln_model_table *models;           /* breakers and queues shared by workers, or NULL */
  lln_ratelimit *ratelimit;          /* for models with a rate-limit, or NULL */
  struct lln_store *store;           /* session pins and the decision cache (server.store), or NULL */
  int route_only;                    /* stop before the first answering call: /v1/llmnet/route, eval */
  int stateless;                     /* neither read nor write pins or the decision cache (eval) */
  struct lln_response_cache *cache;  /* the response cache (pipeline/cache.h), or NULL */
  const char **cache_status;         /* set to "hit", "miss" or "bypass" once decided (before any event) */
  void *ud;                          /* passed to done and to the sink */
} lln_run_params;

/* Checks the request and starts it. A request the pipeline cannot accept
 * (no messages, ...) is answered through `done` before this returns. */
lln_run *lln_run_start(const lln_run_params *p);
/* The client caught up after the sink's event returned 1. */
void lln_run_resume(lln_run *run);
/* Ends a run now with an error (shutdown): `done` is called with it, or
 * the stream ends with an error event. */
void lln_run_abort(lln_run *run, int status, const char *message);
/* Stops a run whose `done` has not been called yet; it will not be. */
void lln_run_cancel(lln_run *run);
/* The cost of the run's calls so far (pipeline/cost_run.c), for a run
 * ended without a result (the client went away): 1 with *usd set when
 * some call had a cost, else 0. */
int lln_run_cost(const lln_run *run, double *usd);
/* Releases a run after `done` (or after cancel). */
void lln_run_free(lln_run *run);

#endif
