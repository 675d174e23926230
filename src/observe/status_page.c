/* status_page: hands out the status page's HTML, which cmake/embed.cmake
 * turns into a C array (status_html.c in the build tree) at build time,
 * and the figures it draws: how many requests took each routing edge, by
 * how the choice was made, each routing node's decision latency, what the
 * upstream calls cost per node and model id, and the response cache's
 * hits and misses. */
#include "observe/status_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/metrics.h"

/* Defined by the generated file: the bytes of src/observe/status.html
 * followed by a NUL, and their count without the NUL. */
extern const unsigned char lln_status_html[];
extern const size_t lln_status_html_len;

const char *lln_status_page(size_t *len) {
  if (len)
    *len = lln_status_html_len;
  return (const char *)lln_status_html;
}

/* One series of llmnet_routing_decisions_total into root.edges["from>to"]. */
static void add_edge(void *ud, const char *from, const char *to, const char *decided, double n) {
  cJSON *edges = ud;
  char key[512];
  snprintf(key, sizeof key, "%s>%s", from, to);
  cJSON *e = cJSON_GetObjectItemCaseSensitive(edges, key);
  if (!e) {
    e = cJSON_AddObjectToObject(edges, key);
    cJSON_AddStringToObject(e, "from", from);
    cJSON_AddStringToObject(e, "to", to);
    cJSON_AddNumberToObject(e, "total", 0);
    cJSON_AddObjectToObject(e, "decided");
  }
  cJSON *total = cJSON_GetObjectItemCaseSensitive(e, "total");
  cJSON_SetNumberValue(total, total->valuedouble + n);
  cJSON *by = cJSON_GetObjectItemCaseSensitive(e, "decided");
  cJSON *count = cJSON_GetObjectItemCaseSensitive(by, decided);
  if (count)
    cJSON_SetNumberValue(count, count->valuedouble + n);
  else
    cJSON_AddNumberToObject(by, decided, n);
}

/* "NAME_p50_ms" and "NAME_p99_ms" from seconds, or nulls (p50 < 0: no data). */
static void add_quantiles(cJSON *obj, const char *prefix, double p50_seconds, double p99_seconds) {
  char p50[64], p99[64];
  snprintf(p50, sizeof p50, "%sp50_ms", prefix);
  snprintf(p99, sizeof p99, "%sp99_ms", prefix);
  if (p50_seconds >= 0) {
    cJSON_AddNumberToObject(obj, p50, p50_seconds * 1000.0);
    cJSON_AddNumberToObject(obj, p99, p99_seconds * 1000.0);
  } else {
    cJSON_AddNullToObject(obj, p50);
    cJSON_AddNullToObject(obj, p99);
  }
}

void lln_status_node_json(cJSON *obj, const char *node) {
  lln_node_stats st;
  lln_metrics_node_stats(node, &st);
  cJSON_AddNumberToObject(obj, "calls", st.calls);
  cJSON_AddNumberToObject(obj, "errors", st.errors);
  cJSON_AddNumberToObject(obj, "tokens", st.tokens);
  add_quantiles(obj, "", st.p50_seconds, st.p99_seconds);
  cJSON_AddNumberToObject(obj, "decisions", st.decisions);
  add_quantiles(obj, "decision_", st.decision_p50_seconds, st.decision_p99_seconds);
}

void lln_status_edges_json(cJSON *root) {
  cJSON *edges = cJSON_AddObjectToObject(root, "edges");
  lln_metrics_edges(add_edge, edges);
}

static void add_door(void *ud, const char *door, const char *status, double n) {
  cJSON *doors = ud;
  cJSON *d = cJSON_GetObjectItemCaseSensitive(doors, door);
  if (!d) {
    d = cJSON_AddObjectToObject(doors, door);
    cJSON_AddNumberToObject(d, "requests", 0);
    cJSON_AddNumberToObject(d, "errors", 0);
  }
  cJSON *req = cJSON_GetObjectItemCaseSensitive(d, "requests");
  cJSON_SetNumberValue(req, req->valuedouble + n);
  if (atoi(status) >= 400) {
    cJSON *err = cJSON_GetObjectItemCaseSensitive(d, "errors");
    cJSON_SetNumberValue(err, err->valuedouble + n);
  }
}

void lln_status_doors_json(cJSON *root) {
  cJSON *doors = cJSON_AddObjectToObject(root, "doors");
  lln_metrics_doors(add_door, doors);
}

/* One series of llmnet_cost_usd_total into spend.models (one entry per
 * node and model id) and the totals. */
static void add_spend(void *ud, const char *const *values, double usd) {
  cJSON *spend = ud;
  const char *node = values[0], *model = values[1], *source = values[2];
  cJSON *rows = cJSON_GetObjectItemCaseSensitive(spend, "models");
  cJSON *row = NULL, *it;
  cJSON_ArrayForEach(it, rows) {
    if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "node")->valuestring, node) == 0 &&
        strcmp(cJSON_GetObjectItemCaseSensitive(it, "model")->valuestring, model) == 0)
      row = it;
  }
  if (!row) {
    row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "node", node);
    cJSON_AddStringToObject(row, "model", model);
    cJSON_AddNumberToObject(row, "usd", 0);
    cJSON_AddNumberToObject(row, "reported_usd", 0);
    cJSON_AddNumberToObject(row, "computed_usd", 0);
    cJSON_AddItemToArray(rows, row);
  }
  const char *by = strcmp(source, "computed") == 0 ? "computed_usd" : "reported_usd";
  const char *keys[] = {"usd", by};
  for (size_t i = 0; i < 2; i++) {
    cJSON *r = cJSON_GetObjectItemCaseSensitive(row, keys[i]),
          *t = cJSON_GetObjectItemCaseSensitive(spend, keys[i]);
    cJSON_SetNumberValue(r, r->valuedouble + usd);
    cJSON_SetNumberValue(t, t->valuedouble + usd);
  }
}

void lln_status_spend_json(cJSON *root) {
  cJSON *spend = cJSON_AddObjectToObject(root, "spend");
  cJSON_AddNumberToObject(spend, "usd", 0);
  cJSON_AddNumberToObject(spend, "reported_usd", 0);
  cJSON_AddNumberToObject(spend, "computed_usd", 0);
  cJSON_AddArrayToObject(spend, "models");
  lln_metrics_each(&LLN_M_COST, add_spend, spend);
}

static void sum_series(void *ud, const char *const *values, double value) {
  (void)values;
  *(double *)ud += value;
}

/* llmnet_response_cache_requests_total summed by result. */
typedef struct cache_counts {
  double hits, misses, bypass;
} cache_counts;

static void count_result(void *ud, const char *const *values, double value) {
  cache_counts *st = ud;
  if (strcmp(values[0], "hit") == 0)
    st->hits += value;
  else if (strcmp(values[0], "miss") == 0)
    st->misses += value;
  else if (strcmp(values[0], "bypass") == 0)
    st->bypass += value;
}

cJSON *lln_status_cache_json(cJSON *root) {
  cache_counts st = {0};
  lln_metrics_each(&LLN_M_CACHE, count_result, &st);
  double bytes = 0, served = 0;
  lln_metrics_each(&LLN_M_CACHE_BYTES, sum_series, &bytes);
  lln_metrics_each(&LLN_M_CACHE_SERVED, sum_series, &served);
  cJSON *cache = cJSON_AddObjectToObject(root, "cache");
  cJSON_AddNumberToObject(cache, "hits", st.hits);
  cJSON_AddNumberToObject(cache, "misses", st.misses);
  cJSON_AddNumberToObject(cache, "bypass", st.bypass);
  if (st.hits + st.misses > 0)
    cJSON_AddNumberToObject(cache, "hit_rate", st.hits / (st.hits + st.misses));
  else
    cJSON_AddNullToObject(cache, "hit_rate");
  cJSON_AddNumberToObject(cache, "bytes", bytes);
  cJSON_AddNumberToObject(cache, "served_bytes", served);
  return cache;
}
