/* door_run: serving one POST through a door: the body parsed into the
 * run's arena, a stored value read when the door needs one (the gateway
 * waits for it: a Redis read is asynchronous), the door's translation into
 * the chat completion request, the pipeline run, and its answer, stream
 * events and errors handed back through the door. The "chat" door's NULL
 * callbacks keep the chat path as it was: no translation, no copy. */
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/access_log.h"
#include "observe/metrics.h"
#include "pipeline/run.h"
#include "server/door_int.h"
#include "server/route_api_int.h"
#include "util/buf.h"
#include "util/json_alloc.h"
#include "util/json_check.h"
#include "util/log.h"
#include "util/openai_error.h"
#include "util/utf8.h"

typedef struct chat {
  struct chat *prev, *next; /* the gateway's open requests */
  lln_gateway *g;
  lln_generation *gen;
  lln_http_request *req;
  lln_run *run;
  const lln_door *door;
  void *state;           /* the door's, door->state_size bytes */
  lln_arena *arena;      /* until the run takes it */
  cJSON *body;           /* the client's parsed body, in `arena` */
  lln_store_op *read;    /* the door's store read in flight */
  lln_door_lookup *look; /* the keys the door asked for (doors with a lookup only) */
  size_t n_read;         /* answered so far */
  lln_buf got[LLN_DOOR_MAX_LOOKUPS];
  int got_status[LLN_DOOR_MAX_LOOKUPS];
  lln_buf out; /* a translated event or answer */
  char request_id[72];
  uint64_t started_ns;
  int finished;
  int streaming;
  int route_only;    /* POST /v1/llmnet/route: the decision, no handler called */
  const char *cache; /* the response cache's "hit", "miss" or "bypass", once the run decided */
} chat;

/* x-llmnet-cache: what the run decided, or "bypass" for a request the
 * cache never saw (refused, or ended before its lookup) when the
 * composition has a response cache; nothing when it has none. */
static void cache_header(const chat *c, lln__headers *h, const char *decided) {
  const char *v = decided ? decided : c->cache;
  if (!v && c->gen->cfg->response_cache.enabled && !c->route_only)
    v = "bypass";
  if (v && strcmp(v, "hit") == 0)
    lln__hdr_fixed(h, "x-llmnet-cache: hit");
  else if (v && strcmp(v, "miss") == 0)
    lln__hdr_fixed(h, "x-llmnet-cache: miss");
  else if (v)
    lln__hdr_fixed(h, "x-llmnet-cache: bypass");
}

/* A client's id is kept when it is short and plain, so it is safe to log
 * and to send upstream; anything else gets a fresh id. */
void lln__request_id(lln_gateway *g, const lln_http_request *req, char *out, size_t size) {
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

static const char *run_header(void *ctx, const char *name) { return lln_http_header_get(ctx, name); }

/* Bytes a streaming client's output holds (lln_http_stream_write) past
 * which the upstream is paused; it resumes under LLN_HTTP_DRAINED. */
#define STREAM_HIGH_WATER (256 * 1024)

static void stream_start(void *ud, const char *route) {
  chat *c = ud;
  lln__headers h = {0};
  lln__hdr_fixed(&h, "Cache-Control: no-cache");
  lln__hdr_fixed(&h, "X-Accel-Buffering: no");
  lln__hdr_add(&h, "x-request-id: %s", c->request_id);
  if (route)
    lln__hdr_add(&h, "x-llmnet-route: %.480s", route);
  cache_header(c, &h, NULL);
  lln__add_cors(c->g, c->req, &h);
  lln_http_stream_begin(c->req, 200, "text/event-stream", h.line);
}

static int stream_event(void *ud, const char *data, size_t len) {
  chat *c = ud;
  if (c->door->event) {
    lln_buf_reset(&c->out);
    c->door->event(c->state, data, len, &c->out);
    if (!c->out.len)
      return 0;
    return lln_http_stream_write(c->req, c->out.data, c->out.len) > STREAM_HIGH_WATER;
  }
  uv_buf_t ev[3] = {uv_buf_init("data: ", 6), uv_buf_init((char *)data, (unsigned)len),
                    uv_buf_init("\n\n", 2)};
  return lln_http_stream_writev(c->req, ev, 3) > STREAM_HIGH_WATER;
}

static void stream_comment(void *ud) {
  chat *c = ud;
  static const char keepalive[] = ": keep-alive\n\n";
  const char *text = c->door->keepalive ? c->door->keepalive : keepalive;
  lln_http_stream_write(c->req, text, strlen(text));
}

static const lln_run_stream_sink sse_sink = {stream_start, stream_event, stream_comment};

static void on_stream_drain(lln_http_request *req) {
  chat *c = req->user;
  if (c->run)
    lln_run_resume(c->run);
}

/* Requests in flight across every worker: server.max-concurrent is a
 * limit for the process. */
static atomic_long in_flight;

long lln__in_flight(void) { return atomic_load(&in_flight); }

/* Takes one of `max` in-flight slots (0: no limit). Check and increment
 * are one compare-and-swap, so workers racing for the last slot cannot
 * both get it. The slot is given back by chat_end. */
static int take_slot(long max) {
  long cur = atomic_load(&in_flight);
  do {
    if (max && cur >= max)
      return 0;
  } while (!atomic_compare_exchange_weak(&in_flight, &cur, cur + 1));
  return 1;
}

static void chat_end(chat *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    c->g->chats = c->next;
  if (c->next)
    c->next->prev = c->prev;
  atomic_fetch_sub(&in_flight, 1);
  lln__gen_release(c->gen);
  if (c->door->release)
    c->door->release(c->state);
  free(c->state);
  if (c->arena)
    lln_arena_destroy(c->arena);
  lln_buf_free(&c->out);
  for (size_t i = 0; i < LLN_DOOR_MAX_LOOKUPS; i++)
    lln_buf_free(&c->got[i]);
  free(c->look);
  free(c);
}

/* One series per entry node, status and door: the first node of the route. */
static void count_request(const chat *c, const lln_run_result *res) {
  char entry[256], status[8];
  const char *route = res->route && *res->route ? res->route : c->gen->cfg->entry->name;
  snprintf(entry, sizeof entry, "%.*s", (int)strcspn(route, ">"), route);
  snprintf(status, sizeof status, "%d", res->status);
  const char *labels[] = {entry, status, c->door->name};
  lln_metric_add(&LLN_M_REQUESTS, labels, 1);
  lln_metric_observe(&LLN_M_REQUEST_SECONDS, labels, (double)(uv_hrtime() - c->started_ns) / 1e9);
}

/* Keeps what the door asks to keep after a good answer (nobody waits). */
static void door_keep(chat *c) {
  lln_store_put put = {0};
  if (c->door->keep && c->g->store && c->door->keep(c->state, &put) == 1)
    lln_store_put_value(c->g->store, &put, NULL, NULL);
}

/* An error answer in the door's shape. */
static void respond_error(chat *c, const char *const *headers, const lln_openai_error *e) {
  if (!c->door->error) {
    lln_http_respond_openai_error(c->req, headers, e);
    return;
  }
  lln_buf_reset(&c->out);
  c->door->error(c->state, e, &c->out);
  lln_http_respond_error_body(c->req, e->status, headers, c->out.data, c->out.len);
}

void lln__door_respond_error(lln_http_request *req, const lln_door *door, const char *const *headers,
                             int status, const char *message) {
  lln_openai_error e = {.status = status, .message = message};
  if (!door || !door->error) {
    lln_http_respond_openai_error(req, headers, &e);
    return;
  }
  lln_buf b;
  lln_buf_init(&b);
  door->error(NULL, &e, &b);
  lln_http_respond_error_body(req, status, headers, b.data, b.len);
  lln_buf_free(&b);
}

static void on_run_done(void *ud, const lln_run_result *res) {
  chat *c = ud;
  if (!c->route_only)
    count_request(c, res);
  lln_access a = {.request_id = c->request_id,
                  .door = c->door->name,
                  .status = res->status,
                  .latency_ms = (double)(uv_hrtime() - c->started_ns) / 1e6,
                  .route = res->route,
                  .hops = res->hops,
                  .tokens = res->tokens,
                  .cost_usd = res->cost_usd,
                  .cost_known = res->cost_known,
                  .streamed = res->streamed,
                  .error = res->error,
                  .input = res->input};
  lln_access_log(&a);
  lln__headers h = {0};
  lln__hdr_add(&h, "x-request-id: %s", c->request_id);
  lln__hdr_add(&h, "x-llmnet-route: %.480s", res->route ? res->route : "");
  if (res->retry_after)
    lln__hdr_add(&h, "Retry-After: %.40s", res->retry_after);
  if (res->status != 200 && !res->streamed)
    lln__hdr_fixed(&h, res->should_retry ? "x-should-retry: true" : "x-should-retry: false");
  cache_header(c, &h, res->cache);
  lln__add_cors(c->g, c->req, &h);
  if (c->route_only) {
    lln__route_api_respond(c->req, h.line, res, (double)(uv_hrtime() - c->started_ns) / 1e6);
  } else if (res->streamed) {
    if (res->status == 200)
      door_keep(c);
    lln_http_stream_end(c->req);
  } else if (res->status == 200) {
    if (c->door->answer) {
      lln_buf_reset(&c->out);
      c->door->answer(c->state, res->json, &c->out);
      door_keep(c);
      lln_http_respond(c->req, 200, "application/json", h.line, c->out.data, c->out.len);
    } else {
      lln_http_respond(c->req, 200, "application/json", h.line, res->body, res->body_len);
    }
  } else {
    lln_openai_error plain = {.status = res->status, .message = res->error ? res->error : ""};
    respond_error(c, h.line, res->error_body ? res->error_body : &plain);
  }
  c->req = NULL;
  c->finished = 1;
  if (c->run) {
    lln_run_free(c->run);
    chat_end(c);
  }
}

static void on_chat_abort(lln_http_request *req) {
  chat *c = req->user;
  /* 499, as nginx logs it: the client closed the connection first */
  lln_access a = {.request_id = c->request_id,
                  .door = c->door->name,
                  .status = 499,
                  .latency_ms = (double)(uv_hrtime() - c->started_ns) / 1e6,
                  .error = "the client went away; the request was cancelled"};
  a.cost_known = lln_run_cost(c->run, &a.cost_usd); /* the calls made so far are billed */
  lln_access_log(&a);
  if (c->read) {
    lln_store_cancel(c->read);
    c->read = NULL;
  }
  if (c->run) {
    lln_run_cancel(c->run);
    lln_run_free(c->run);
  }
  chat_end(c);
}

/* The door's refusal of a request (before any run): its error shape. */
static void refuse(chat *c, const lln__headers *h, const lln_door_error *e) {
  lln_openai_error oe = {
      .status = e->status ? e->status : 400, .message = e->message, .param = e->param, .code = e->code};
  lln_access a = {.request_id = c->request_id,
                  .door = c->door->name,
                  .status = oe.status,
                  .latency_ms = (double)(uv_hrtime() - c->started_ns) / 1e6,
                  .error = e->message};
  lln_access_log(&a);
  char status[8];
  snprintf(status, sizeof status, "%d", oe.status);
  const char *labels[] = {c->gen->cfg->entry->name, status, c->door->name};
  lln_metric_add(&LLN_M_REQUESTS, labels, 1);
  respond_error(c, h->line, &oe);
}

/* The parsed body, or NULL with `msg` saying why: empty, not UTF-8,
 * control characters or NUL in strings (lln_json_check), not JSON, or
 * JSON followed by more than whitespace. */
static cJSON *parse_body(const lln_http_request *req, char *msg, size_t size) {
  size_t bad_at = 0;
  if (req->body_len == 0) {
    snprintf(msg, size, "the request body is empty; send a JSON request");
    return NULL;
  }
  if (!lln_utf8_valid(req->body, req->body_len, &bad_at)) {
    snprintf(msg, size, "the request body is not valid UTF-8 (byte %zu)", bad_at);
    return NULL;
  }
  const char *why = NULL;
  if (lln_json_check(req->body, req->body_len, &bad_at, &why) != 0) {
    snprintf(msg, size, "the request body is not valid JSON: byte %zu is %s", bad_at, why);
    return NULL;
  }
  const char *end = NULL;
  cJSON *body = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
  while (body && end < req->body + req->body_len && *end && strchr(" \t\r\n", *end))
    end++;
  if (body && end != req->body + req->body_len) {
    cJSON_Delete(body);
    body = NULL;
  }
  if (!body)
    snprintf(msg, size, "the request body is not valid JSON (near byte %zu)",
             end ? (size_t)(end - req->body) : (size_t)0);
  return body;
}

/* Translates (when the door does) and starts the run. */
static void start_run(chat *c) {
  lln_gateway *g = c->g;
  cJSON *request = c->body;
  if (c->door->to_chat) {
    lln_door_error err = {0};
    lln_door_stored stored[LLN_DOOR_MAX_LOOKUPS];
    for (size_t i = 0; i < c->n_read; i++)
      stored[i] = (lln_door_stored){.value = c->got_status[i] == LLN_STORE_OK ? c->got[i].data : NULL,
                                    .len = c->got[i].len,
                                    .status = c->got_status[i]};
    {
      LLN_JSON_SCOPE(c->arena);
      request = c->door->to_chat(c->state, c->body, stored, c->n_read, &err);
    }
    if (!request) {
      lln__headers h = {0};
      lln__hdr_add(&h, "x-request-id: %s", c->request_id);
      cache_header(c, &h, NULL);
      lln__add_cors(g, c->req, &h);
      refuse(c, &h, &err);
      chat_end(c);
      return;
    }
  }
  if (c->streaming)
    c->req->on_drain = on_stream_drain;
  lln_run_params p = {
      .cfg = c->gen->cfg,
      .upstream = g->upstream,
      .loop = g->loop,
      .arena = c->arena,
      .request = request,
      .request_id = c->request_id,
      .header = run_header,
      .header_ctx = c->req,
      .done = on_run_done,
      .stream = c->streaming ? &sse_sink : NULL,
      .models = lln_shared_config_attachment(c->gen->sc),
      .ratelimit = g->ratelimit,
      .store = g->store,
      .route_only = c->route_only,
      .cache = g->cache,
      .cache_status = &c->cache,
      .ud = c,
  };
  c->arena = NULL; /* the run's now */
  lln_run *run = lln_run_start(&p);
  if (c->finished) {
    lln_run_free(run);
    chat_end(c);
  } else {
    c->run = run;
  }
}

static void on_stored(void *ud, int status, const char *value, size_t len);

/* Reads the door's keys one after the other (each answered now, in
 * process, or later, from Redis), then starts the run. */
static void read_next(chat *c) {
  while (c->n_read < c->look->n) {
    if (!c->g->store) {
      c->got_status[c->n_read++] = LLN_STORE_EUNAVAIL;
      continue;
    }
    size_t before = c->n_read;
    lln_store_op *op = lln_store_get(c->g->store, c->look->key[before], 0, on_stored, c);
    if (op) {
      c->read = op; /* on_stored continues */
      return;
    }
    if (c->n_read == before) /* cannot happen: a NULL op has answered */
      c->got_status[c->n_read++] = LLN_STORE_EUNAVAIL;
  }
  start_run(c);
}

static void on_stored(void *ud, int status, const char *value, size_t len) {
  chat *c = ud;
  int later = c->read != NULL;
  c->read = NULL;
  size_t i = c->n_read++;
  c->got_status[i] = status;
  if (status == LLN_STORE_OK)
    lln_buf_append(&c->got[i], value, len);
  if (later)
    read_next(c);
}

static chat *chat_new(lln_gateway *g, lln_http_request *req, const lln_door *door, const char *id) {
  chat *c = calloc(1, sizeof *c);
  if (!c)
    abort();
  c->door = door;
  if (door->state_size && !(c->state = calloc(1, door->state_size)))
    abort();
  lln_buf_init(&c->out);
  c->g = g;
  c->gen = g->current;
  c->gen->refs++;
  c->started_ns = uv_hrtime();
  c->next = g->chats;
  if (g->chats)
    g->chats->prev = c;
  g->chats = c;
  c->req = req;
  snprintf(c->request_id, sizeof c->request_id, "%s", id);
  req->user = c;
  req->on_abort = on_chat_abort;
  return c;
}

/* POST through `door`, or with route_only POST /v1/llmnet/route: the same
 * chat request, run only as far as the routing decision. */
void lln__door_serve(lln_gateway *g, lln_http_request *req, lln__headers *h, const lln_door *door,
                     int route_only) {
  char id[72];
  lln__request_id(g, req, id, sizeof id);
  lln__hdr_add(h, "x-request-id: %s", id);
  const lln_server_settings *s = &g->current->cfg->server;
  if (!take_slot(s->max_concurrent)) {
    lln__hdr_fixed(h, "Retry-After: 1");
    /* llmnet's own refusal, no upstream call made: a retry may well pass */
    lln__hdr_fixed(h, "x-should-retry: true");
    if (g->current->cfg->response_cache.enabled && !route_only)
      lln__hdr_fixed(h, "x-llmnet-cache: bypass");
    lln__door_respond_error(req, door, h->line, 503,
                            "llmnet is at its limit of requests in flight (server.max-concurrent)");
    return;
  }
  chat *c = chat_new(g, req, door, id);
  c->route_only = route_only;
  /* the run's arena: the parsed body is its first tree */
  c->arena = lln_arena_create();
  lln_door_error err = {.status = 400};
  {
    LLN_JSON_SCOPE(c->arena);
    c->body = parse_body(req, err.message, sizeof err.message);
  }
  if (!c->body) {
    cache_header(c, h, NULL);
    respond_error(c, h->line, &(lln_openai_error){.status = 400, .message = err.message});
    chat_end(c);
    return;
  }
  /* a decision is one JSON object, whatever "stream" says */
  c->streaming = !route_only && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->body, "stream"));
  int need = 0;
  if (door->lookup) {
    if (!(c->look = calloc(1, sizeof *c->look)))
      abort();
    need = door->lookup(c->state, c->body, c->look, &err);
  }
  if (need < 0) {
    cache_header(c, h, NULL);
    refuse(c, h, &err);
    chat_end(c);
  } else if (need == 0) {
    start_run(c);
  } else {
    read_next(c);
  }
}

void lln__door_abort_all(lln_gateway *g, const char *message) {
  for (chat *c = g->chats, *next; c; c = next) {
    next = c->next;
    if (c->run && !c->finished)
      lln_run_abort(c->run, 503, message);
  }
}
