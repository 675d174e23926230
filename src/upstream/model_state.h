/* model_state: what llmnet keeps per model between requests, shared by
 * every worker thread: a circuit breaker per (endpoint, model id), so one
 * model's outage does not stop the other models on the same endpoint, and
 * the number of requests waiting for an endpoint's rate limit. Atomics
 * only: workers never wait on each other here. The table lives as long as
 * the composition it was built for (its holder, not config, owns it). */
#ifndef LLN_UPSTREAM_MODEL_STATE_H
#define LLN_UPSTREAM_MODEL_STATE_H

#include <stdatomic.h>
#include <stddef.h>

#include "config/config.h"
#include "upstream/breaker.h"

typedef struct lln_model_table lln_model_table;

/* One breaker per distinct (endpoint, model id) the nodes of `cfg` call,
 * one queue counter per endpoint. */
lln_model_table *lln_model_table_new(const lln_config *cfg);
void lln_model_table_free(lln_model_table *t);
/* For lln_shared_config_attach. */
void lln_model_table_release(void *t);

/* The breaker of node `n`'s model id number `model_index`. */
lln_breaker *lln_model_table_breaker(lln_model_table *t, const lln_node *n, size_t model_index);

/* Takes a place in endpoint `ep`'s rate-limit queue; 0 when `limit` are taken. */
int lln_model_table_enqueue(lln_model_table *t, const lln_model *ep, int limit);
void lln_model_table_dequeue(lln_model_table *t, const lln_model *ep);

#endif
