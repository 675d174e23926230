/* model_state: what llmnet keeps per model between requests, shared by
 * every worker thread: the circuit breaker and the number of requests
 * waiting for the model's rate limit. Each operation takes the model's own
 * lock, so workers calling different models never meet. */
#ifndef LLN_UPSTREAM_MODEL_STATE_H
#define LLN_UPSTREAM_MODEL_STATE_H

#include <stdint.h>
#include <uv.h>

#include "upstream/breaker.h"

typedef struct lln_model_state {
  uv_mutex_t lock;
  lln_breaker breaker;
  int waiting;
} lln_model_state;

lln_model_state *lln_model_states_new(size_t n);
void lln_model_states_free(lln_model_state *s, size_t n);

/* lln_breaker_allow and lln_breaker_record under the model's lock. */
int lln_model_state_allow(lln_model_state *s, uint64_t now_ms, long *retry_in_ms, int *failures);
void lln_model_state_record(lln_model_state *s, int ok, int threshold, long cooldown_ms, uint64_t now_ms);
/* Takes a place in the model's rate-limit queue; 0 when `limit` are taken. */
int lln_model_state_enqueue(lln_model_state *s, int limit);
void lln_model_state_dequeue(lln_model_state *s);

#endif
