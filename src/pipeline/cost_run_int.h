/* cost_run: a call's cost (cost.c) carried through the run: onto its trace
 * hop, into the run's sum (the response's usage.cost, the access log, the
 * run result), into llmnet_cost_usd_total and to the budget of the model
 * that was called (admit.c). Internal to src/pipeline. */
#ifndef LLN_PIPELINE_COST_RUN_H
#define LLN_PIPELINE_COST_RUN_H

#include <cjson/cJSON.h>

#include "pipeline/run_state_int.h"

/* The call in flight (r->call) answered with `usage` (the usage object, or
 * NULL): its cost goes onto `hop` ("cost" and "cost_source"; or "cost":
 * null and "cost_unknown" saying why, when the reason is worth telling),
 * into the run's sum, the metric and the budget. */
void lln__cost_add(lln_run *r, const cJSON *usage, cJSON *hop);
/* A call whose cost cannot be known (it was cancelled before its usage
 * came): "cost": null and "cost_unknown": `why` on its hop. */
void lln__cost_unknown(cJSON *hop, const char *why);
/* The run's summed cost as the response's usage.cost: set when any hop had
 * a cost, removed otherwise (the last upstream's own value is only one
 * hop's, or unusable). */
void lln__cost_into_usage(const lln_run *r, cJSON *usage);

#endif
