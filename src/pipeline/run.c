/* run: the request flow of COMPOSITION.md as a small state machine driven by
 * upstream completions: enter a node, call its model when it answers, pick
 * the next node (conditions, then the router model when several remain),
 * until a node has no candidate left or an output node is reached. */
#include "pipeline/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "observe/metrics.h"
#include "pipeline/decide.h"
#include "pipeline/hooks.h"
#include "pipeline/router.h"
#include "pipeline/run_state.h"
#include "pipeline/sinks.h"
#include "pipeline/stream.h"
#include "pipeline/text.h"
#include "upstream/retry.h"
#include "util/buf.h"
#include "util/json_print.h"
#include "util/log.h"
#include "util/xalloc.h"

static void enter(lln_run *r, const lln_node *n);
static void choose_next(lln_run *r, const lln_node *from);
static void after_post_hooks(lln_run *r);

/* ---- finishing ---- */

static void free_call_headers(lln_run *r) {
  for (size_t i = 0; r->call_headers && r->call_headers[i]; i++)
    free(r->call_headers[i]);
  free(r->call_headers);
  r->call_headers = NULL;
}

static void stop_waiting(lln_run *r);

/* Stops everything a run may have pending: timers, the upstream call, a
 * rate-limit answer and its place in a model's queue. */
static void stop_work(lln_run *r) {
  if (r->timer_started) {
    uv_timer_stop(&r->deadline);
    uv_timer_stop(&r->retry_timer);
    if (r->sink)
      uv_timer_stop(&r->keepalive);
  }
  if (r->call) {
    lln_upstream_cancel(r->call);
    r->call = NULL;
  }
  if (r->rl_take) {
    lln_ratelimit_cancel(r->rl_take);
    r->rl_take = NULL;
  }
  stop_waiting(r);
  lln_hooks_cancel(r);
}

void lln_run_finish(lln_run *r, const lln_run_result *given) {
  if (r->finished)
    return;
  r->finished = 1;
  lln_run_result filled = *given;
  filled.hops = r->trace;
  filled.tokens = r->usage[2];
  filled.input = r->initial_input;
  stop_work(r);
  r->done(r->ud, &filled);
}

static void fail(lln_run *r, int status, const char *retry_after, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(lln_run *r, int status, const char *retry_after, const char *fmt, ...) {
  lln_buf msg;
  lln_buf_init(&msg);
  va_list ap;
  va_start(ap, fmt);
  lln_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  if (r->sink && lln_stream_fail(r, status, msg.data)) {
    lln_buf_free(&msg);
    return;
  }
  lln_run_result res = {.status = status,
                        .error = msg.data,
                        .retry_after = retry_after,
                        .route = r->route.data ? r->route.data : ""};
  lln_run_finish(r, &res);
  lln_buf_free(&msg);
}

void lln_run_fail(lln_run *r, int status, const char *message) { fail(r, status, NULL, "%s", message); }

static void set_number(cJSON *obj, const char *key, double v) {
  cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (old)
    cJSON_SetNumberValue(old, v);
  else
    cJSON_AddNumberToObject(obj, key, v);
}

static void set_string(cJSON *obj, const char *key, const char *v) {
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  cJSON_AddStringToObject(obj, key, v);
}

/* The client's response is the last answer's upstream response with our id,
 * usage summed over every call, and the route trace. */
static void succeed(lln_run *r) {
  if (!r->final) {
    fail(r, 500, NULL,
         "the pipeline reached \"%s\" without any model answering; give the entry node a "
         "target that calls a model",
         r->node ? r->node->name : "?");
    return;
  }
  if (r->sink) {
    lln_stream_replay(r);
    return;
  }
  cJSON *resp = lln_run_stamp(r, r->final, "chat.completion", time(NULL));
  if (r->have_usage) {
    cJSON *usage = cJSON_GetObjectItemCaseSensitive(resp, "usage");
    if (!cJSON_IsObject(usage)) {
      cJSON_DeleteItemFromObjectCaseSensitive(resp, "usage");
      usage = cJSON_AddObjectToObject(resp, "usage");
    }
    set_number(usage, "prompt_tokens", (double)r->usage[0]);
    set_number(usage, "completion_tokens", (double)r->usage[1]);
    set_number(usage, "total_tokens", (double)r->usage[2]);
  }
  cJSON_AddItemToObject(resp, "llmnet", lln_run_extension(r));
  lln_json_print(resp, &r->result_body);
  lln_sinks_fire(r, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resp, "model")), r->output);
  cJSON_Delete(resp);
  lln_run_result res = {
      .status = 200, .body = r->result_body.data, .body_len = r->result_body.len, .route = r->route.data};
  lln_run_finish(r, &res);
}

cJSON *lln_run_stamp(const lln_run *r, cJSON *upstream, const char *object, time_t created) {
  cJSON *out = cJSON_CreateObject();
  char id[160];
  snprintf(id, sizeof id, "chatcmpl-%s", r->request_id);
  cJSON_AddStringToObject(out, "id", id);
  cJSON_AddStringToObject(out, "object", object);
  cJSON_AddNumberToObject(out, "created", (double)created);
  cJSON *model = cJSON_DetachItemFromObjectCaseSensitive(upstream, "model");
  cJSON_AddItemToObject(out, "model", model ? model : cJSON_CreateString(r->node->model_ids[0]));
  while (upstream->child) {
    cJSON *item = cJSON_DetachItemViaPointer(upstream, upstream->child);
    if (strcmp(item->string, "id") == 0 || strcmp(item->string, "object") == 0 ||
        strcmp(item->string, "created") == 0 || strcmp(item->string, "llmnet") == 0)
      cJSON_Delete(item);
    else
      cJSON_AddItemToObject(out, item->string, item);
  }
  return out;
}

cJSON *lln_run_extension(const lln_run *r) {
  cJSON *ext = cJSON_CreateObject();
  cJSON_AddStringToObject(ext, "request_id", r->request_id);
  cJSON_AddStringToObject(ext, "route", r->route.data);
  /* a reference: the trace outlives every object this extension goes into */
  cJSON_AddItemReferenceToObject(ext, "hops", r->trace);
  return ext;
}

/* ---- variables ---- */

/* The variables as of now: the run's fields, lent to the shared
 * computation that `llmnet explain` uses too. */
lln_vars *lln_run_vars(lln_run *r) {
  lln_vars *v = &r->vars;
  v->initial_input = r->initial_input;
  v->input = r->input;
  v->output = r->output;
  v->request_id = r->request_id;
  v->route_decision = r->route_decision;
  v->node = r->node;
  v->hops = r->hops;
  v->headers = r->header_vars;
  v->n_headers = r->n_header_vars;
  return v;
}

/* Replaces {{NAME}} with the variable's value; unknown names stay. */
static void render_template(lln_run *r, const char *tpl, lln_buf *out) {
  if (!strstr(tpl, "{{")) {
    lln_buf_puts(out, tpl);
    return;
  }
  lln_vars_set_target(lln_run_vars(r), r->node, time(NULL));
  const char *p = tpl;
  while (*p) {
    const char *open = strstr(p, "{{");
    const char *close = open ? strstr(open + 2, "}}") : NULL;
    if (!open || !close) {
      lln_buf_puts(out, p);
      return;
    }
    lln_buf_append(out, p, (size_t)(open - p));
    const char *name = open + 2;
    while (*name == ' ')
      name++;
    size_t n = (size_t)(close - name);
    while (n && name[n - 1] == ' ')
      n--;
    char key[64];
    const char *value = NULL;
    if (n < sizeof key) {
      memcpy(key, name, n);
      key[n] = '\0';
      value = lln_vars_get(lln_run_vars(r), key);
    }
    if (value)
      lln_buf_puts(out, value);
    else
      lln_buf_append(out, open, (size_t)(close + 2 - open));
    p = close + 2;
  }
}

/* ---- upstream calls ---- */

/* An upstream's token count is a whole number in [0, 2^53) (exact as a
 * double); anything else (negative, fractional, 1e300, NaN) is ignored. */
#define LLN_MAX_TOKEN_COUNT 9007199254740992.0
static int token_count_ok(double v) { return v >= 0 && v < LLN_MAX_TOKEN_COUNT && v == (double)(long long)v; }

void lln_run_add_usage(lln_run *r, const cJSON *resp, cJSON *hop) {
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(resp, "usage");
  if (!cJSON_IsObject(usage))
    return;
  static const char *const keys[] = {"prompt_tokens", "completion_tokens", "total_tokens"};
  static const char *const direction[] = {"in", "out", NULL};
  const cJSON *node = cJSON_GetObjectItemCaseSensitive(hop, "node");
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(hop, "model");
  cJSON *hop_usage = cJSON_AddObjectToObject(hop, "usage");
  /* the client's totals are ours from here on, so an ignored count is never
   * passed through as the upstream wrote it */
  r->have_usage = 1;
  for (int i = 0; i < 3; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, keys[i]);
    if (cJSON_IsNumber(v) && !token_count_ok(v->valuedouble)) {
      LLN_DEBUG("request %s: node \"%s\" (model \"%s\"): usage.%s %g is not a token count; ignored",
                r->request_id, cJSON_GetStringValue(node), cJSON_GetStringValue(model), keys[i],
                v->valuedouble);
      continue;
    }
    if (cJSON_IsNumber(v)) {
      r->usage[i] += (long)v->valuedouble;
      cJSON_AddNumberToObject(hop_usage, keys[i], v->valuedouble);
      r->have_usage = 1;
      if (direction[i]) {
        const char *labels[] = {cJSON_GetStringValue(node), cJSON_GetStringValue(model), direction[i]};
        lln_metric_add(&LLN_M_TOKENS, labels, v->valuedouble);
      }
    }
  }
}

cJSON *lln_run_trace_hop(lln_run *r, const lln_node *node, const char *role, const char *model_id,
                         double ms) {
  cJSON *hop = cJSON_CreateObject();
  cJSON_AddStringToObject(hop, "node", node->name);
  cJSON_AddStringToObject(hop, "role", role);
  if (model_id)
    cJSON_AddStringToObject(hop, "model", model_id);
  cJSON_AddNumberToObject(hop, "latency_ms", ms);
  cJSON_AddItemToArray(r->trace, hop);
  return hop;
}

static const char *current_model_id(const lln_run *r) { return r->call_node->model_ids[r->attempt]; }

static void on_call_done(void *ud, const lln_upstream_response *resp);

static void call_failed(lln_run *r, int status, const char *why, int retryable, long hint_ms,
                        const char *retry_after);

static void on_retry_timer(uv_timer_t *t);
static void start_call(lln_run *r);

static lln_model_state *state_of(const lln_run *r) {
  return r->models ? &r->models[r->call_node->endpoint->index] : NULL;
}

static void stop_waiting(lln_run *r) {
  if (r->rl_waiting) {
    r->rl_waiting = 0;
    lln_model_state_dequeue(state_of(r));
  }
}

/* The rate limiter's answer for the call being prepared: go, wait in the
 * model's bounded queue, or fail with llmnet's own 429. */
static void on_rate_limit(void *ud, long wait_ms) {
  lln_run *r = ud;
  r->rl_take = NULL;
  const lln_model *ep = r->call_node->endpoint;
  const char *labels[] = {ep->key};
  if (wait_ms == 0) {
    r->rl_granted = 1;
    start_call(r);
    return;
  }
  lln_model_state *st = state_of(r);
  if (wait_ms <= ep->rl_max_wait_ms && uv_now(r->loop) + (uint64_t)wait_ms < r->deadline_at &&
      lln_model_state_enqueue(st, ep->rl_queue)) {
    r->rl_waiting = 1;
    lln_metric_add(&LLN_M_RATE_LIMIT_WAITS, labels, 1);
    uv_timer_start(&r->retry_timer, on_retry_timer, (uint64_t)wait_ms, 0);
    return;
  }
  lln_metric_add(&LLN_M_RATE_LIMIT_REFUSED, labels, 1);
  char why[400];
  snprintf(
      why, sizeof why,
      "node \"%s\" (model \"%s\" at %s): llmnet's rate limit for this model (rpm %d, rpd %d) is reached; "
      "a slot frees in %.1f s",
      r->call_node->name, current_model_id(r), ep->key, ep->rpm, ep->rpd, (double)wait_ms / 1000.0);
  call_failed(r, 429, why, 0, wait_ms, NULL);
}

static void start_call(lln_run *r) {
  const lln_model *ep = r->call_node->endpoint;
  lln_upstream_request req = {0};
  stop_waiting(r);
  if ((ep->rpm || ep->rpd) && r->ratelimit && r->models && !r->rl_granted) {
    /* answered at once (memory store) or later (Redis) in on_rate_limit */
    r->rl_take = lln_ratelimit_acquire(r->ratelimit, ep->key, ep->rpm, ep->rpd, on_rate_limit, r);
    return;
  }
  r->rl_granted = 0;
  lln_model_state *st = state_of(r);
  long open_ms = 0;
  if (st && !lln_breaker_allow(&st->breaker, uv_now(r->loop), &open_ms)) {
    int failures = atomic_load(&st->breaker.failures);
    char why[400];
    snprintf(why, sizeof why,
             "node \"%s\" (model \"%s\" at %s): the circuit is open after %d failures in a row; next try in "
             "%.1f s",
             r->call_node->name, current_model_id(r), ep->key, failures, (double)open_ms / 1000.0);
    call_failed(r, 503, why, 0, open_ms, NULL);
    return;
  }
  cJSON *body = r->call_json;
  set_string(body, "model", current_model_id(r));
  r->streaming_call = 0;
  /* the answer of a node that can only end the pipeline is the response:
   * when the client streams, this call streams too */
  if (r->sink && r->kind == CALL_ANSWER && lln_decide_ends_pipeline(r->call_node) &&
      !lln_hooks_transform_output(r->call_node))
    lln_stream_prepare_call(r, body, &req);
  lln_buf_reset(&r->call_body);
  lln_json_print(body, &r->call_body);

  free_call_headers(r);
  size_t nh = 0;
  while (ep->headers[nh])
    nh++;
  r->call_headers = calloc(nh + 4, sizeof(char *));
  if (!r->call_headers)
    abort();
  size_t k = 0;
  lln_buf h;
  lln_buf_init(&h);
  if (ep->api_key && *ep->api_key) {
    lln_buf_printf(&h, "Authorization: Bearer %s", ep->api_key);
    r->call_headers[k++] = lln_buf_steal(&h);
  }
  lln_buf_printf(&h, "X-Request-Id: %s", r->request_id);
  r->call_headers[k++] = lln_buf_steal(&h);
  for (size_t i = 0; i < nh; i++)
    r->call_headers[k++] = lln_xstrdup(ep->headers[i]);

  req.url = ep->chat_url;
  req.headers = (const char *const *)r->call_headers;
  req.body = r->call_body.data;
  req.body_len = r->call_body.len;
  req.timeout_ms = ep->timeout_ms;
  req.connect_timeout_ms = ep->connect_timeout_ms;
  req.first_byte_timeout_ms = ep->first_byte_timeout_ms;
  req.on_done = on_call_done;
  req.ud = r;
  LLN_DEBUG("request %s: %s node %s calls %s as %s", r->request_id,
            r->kind == CALL_ROUTE ? "routing" : "answering",
            r->kind == CALL_ROUTE ? r->route_from->name : r->call_node->name, ep->key, current_model_id(r));
  r->call = lln_upstream_start(r->up, &req);
  if (!r->call)
    fail(r, 500, NULL, "node \"%s\": could not start a call to model \"%s\"", r->call_node->name, ep->key);
}

/* Explains a failed upstream call; returns the client status it maps to. */
static int describe_failure(lln_run *r, const lln_upstream_response *resp, lln_buf *why) {
  const char *model_id = current_model_id(r);
  const lln_model *ep = r->call_node->endpoint;
  lln_buf_printf(why, "node \"%s\" (model \"%s\" at %s): ", r->call_node->name, model_id, ep->key);
  switch (resp->result) {
  case LLN_UP_TIMEOUT:
    if (resp->error && strstr(resp->error, "first-byte"))
      lln_buf_printf(why, "the upstream sent no response within its first-byte-timeout (%.3g s)",
                     (double)ep->first_byte_timeout_ms / 1000.0);
    else
      lln_buf_printf(why, "the upstream did not answer within %.3g s", (double)ep->timeout_ms / 1000.0);
    return 504;
  case LLN_UP_CONNECT:
    lln_buf_printf(why, "cannot connect to the upstream: %s",
                   resp->error ? resp->error : "connection failed");
    return 502;
  case LLN_UP_ERROR:
    lln_buf_printf(why, "the upstream transfer failed: %s", resp->error ? resp->error : "unknown error");
    return 502;
  case LLN_UP_OK: break;
  }
  cJSON *err = cJSON_ParseWithLength(resp->body, resp->body_len);
  const cJSON *msg =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(err, "error"), "message");
  if (resp->status < 200 || resp->status > 299) {
    lln_buf_printf(why, "the upstream answered HTTP %ld", resp->status);
    if (cJSON_IsString(msg))
      lln_buf_printf(why, ": %.300s", msg->valuestring);
  } else if (cJSON_IsString(msg)) {
    /* some providers report errors with a 200 status */
    lln_buf_printf(why, "the upstream answered with an error: %.300s", msg->valuestring);
  } else {
    lln_buf_puts(why, "the upstream answered with a body that is not a chat completion");
  }
  cJSON_Delete(err);
  return resp->status == 429 ? 429 : 502;
}

/* A usable answer: a JSON object whose first choice has a message. */
static cJSON *parse_completion(const lln_upstream_response *resp, const cJSON **message) {
  if (resp->result != LLN_UP_OK || resp->status < 200 || resp->status > 299)
    return NULL;
  cJSON *json = cJSON_ParseWithLength(resp->body, resp->body_len);
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(json, "choices");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "message");
  if (!cJSON_IsObject(msg)) {
    cJSON_Delete(json);
    return NULL;
  }
  *message = msg;
  return json;
}

/* The candidates as the router sees them: name and use-case (free() it). */
static lln_route_candidate *route_candidates(const lln_run *r) {
  lln_route_candidate *rc = calloc(r->n_cands ? r->n_cands : 1, sizeof *rc);
  if (!rc)
    abort();
  for (size_t i = 0; i < r->n_cands; i++)
    rc[i] = (lln_route_candidate){r->cands[i]->name, r->cands[i]->use_case};
  return rc;
}

static const lln_node *default_target(const lln_run *r) { return lln_decide_default(r->cands, r->n_cands); }

/* `how`: single (the only target), condition (conditions left one of
 * several), router (the router model chose) or default (routing failed). */
static void go_to(lln_run *r, const lln_node *target, const char *how) {
  r->route_decision = target->name;
  const char *labels[] = {r->node->name, target->name, how};
  lln_metric_add(&LLN_M_ROUTING, labels, 1);
  LLN_DEBUG("request %s: %s -> %s (%s)", r->request_id, r->node->name, target->name, how);
  free(r->cands);
  r->cands = NULL;
  r->n_cands = 0;
  enter(r, target);
}

static void on_retry_timer(uv_timer_t *t) {
  lln_run *r = t->data;
  if (!r->finished)
    start_call(r);
}

/* The next node to try when `failed` cannot answer: its own fallbacks, or
 * the rest of the list it was itself a fallback from. */
static const lln_node *next_fallback(lln_run *r, const lln_node *failed) {
  if (failed->n_fallbacks && r->fb_owner != failed) {
    r->fb_owner = failed;
    r->fb_next = 0;
  }
  if (r->fb_owner && r->fb_next < r->fb_owner->n_fallbacks)
    return r->fb_owner->fallbacks[r->fb_next++];
  return NULL;
}

/* After a failed call: retry the same model (backoff, or the wait the
 * upstream asked for, within the request's deadline), else the next model
 * id, else the router's default target, else the node's fallback, else
 * fail the request with `status`. */
static void call_failed(lln_run *r, int status, const char *why, int retryable, long hint_ms,
                        const char *retry_after) {
  const lln_model *ep = r->call_node->endpoint;
  const lln_node *at = r->kind == CALL_ROUTE ? r->route_from : r->call_node;
  cJSON *hop = lln_run_trace_hop(r, at, r->kind == CALL_ROUTE ? "router" : "answer", current_model_id(r), 0);
  cJSON_AddStringToObject(hop, "error", why);
  if (retryable && r->retries_done < ep->retries) {
    long delay = lln_backoff_ms(r->retries_done, 250, 8000, uv_hrtime() ^ (uint64_t)(uintptr_t)r);
    if (hint_ms > delay)
      delay = hint_ms;
    if (uv_now(r->loop) + (uint64_t)delay < r->deadline_at) {
      r->retries_done++;
      cJSON_AddNumberToObject(hop, "retry_in_ms", (double)delay);
      const char *labels[] = {r->call_node->name, current_model_id(r)};
      lln_metric_add(&LLN_M_RETRIES, labels, 1);
      LLN_WARN("request %s: %s; retry %d of %d in %ld ms", r->request_id, why, r->retries_done, ep->retries,
               delay);
      uv_timer_start(&r->retry_timer, on_retry_timer, (uint64_t)delay, 0);
      return;
    }
  }
  r->retries_done = 0;
  if (r->attempt + 1 < r->call_node->n_model_ids) {
    LLN_WARN("request %s: %s; falling back to model \"%s\"", r->request_id, why,
             r->call_node->model_ids[r->attempt + 1]);
    const char *labels[] = {r->call_node->name, r->call_node->model_ids[r->attempt + 1]};
    lln_metric_add(&LLN_M_FALLBACKS, labels, 1);
    r->attempt++;
    start_call(r);
    return;
  }
  if (r->kind == CALL_ROUTE) {
    const lln_node *t = default_target(r);
    LLN_WARN("request %s: routing failed (%s); using default target \"%s\"", r->request_id, why, t->name);
    cJSON_AddStringToObject(hop, "decided", "default");
    go_to(r, t, "default");
    return;
  }
  const lln_node *fb = next_fallback(r, r->call_node);
  if (fb) {
    LLN_WARN("request %s: %s; node \"%s\" answers instead", r->request_id, why, fb->name);
    cJSON_AddStringToObject(hop, "fallback", fb->name);
    const char *labels[] = {r->call_node->name, fb->name};
    lln_metric_add(&LLN_M_FALLBACKS, labels, 1);
    enter(r, fb);
    return;
  }
  char seconds[32];
  const char *pass_on = retry_after;
  if (!pass_on && hint_ms >= 0 && (status == 429 || status == 503)) {
    snprintf(seconds, sizeof seconds, "%ld", (hint_ms + 999) / 1000);
    pass_on = seconds;
  }
  fail(r, status, status == 429 || status == 503 ? pass_on : NULL, "%s", why);
}

static void count_call(const lln_run *r, const lln_upstream_response *resp) {
  const char *outcome = resp->result == LLN_UP_TIMEOUT ? "timeout"
                        : resp->result != LLN_UP_OK    ? "connection_error"
                        : resp->status == 429          ? "429"
                        : resp->status >= 500          ? "5xx"
                        : resp->status >= 400          ? "4xx"
                                                       : "ok";
  const char *node = (r->kind == CALL_ROUTE ? r->route_from : r->call_node)->name;
  const char *labels[] = {node, current_model_id(r), outcome};
  lln_metric_add(&LLN_M_UPSTREAM_CALLS, labels, 1);
  lln_metric_observe(&LLN_M_UPSTREAM_SECONDS, labels, resp->elapsed_ms / 1000.0);
}

static void on_call_done(void *ud, const lln_upstream_response *resp) {
  lln_run *r = ud;
  r->call = NULL;
  lln_model_state *st = state_of(r);
  const lln_model *ep = r->call_node->endpoint;
  /* 4xx (429 included) says the endpoint is up; only outages count */
  int endpoint_up = resp->result == LLN_UP_OK && resp->status < 500;
  if (st)
    lln_breaker_record(&st->breaker, endpoint_up, ep->breaker_failures, ep->breaker_cooldown_ms,
                       uv_now(r->loop));
  count_call(r, resp);
  if (r->streaming_call) {
    int ok = resp->result == LLN_UP_OK && resp->status >= 200 && resp->status <= 299;
    if (ok || r->stream_events) {
      /* a stream that sent bytes is never retried: its failure ends it */
      if (ok) {
        lln_stream_call_done(r, resp);
      } else {
        lln_buf why;
        lln_buf_init(&why);
        describe_failure(r, resp, &why);
        fail(r, 502, NULL, "%s (mid-stream)", why.data);
        lln_buf_free(&why);
      }
      return;
    }
    r->streaming_call = 0;
  }
  const cJSON *message = NULL;
  cJSON *json = parse_completion(resp, &message);
  const char *model_id = current_model_id(r);
  if (!json) {
    lln_buf why;
    lln_buf_init(&why);
    int status = describe_failure(r, resp, &why);
    call_failed(r, status, why.data, lln_retryable(resp),
                lln_retry_hint_ms(resp->retry_after, resp->rate_limit_reset, time(NULL)), resp->retry_after);
    lln_buf_free(&why);
    return;
  }
  lln_buf text;
  lln_buf_init(&text);
  lln_content_text(cJSON_GetObjectItemCaseSensitive(message, "content"), &text);
  if (!text.data)
    lln_buf_reserve(&text, 0);
  if (r->kind == CALL_ROUTE) {
    cJSON *hop = lln_run_trace_hop(r, r->route_from, "router", model_id, resp->elapsed_ms);
    lln_run_add_usage(r, json, hop);
    cJSON_Delete(json);
    lln_route_candidate *rc = route_candidates(r);
    int idx = lln_router_parse_reply(text.data, text.len, rc, r->n_cands);
    free(rc);
    const lln_node *t;
    if (idx < 0) {
      t = default_target(r);
      LLN_WARN("request %s: router reply \"%.80s\" names no candidate; using default target \"%s\"",
               r->request_id, text.data, t->name);
      cJSON_AddStringToObject(hop, "decided", "default");
    } else {
      t = r->cands[idx];
      cJSON_AddStringToObject(hop, "decided", "router");
    }
    cJSON_AddStringToObject(hop, "chose", t->name);
    lln_buf_free(&text);
    go_to(r, t, idx < 0 ? "default" : "router");
    return;
  }
  cJSON *hop = lln_run_trace_hop(r, r->call_node, "answer", model_id, resp->elapsed_ms);
  lln_run_add_usage(r, json, hop);
  cJSON_Delete(r->final);
  r->final = json;
  free(r->output);
  r->output = lln_buf_steal(&text);
  lln_hooks_run(r, r->call_node, 1, after_post_hooks);
}

/* ---- the flow ---- */

/* 1 when the upstream body of `n` does not take the client's `key` as is:
 * llmnet sets it, or the node's extra-options replace it. */
static int replaced_key(const lln_node *n, const char *key, int own_messages) {
  if (strcmp(key, "stream") == 0 || strcmp(key, "stream_options") == 0 || strcmp(key, "model") == 0)
    return 1;
  if (own_messages && strcmp(key, "messages") == 0)
    return 1;
  return cJSON_GetObjectItemCaseSensitive(n->options, key) != NULL;
}

/* The body is built from references to the client's request and the
 * node's options, not copies: only what llmnet adds is allocated. */
static void call_model(lln_run *r) {
  const lln_node *n = r->call_node;
  cJSON *body = cJSON_CreateObject();
  /* a pre hook's transform replaces the text this node receives */
  const char *replaced_input = r->hook_input;
  int own_messages = r->output || n->system || replaced_input;
  const cJSON *item;
  cJSON_ArrayForEach(item, r->request) {
    if (!replaced_key(n, item->string, own_messages))
      cJSON_AddItemReferenceToObject(body, item->string, (cJSON *)item);
  }
  set_string(body, "model", "");
  if (own_messages) {
    cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
    if (n->system) {
      lln_buf sys;
      lln_buf_init(&sys);
      render_template(r, n->system, &sys);
      cJSON *m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, "role", "system");
      cJSON_AddStringToObject(m, "content", sys.data ? sys.data : "");
      cJSON_AddItemToArray(msgs, m);
      lln_buf_free(&sys);
    }
    if (r->output) {
      /* a node after a handler gets the previous answer as the user message */
      lln_buf content;
      lln_buf_init(&content);
      if (replaced_input)
        lln_buf_puts(&content, replaced_input);
      else if (n->prompt_template)
        render_template(r, n->prompt_template, &content);
      else
        lln_buf_puts(&content, r->output);
      cJSON *m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, "role", "user");
      cJSON_AddStringToObject(m, "content", content.data ? content.data : "");
      cJSON_AddItemToArray(msgs, m);
      lln_buf_free(&content);
    } else {
      const cJSON *last_user = lln_last_user_message(r->messages);
      cJSON_ArrayForEach(item, r->messages) {
        if (item == last_user && replaced_input) {
          cJSON *m = cJSON_CreateObject();
          cJSON_AddStringToObject(m, "role", "user");
          cJSON_AddStringToObject(m, "content", replaced_input);
          cJSON_AddItemToArray(msgs, m);
        } else {
          cJSON_AddItemReferenceToArray(msgs, (cJSON *)item);
        }
      }
    }
  }
  cJSON_ArrayForEach(item, n->options) cJSON_AddItemReferenceToObject(body, item->string, (cJSON *)item);
  cJSON_Delete(r->call_json);
  r->call_json = body;
  r->kind = CALL_ANSWER;
  r->attempt = 0;
  r->retries_done = 0;
  start_call(r);
}

/* Pre hooks first (they may replace the input), then the model call. */
static void ask_model(lln_run *r, const lln_node *n) {
  r->call_node = n;
  free(r->hook_input);
  r->hook_input = NULL;
  lln_hooks_run(r, n, 0, call_model);
}

static void after_post_hooks(lln_run *r) { choose_next(r, r->call_node); }

static void ask_router(lln_run *r, const lln_node *from) {
  const lln_node *router = lln_decide_router(r->cfg);
  if (!router) {
    const lln_node *t = default_target(r);
    LLN_WARN("request %s: several candidates after \"%s\" but no router model; using \"%s\"", r->request_id,
             from->name, t->name);
    go_to(r, t, "default");
    return;
  }
  lln_route_candidate *rc = route_candidates(r);
  lln_buf prompt;
  lln_buf_init(&prompt);
  lln_router_system_prompt(&prompt, rc, r->n_cands);
  free(rc);
  /* the router node's options by reference, as ask_model does */
  cJSON *body = cJSON_CreateObject();
  const cJSON *opt;
  cJSON_ArrayForEach(opt, router->options) {
    if (strcmp(opt->string, "messages") != 0 && strcmp(opt->string, "stream") != 0)
      cJSON_AddItemReferenceToObject(body, opt->string, (cJSON *)opt);
  }
  cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
  cJSON *sys = cJSON_CreateObject();
  cJSON_AddStringToObject(sys, "role", "system");
  cJSON_AddStringToObject(sys, "content", prompt.data);
  cJSON_AddItemToArray(msgs, sys);
  cJSON *user = cJSON_CreateObject();
  cJSON_AddStringToObject(user, "role", "user");
  cJSON_AddStringToObject(user, "content", lln_vars_current_input(lln_run_vars(r)));
  cJSON_AddItemToArray(msgs, user);
  if (!cJSON_GetObjectItemCaseSensitive(body, "temperature"))
    cJSON_AddNumberToObject(body, "temperature", 0);
  lln_buf_free(&prompt);
  cJSON_Delete(r->call_json);
  r->call_json = body;
  r->kind = CALL_ROUTE;
  r->call_node = router;
  r->route_from = from;
  r->attempt = 0;
  r->retries_done = 0;
  start_call(r);
}

static void choose_next(lln_run *r, const lln_node *from) {
  free(r->cands);
  r->cands = calloc(from->n_targets + 1, sizeof *r->cands);
  if (!r->cands)
    abort();
  r->n_cands = 0;
  lln_vars *v = lln_run_vars(r);
  time_t now = time(NULL);
  for (size_t i = 0; i < from->n_targets; i++) {
    if (lln_decide_target_holds(v, from->targets[i], now, lln_vars_lookup, v))
      r->cands[r->n_cands++] = from->targets[i];
  }
  switch (lln_decide_next(from, r->n_cands, r->output != NULL)) {
  case LLN_NEXT_ANSWER_ITSELF:
    /* every condition said no: the entry answers the request itself */
    LLN_DEBUG("request %s: no candidate after \"%s\"; it answers itself", r->request_id, from->name);
    ask_model(r, from);
    return;
  case LLN_NEXT_RESPOND: succeed(r); return;
  case LLN_NEXT_GO: go_to(r, r->cands[0], from->n_targets == 1 ? "single" : "condition"); return;
  case LLN_NEXT_ROUTE: break;
  }
  ask_router(r, from);
}

static void enter(lln_run *r, const lln_node *n) {
  if (r->hops >= r->cfg->server.max_hops) {
    fail(r, 500, NULL, "the request passed %d nodes without reaching an answer (server.max-hops)", r->hops);
    return;
  }
  if (r->node) {
    r->prev = r->node;
    r->hops++;
    if (r->output) {
      free(r->input);
      r->input = lln_xstrdup(r->output);
    }
  }
  r->node = n;
  if (r->route.len)
    lln_buf_putc(&r->route, '>');
  lln_buf_puts(&r->route, n->name);
  switch (lln_decide_enter(n)) {
  case LLN_ENTER_RESPOND: succeed(r); return;
  case LLN_ENTER_ROUTE: choose_next(r, n); return;
  case LLN_ENTER_ANSWER: ask_model(r, n); return;
  }
}

/* ---- start ---- */

static const char *check_request(const cJSON *req) {
  static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function", NULL};
  if (!cJSON_IsObject(req))
    return "the request body must be a JSON object";
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
  if (model && !cJSON_IsString(model) && !cJSON_IsNull(model))
    return "\"model\" must be a string";
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive(req, "stream");
  if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream))
    return "\"stream\" must be true or false";
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
  if (!msgs)
    return "\"messages\" is required";
  if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
    return "\"messages\" must be a non-empty array";
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsObject(m) || !cJSON_IsString(role))
      return "each message must be an object with a \"role\"";
    int known = 0;
    for (size_t i = 0; roles[i]; i++)
      known |= strcmp(role->valuestring, roles[i]) == 0;
    if (!known)
      return "a message has an unknown role (system, developer, user, assistant or tool)";
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) && !cJSON_IsNull(content))
      return "a message's \"content\" must be a string, an array of parts or null";
  }
  return NULL;
}

static void on_deadline(uv_timer_t *t) {
  lln_run *r = t->data;
  fail(r, 504, NULL,
       "the request did not finish within server.request-timeout (%.3g s); it was at node \"%s\"",
       (double)r->cfg->server.request_timeout_ms / 1000.0, r->node ? r->node->name : "?");
}

lln_run *lln_run_start(const lln_run_params *p) {
  lln_run *r = calloc(1, sizeof *r);
  if (!r)
    abort();
  r->cfg = p->cfg;
  r->up = p->upstream;
  r->loop = p->loop;
  r->request = p->request;
  r->request_id = lln_xstrdup(p->request_id);
  r->done = p->done;
  r->ud = p->ud;
  r->sink = p->stream;
  r->trace = cJSON_CreateArray();
  lln_buf_init(&r->route);
  lln_buf_init(&r->call_body);
  lln_buf_init(&r->result_body);
  lln_buf_reserve(&r->route, 0);
  const char *problem = check_request(r->request);
  if (problem) {
    lln_run_result res = {.status = 400, .error = problem, .route = ""};
    r->finished = 1;
    r->done(r->ud, &res);
    return r;
  }
  r->messages = cJSON_GetObjectItemCaseSensitive(r->request, "messages");
  lln_buf in;
  lln_buf_init(&in);
  lln_last_user_text(r->messages, &in);
  r->initial_input = lln_buf_steal(&in);
  r->input = lln_xstrdup(r->initial_input);
  if (p->header)
    r->n_header_vars = lln_vars_collect_headers(r->cfg, p->header, p->header_ctx, &r->header_vars);

  uv_timer_init(r->loop, &r->deadline);
  r->deadline.data = r;
  r->timer_started = 1;
  r->open_timers = 2;
  uv_timer_init(r->loop, &r->retry_timer);
  r->retry_timer.data = r;
  r->deadline_at = uv_now(r->loop) + (uint64_t)r->cfg->server.request_timeout_ms;
  r->models = p->models;
  r->keep_stream_text = r->sink && lln_sinks_present(r->cfg);
  r->ratelimit = p->ratelimit;
  if (r->sink)
    lln_stream_init(r);
  uv_timer_start(&r->deadline, on_deadline, (uint64_t)r->cfg->server.request_timeout_ms, 0);

  /* "model" naming a node enters there; anything else means the pipeline. */
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(r->request, "model");
  const lln_node *start = r->cfg->entry;
  if (cJSON_IsString(model)) {
    const lln_node *named = lln_config_node(r->cfg, model->valuestring);
    if (named && named->adapter == LLN_ADAPTER_OPENAI)
      start = named;
  }
  enter(r, start);
  return r;
}

void lln_run_resume(lln_run *r) {
  if (r->paused && r->call && !r->finished) {
    r->paused = 0;
    lln_upstream_resume(r->call);
  }
}

void lln_run_cancel(lln_run *r) {
  if (r->finished)
    return;
  r->finished = 1;
  stop_work(r);
}

static void release(lln_run *r) {
  cJSON_Delete(r->request);
  cJSON_Delete(r->final);
  cJSON_Delete(r->trace);
  free(r->request_id);
  free(r->initial_input);
  free(r->input);
  free(r->output);
  free(r->cands);
  free(r->hook_input);
  free(r->header_vars);
  free_call_headers(r);
  lln_buf_free(&r->route);
  lln_buf_free(&r->call_body);
  cJSON_Delete(r->call_json);
  lln_buf_free(&r->result_body);
  if (r->sink && r->timer_started)
    lln_stream_free(r);
  free(r);
}

static void on_timer_closed(uv_handle_t *h) {
  lln_run *r = h->data;
  if (--r->open_timers == 0)
    release(r);
}

/* The memory lives until the timers have closed (the next loop turn), so a
 * run freed from inside its own callbacks is still readable on the way out. */
void lln_run_free(lln_run *r) {
  if (!r)
    return;
  stop_work(r);
  r->finished = 1;
  if (!r->timer_started) {
    release(r);
    return;
  }
  uv_close((uv_handle_t *)&r->deadline, on_timer_closed);
  uv_close((uv_handle_t *)&r->retry_timer, on_timer_closed);
  if (r->sink)
    uv_close((uv_handle_t *)&r->keepalive, on_timer_closed);
}
