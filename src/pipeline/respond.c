/* respond: the client's successful response: the last answer's upstream
 * response re-stamped with the run's id, usage summed over every call and
 * the "llmnet" extension (request id, route, hops); streamed when the
 * client asked for a stream. */
#include "pipeline/respond_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pipeline/cache_int.h"
#include "pipeline/cost_run_int.h"
#include "pipeline/sinks_int.h"
#include "pipeline/stream_int.h"
#include "util/json_print.h"

static void set_number(cJSON *obj, const char *key, double v) {
  cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (old)
    cJSON_SetNumberValue(old, v);
  else
    cJSON_AddNumberToObject(obj, key, v);
}

cJSON *lln__run_usage_totals(const lln_run *r, cJSON *resp) {
  cJSON *usage = cJSON_GetObjectItemCaseSensitive(resp, "usage");
  if (!cJSON_IsObject(usage)) {
    cJSON_DeleteItemFromObjectCaseSensitive(resp, "usage");
    usage = cJSON_AddObjectToObject(resp, "usage");
  }
  set_number(usage, "prompt_tokens", (double)r->usage[0]);
  set_number(usage, "completion_tokens", (double)r->usage[1]);
  set_number(usage, "total_tokens", (double)r->usage[2]);
  return usage;
}

/* The client's response is the last answer's upstream response with our id,
 * usage summed over every call, and the route trace. */
void lln__run_succeed(lln_run *r) {
  if (!r->final) {
    char why[400];
    snprintf(why, sizeof why,
             "the pipeline reached \"%s\" without any model answering; give the entry node a target that "
             "calls a model",
             r->node ? r->node->name : "?");
    lln_run_fail(r, 500, why);
    return;
  }
  if (r->sink) {
    lln_stream_replay(r);
    return;
  }
  cJSON *resp = lln_run_stamp(r, r->final, "chat.completion", time(NULL));
  if (r->have_usage)
    lln__cost_into_usage(r, lln__run_usage_totals(r, resp));
  cJSON_AddItemToObject(resp, "llmnet", lln_run_extension(r));
  lln_json_print(resp, &r->result_body);
  lln__cache_keep(r, resp);
  lln_sinks_fire(r, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resp, "model")), r->output);
  /* the tree goes with the run's arena: a door reads it instead of parsing the body again */
  lln_run_result res = {.status = 200,
                        .body = r->result_body.data,
                        .body_len = r->result_body.len,
                        .json = resp,
                        .route = r->route.data};
  lln_run_finish(r, &res);
}

cJSON *lln_run_stamp(const lln_run *r, cJSON *upstream, const char *object, time_t created) {
  cJSON *out = cJSON_CreateObject();
  char id[160];
  snprintf(id, sizeof id, "chatcmpl-%s", r->request_id);
  cJSON_AddStringToObject(out, "id", id);
  cJSON_AddStringToObject(out, "object", object);
  cJSON_AddNumberToObject(out, "created", (double)created);
  cJSON *model = cJSON_DetachItemFromObjectCaseSensitive(upstream, "model");
  cJSON_AddItemToObject(out, "model", model ? model : cJSON_CreateString(r->node->model_ids[0]));
  while (upstream->child) {
    cJSON *item = cJSON_DetachItemViaPointer(upstream, upstream->child);
    if (strcmp(item->string, "id") == 0 || strcmp(item->string, "object") == 0 ||
        strcmp(item->string, "created") == 0 || strcmp(item->string, "llmnet") == 0)
      cJSON_Delete(item);
    else
      cJSON_AddItemToObject(out, item->string, item);
  }
  return out;
}

cJSON *lln_run_extension(const lln_run *r) {
  cJSON *ext = cJSON_CreateObject();
  cJSON_AddStringToObject(ext, "request_id", r->request_id);
  cJSON_AddStringToObject(ext, "route", r->route.data);
  /* a reference: the trace outlives every object this extension goes into */
  cJSON_AddItemReferenceToObject(ext, "hops", r->trace);
  return ext;
}
