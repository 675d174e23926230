/* respond: the client's successful response, built when the flow reaches
 * its end with an answer. Internal to src/pipeline. */
#ifndef LLN_PIPELINE_RESPOND_H
#define LLN_PIPELINE_RESPOND_H

#include "pipeline/run_state_int.h"

/* Answers the client with the last answer (or replays it as a stream);
 * fails the run with 500 when no model has answered. */
void lln__run_succeed(lln_run *r);
/* Sets resp's usage (made an object if it is not one) to the run's token
 * totals over every hop; returns it. */
cJSON *lln__run_usage_totals(const lln_run *r, cJSON *resp);

#endif
