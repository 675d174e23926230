/* status_page: the self-contained HTML status page llmnet serves at GET /
 * (src/observe/status.html, embedded into the binary at build time), and
 * the routing part of GET /v1/llmnet/stats it draws. */
#ifndef LLN_OBSERVE_STATUS_PAGE_H
#define LLN_OBSERVE_STATUS_PAGE_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The page's bytes (UTF-8 HTML, NUL-terminated) and, in *len when len is
 * not NULL, their length without the NUL. Static storage: never freed. */
const char *lln_status_page(size_t *len);

/* Adds the routing figures to a stats object whose "nodes" object holds
 * one object per node name: root.edges {"FROM>TO": {from, to, total,
 * decided: {LABEL: N}}} from llmnet_routing_decisions_total, and to each
 * node decisions, decision_p50_ms and decision_p99_ms (null without data). */
void lln_status_routing_json(cJSON *root);

#endif
