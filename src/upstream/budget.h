/* budget: the top-level "budgets" at run time. A budget is an account's
 * quota (requests per minute and per day, US dollars per day) that every
 * call through any models entry naming it spends, router calls included:
 * counted in server.store, so that processes sharing a Redis share it. */
#ifndef LLN_UPSTREAM_BUDGET_H
#define LLN_UPSTREAM_BUDGET_H

#include <cjson/cJSON.h>

#include "config/config.h"

/* Appends one object per budget of `cfg` to the JSON array `out`, as this
 * process last saw it: name, its limits, the requests used this minute and
 * this day, the dollars spent today, and when each window resets (Unix
 * ms). For /v1/llmnet/stats and the status page. */
void lln_budget_stats_json(cJSON *out, const lln_config *cfg);

#endif
