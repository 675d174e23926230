/* status_page: hands out the status page's HTML, which cmake/embed.cmake
 * turns into a C array (status_html.c in the build tree) at build time,
 * and the routing figures it draws: how many requests took each edge, by
 * how the choice was made, and each routing node's decision latency. */
#include "observe/status_page.h"

#include <stdio.h>

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

void lln_status_routing_json(cJSON *root) {
  cJSON *edges = cJSON_AddObjectToObject(root, "edges");
  lln_metrics_edges(add_edge, edges);
  cJSON *live = cJSON_GetObjectItemCaseSensitive(root, "nodes");
  cJSON *n;
  cJSON_ArrayForEach(n, live) {
    lln_node_stats st;
    lln_metrics_node_stats(n->string, &st);
    cJSON_AddNumberToObject(n, "decisions", st.decisions);
    if (st.decision_p50_seconds >= 0) {
      cJSON_AddNumberToObject(n, "decision_p50_ms", st.decision_p50_seconds * 1000.0);
      cJSON_AddNumberToObject(n, "decision_p99_ms", st.decision_p99_seconds * 1000.0);
    } else {
      cJSON_AddNullToObject(n, "decision_p50_ms");
      cJSON_AddNullToObject(n, "decision_p99_ms");
    }
  }
}
