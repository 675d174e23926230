/* embeddings: POST /v1/embeddings (embeddings_int.h). Reads and checks the
 * request, finds the model it names, forwards it with the model id the
 * upstream knows, retries what is worth retrying, and passes the answer
 * through with "model" set to what the client asked. */
#include "server/embeddings_int.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "upstream/call_headers.h"
#include "upstream/model_state.h"
#include "upstream/retry.h"
#include "upstream/runners.h"
#include "util/buf.h"
#include "util/json_alloc.h"
#include "util/json_print.h"
#include "util/log.h"
#include "util/utf8.h"
#include "util/xalloc.h"

/* llmnet's own backoff between retries (as for chat calls). */
#define EMBED_RETRY_BASE_MS 250
#define EMBED_RETRY_CAP_MS 8000
/* Bytes of the model list a 404 names at most. */
#define EMBED_LIST_MAX 1500
/* Response header lines the gateway may hand over (CORS), and ours. */
#define EMBED_MAX_HEADERS 12

typedef struct embed {
  lln_http_request *req; /* NULL once answered or gone */
  lln_shared_config *sc; /* retained */
  uv_loop_t *loop;
  lln_upstream *upstream;
  lln_ratelimit *ratelimit;
  const lln_model *ep;
  const lln_node *node; /* when the request named a node */
  lln_breaker *breaker; /* the node's, or NULL */
  int probe;            /* holds the breaker's probe ticket */
  char label[256];      /* the node name or the models key: metrics and the log */
  char *asked;          /* the client's model */
  char *model_id;       /* what the upstream is sent */
  char *body;           /* the request to send */
  size_t body_len;
  char **up_headers;
  char *cors[EMBED_MAX_HEADERS];
  lln_upstream_call *call;
  lln_ratelimit_take *take;
  uv_timer_t timer;
  int retries_done;
  uint64_t started_ms;
  uint64_t started_ns;
  char request_id[72];
} embed;

static void on_timer_closed(uv_handle_t *h) {
  embed *e = h->data;
  lln_shared_config_release(e->sc);
  lln_call_headers_free(e->up_headers);
  for (size_t i = 0; i < EMBED_MAX_HEADERS && e->cors[i]; i++)
    free(e->cors[i]);
  free(e->asked);
  free(e->model_id);
  free(e->body);
  free(e);
}

/* Settles every ticket (call, rate-limit answer, probe, timer) and frees. */
static void embed_free(embed *e) {
  if (e->call)
    lln_upstream_cancel(e->call);
  if (e->take)
    lln_ratelimit_cancel(e->take);
  if (e->probe)
    lln_breaker_release(e->breaker);
  if (e->req) {
    e->req->on_abort = NULL;
    e->req->user = NULL;
  }
  uv_timer_stop(&e->timer);
  uv_close((uv_handle_t *)&e->timer, on_timer_closed);
}

/* ---- answering ---- */

typedef struct reply_headers {
  const char *line[EMBED_MAX_HEADERS + 5];
  char store[3][160];
  size_t n;
} reply_headers;

static void reply_headers_init(reply_headers *h, const embed *e, const char *retry_after, int status,
                               int should_retry) {
  h->n = 0;
  snprintf(h->store[0], sizeof h->store[0], "x-request-id: %s", e->request_id);
  h->line[h->n++] = h->store[0];
  if (status != 200) {
    h->line[h->n++] = should_retry ? "x-should-retry: true" : "x-should-retry: false";
    if (retry_after) {
      snprintf(h->store[1], sizeof h->store[1], "Retry-After: %.40s", retry_after);
      h->line[h->n++] = h->store[1];
    }
  }
  for (size_t i = 0; i < EMBED_MAX_HEADERS && e->cors[i]; i++)
    h->line[h->n++] = e->cors[i];
  h->line[h->n] = NULL;
}

/* The access log line and llmnet_requests_total (door "embeddings"). */
static void log_access(const embed *e, int status, long tokens, const lln_cost *cost, const char *error) {
  char code[8];
  snprintf(code, sizeof code, "%d", status);
  const char *labels[] = {e->label[0] ? e->label : "-", code, "embeddings"};
  if (status != 499)
    lln_metric_add(&LLN_M_REQUESTS, labels, 1);
  lln_access a = {.request_id = e->request_id,
                  .door = "embeddings",
                  .status = status,
                  .latency_ms = (double)(uv_hrtime() - e->started_ns) / 1e6,
                  .route = e->label[0] ? e->label : NULL,
                  .tokens = tokens,
                  .cost_usd = cost ? cost->usd : 0,
                  .cost_known = cost && cost->source != LLN_COST_UNKNOWN,
                  .error = error};
  lln_access_log(&a);
}

/* An error in OpenAI's shape, with x-should-retry, logged; then freed. */
static void answer_error(embed *e, const lln_openai_error *err, int should_retry, const char *retry_after) {
  log_access(e, err->status, 0, NULL, err->message);
  reply_headers h;
  reply_headers_init(&h, e, retry_after, err->status, should_retry);
  lln_http_respond_openai_error(e->req, h.line, err);
  e->req = NULL;
  embed_free(e);
}

static void answer_plain_error(embed *e, int status, int should_retry, const char *code, const char *param,
                               const char *message) {
  lln_openai_error err = {.status = status, .message = message, .code = code, .param = param};
  answer_error(e, &err, should_retry, NULL);
}

/* ---- the upstream call ---- */

static void send_call(embed *e);

static const char *outcome_of(const lln_upstream_response *r) {
  if (r->result == LLN_UP_TIMEOUT)
    return "timeout";
  if (r->result != LLN_UP_OK)
    return "connection_error";
  if (r->status == 429)
    return "429";
  return r->status >= 500 ? "5xx" : r->status >= 400 ? "4xx" : "ok";
}

/* The upstream's error message, when its body is OpenAI's error shape. */
static void upstream_message(const lln_upstream_response *r, lln_buf *why) {
  LLN_JSON_HEAP();
  cJSON *doc = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
  const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message"));
  if (!msg)
    msg = cJSON_GetStringValue(err);
  if (msg)
    lln_buf_printf(why, ": %.*s", LLN_UPSTREAM_MESSAGE_MAX, msg);
  cJSON_Delete(doc);
}

/* A failed call, retries spent or not worth one: the client's error, with
 * x-should-retry: false (docs/OPERATIONS.md "x-should-retry": llmnet made
 * the retries worth making; a client retrying too would multiply them). */
static void answer_failure(embed *e, const lln_upstream_response *r, int retryable) {
  lln_buf why;
  lln_buf_init(&why);
  lln_buf_printf(&why, "%s \"%s\" (model \"%s\" at %s): ", e->node ? "node" : "embeddings model", e->label,
                 e->model_id, e->ep->key);
  int status;
  if (r->result == LLN_UP_TIMEOUT) {
    status = 504;
    lln_buf_printf(&why, "the upstream did not answer within %.3g s (the model's \"timeout\")",
                   (double)e->ep->timeout_ms / 1000.0);
  } else if (r->result != LLN_UP_OK) {
    status = 502;
    lln_buf_printf(&why, "cannot reach the upstream: %s", r->error ? r->error : "connection failed");
  } else if (r->status >= 200 && r->status <= 299) {
    status = 502;
    lln_buf_puts(&why, "the upstream answered with a body that is not an embeddings list");
  } else {
    /* the client's own mistakes (400, 404, 422) keep their status */
    status = r->status == 429 || (r->status >= 400 && r->status < 500) ? (int)r->status : 502;
    lln_buf_printf(&why, "the upstream answered HTTP %ld", r->status);
    upstream_message(r, &why);
  }
  if (retryable && e->retries_done)
    lln_buf_printf(&why, " (after %d retr%s)", e->retries_done, e->retries_done == 1 ? "y" : "ies");
  lln_openai_error err = {.status = status, .message = why.data};
  answer_error(e, &err, 0, r->retry_after);
  lln_buf_free(&why);
}

static void answer_ok(embed *e, const lln_upstream_response *r) {
  size_t len = 0;
  long tokens = 0;
  char who[400];
  snprintf(who, sizeof who, "request %s: embeddings \"%.120s\" (model \"%.160s\")", e->request_id, e->label,
           e->model_id);
  lln__embed_usage u = {.price = &e->ep->price, .who = who};
  char *json = lln__embed_answer_priced(r->body, r->body_len, e->asked, &len, &tokens, &u);
  if (!json) {
    answer_failure(e, r, 0);
    return;
  }
  const char *labels[] = {e->label, e->model_id, "in"};
  if (tokens)
    lln_metric_add(&LLN_M_TOKENS, labels, (double)tokens);
  const char *source = lln_cost_source_name(u.cost.source);
  if (source) {
    const char *cost_labels[] = {e->label, e->model_id, source};
    lln_metric_add(&LLN_M_COST, cost_labels, u.cost.usd);
  }
  log_access(e, 200, tokens, &u.cost, NULL);
  reply_headers h;
  reply_headers_init(&h, e, NULL, 200, 0);
  lln_http_respond(e->req, 200, "application/json", h.line, json, len);
  free(json);
  e->req = NULL;
  embed_free(e);
}

static void on_retry_timer(uv_timer_t *t) { send_call(t->data); }

static void on_call_done(void *ud, const lln_upstream_response *r) {
  embed *e = ud;
  e->call = NULL;
  const char *labels[] = {e->label, e->model_id, outcome_of(r)};
  lln_metric_add(&LLN_M_UPSTREAM_CALLS, labels, 1);
  int ok2xx = r->result == LLN_UP_OK && r->status >= 200 && r->status <= 299;
  int retryable = lln_retryable(r);
  if (e->breaker) {
    lln_breaker_record(e->breaker, !retryable || r->status == 429, e->probe, e->ep->breaker_failures,
                       e->ep->breaker_cooldown_ms, uv_now(e->loop));
    e->probe = 0;
  }
  if (ok2xx) {
    answer_ok(e, r);
    return;
  }
  const lln_config *cfg = lln_shared_config_get(e->sc);
  long hint = lln_retry_hint_ms(r->retry_after, r->rate_limit_reset, time(NULL));
  long delay = lln_backoff_ms(e->retries_done, EMBED_RETRY_BASE_MS, EMBED_RETRY_CAP_MS,
                              uv_hrtime() ^ (uint64_t)(uintptr_t)e);
  if (hint > delay)
    delay = hint;
  long budget = cfg->server.request_timeout_ms;
  int in_time = !budget || uv_now(e->loop) + (uint64_t)delay < e->started_ms + (uint64_t)budget;
  if (retryable && e->retries_done < e->ep->retries && in_time) {
    e->retries_done++;
    const char *rl[] = {e->label, e->model_id};
    lln_metric_add(&LLN_M_RETRIES, rl, 1);
    uv_timer_start(&e->timer, on_retry_timer, (uint64_t)delay, 0);
    return;
  }
  answer_failure(e, r, retryable);
}

/* The breaker lets the call pass (or makes it the probe), then it goes. */
static void send_now(embed *e) {
  char runner_url[128]; /* a runner's address changes at each start (upstream/runners.h) */
  if (e->ep->runner && lln_runner_url(e->ep, 1, runner_url, sizeof runner_url) != LLN_RUNNER_READY) {
    char msg[300];
    snprintf(msg, sizeof msg,
             "model \"%s\": its runner (type %s) is not ready; GET /v1/llmnet/stats says why", e->ep->key,
             e->ep->type);
    lln_openai_error err = {.status = 503, .message = msg};
    answer_error(e, &err, 0, "1");
    return;
  }
  long open_ms = 0;
  lln_breaker_verdict v =
      e->breaker ? lln_breaker_allow(e->breaker, uv_now(e->loop), &open_ms) : LLN_BREAKER_PASS;
  if (v == LLN_BREAKER_DENY) {
    char msg[600], wait[32];
    snprintf(msg, sizeof msg,
             "node \"%s\" (model \"%s\" at %s): the circuit is open after repeated failures; next try in "
             "%.1f s",
             e->label, e->model_id, e->ep->key, (double)open_ms / 1000.0);
    snprintf(wait, sizeof wait, "%ld", (open_ms + 999) / 1000);
    lln_openai_error err = {.status = 503, .message = msg};
    answer_error(e, &err, 0, wait);
    return;
  }
  e->probe = v == LLN_BREAKER_PROBE;
  lln_upstream_request up = {.url = e->ep->runner ? runner_url : e->ep->embeddings_url,
                             .headers = (const char *const *)e->up_headers,
                             .body = e->body,
                             .body_len = e->body_len,
                             .timeout_ms = e->ep->timeout_ms,
                             .connect_timeout_ms = e->ep->connect_timeout_ms,
                             .first_byte_timeout_ms = e->ep->first_byte_timeout_ms,
                             .on_done = on_call_done,
                             .ud = e};
  e->call = lln_upstream_start(e->upstream, &up);
  if (!e->call) {
    lln_upstream_response r = {.result = LLN_UP_ERROR, .error = "the upstream client refused the call"};
    on_call_done(e, &r);
  }
}

/* llmnet's rate limit for the endpoint and its budget: go, or its own 429
 * at once. */
static void on_rate_limit(void *ud, long wait_ms, const long *counts, size_t n) {
  embed *e = ud;
  e->take = NULL;
  lln_ratelimit_verdict v = lln_ratelimit_verdict_of(e->ep, wait_ms, counts, n);
  if (wait_ms == 0) {
    send_now(e);
    return;
  }
  const char *labels[] = {v.budget ? v.budget->name : e->ep->key};
  lln_metric_add(v.budget ? &LLN_M_BUDGET_REFUSED : &LLN_M_RATE_LIMIT_REFUSED, labels, 1);
  char what[300], msg[700], wait[32];
  lln_ratelimit_describe(e->ep, &v, what, sizeof what);
  snprintf(msg, sizeof msg, "%s \"%s\" (model \"%s\" at %s): %s", e->node ? "node" : "embeddings model",
           e->label, e->model_id, e->ep->key, what);
  snprintf(wait, sizeof wait, "%ld", (wait_ms + 999) / 1000);
  lln_openai_error err = {.status = 429, .message = msg, .code = "rate_limit_exceeded"};
  /* before any upstream call a retry may pass, if the limit frees soon;
   * after one, llmnet retried already */
  answer_error(e, &err, e->retries_done == 0 && wait_ms <= LLN_RATELIMIT_CLIENT_RETRY_MAX_MS, wait);
}

static void send_call(embed *e) {
  if ((e->ep->rpm || e->ep->rpd || e->ep->budget) && e->ratelimit) {
    /* answered at once (memory store) or later (Redis) */
    e->take = lln_ratelimit_acquire_entry(e->ratelimit, e->ep, on_rate_limit, e);
    return;
  }
  send_now(e);
}

static void on_abort(lln_http_request *req) {
  embed *e = req->user;
  e->req = NULL;
  log_access(e, 499, 0, NULL, "the client went away; the request was cancelled");
  embed_free(e);
}

/* ---- the request ---- */

/* One input: a string or a non-empty array of token numbers. */
static int input_ok(const cJSON *in) {
  if (cJSON_IsString(in))
    return 1;
  if (!cJSON_IsArray(in) || !in->child)
    return 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, in) if (!cJSON_IsNumber(t)) return 0;
  return 1;
}

/* NULL when the request is usable, else the 400's message; *param names the field. */
static const char *check_request(const cJSON *body, const char **param) {
  *param = "input";
  if (!cJSON_IsObject(body))
    return "the request body must be a JSON object with \"model\" and \"input\"";
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
  if (!cJSON_IsString(model) || !*model->valuestring) {
    *param = "model";
    return "\"model\" is required: a node name, a models entry with \"embeddings\": true, or any name for "
           "the "
           "default embeddings model";
  }
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
  const char *shape =
      "\"input\" must be a string, an array of strings, an array of token numbers or an array "
      "of token arrays";
  if (!input)
    return "\"input\" is required";
  if (!input_ok(input)) {
    if (!cJSON_IsArray(input) || !input->child)
      return shape;
    const cJSON *in;
    cJSON_ArrayForEach(in, input) if (!input_ok(in)) return shape;
  }
  if (cJSON_IsArray(input) && !cJSON_IsNumber(input->child) &&
      cJSON_GetArraySize(input) > LLN_EMBED_MAX_INPUTS)
    return "\"input\" has more than 2048 entries; send them in several requests";
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(body, "encoding_format");
  if (fmt && !cJSON_IsNull(fmt) &&
      (!cJSON_IsString(fmt) || (strcmp(fmt->valuestring, "float") && strcmp(fmt->valuestring, "base64")))) {
    *param = "encoding_format";
    return "\"encoding_format\" must be \"float\" or \"base64\"";
  }
  const cJSON *dims = cJSON_GetObjectItemCaseSensitive(body, "dimensions");
  if (dims && !cJSON_IsNull(dims) && (!cJSON_IsNumber(dims) || dims->valuedouble < 1)) {
    *param = "dimensions";
    return "\"dimensions\" must be a positive whole number";
  }
  return NULL;
}

/* What embeddings a composition serves, for a 404. */
static void list_available(const lln_config *cfg, lln_buf *b) {
  const char *sep = "";
  lln_buf_puts(b, "; POST /v1/embeddings takes a node name (");
  for (size_t i = 0; i < cfg->n_nodes && b->len < EMBED_LIST_MAX; i++) {
    if (cfg->nodes[i].adapter == LLN_ADAPTER_OPENAI && cfg->nodes[i].endpoint) {
      lln_buf_printf(b, "%s%s", sep, cfg->nodes[i].name);
      sep = ", ";
    }
  }
  lln_buf_puts(b, *sep ? ") or a models entry with \"embeddings\": true ("
                       : "none) or a models entry with "
                         "\"embeddings\": true (");
  sep = "";
  for (size_t i = 0; i < cfg->n_models && b->len < EMBED_LIST_MAX; i++) {
    if (cfg->models[i].embeddings) {
      lln_buf_printf(b, "%s%s", sep, cfg->models[i].key);
      sep = ", ";
    }
  }
  lln_buf_puts(b, *sep ? "); no models entry has \"embeddings\": true, \"default\": true to take other names"
                       : "none); add \"embeddings\": true (and \"default\": true) to a models entry");
}

/* Finds what the request's model names; 0, or -1 after answering 404. */
static int resolve(embed *e, const lln_config *cfg) {
  const lln_node *n = lln_config_node(cfg, e->asked);
  if (n && n->adapter == LLN_ADAPTER_OPENAI && n->endpoint && n->endpoint->embeddings_url) {
    e->node = n;
    e->ep = n->endpoint;
    e->model_id = lln_xstrdup(n->model_ids[0]);
    void *table = lln_shared_config_attachment(e->sc);
    e->breaker = table ? lln_model_table_breaker(table, n, 0) : NULL;
  } else {
    e->ep = lln_config_embeddings_model(cfg, e->asked);
    if (!e->ep)
      e->ep = lln_config_embeddings_default(cfg);
    if (e->ep)
      e->model_id = lln_xstrdup(e->ep->model_id ? e->ep->model_id : e->asked);
  }
  if (!e->ep || !e->ep->embeddings_url) {
    lln_buf msg;
    lln_buf_init(&msg);
    lln_buf_printf(&msg, "The model '%.200s' is not served for embeddings here", e->asked);
    list_available(cfg, &msg);
    answer_plain_error(e, 404, 0, "model_not_found", "model", msg.data);
    lln_buf_free(&msg);
    return -1;
  }
  snprintf(e->label, sizeof e->label, "%s", e->node ? e->node->name : e->ep->key);
  return 0;
}

static embed *embed_new(const lln_embed_env *env, lln_http_request *req, const char *const *headers) {
  embed *e = calloc(1, sizeof *e);
  if (!e)
    abort();
  e->req = req;
  e->loop = env->loop;
  e->upstream = env->upstream;
  e->ratelimit = env->ratelimit;
  e->sc = env->sc;
  lln_shared_config_retain(e->sc);
  e->started_ns = uv_hrtime();
  e->started_ms = uv_now(env->loop);
  snprintf(e->request_id, sizeof e->request_id, "%s", env->request_id);
  for (size_t i = 0; headers && headers[i] && i + 1 < EMBED_MAX_HEADERS; i++)
    e->cors[i] = lln_xstrdup(headers[i]);
  uv_timer_init(env->loop, &e->timer);
  e->timer.data = e;
  req->user = e;
  req->on_abort = on_abort;
  return e;
}

/* The parsed body, or NULL with *why set. */
static cJSON *parse(const lln_http_request *req, char *why, size_t why_size) {
  size_t bad_at = 0;
  if (req->body_len == 0) {
    snprintf(why, why_size, "the request body is empty; send {\"model\": ..., \"input\": ...}");
    return NULL;
  }
  if (!lln_utf8_valid(req->body, req->body_len, &bad_at)) {
    snprintf(why, why_size, "the request body is not valid UTF-8 (byte %zu)", bad_at);
    return NULL;
  }
  const char *end = NULL;
  cJSON *body = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
  while (body && end < req->body + req->body_len && strchr(" \t\r\n", *end))
    end++;
  if (!body || end != req->body + req->body_len) {
    cJSON_Delete(body);
    snprintf(why, why_size, "the request body is not valid JSON");
    return NULL;
  }
  return body;
}

void lln__embeddings(const lln_embed_env *env, lln_http_request *req, const char *const *headers) {
  LLN_JSON_HEAP();
  embed *e = embed_new(env, req, headers);
  char why[200];
  const char *param = NULL;
  cJSON *body = parse(req, why, sizeof why);
  const char *bad = body ? check_request(body, &param) : why;
  if (bad) {
    answer_plain_error(e, 400, 0, NULL, param, bad);
    cJSON_Delete(body);
    return;
  }
  e->asked = lln_xstrdup(cJSON_GetObjectItemCaseSensitive(body, "model")->valuestring);
  if (resolve(e, lln_shared_config_get(e->sc)) != 0) {
    cJSON_Delete(body);
    return;
  }
  cJSON_ReplaceItemInObjectCaseSensitive(body, "model", cJSON_CreateString(e->model_id));
  lln_buf out;
  lln_buf_init(&out);
  lln_json_print(body, &out);
  cJSON_Delete(body);
  e->body_len = out.len;
  e->body = lln_buf_steal(&out);
  e->up_headers = lln_call_headers(e->ep, e->request_id, NULL);
  send_call(e);
}
