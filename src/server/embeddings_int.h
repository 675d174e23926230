/* embeddings: POST /v1/embeddings. No pipeline and no routing: the request
 * goes to the model it names (a node's model, a models entry with
 * "embeddings": true, or the default embeddings model) through the
 * upstream client, with that endpoint's key, headers, timeouts, retries,
 * rate limit and (for nodes) circuit breaker. Internal to src/server. */
#ifndef LLN_SERVER_EMBEDDINGS_INT_H
#define LLN_SERVER_EMBEDDINGS_INT_H

#include "config/shared.h"
#include "pipeline/cost.h"
#include "server/http.h"
#include "upstream/client.h"
#include "upstream/ratelimit.h"

#define LLN_EMBEDDINGS_PATH "/v1/embeddings"
/* The most inputs one request may carry (OpenAI's own limit); more: 400. */
#define LLN_EMBED_MAX_INPUTS 2048

/* What the gateway hands over: its loop's upstream client and limiter, the
 * composition the request runs on (retained for as long as it runs). */
typedef struct lln_embed_env {
  uv_loop_t *loop;
  lln_upstream *upstream;
  lln_ratelimit *ratelimit;
  lln_shared_config *sc;
  const char *request_id;
} lln_embed_env;

/* Answers `req` now or later. `headers`: the response lines the gateway
 * adds (CORS), copied. */
void lln__embeddings(const lln_embed_env *env, lln_http_request *req, const char *const *headers);

/* embeddings_answer.c: the upstream's list `body` with its top-level
 * "model" set to `model` (added when missing), other bytes as they came;
 * NULL when it is not a JSON object with a "data" array. *tokens:
 * usage.prompt_tokens, 0 when absent. free() the result. */
char *lln__embed_answer(const char *body, size_t len, const char *model, size_t *out_len, long *tokens);
/* The same, also reading what the call cost (pipeline/cost.h): usage.cost,
 * else `price` applied to the prompt tokens. */
typedef struct lln__embed_usage {
  const lln_price *price; /* the models entry's, or NULL */
  const char *who;        /* names the call in debug logs */
  lln_cost cost;          /* out */
} lln__embed_usage;
char *lln__embed_answer_priced(const char *body, size_t len, const char *model, size_t *out_len, long *tokens,
                               lln__embed_usage *u);

#endif
