/* cost: what one upstream call cost, in US dollars, from its usage object:
 * usage.cost as the upstream reported it (OpenRouter's credits are
 * dollars), else computed from the models entry's "price" and the token
 * counts (docs/CONFIG.md "Cost"). Pure: no run, no I/O; values that cannot
 * be a cost or a token count (negative, fractional counts, NaN, strings,
 * 1e300) are ignored with a debug log, never trusted. The pipeline's calls
 * (cost_run.c) and POST /v1/embeddings (server/embeddings.c) use it. */
#ifndef LLN_PIPELINE_COST_H
#define LLN_PIPELINE_COST_H

#include <cjson/cJSON.h>

#include "config/config.h"

/* The most one call may cost, in US dollars: a reported or computed cost
 * above this is taken for garbage and ignored. */
#define LLN_COST_MAX_USD 1000000.0

typedef enum { LLN_COST_UNKNOWN, LLN_COST_REPORTED, LLN_COST_COMPUTED } lln_cost_source;

typedef struct lln_cost {
  lln_cost_source source;
  double usd;      /* when source is not LLN_COST_UNKNOWN */
  const char *why; /* when unknown: a static sentence saying why */
  int telling;     /* unknown for a reason worth tracing: a usage.cost that was
                    * ignored, or a price that could not apply */
} lln_cost;

/* The cost of a call whose response carried `usage` (the usage object, or
 * NULL when there was none) to a model priced `price` (NULL or unset: no
 * price). A good usage.cost wins over the price. `who` names the call in
 * debug logs ("request R: node N (model M)"). */
lln_cost lln_cost_of(const cJSON *usage, const lln_price *price, const char *who);

/* "reported", "computed" or NULL: the trace's cost_source and the metric's
 * source label. */
const char *lln_cost_source_name(lln_cost_source source);

#endif
