/* cache_replay: a stored entry ({"route", "hops", "completion"}, written
 * by cache.c) becomes the run's answer, as if the route had just run: the
 * completion is the final answer (respond.c sends it as JSON, or
 * stream.c replays it as a stream: role, content, tool calls, finish,
 * usage when asked), its usage the run's (usage.cost 0: a hit makes no
 * upstream call), the stored route the run's (x-llmnet-route), and the
 * trace holds one "cache" hop naming the original route and its hops. */
#include <stdlib.h>
#include <string.h>

#include "pipeline/cache_int.h"
#include "pipeline/text_int.h"
#include "util/json_alloc.h"

/* The node the original route ended at, when the composition still has
 * it; else the node the request entered at. */
static const lln_node *last_node(const lln_run *r, const char *route) {
  const char *last = strrchr(route, '>');
  const lln_node *n = lln_config_node(r->cfg, last ? last + 1 : route);
  return n ? n : r->cache->start;
}

static void take_usage(lln_run *r, cJSON *usage) {
  static const char *const totals[] = {"prompt_tokens", "completion_tokens", "total_tokens"};
  if (!cJSON_IsObject(usage))
    return;
  for (int i = 0; i < 3; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, totals[i]);
    if (cJSON_IsNumber(v) && v->valuedouble >= 0)
      r->usage[i] = (long)v->valuedouble;
  }
  r->have_usage = 1;
  cJSON_DeleteItemFromObjectCaseSensitive(usage, "cost");
  cJSON_AddNumberToObject(usage, "cost", 0);
  if (r->sink) {
    /* the streamed usage event keeps the details, as a relayed one does */
    LLN_JSON_HEAP();
    cJSON_Delete(r->stream.usage);
    r->stream.usage = cJSON_Duplicate(usage, 1);
  }
}

int lln__cache_restore(lln_run *r, const char *value, size_t len) {
  cJSON *entry = cJSON_ParseWithLength(value, len);
  const char *route = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "route"));
  cJSON *completion = cJSON_GetObjectItemCaseSensitive(entry, "completion");
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(completion, "choices"), 0);
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
  if (!route || !*route || !cJSON_IsObject(msg)) {
    cJSON_Delete(entry);
    return -1;
  }
  completion = cJSON_DetachItemViaPointer(entry, completion);
  cJSON *hops = cJSON_DetachItemFromObjectCaseSensitive(entry, "hops");
  lln_buf_reset(&r->route);
  lln_buf_puts(&r->route, route);
  r->node = last_node(r, route);
  take_usage(r, cJSON_GetObjectItemCaseSensitive(completion, "usage"));
  lln_buf text;
  lln_buf_init(&text);
  lln_content_text(cJSON_GetObjectItemCaseSensitive(msg, "content"), &text);
  if (!text.data)
    lln_buf_reserve(&text, 0);
  free(r->output);
  r->output = lln_buf_steal(&text);
  cJSON_Delete(r->final);
  r->final = completion;
  double ms = (double)(uv_hrtime() - r->cache->started_ns) / 1e6;
  cJSON *hop = lln_run_trace_hop(r, r->cache->start, "cache", NULL, ms);
  cJSON_AddStringToObject(hop, "cache", "hit");
  cJSON_AddStringToObject(hop, "route", route);
  cJSON_AddItemToObject(hop, "hops", hops ? hops : cJSON_CreateArray());
  cJSON_Delete(entry);
  return 0;
}
