/* response_cache: the top-level "response-cache" ({"ttl": 600,
 * "max-bytes": 67108864, "any-temperature": false}) and a node's own
 * "response-cache": false|true (docs/CONFIG.md "Response cache"). */
#include "config/loader_int.h"

void lln_loader_response_cache(lln_loader *L, const cJSON *cache) {
  (void)L, (void)cache;
  L->cfg->response_cache.enabled = 0; /* TODO(cache): parse and check */
}

void lln_loader_node_response_cache(lln_loader *L, lln_node *n, const cJSON *value, const char *path) {
  (void)L, (void)value, (void)path;
  n->response_cache = -1; /* TODO(cache): parse and check */
}
