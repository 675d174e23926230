/* response_cache: the top-level "response-cache" ({"ttl": 600,
 * "max-bytes": 67108864, "any-temperature": false}, or true for those
 * defaults, false for none) and a node's own "response-cache": false|true
 * (docs/CONFIG.md "Response cache"). */
#include <stdio.h>
#include <string.h>

#include "config/keys.h"
#include "config/loader_int.h"
#include "util/buf.h"

#define CACHE_TTL_S 600
#define CACHE_TTL_MAX_S (7L * 24 * 3600)
#define CACHE_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define CACHE_MAX_BYTES_MIN 4096.0
#define CACHE_MAX_BYTES_MAX (64.0 * 1024 * 1024 * 1024)

static const char *const KEYS[] = {"ttl", "max-bytes", "any-temperature", NULL};
static const char *const PATH = "/response-cache";

static void unknown_key(lln_loader *L, const char *pointer, const char *key, const char *best, void *ud) {
  (void)ud;
  if (best)
    lln_loader_report(L, LLN_DIAG_ERROR, pointer, "response-cache: unknown key \"%s\"; did you mean \"%s\"?",
                      key, best);
  else
    lln_loader_report(L, LLN_DIAG_ERROR, pointer,
                      "response-cache: unknown key \"%s\"; the keys are \"ttl\", \"max-bytes\" and "
                      "\"any-temperature\"",
                      key);
}

static void check_keys(lln_loader *L, const cJSON *obj) {
  lln_loader_each_unknown_key(L, obj, PATH, KEYS, unknown_key, NULL);
}

/* obj[key] as a whole number from min to max; 0 when absent or reported. */
static int whole(lln_loader *L, const cJSON *obj, const char *key, double min, double max, const char *unit,
                 double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v)
    return 0;
  if (cJSON_IsNumber(v) && v->valuedouble >= min && v->valuedouble <= max &&
      v->valuedouble == (double)(long long)v->valuedouble) {
    *out = v->valuedouble;
    return 1;
  }
  char path[64];
  snprintf(path, sizeof path, "%s/%s", PATH, key);
  lln_loader_report(L, LLN_DIAG_ERROR, path,
                    "response-cache: \"%s\" must be a whole number of %s from %.0f to %.0f; e.g. \"%s\": %s",
                    key, unit, min, max, key, strcmp(key, "ttl") == 0 ? "600" : "67108864");
  return 0;
}

void lln_loader_response_cache(lln_loader *L, const cJSON *cache) {
  lln_cache_settings *s = &L->cfg->response_cache;
  *s = (lln_cache_settings){.enabled = 0, .ttl_s = CACHE_TTL_S, .max_bytes = CACHE_MAX_BYTES};
  if (!cache || cJSON_IsFalse(cache) || cJSON_IsNull(cache))
    return;
  if (cJSON_IsTrue(cache)) {
    s->enabled = 1;
    return;
  }
  if (!cJSON_IsObject(cache)) {
    lln_loader_report(L, LLN_DIAG_ERROR, PATH,
                      "\"response-cache\" is false (no cache), true (the defaults) or {\"ttl\": %d, "
                      "\"max-bytes\": %zu, \"any-temperature\": false}",
                      CACHE_TTL_S, CACHE_MAX_BYTES);
    return;
  }
  s->enabled = 1;
  check_keys(L, cache);
  double v;
  if (whole(L, cache, "ttl", 1, (double)CACHE_TTL_MAX_S, "seconds", &v))
    s->ttl_s = (long)v;
  if (whole(L, cache, "max-bytes", CACHE_MAX_BYTES_MIN, CACHE_MAX_BYTES_MAX, "bytes", &v))
    s->max_bytes = (size_t)v;
  const cJSON *any = cJSON_GetObjectItemCaseSensitive(cache, "any-temperature");
  if (any && !cJSON_IsBool(any))
    lln_loader_report(L, LLN_DIAG_ERROR, "/response-cache/any-temperature",
                      "response-cache: \"any-temperature\" must be true (store answers whatever their "
                      "temperature) or false (only answers made at temperature 0)");
  s->any_temperature = cJSON_IsTrue(any);
}

void lln_loader_node_response_cache(lln_loader *L, lln_node *n, const cJSON *value, const char *path) {
  n->response_cache = -1;
  if (!value)
    return;
  if (!cJSON_IsBool(value)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "node \"%s\": \"response-cache\" must be false (answers through this node are never "
                      "cached) or true (cache them although the node runs hooks)",
                      n->name ? n->name : "?");
    return;
  }
  n->response_cache = cJSON_IsTrue(value);
  if (!L->cfg->response_cache.enabled)
    lln_loader_report(L, LLN_DIAG_WARNING, path,
                      "node \"%s\": \"response-cache\" has no effect: the composition has no top-level "
                      "\"response-cache\"; add \"response-cache\": true to turn the cache on",
                      n->name ? n->name : "?");
}
