/* model_state: what llmnet keeps per model between requests, shared by
 * every worker thread: the circuit breaker and the number of requests
 * waiting for the model's rate limit. Atomics only: workers never wait on
 * each other here. */
#ifndef LLN_UPSTREAM_MODEL_STATE_H
#define LLN_UPSTREAM_MODEL_STATE_H

#include <stdatomic.h>
#include <stddef.h>

#include "upstream/breaker.h"

typedef struct lln_model_state {
  lln_breaker breaker;
  atomic_int waiting;
} lln_model_state;

lln_model_state *lln_model_states_new(size_t n);
void lln_model_states_free(lln_model_state *s);

/* Takes a place in the model's rate-limit queue; 0 when `limit` are taken. */
int lln_model_state_enqueue(lln_model_state *s, int limit);
void lln_model_state_dequeue(lln_model_state *s);

#endif
