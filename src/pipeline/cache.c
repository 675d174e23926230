/* cache: the response cache in a run (docs/CONFIG.md "Response cache").
 * Before the first node is entered (so before any router call) the
 * request's key is read from the cache's store: a hit answers from the
 * entry (cache_replay.c), as a JSON answer or a replayed stream, with no
 * upstream call, so no cost, rate limit or budget; a miss runs the
 * pipeline. A client's Cache-Control: no-cache (or no-store) bypasses the
 * read. A Redis read answers later: it holds the run's store_op ticket
 * (the one pin and decision-cache reads use, free before any node is
 * entered) until then, so stop_work cancels it. When the answer goes out it is kept only if
 * every answering hop ran at temperature 0 after its node's extra-options
 * (unless "any-temperature"), no node on the route says "response-cache":
 * false, every node there that runs hooks says true, and the client did
 * not say no-store; errors and cut streams never reach here. */
#include "pipeline/cache_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "observe/metrics.h"
#include "pipeline/cache.h"
#include "pipeline/cache_key_int.h"
#include "pipeline/respond_int.h"
#include "util/json_alloc.h"
#include "util/json_print.h"
#include "util/log.h"

static const char *const NO_LABELS[] = {NULL};

int lln__cache_control_has(const char *value, const char *name) {
  size_t n = strlen(name);
  for (const char *p = value; p && *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    size_t len = strcspn(p, ",");
    size_t tok = len;
    while (tok && isspace((unsigned char)p[tok - 1]))
      tok--;
    if (tok == n && strncasecmp(p, name, n) == 0)
      return 1;
    p += len;
  }
  return 0;
}

static void decide(lln_run *r, const char *status) {
  r->cache->status = status;
  if (r->cache->report)
    *r->cache->report = status;
  const char *labels[] = {status};
  lln_metric_add(&LLN_M_CACHE, labels, 1);
}

static void on_entry(void *ud, int status, const char *value, size_t len) {
  lln_run *r = ud;
  LLN_JSON_SCOPE(r->arena);
  r->tickets.store_op = NULL;
  if (r->finished)
    return;
  struct lln__cache_run *c = r->cache;
  if (status == LLN_STORE_OK && lln__cache_restore(r, value, len) == 0) {
    decide(r, "hit");
    lln_metric_add(&LLN_M_CACHE_SERVED, NO_LABELS, (double)len);
    LLN_DEBUG("request %s: response cache hit (route %s)", r->request_id, r->route.data);
    lln__run_succeed(r);
    return;
  }
  if (status == LLN_STORE_OK)
    LLN_WARN("request %s: a response cache entry did not parse; the request runs as a miss", r->request_id);
  else if (status == LLN_STORE_EUNAVAIL)
    LLN_DEBUG("request %s: the response cache's store is unavailable; the request runs as a miss",
              r->request_id);
  else if (status != LLN_STORE_ENOTFOUND)
    LLN_WARN("request %s: the response cache could not be read (store error %d); the request runs as a "
             "miss; check server.store",
             r->request_id, status);
  decide(r, "miss");
  c->go(r, c->start);
}

void lln__cache_lookup(lln_run *r, const lln_run_params *p, const lln_node *start,
                       void (*go)(lln_run *r, const lln_node *n)) {
  if (!p->cache || !r->cfg->response_cache.enabled || p->route_only || p->stateless) {
    go(r, start);
    return;
  }
  struct lln__cache_run *c = lln_arena_alloc(r->arena, sizeof *c);
  r->cache = c;
  c->handle = p->cache;
  lln_response_cache_retain(c->handle);
  c->report = p->cache_status;
  c->start = start;
  c->go = go;
  c->started_ns = uv_hrtime();
  const char *cc = p->header ? p->header(p->header_ctx, "cache-control") : NULL;
  c->no_store = lln__cache_control_has(cc, "no-store");
  char hex[LLN_SHA256_HEX_SIZE];
  lln_cache_key(r->request, start->name, r->header_vars, r->n_header_vars, hex);
  snprintf(c->key, sizeof c->key, LLN_CACHE_KEY_PREFIX "%s", hex);
  if (c->no_store || lln__cache_control_has(cc, "no-cache")) {
    decide(r, "bypass");
    go(r, start);
    return;
  }
  lln_store_op *op = lln_store_get_recent(lln_response_cache_store(c->handle), c->key, on_entry, r);
  if (op)
    r->tickets.store_op = op;
}

const char *lln__cache_status(const lln_run *r) { return r->cache ? r->cache->status : NULL; }

/* ---- keeping an answer ---- */

/* The temperature `n` answered at: its extra-options', else the client's. */
static int at_temperature_zero(const lln_run *r, const lln_node *n) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(n->options, "temperature");
  if (!t)
    t = cJSON_GetObjectItemCaseSensitive(r->request, "temperature");
  return cJSON_IsNumber(t) && t->valuedouble == 0;
}

/* The node whose name is the `len` bytes at `name`, or NULL. */
static const lln_node *node_named(const lln_config *cfg, const char *name, size_t len) {
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    if (strlen(cfg->nodes[i].name) == len && memcmp(cfg->nodes[i].name, name, len) == 0)
      return &cfg->nodes[i];
  }
  return NULL;
}

/* Why the answer may not be kept, or NULL when it may. */
static const char *why_not_kept(const lln_run *r) {
  const struct lln__cache_run *c = r->cache;
  if (!c || c->no_store || !c->status || strcmp(c->status, "hit") == 0 || r->routing.route_only)
    return c && c->no_store ? "the client said Cache-Control: no-store" : "";
  const cJSON *n_choices = cJSON_GetObjectItemCaseSensitive(r->request, "n");
  if (cJSON_IsNumber(n_choices) && n_choices->valuedouble != 1)
    return "the request asked for several choices (\"n\")";
  const char *route = r->route.data ? r->route.data : "";
  while (*route) {
    size_t len = strcspn(route, ">");
    const lln_node *n = node_named(r->cfg, route, len);
    if (n && n->response_cache == 0)
      return "a node on the route says \"response-cache\": false";
    if (n && (n->n_pre || n->n_post) && n->response_cache != 1)
      return "a node on the route runs hooks and does not say \"response-cache\": true";
    route += len + (route[len] == '>');
  }
  if (r->cfg->response_cache.any_temperature)
    return NULL;
  const cJSON *hop;
  cJSON_ArrayForEach(hop, r->trace) {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "role"));
    if (!role || strcmp(role, "answer") != 0 || cJSON_GetObjectItemCaseSensitive(hop, "error"))
      continue;
    const lln_node *n =
        lln_config_node(r->cfg, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "node")));
    if (!n || !at_temperature_zero(r, n))
      return "an answering node did not run at temperature 0 (set \"any-temperature\": true to keep it)";
  }
  return NULL;
}

void lln__cache_put(lln_run *r, cJSON *completion) {
  static const char *const dropped[] = {"id", "object", "created", "llmnet"};
  for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
    cJSON_DeleteItemFromObjectCaseSensitive(completion, dropped[i]);
  /* what the answer cost is not what a hit costs */
  cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(completion, "usage"), "cost");
  cJSON *entry = cJSON_CreateObject();
  cJSON_AddStringToObject(entry, "route", r->route.data ? r->route.data : "");
  cJSON_AddItemReferenceToObject(entry, "hops", r->trace);
  cJSON_AddItemToObject(entry, "completion", completion);
  lln_buf text;
  lln_buf_init(&text);
  lln_json_print(entry, &text);
  cJSON_Delete(entry);
  if (text.len > LLN_CACHE_MAX_ENTRY) {
    LLN_DEBUG("request %s: the answer is not cached: its entry is %zu bytes, more than %d", r->request_id,
              text.len, LLN_CACHE_MAX_ENTRY);
    lln_buf_free(&text);
    return;
  }
  lln_store *store = lln_response_cache_store(r->cache->handle);
  lln_store_put put = {.key = r->cache->key,
                       .value = text.data,
                       .len = text.len,
                       .ttl_ms = r->cfg->response_cache.ttl_s * 1000L};
  lln_store_put_value(store, &put, NULL, NULL);
  lln_buf_free(&text);
  if (!lln_store_shared(store))
    lln_metric_set(&LLN_M_CACHE_BYTES, NO_LABELS, (double)lln_store_memory_bytes(store));
}

/* Whether this run's answer goes into the cache; `what` names it in the
 * debug line that says why not. */
static int keepable(const lln_run *r, const char *what) {
  if (!r->cache)
    return 0;
  const char *why = why_not_kept(r);
  if (why && *why)
    LLN_DEBUG("request %s: %s is not cached: %s", r->request_id, what, why);
  return !why;
}

void lln__cache_keep(lln_run *r, const cJSON *resp) {
  if (!keepable(r, "the answer"))
    return;
  cJSON *copy = cJSON_Duplicate(resp, 1);
  if (r->have_usage)
    lln__run_usage_totals(r, copy); /* the totals over every hop, as the client gets them */
  lln__cache_put(r, copy);
}

void lln__cache_keep_stream(lln_run *r) {
  if (!keepable(r, "the streamed answer"))
    return;
  cJSON *completion = lln__cache_stream_completion(r);
  if (completion)
    lln__cache_put(r, completion);
}

void lln__cache_free(lln_run *r) {
  if (!r->cache)
    return;
  lln__cache_stream_free(r->cache->stream);
  r->cache->stream = NULL;
  lln_response_cache_release(r->cache->handle);
  r->cache->handle = NULL;
}
