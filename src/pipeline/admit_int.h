/* admit: whether the call being prepared may be sent now, by llmnet's own
 * rate limit for its endpoint and by its model id's circuit breaker.
 * Internal to src/pipeline. */
#ifndef LLN_PIPELINE_ADMIT_H
#define LLN_PIPELINE_ADMIT_H

#include "pipeline/run_state_int.h"

/* 1 when the call may be sent now (holding the breaker's probe ticket when
 * it probes). 0 when it may not yet: it waits for a rate-limit answer or a
 * slot (lln_run_start_call runs again), or it is refused and the refusal
 * went to lln_run_after_failure like any failed call. */
int lln_admit_call(lln_run *r);
/* Gives back the run's place in its endpoint's rate-limit queue, if any. */
void lln_admit_stop_waiting(lln_run *r);
/* The breaker of the model id the call in flight asks, NULL without one. */
lln_breaker *lln_admit_breaker(const lln_run *r);
/* A call by `node` cost `usd` (reported or computed, pipeline/cost.c):
 * spends it from the budget of the node's endpoint, if it has one. */
void lln_admit_spent(lln_run *r, const lln_node *node, double usd);

#endif
