/* cost_run: see cost_run_int.h. */
#include "pipeline/cost_run_int.h"

#include <stdio.h>

#include "observe/metrics.h"
#include "pipeline/admit_int.h"
#include "pipeline/cost.h"
#include "util/log.h"

void lln__cost_unknown(cJSON *hop, const char *why) {
  cJSON_DeleteItemFromObjectCaseSensitive(hop, "cost");
  cJSON_AddNullToObject(hop, "cost");
  cJSON_AddStringToObject(hop, "cost_unknown", why);
}

void lln__cost_add(lln_run *r, const cJSON *usage, cJSON *hop) {
  const char *node = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "node"));
  const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "model"));
  char who[400] = "";
  if (lln_log_enabled(LLN_LOG_DEBUG))
    snprintf(who, sizeof who, "request %s: node \"%.120s\" (model \"%.160s\")", r->request_id,
             node ? node : "?", model ? model : "?");
  const lln_node *called = r->call.node;
  lln_cost c = lln_cost_of(usage, called && called->endpoint ? &called->endpoint->price : NULL, who);
  const char *source = lln_cost_source_name(c.source);
  if (!source) {
    if (c.telling)
      lln__cost_unknown(hop, c.why);
    return;
  }
  cJSON_AddNumberToObject(hop, "cost", c.usd);
  cJSON_AddStringToObject(hop, "cost_source", source);
  r->cost_usd += c.usd;
  r->cost_known = 1;
  const char *labels[] = {node ? node : "?", model ? model : "?", source};
  lln_metric_add(&LLN_M_COST, labels, c.usd);
  if (called)
    lln_admit_spent(r, called, c.usd);
}

void lln__cost_into_usage(const lln_run *r, cJSON *usage) {
  cJSON_DeleteItemFromObjectCaseSensitive(usage, "cost");
  if (r->cost_known)
    cJSON_AddNumberToObject(usage, "cost", r->cost_usd);
}

int lln_run_cost(const lln_run *r, double *usd) {
  if (!r || !r->cost_known)
    return 0;
  *usd = r->cost_usd;
  return 1;
}
