/* gateway: turns HTTP requests into pipeline runs and run results into
 * OpenAI-shaped responses, with the request id and route as headers. */
#include "server/door_int.h"
#include "server/gateway_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hooks/function.h"
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "observe/status_page.h"
#include "pipeline/cache.h"
#include "pipeline/run.h"
#include "server/embeddings_int.h"
#include "server/models_api_int.h"
#include "server/route_api_int.h"
#include "upstream/budget.h"
#include "upstream/quota.h"
#include "upstream/runners.h"
#include "util/buf.h"
#include "util/fmt.h"
#include "util/json_alloc.h"
#include "util/json_check.h"
#include "util/json_print.h"
#include "util/log.h"
#include "util/openai_error.h"
#include "util/utf8.h"

typedef lln__headers headers;
#define hdr_add lln__hdr_add
#define hdr_fixed lln__hdr_fixed
#define add_cors lln__add_cors

void lln__hdr_add(headers *h, const char *fmt, ...) {
  if (h->stored >= sizeof h->store / sizeof h->store[0] || h->n + 1 >= sizeof h->line / sizeof h->line[0])
    return;
  char *slot = h->store[h->stored++];
  va_list ap, copy;
  va_start(ap, fmt);
  va_copy(copy, ap);
  if (!lln_fmt_strings(slot, sizeof h->store[0], fmt, copy))
    vsnprintf(slot, sizeof h->store[0], fmt, ap);
  va_end(copy);
  va_end(ap);
  h->line[h->n++] = slot;
  h->line[h->n] = NULL;
}

void lln__hdr_fixed(headers *h, const char *line) {
  if (h->n + 1 < sizeof h->line / sizeof h->line[0]) {
    h->line[h->n++] = line;
    h->line[h->n] = NULL;
  }
}

static lln_generation *gen_new(lln_shared_config *sc) {
  lln_generation *gen = calloc(1, sizeof *gen);
  if (!gen)
    abort();
  lln_shared_config_retain(sc);
  gen->sc = sc;
  gen->cfg = lln_shared_config_get(sc);
  gen->refs = 1;
  return gen;
}

void lln__gen_release(lln_generation *gen) {
  if (--gen->refs > 0)
    return;
  lln_shared_config_release(gen->sc);
  free(gen);
}

/* CORS: an allowed Origin is echoed back (or "*" when every origin is). */
void lln__add_cors(const lln_gateway *g, const lln_http_request *req, headers *h) {
  const lln_server_settings *s = &g->current->cfg->server;
  const char *origin = lln_http_header_get(req, "origin");
  if (!s->n_cors_origins || !origin)
    return;
  for (size_t i = 0; i < s->n_cors_origins; i++) {
    int any = strcmp(s->cors_origins[i], "*") == 0;
    if (any || strcmp(s->cors_origins[i], origin) == 0) {
      hdr_add(h, "Access-Control-Allow-Origin: %.400s", any ? "*" : origin);
      hdr_fixed(h, "Vary: Origin");
      hdr_fixed(h,
                "Access-Control-Expose-Headers: x-request-id, x-llmnet-route, x-llmnet-cache, retry-after, "
                "x-should-retry");
      return;
    }
  }
}

static int path_is(const lln_http_request *req, const char *a, const char *b) {
  return strcmp(req->path, a) == 0 || (b && strcmp(req->path, b) == 0);
}

/* The {id} of /v1/models/{id} (or /models/{id}), else NULL. */
static const char *model_path_id(const char *path) {
  static const char *const prefixes[] = {"/v1/models/", "/models/"};
  for (size_t i = 0; i < 2; i++) {
    size_t n = strlen(prefixes[i]);
    if (strncmp(path, prefixes[i], n) == 0 && path[n])
      return path + n;
  }
  return NULL;
}

static const char *role_of(const lln_node *n) {
  return n->adapter == LLN_ADAPTER_OUTPUT ? "output"
         : n->adapter == LLN_ADAPTER_WS   ? "ws"
         : n->routes_only                 ? "router"
                                          : "answers";
}

/* root.cache: the response cache's figures and the composition's settings
 * (enabled false: no top-level "response-cache"). */
static void cache_json(const lln_config *cfg, cJSON *root) {
  cJSON *cache = lln_status_cache_json(root);
  const lln_cache_settings *rc = &cfg->response_cache;
  cJSON_AddBoolToObject(cache, "enabled", rc->enabled);
  if (rc->enabled) {
    cJSON_AddNumberToObject(cache, "ttl_s", (double)rc->ttl_s);
    cJSON_AddNumberToObject(cache, "max_bytes", (double)rc->max_bytes);
  }
}

/* Answers `status` with `root` printed as JSON, and frees root. */
static void respond_json(lln_http_request *req, const headers *h, int status, cJSON *root) {
  lln_buf json;
  lln_buf_init(&json);
  lln_json_print(root, &json);
  cJSON_Delete(root);
  lln_http_respond(req, status, "application/json", h->line, json.data, json.len);
  lln_buf_free(&json);
}

/* The pipeline's shape and live per-node figures, for the status page. */
static void stats(lln_gateway *g, lln_http_request *req, const headers *h) {
  const lln_config *cfg = g->current->cfg;
  cJSON *root = cJSON_CreateObject();
  cJSON *pipe = cJSON_AddObjectToObject(root, "pipeline");
  cJSON_AddStringToObject(pipe, "entry", cfg->entry->name);
  cJSON *nodes = cJSON_AddArrayToObject(pipe, "nodes");
  cJSON *live = cJSON_AddObjectToObject(root, "nodes");
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *n = &cfg->nodes[i];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", n->name);
    cJSON_AddNumberToObject(j, "layer", n->layer);
    cJSON_AddStringToObject(j, "role", role_of(n));
    if (n->endpoint) {
      cJSON_AddStringToObject(j, "model", n->endpoint->key);
      cJSON_AddItemToObject(j, "model_ids",
                            cJSON_CreateStringArray((const char *const *)n->model_ids, (int)n->n_model_ids));
    }
    if (n->use_case)
      cJSON_AddStringToObject(j, "use_case", n->use_case);
    if (n->if_src)
      cJSON_AddStringToObject(j, "if", n->if_src);
    cJSON *targets = cJSON_AddArrayToObject(j, "targets");
    for (size_t k = 0; k < n->n_targets; k++)
      cJSON_AddItemToArray(targets, cJSON_CreateString(n->targets[k]->name));
    cJSON_AddItemToArray(nodes, j);
    lln_status_node_json(cJSON_AddObjectToObject(live, n->name), n->name);
  }
  cJSON_AddNumberToObject(root, "in_flight", (double)lln__in_flight());
  cJSON_AddNumberToObject(root, "connections", (double)lln_http_connections_total());
  lln_status_edges_json(root); /* edges by decided (observe/status_page.c) */
  lln_status_doors_json(root); /* requests per door */
  lln_status_spend_json(root); /* dollars per node and model id */
  lln_budget_stats_json(cJSON_AddArrayToObject(root, "budgets"), cfg);
  cache_json(cfg, root);
  lln_runners_stats_json(root); /* local model servers (upstream/runners.c) */
  respond_json(req, h, 200, root);
}

/* A GET-only path asked with another method: 405 with "Allow: GET" and
 * `message`; returns 1 when it answered. */
static int refuse_unless_get(lln_http_request *req, headers *h, int is_get, const char *message) {
  if (is_get)
    return 0;
  hdr_fixed(h, "Allow: GET");
  lln_http_respond_error(req, 405, h->line, message);
  return 1;
}

/* The runner names lln_runners_starting may give (a bound on its answer). */
#define LLN_READY_MAX_NAMES 1024

/* Adds "runners_starting": [...] from lln_runners_starting's comma-separated
 * `names` to `root` (`names` is left as it was). */
static void add_runners_starting(cJSON *root, const char *names) {
  cJSON *list = cJSON_AddArrayToObject(root, "runners_starting");
  for (const char *p = names; *p;) {
    p += strspn(p, ",");
    size_t n = strcspn(p, ",");
    char one[LLN_READY_MAX_NAMES];
    snprintf(one, sizeof one, "%.*s", (int)n, p);
    if (n)
      cJSON_AddItemToArray(list, cJSON_CreateString(one));
    p += n;
  }
}

/* GET /health: alive (200); names the runners still starting, if any. */
static void answer_health(lln_http_request *req, const headers *h) {
  char starting[512];
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "status", "ok");
  if (lln_runners_starting(starting, sizeof starting))
    add_runners_starting(root, starting);
  respond_json(req, h, 200, root);
}

/* GET /ready: readiness, for load balancers and Kubernetes. 503 once a
 * drain is announced (SIGTERM) or while a runner is starting; 200
 * otherwise. /health stays liveness: 200 while the process serves. */
static void ready(lln_gateway *g, lln_http_request *req, const headers *h) {
  char names[LLN_READY_MAX_NAMES];
  int starting = g->unready ? 0 : lln_runners_starting(names, sizeof names);
  cJSON *root = cJSON_CreateObject();
  if (g->unready) {
    cJSON_AddStringToObject(root, "status", "draining");
    cJSON_AddStringToObject(root, "message",
                            "llmnet is shutting down (SIGTERM): it serves the requests it gets until "
                            "server.drain-delay ends, then finishes those in flight; send new ones to "
                            "another replica");
  } else if (starting > 0) {
    cJSON_AddStringToObject(root, "status", "starting");
    add_runners_starting(root, names);
    char msg[LLN_READY_MAX_NAMES + 160];
    snprintf(msg, sizeof msg, "%d runner%s not ready yet: %s; the nodes using %s wait for %s", starting,
             starting == 1 ? " is" : "s are", names, starting == 1 ? "it" : "them",
             starting == 1 ? "it" : "them");
    cJSON_AddStringToObject(root, "message", msg);
  } else {
    cJSON_AddStringToObject(root, "status", "ready");
  }
  respond_json(req, h, g->unready || starting > 0 ? 503 : 200, root);
}

/* Compares every byte so the time taken says nothing about the key. */
static int key_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = (unsigned char)(la != lb || la == 0); /* an empty token never matches */
  for (size_t i = 0; i < la; i++)
    diff |= (unsigned char)a[i] ^ (unsigned char)(lb ? b[i % lb] : 0);
  return diff == 0;
}

/* The key comes as Authorization: Bearer KEY (OpenAI's clients) or as
 * x-api-key: KEY (Anthropic's). */
static int authorized(const lln_gateway *g, const lln_http_request *req) {
  const lln_server_settings *s = &g->current->cfg->server;
  if (s->n_api_keys == 0)
    return 1;
  const char *auth = lln_http_header_get(req, "authorization");
  const char *key =
      auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : lln_http_header_get(req, "x-api-key");
  if (!key)
    return 0;
  int ok = 0;
  for (size_t i = 0; i < s->n_api_keys; i++)
    ok |= key_equal(key, s->api_keys[i]);
  return ok;
}

/* The paths behind server.api-keys (CORS preflights, /, /health, /ready
 * and unknown paths are answered without a key). */
static int needs_key(const lln_http_request *req) {
  if (strcmp(req->method, "OPTIONS") == 0)
    return 0;
  return lln__door_for(req->path) || path_is(req, LLN_EMBEDDINGS_PATH, "/embeddings") ||
         path_is(req, "/v1/models", "/models") || model_path_id(req->path) ||
         path_is(req, "/metrics", NULL) || path_is(req, "/v1/llmnet/stats", NULL) ||
         path_is(req, LLN_ROUTE_API_PATH, NULL);
}

/* Runs when the headers are complete: a request without a valid key is
 * answered 401 before its body is read (handle() refuses it). */
static int admit(void *ctx, const lln_http_request *req) { return !needs_key(req) || authorized(ctx, req); }

/* POST /v1/embeddings (embeddings.c): no pipeline, no routing. */
static void embeddings(lln_gateway *g, lln_http_request *req, headers *h, int is_post) {
  if (!is_post) {
    hdr_fixed(h, "Allow: POST");
    lln_http_respond_error(req, 405, h->line, "use POST for " LLN_EMBEDDINGS_PATH);
    return;
  }
  char id[72];
  lln__request_id(g, req, id, sizeof id);
  lln_embed_env env = {g->loop, g->upstream, g->ratelimit, g->current->sc, id};
  lln__embeddings(&env, req, h->line);
}

static void handle(void *ctx, lln_http_request *req) {
  lln_gateway *g = ctx;
  headers h = {0};
  add_cors(g, req, &h);
  /* HEAD is GET without the body (lln_http_respond leaves it out) */
  int is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
  int is_post = strcmp(req->method, "POST") == 0;
  int is_options = strcmp(req->method, "OPTIONS") == 0;
  int root = path_is(req, "/", NULL);
  int health = path_is(req, "/health", NULL);
  int readiness = path_is(req, "/ready", NULL);
  int metrics = path_is(req, "/metrics", NULL);
  int stats_json = path_is(req, "/v1/llmnet/stats", NULL);
  const lln_door *door = lln__door_for(req->path);
  int chat = door != NULL;
  int route = path_is(req, LLN_ROUTE_API_PATH, NULL);
  int list = path_is(req, "/v1/models", "/models");
  int embed = path_is(req, LLN_EMBEDDINGS_PATH, "/embeddings"); /* no pipeline: not a door */
  const char *model_id = model_path_id(req->path);
  if (!root && !health && !readiness && !chat && !route && !list && !model_id && !metrics && !stats_json &&
      !embed) {
    char msg[600], doors[200];
    lln__door_paths(doors, sizeof doors);
    snprintf(msg, sizeof msg,
             "unknown path %.200s; llmnet serves %sPOST " LLN_ROUTE_API_PATH ", POST " LLN_EMBEDDINGS_PATH
             ", GET /v1/models, GET /v1/models/{id}, GET /v1/llmnet/stats, GET /metrics, GET /health, "
             "GET /ready and GET / (the status page)",
             req->path, doors);
    lln_http_respond_error(req, 404, h.line, msg);
    return;
  }
  if (is_options) {
    /* a CORS preflight: what browsers may send here */
    hdr_fixed(&h, chat || route || embed ? "Access-Control-Allow-Methods: POST, OPTIONS"
                                         : "Access-Control-Allow-Methods: GET, OPTIONS");
    const char *asked = lln_http_header_get(req, "access-control-request-headers");
    hdr_add(&h, "Access-Control-Allow-Headers: %.400s", asked ? asked : "authorization, content-type");
    hdr_fixed(&h, "Access-Control-Max-Age: 600");
    lln_http_respond(req, 204, NULL, h.line, "", 0);
    return;
  }
  if (root) {
    if (!refuse_unless_get(req, &h, is_get, "use GET for /")) {
      size_t len;
      const char *page = lln_status_page(&len);
      lln_http_respond(req, 200, "text/html; charset=utf-8", h.line, page, len);
    }
    return;
  }
  if (health) {
    if (!refuse_unless_get(req, &h, is_get, "use GET for /health"))
      answer_health(req, &h);
    return;
  }
  if (readiness) {
    if (!refuse_unless_get(req, &h, is_get, "use GET for /ready"))
      ready(g, req, &h);
    return;
  }
  if (!authorized(g, req)) {
    hdr_fixed(&h, "WWW-Authenticate: Bearer");
    lln__door_respond_error(
        req, door, h.line, 401,
        "missing or unknown API key; send Authorization: Bearer <key> (or x-api-key: <key>)");
    return;
  }
  if ((metrics || stats_json) && refuse_unless_get(req, &h, is_get, "use GET here"))
    return;
  if (stats_json) {
    stats(g, req, &h);
    return;
  }
  if (metrics) {
    /* gauges are read from the process-wide counters when scraped */
    lln_metric_set(&LLN_M_IN_FLIGHT, NULL, (double)lln__in_flight());
    lln_metric_set(&LLN_M_CONNECTIONS, NULL, (double)lln_http_connections_total());
    lln_buf b;
    lln_buf_init(&b);
    lln_metrics_render(&b);
    lln_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", h.line, b.data, b.len);
    lln_buf_free(&b);
    return;
  }
  if (embed) {
    embeddings(g, req, &h, is_post);
    return;
  }
  if ((chat || route) && !is_post) {
    hdr_fixed(&h, "Allow: POST");
    char msg[300];
    snprintf(msg, sizeof msg, "use POST for %.200s%s", req->path,
             chat ? "" : " with a chat completion request body");
    lln__door_respond_error(req, door, h.line, 405, msg);
  } else if ((list || model_id) && !is_get) {
    hdr_fixed(&h, "Allow: GET");
    lln_http_respond_error(req, 405, h.line, "use GET for /v1/models");
  } else if (chat || route) {
    lln__door_serve(g, req, &h, route ? &lln_door_chat : door, route);
  } else if (model_id) {
    lln__models_one(g->current->cfg, req, h.line, model_id);
  } else {
    lln__models_list(g->current->cfg, req, h.line);
  }
}

/* The store and the rate limiter counting in it: the shared ones given, or
 * this loop's own (a Redis store is a connection per worker loop). */
static int start_store(lln_gateway *g, const lln_gateway_options *o, char *err, size_t err_size) {
  g->store = o->store;
  g->ratelimit = o->ratelimit;
  if (!g->store) {
    char store_err[200];
    const lln_server_settings *s = &g->current->cfg->server;
    if (lln_store_create_bounded(&g->own_store, o->loop, s->store, s->store_max_bytes, store_err,
                                 sizeof store_err) != 0) {
      snprintf(err, err_size, "server.store: %s", store_err);
      return -1;
    }
    g->store = g->own_store;
  }
  if (!g->ratelimit) {
    if (lln_ratelimit_create(&g->own_ratelimit, g->store) != 0) {
      snprintf(err, err_size, "out of memory");
      lln_store_close(g->own_store);
      g->own_store = NULL;
      return -1;
    }
    g->ratelimit = g->own_ratelimit;
  }
  return 0;
}

/* The response cache: the workers' shared one, or this gateway's own (in
 * its Redis store, or in process). */
static int start_cache(lln_gateway *g, const lln_gateway_options *o) {
  if (o->cache) {
    lln_response_cache_retain(o->cache);
    g->cache = o->cache;
  } else if (lln_store_shared(g->store)) {
    g->cache = lln_response_cache_new_shared(g->store);
  } else {
    g->cache = lln_response_cache_new_memory(g->current->cfg->response_cache.max_bytes);
  }
  return g->cache ? 0 : -1;
}

void lln_gateway_set_cache(lln_gateway *g, struct lln_response_cache *c) {
  lln_response_cache_retain(c);
  lln_response_cache_release(g->cache);
  g->cache = c;
}

static void close_store(lln_gateway *g) {
  lln_response_cache_release(g->cache);
  g->cache = NULL;
  lln_ratelimit_close(g->own_ratelimit);
  lln_store_close(g->own_store);
  g->own_ratelimit = NULL;
  g->own_store = NULL;
}

int lln_gateway_start(lln_gateway *g, const lln_gateway_options *o, char *err, size_t err_size) {
  memset(g, 0, sizeof *g);
  g->loop = o->loop;
  g->id_state = (uint64_t)uv_hrtime() ^ ((uint64_t)(uintptr_t)g << 16) ^ (uint64_t)time(NULL);
  if (!g->id_state)
    g->id_state = 0x9E3779B97F4A7C15ULL;
  g->current = gen_new(o->config);
  const lln_server_settings *s = &g->current->cfg->server;
  if (start_store(g, o, err, err_size) != 0) {
    lln__gen_release(g->current);
    return -1;
  }
  if (start_cache(g, o) != 0) {
    snprintf(err, err_size, "response-cache: out of memory");
    close_store(g);
    lln__gen_release(g->current);
    return -1;
  }
  if (lln_upstream_init(&g->upstream, o->loop) != 0) {
    snprintf(err, err_size, "cannot start the upstream client");
    close_store(g);
    lln__gen_release(g->current);
    return -1;
  }
  lln_http_limits limits;
  lln_http_limits_default(&limits);
  limits.max_body_bytes = s->max_body_bytes;
  limits.max_connections = (unsigned)s->max_connections;
  limits.write_timeout_ms = (unsigned)s->write_timeout_ms;
  limits.share = o->share ? o->share->http : NULL;
  int rc = lln_http_server_start(&g->http, o->loop, o->addr, o->port, &limits, handle, g, err, err_size);
  if (rc != 0) {
    lln_upstream_close(g->upstream);
    close_store(g);
    lln__gen_release(g->current);
    return rc;
  }
  lln_http_server_set_admit(g->http, admit);
  g->syncs_quota = !o->share;
  if (g->syncs_quota)
    g->quota = lln_quota_start(g->loop, g->upstream, g->ratelimit, g->current->cfg);
  return 0;
}

int lln_gateway_port(const lln_gateway *g) { return lln_http_server_port(g->http); }

void lln_gateway_reload(lln_gateway *g, lln_shared_config *sc) {
  lln_generation *old = g->current;
  g->current = gen_new(sc);
  lln__gen_release(old);
  if (g->syncs_quota)
    g->quota = lln_quota_reload(g->quota, g->loop, g->upstream, g->ratelimit, g->current->cfg);
}

void lln_gateway_unready(lln_gateway *g) {
  g->unready = 1;
  lln_http_server_close_each(g->http);
}

void lln_gateway_drain(lln_gateway *g, void (*done)(void *ud), void *ud) {
  lln_http_server_drain(g->http, done, ud);
}

void lln_gateway_close(lln_gateway *g) {
  /* shutdown-grace ran out: every request still running ends with an
   * error (an error event when it streams) before its connection closes */
  lln__door_abort_all(g, "llmnet is shutting down and server.shutdown-grace ran out before this request "
                         "finished; send it again");
  lln_http_server_close(g->http);
  /* detached function calls (observe hooks, sinks) still running end now:
   * shell process groups are killed, REST and websocket calls stopped and
   * their owners told, before the upstream client they use goes away */
  lln_fn_loop_close(g->loop);
  lln_quota_close(g->quota);
  g->quota = NULL;
  lln_upstream_close(g->upstream);
  close_store(g); /* after the runs: the rate limiter, then the store */
  lln__gen_release(g->current);
  g->current = NULL;
}
