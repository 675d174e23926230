/* gateway: turns HTTP requests into pipeline runs and run results into
 * OpenAI-shaped responses, with the request id and route as headers. */
#include "server/gateway.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/run.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/utf8.h"

typedef struct chat {
  lln_gateway *g;
  lln_http_request *req;
  lln_run *run;
  char request_id[72];
  int finished;
} chat;

static int path_is(const lln_http_request *req, const char *a, const char *b) {
  return strcmp(req->path, a) == 0 || (b && strcmp(req->path, b) == 0);
}

/* A client's id is kept when it is short and plain, so it is safe to log
 * and to send upstream; anything else gets a fresh id. */
static void request_id(lln_gateway *g, const lln_http_request *req, char *out, size_t size) {
  const char *given = lln_http_header_get(req, "x-request-id");
  if (given) {
    size_t n = strlen(given);
    int ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
      ok = isalnum((unsigned char)given[i]) || strchr("-_.:", given[i]);
    if (ok) {
      snprintf(out, size, "%s", given);
      return;
    }
  }
  /* xorshift64*: unique enough for correlation, no syscall per request */
  uint64_t x = g->id_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  g->id_state = x;
  snprintf(out, size, "%016llx", (unsigned long long)(x * 0x2545F4914F6CDD1DULL));
}

/* 1 when a JSON text escapes a NUL character (\u0000 after an even run of
 * backslashes): cJSON strings end at NUL, so such text would be cut short
 * silently instead of refused. */
static int has_escaped_nul(const char *s, size_t len) {
  for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), "\\u0000", 6)) != NULL; p += 6) {
    size_t slashes = 0;
    while (p - slashes > s && p[-(ptrdiff_t)slashes - 1] == '\\')
      slashes++;
    if (slashes % 2 == 0)
      return 1;
  }
  return 0;
}

static const char *run_header(void *ctx, const char *name) { return lln_http_header_get(ctx, name); }

/* Bytes queued for a streaming client past which the upstream is paused. */
#define STREAM_HIGH_WATER (256 * 1024)

static void stream_start(void *ud, const char *route) {
  chat *c = ud;
  char id_header[96], route_header[512];
  snprintf(id_header, sizeof id_header, "x-request-id: %s", c->request_id);
  snprintf(route_header, sizeof route_header, "x-llmnet-route: %.480s", route ? route : "");
  const char *headers[] = {"Cache-Control: no-cache", "X-Accel-Buffering: no", id_header,
                           route ? route_header : NULL, NULL};
  lln_http_stream_begin(c->req, 200, "text/event-stream", headers);
}

static int stream_event(void *ud, const char *data, size_t len) {
  chat *c = ud;
  lln_buf ev;
  lln_buf_init(&ev);
  lln_buf_reserve(&ev, len + 8);
  lln_buf_append(&ev, "data: ", 6);
  lln_buf_append(&ev, data, len);
  lln_buf_append(&ev, "\n\n", 2);
  size_t queued = lln_http_stream_write(c->req, ev.data, ev.len);
  lln_buf_free(&ev);
  return queued > STREAM_HIGH_WATER;
}

static void stream_comment(void *ud) {
  chat *c = ud;
  static const char keepalive[] = ": keep-alive\n\n";
  lln_http_stream_write(c->req, keepalive, sizeof keepalive - 1);
}

static const lln_run_stream_sink sse_sink = {stream_start, stream_event, stream_comment};

static void on_stream_drain(lln_http_request *req) {
  chat *c = req->user;
  if (c->run)
    lln_run_resume(c->run);
}

static void on_run_done(void *ud, const lln_run_result *res) {
  chat *c = ud;
  char id_header[96], route_header[512];
  snprintf(id_header, sizeof id_header, "x-request-id: %s", c->request_id);
  snprintf(route_header, sizeof route_header, "x-llmnet-route: %.480s", res->route ? res->route : "");
  char retry[64];
  const char *headers[4] = {id_header, route_header, NULL, NULL};
  if (res->retry_after) {
    snprintf(retry, sizeof retry, "Retry-After: %.40s", res->retry_after);
    headers[2] = retry;
  }
  if (res->streamed)
    lln_http_stream_end(c->req);
  else if (res->status == 200)
    lln_http_respond(c->req, 200, "application/json", headers, res->body, res->body_len);
  else
    lln_http_respond_error(c->req, res->status, headers, res->error);
  c->req = NULL;
  c->finished = 1;
  if (c->run) {
    lln_run_free(c->run);
    free(c);
  }
}

static void on_chat_abort(lln_http_request *req) {
  chat *c = req->user;
  LLN_INFO("request %s: client went away; cancelling", c->request_id);
  lln_run_cancel(c->run);
  lln_run_free(c->run);
  free(c);
}

static void chat_completions(lln_gateway *g, lln_http_request *req) {
  char id[72];
  request_id(g, req, id, sizeof id);
  char id_header[96];
  snprintf(id_header, sizeof id_header, "x-request-id: %s", id);
  const char *headers[] = {id_header, NULL};
  size_t bad_at = 0;
  if (req->body_len == 0) {
    lln_http_respond_error(req, 400, headers, "the request body is empty; send a JSON chat completion request");
    return;
  }
  if (!lln_utf8_valid(req->body, req->body_len, &bad_at)) {
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is not valid UTF-8 (byte %zu)", bad_at);
    lln_http_respond_error(req, 400, headers, msg);
    return;
  }
  if (has_escaped_nul(req->body, req->body_len)) {
    lln_http_respond_error(req, 400, headers, "the request contains a NUL character (\\u0000) in a string; "
                                              "llmnet does not forward NUL characters");
    return;
  }
  const char *end = NULL;
  cJSON *body = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
  while (body && end < req->body + req->body_len && strchr(" \t\r\n", *end) && *end)
    end++;
  if (body && end != req->body + req->body_len) {
    cJSON_Delete(body);
    body = NULL;
  }
  if (!body) {
    char msg[160];
    size_t at = end ? (size_t)(end - req->body) : 0;
    snprintf(msg, sizeof msg, "the request body is not valid JSON (near byte %zu)", at);
    lln_http_respond_error(req, 400, headers, msg);
    return;
  }
  chat *c = calloc(1, sizeof *c);
  if (!c)
    abort();
  c->g = g;
  c->req = req;
  snprintf(c->request_id, sizeof c->request_id, "%s", id);
  req->user = c;
  req->on_abort = on_chat_abort;
  int streaming = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  if (streaming)
    req->on_drain = on_stream_drain;
  lln_run_params p = {
      .cfg = g->cfg,
      .upstream = g->upstream,
      .loop = g->loop,
      .request = body,
      .request_id = id,
      .header = run_header,
      .header_ctx = req,
      .done = on_run_done,
      .stream = streaming ? &sse_sink : NULL,
      .breakers = g->breakers,
      .ud = c,
  };
  lln_run *run = lln_run_start(&p);
  if (c->finished) {
    lln_run_free(run);
    free(c);
  } else {
    c->run = run;
  }
}

static void models(lln_gateway *g, lln_http_request *req) {
  lln_buf b;
  lln_buf_init(&b);
  long now = (long)time(NULL);
  lln_buf_printf(&b, "{\"object\":\"list\",\"data\":[{\"id\":\"llmnet\",\"object\":\"model\",\"created\":%ld,"
                     "\"owned_by\":\"llmnet\"}",
                 now);
  for (size_t i = 0; i < g->cfg->n_nodes; i++) {
    const lln_node *n = &g->cfg->nodes[i];
    if (n->adapter != LLN_ADAPTER_OPENAI)
      continue;
    lln_buf_puts(&b, ",{\"id\":");
    lln_buf_json_string(&b, n->name, strlen(n->name));
    lln_buf_printf(&b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"llmnet\"}", now);
  }
  lln_buf_puts(&b, "]}");
  lln_http_respond(req, 200, "application/json", NULL, b.data, b.len);
  lln_buf_free(&b);
}

/* Compares every byte so the time taken says nothing about the key. */
static int key_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = (unsigned char)(la != lb);
  for (size_t i = 0; i < la; i++)
    diff |= (unsigned char)a[i] ^ (unsigned char)(lb ? b[i % lb] : 0);
  return diff == 0;
}

static int authorized(const lln_gateway *g, const lln_http_request *req) {
  if (g->cfg->server.n_api_keys == 0)
    return 1;
  const char *auth = lln_http_header_get(req, "authorization");
  if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
    return 0;
  int ok = 0;
  for (size_t i = 0; i < g->cfg->server.n_api_keys; i++)
    ok |= key_equal(auth + 7, g->cfg->server.api_keys[i]);
  return ok;
}

static void handle(void *ctx, lln_http_request *req) {
  lln_gateway *g = ctx;
  int is_get = strcmp(req->method, "GET") == 0, is_post = strcmp(req->method, "POST") == 0;
  if (path_is(req, "/health", NULL)) {
    if (!is_get)
      lln_http_respond_error(req, 405, (const char *const[]){"Allow: GET", NULL}, "use GET for /health");
    else
      lln_http_respond(req, 200, "application/json", NULL, "{\"status\":\"ok\"}", 15);
    return;
  }
  int chat = path_is(req, "/v1/chat/completions", "/chat/completions");
  int list = path_is(req, "/v1/models", "/models");
  if (!chat && !list) {
    char msg[300];
    snprintf(msg, sizeof msg, "unknown path %.200s; llmnet serves POST /v1/chat/completions, GET /v1/models "
                              "and GET /health", req->path);
    lln_http_respond_error(req, 404, NULL, msg);
    return;
  }
  if (!authorized(g, req)) {
    lln_http_respond_error(req, 401, (const char *const[]){"WWW-Authenticate: Bearer", NULL},
                           "missing or unknown API key; send Authorization: Bearer <key>");
    return;
  }
  if (chat && !is_post) {
    lln_http_respond_error(req, 405, (const char *const[]){"Allow: POST", NULL},
                           "use POST for /v1/chat/completions");
  } else if (list && !is_get) {
    lln_http_respond_error(req, 405, (const char *const[]){"Allow: GET", NULL}, "use GET for /v1/models");
  } else if (chat) {
    chat_completions(g, req);
  } else {
    models(g, req);
  }
}

int lln_gateway_start(lln_gateway *g, uv_loop_t *loop, const lln_config *cfg, const char *addr, int port,
                      char *err, size_t err_size) {
  memset(g, 0, sizeof *g);
  g->cfg = cfg;
  g->loop = loop;
  g->id_state = (uint64_t)uv_hrtime() ^ ((uint64_t)(uintptr_t)g << 16) ^ (uint64_t)time(NULL);
  if (!g->id_state)
    g->id_state = 0x9E3779B97F4A7C15ULL;
  g->breakers = calloc(cfg->n_models ? cfg->n_models : 1, sizeof *g->breakers);
  if (!g->breakers)
    abort();
  if (lln_upstream_init(&g->upstream, loop) != 0) {
    free(g->breakers);
    snprintf(err, err_size, "cannot start the upstream client");
    return -1;
  }
  lln_http_limits limits;
  lln_http_limits_default(&limits);
  limits.max_body_bytes = cfg->server.max_body_bytes;
  int rc = lln_http_server_start(&g->http, loop, addr, port, &limits, handle, g, err, err_size);
  if (rc != 0) {
    lln_upstream_close(g->upstream);
    free(g->breakers);
    return rc;
  }
  return 0;
}

int lln_gateway_port(const lln_gateway *g) { return lln_http_server_port(g->http); }

void lln_gateway_close(lln_gateway *g) {
  lln_http_server_close(g->http);
  lln_upstream_close(g->upstream);
  free(g->breakers);
  g->breakers = NULL;
}
