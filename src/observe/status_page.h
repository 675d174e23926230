/* status_page: the self-contained HTML status page llmnet serves at GET /
 * (src/observe/status.html, embedded into the binary at build time), and
 * the figures of GET /v1/llmnet/stats it draws: routing, spend, the
 * response cache. */
#ifndef LLN_OBSERVE_STATUS_PAGE_H
#define LLN_OBSERVE_STATUS_PAGE_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The page's bytes (UTF-8 HTML, NUL-terminated) and, in *len when len is
 * not NULL, their length without the NUL. Static storage: never freed. */
const char *lln_status_page(size_t *len);

/* Fills a node's live figures: calls, errors, tokens, p50_ms and p99_ms of
 * its upstream calls, and decisions, decision_p50_ms and decision_p99_ms
 * of its routing choices (latencies null without data). */
void lln_status_node_json(cJSON *obj, const char *node);

/* Adds root.edges {"FROM>TO": {from, to, total, decided: {LABEL: N}}}
 * from llmnet_routing_decisions_total. */
void lln_status_edges_json(cJSON *root);

/* root.doors: {"chat": {"requests": N, "errors": N}, ...}: requests
 * answered per door (llmnet_requests_total), errors being status >= 400. */
void lln_status_doors_json(cJSON *root);

/* root.spend: {"usd": T, "reported_usd": R, "computed_usd": C, "models":
 * [{"node", "model", "usd", "reported_usd", "computed_usd"}]}: what the
 * upstream calls cost since the server started (llmnet_cost_usd_total),
 * per node and model id, reported by the upstream (usage.cost) or
 * computed from the model's "price". */
void lln_status_spend_json(cJSON *root);

/* root.cache: {"hits", "misses", "bypass", "hit_rate", "bytes",
 * "served_bytes"} from llmnet_response_cache_requests_total (hit_rate is
 * hits / (hits + misses), null before the first lookup),
 * llmnet_response_cache_bytes (what the in-process cache holds) and
 * llmnet_response_cache_served_bytes_total. Returns the object, for the
 * caller to add the composition's settings. */
cJSON *lln_status_cache_json(cJSON *root);

#endif
