/* run: the request flow (docs/CONFIG.md "The request flow") as a small
 * state machine driven by upstream completions: enter a node, call its
 * model when it answers, pick the next node (conditions, then the router
 * model when several remain), until a node has no candidate left or an
 * output node is reached. What a failed call leads to is decided by
 * failover.c, whether a call may go now by admit.c (rate limit and
 * circuit breaker); this file only carries the decisions out. */
#include "pipeline/run.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "observe/metrics.h"
#include "pipeline/admit_int.h"
#include "pipeline/cache_int.h"
#include "pipeline/call_body_int.h"
#include "pipeline/call_result_int.h"
#include "pipeline/cost_run_int.h"
#include "pipeline/decide_int.h"
#include "pipeline/failover_int.h"
#include "pipeline/hooks_int.h"
#include "pipeline/respond_int.h"
#include "pipeline/route_flow_int.h"
#include "pipeline/router.h"
#include "pipeline/run_state_int.h"
#include "pipeline/sinks_int.h"
#include "pipeline/stream_int.h"
#include "pipeline/text_int.h"
#include "store/store.h"
#include "upstream/call_headers.h"
#include "upstream/retry.h"
#include "upstream/runners.h"
#include "util/buf.h"
#include "util/json_alloc.h"
#include "util/json_print.h"
#include "util/log.h"
#include "util/xalloc.h"

/* llmnet's own backoff between retries of one model id. */
#define RETRY_BASE_MS 250
#define RETRY_CAP_MS 8000

static void enter(lln_run *r, const lln_node *n);
static void choose_next(lln_run *r, const lln_node *from);
static void after_post_hooks(lln_run *r);

/* ---- finishing ---- */

/* The one place every ticket a run holds is settled or cancelled: timers,
 * the upstream call, the breaker's probe, a rate-limit answer, the place in
 * an endpoint's queue, a pending pin or decision-cache read and the hook
 * jobs. A new kind of ticket belongs here. */
static void stop_work(lln_run *r) {
  if (r->timers.started) {
    uv_timer_stop(&r->timers.deadline);
    uv_timer_stop(&r->timers.retry);
    if (r->sink)
      uv_timer_stop(&r->stream.keepalive);
  }
  if (r->call.upstream) {
    lln_upstream_cancel(r->call.upstream);
    r->call.upstream = NULL;
  }
  if (r->tickets.probe) {
    /* the probe's call will never report: the next call probes instead */
    lln_breaker_release(r->tickets.probe);
    r->tickets.probe = NULL;
  }
  if (r->tickets.rl_take) {
    lln_ratelimit_cancel(r->tickets.rl_take);
    r->tickets.rl_take = NULL;
  }
  if (r->tickets.store_op) {
    lln_store_cancel(r->tickets.store_op);
    r->tickets.store_op = NULL;
  }
  lln_admit_stop_waiting(r);
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
  filled.decided = r->routing.decided;
  filled.router_input = r->routing.input;
  filled.decision_ms = r->routing.decision_ms;
  filled.session = r->routing.route_only ? lln__route_session(r) : r->routing.session;
  filled.router_calls = r->routing.router_calls;
  filled.cost_usd = r->cost_usd;
  filled.cost_known = r->cost_known;
  filled.cache = lln__cache_status(r);
  stop_work(r);
  r->done(r->ud, &filled);
}

void lln_run_fail_with(lln_run *r, const lln_run_error *e) {
  if (r->sink && lln_stream_fail(r, &e->body))
    return;
  lln_run_result res = {.status = e->body.status,
                        .error = e->body.message,
                        .error_body = &e->body,
                        .should_retry = e->should_retry,
                        .retry_after = e->retry_after,
                        .route = r->route.data ? r->route.data : ""};
  lln_run_finish(r, &res);
}

void lln_run_fail(lln_run *r, int status, const char *message) {
  lln_run_error e = {.body = {.status = status, .message = message}};
  lln_run_fail_with(r, &e);
}

static void failf(lln_run *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void failf(lln_run *r, int status, const char *fmt, ...) {
  lln_buf msg;
  lln_buf_init(&msg);
  va_list ap;
  va_start(ap, fmt);
  lln_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  lln_run_fail(r, status, msg.data);
  lln_buf_free(&msg);
}

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
  lln__cost_add(r, usage, hop);
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

const char *lln_run_model_id(const lln_run *r) {
  return r->call.att.node->model_ids[r->call.att.model_index];
}

static void on_call_done(void *ud, const lln_upstream_response *resp);

static void on_retry_timer(uv_timer_t *t) {
  lln_run *r = t->data;
  LLN_JSON_SCOPE(r->arena);
  if (!r->finished)
    lln_run_start_call(r);
}

void lln_run_retry_in(lln_run *r, uint64_t ms) { uv_timer_start(&r->timers.retry, on_retry_timer, ms, 0); }

/* The node a call is made for: the routing node for a routing call. */
static const lln_node *call_owner(const lln_run *r) {
  return r->call.kind == CALL_ROUTE ? r->call.route_from : r->call.node;
}

/* How often a call to a runner that is still starting looks again. */
#define RUNNER_POLL_MS 100

/* A models entry llmnet runs itself: its current URL when it is ready; a
 * runner still starting is waited for within the request's deadline;
 * otherwise the call fails over like one to an unavailable upstream. */
static int runner_ready(lln_run *r, const lln_model *ep, char *url, size_t size) {
  lln_runner_state st = lln_runner_url(ep, 0, url, size);
  if (st == LLN_RUNNER_READY)
    return 1;
  if (st == LLN_RUNNER_STARTING && r->timers.deadline_at > uv_now(r->loop) + RUNNER_POLL_MS) {
    lln_run_retry_in(r, RUNNER_POLL_MS);
    return 0;
  }
  char why[300];
  snprintf(why, sizeof why, "model \"%s\": its runner (type %s) is %s", ep->key, ep->type,
           st == LLN_RUNNER_STARTING
               ? "still starting at the request's deadline"
               : "not ready (it failed to start, or is stopped); GET /v1/llmnet/stats says why");
  lln_failure f = {.kind = LLN_FAILURE_CIRCUIT_OPEN, .hint_ms = -1, .upstream_calls = r->call.upstream_calls};
  lln_run_error e = {.body = {.message = why}};
  lln_run_after_failure(r, &f, &e);
  return 0;
}

void lln_run_start_call(lln_run *r) {
  const lln_model *ep = r->call.node->endpoint;
  lln_upstream_request req = {0};
  char runner_url[128];
  if (ep->runner && !runner_ready(r, ep, runner_url, sizeof runner_url))
    return;
  if (!lln_admit_call(r))
    return;
  cJSON *body = r->call.json;
  cJSON_DeleteItemFromObjectCaseSensitive(body, "model");
  cJSON_AddStringToObject(body, "model", lln_run_model_id(r));
  r->call.streaming = 0;
  /* the answer of a node that can only end the pipeline is the response:
   * when the client streams, this call streams too */
  if (r->sink && r->call.kind == CALL_ANSWER && lln_decide_ends_pipeline(r->call.node) &&
      !lln_hooks_transform_output(r->call.node))
    lln_stream_prepare_call(r, body, &req);
  if (r->call.kind == CALL_ROUTE)
    lln__route_call_prepare(r, body, &req);
  lln_buf_reset(&r->call.body);
  lln_json_print(body, &r->call.body);
  lln_call_headers_free(r->call.headers);
  r->call.headers = lln_call_headers(ep, r->request_id, r->routing.session);

  req.url = ep->runner ? runner_url : ep->chat_url;
  req.headers = (const char *const *)r->call.headers;
  req.body = r->call.body.data;
  req.body_len = r->call.body.len;
  req.timeout_ms = ep->timeout_ms;
  req.connect_timeout_ms = ep->connect_timeout_ms;
  req.first_byte_timeout_ms = ep->first_byte_timeout_ms;
  req.on_done = on_call_done;
  req.ud = r;
  LLN_DEBUG("request %s: %s node %s calls %s as %s", r->request_id,
            r->call.kind == CALL_ROUTE ? "routing" : "answering", call_owner(r)->name, ep->key,
            lln_run_model_id(r));
  r->call.upstream_calls++;
  {
    LLN_JSON_HEAP(); /* the transfer is the client's; it may outlive nothing of ours */
    r->call.upstream = lln_upstream_start(r->up, &req);
  }
  if (!r->call.upstream)
    failf(r, 500, "node \"%s\": could not start a call to model \"%s\"", r->call.node->name, ep->key);
}

/* `how`: the decided label (single, condition, pin, cache, router,
 * default, no-input, ambiguous). */
void lln_run_go_to(lln_run *r, const lln_node *target, const char *how) {
  r->route_decision = target->name;
  r->routing.decided = how;
  const char *labels[] = {r->node->name, target->name, how};
  lln_metric_add(&LLN_M_ROUTING, labels, 1);
  LLN_DEBUG("request %s: %s -> %s (%s)", r->request_id, r->node->name, target->name, how);
  r->call.cands = NULL;
  r->call.n_cands = 0;
  /* a node reached the ordinary way starts no fallback list of its own */
  r->call.via_fallback = 0;
  enter(r, target);
}

/* Carries out the failover decision for a failed (or refused) call. */
void lln_run_after_failure(lln_run *r, const lln_failure *given, const lln_run_error *e) {
  lln_failure f = *given;
  f.backoff_ms = lln_backoff_ms(r->call.att.retries_done, RETRY_BASE_MS, RETRY_CAP_MS,
                                uv_hrtime() ^ (uint64_t)(uintptr_t)r);
  uint64_t now = uv_now(r->loop);
  f.remaining_ms = r->timers.deadline_at > now ? (long)(r->timers.deadline_at - now) : 0;
  const char *why = e->body.message;
  const char *model_id = lln_run_model_id(r);
  cJSON *hop =
      lln_run_trace_hop(r, call_owner(r), r->call.kind == CALL_ROUTE ? "router" : "answer", model_id, 0);
  cJSON_AddStringToObject(hop, "error", why);
  lln_failover d = lln_failover_decide(&r->call.att, &f);
  switch (d.kind) {
  case LLN_FO_RETRY: {
    r->call.att = d.next;
    cJSON_AddNumberToObject(hop, "retry_in_ms", (double)d.delay_ms);
    const char *labels[] = {r->call.node->name, model_id};
    lln_metric_add(&LLN_M_RETRIES, labels, 1);
    LLN_WARN("request %s: %s; retry %d of %d in %ld ms", r->request_id, why, r->call.att.retries_done,
             r->call.node->endpoint->retries, d.delay_ms);
    lln_run_retry_in(r, (uint64_t)d.delay_ms);
    return;
  }
  case LLN_FO_NEXT_MODEL: {
    r->call.att = d.next;
    LLN_WARN("request %s: %s; falling back to model \"%s\"", r->request_id, why, lln_run_model_id(r));
    const char *labels[] = {r->call.node->name, lln_run_model_id(r)};
    lln_metric_add(&LLN_M_FALLBACKS, labels, 1);
    lln_run_start_call(r);
    return;
  }
  case LLN_FO_DEFAULT: lln__route_default(r, hop, "router_failed"); return;
  case LLN_FO_FALLBACK: {
    LLN_WARN("request %s: %s; node \"%s\" answers instead", r->request_id, why, d.fallback->name);
    cJSON_AddStringToObject(hop, "fallback", d.fallback->name);
    const char *labels[] = {r->call.node->name, d.fallback->name};
    lln_metric_add(&LLN_M_FALLBACKS, labels, 1);
    r->call.via = d;
    r->call.via_fallback = 1;
    enter(r, d.fallback);
    return;
  }
  case LLN_FO_FAIL: break;
  }
  lln_run_error out = *e;
  out.body.status = d.status;
  out.should_retry = d.should_retry;
  char seconds[32];
  out.retry_after = NULL;
  if (d.pass_retry_after) {
    out.retry_after = e->retry_after;
    if (!out.retry_after && f.hint_ms >= 0) {
      snprintf(seconds, sizeof seconds, "%ld", (f.hint_ms + 999) / 1000);
      out.retry_after = seconds;
    }
  }
  lln_run_fail_with(r, &out);
}

static void count_call(const lln_run *r, const lln_upstream_response *resp) {
  const char *outcome = resp->result == LLN_UP_TIMEOUT ? "timeout"
                        : resp->result != LLN_UP_OK    ? "connection_error"
                        : resp->status == 429          ? "429"
                        : resp->status >= 500          ? "5xx"
                        : resp->status >= 400          ? "4xx"
                                                       : "ok";
  const char *labels[] = {call_owner(r)->name, lln_run_model_id(r), outcome};
  lln_metric_add(&LLN_M_UPSTREAM_CALLS, labels, 1);
  lln_metric_observe(&LLN_M_UPSTREAM_SECONDS, labels, resp->elapsed_ms / 1000.0);
}

/* The outcome goes to the breaker of the model id called (settling the
 * probe ticket when this call held it). 4xx (429 included) says the model
 * is up; only outages count. */
static void settle_breaker(lln_run *r, const lln_upstream_response *resp) {
  lln_breaker *b = lln_admit_breaker(r);
  if (!b)
    return;
  const lln_model *ep = r->call.node->endpoint;
  int up = resp->result == LLN_UP_OK && resp->status < 500;
  lln_breaker_record(b, up, r->tickets.probe == b, ep->breaker_failures, ep->breaker_cooldown_ms,
                     uv_now(r->loop));
  r->tickets.probe = NULL;
}

void lln_run_call_ended(lln_run *r, const lln_upstream_response *resp) {
  settle_breaker(r, resp);
  count_call(r, resp);
}

static void on_call_done(void *ud, const lln_upstream_response *resp) {
  lln_run *r = ud;
  LLN_JSON_SCOPE(r->arena);
  r->call.upstream = NULL;
  lln_run_call_ended(r, resp);
  if (r->call.kind == CALL_ROUTE) {
    lln__route_call_done(r, resp);
    return;
  }
  if (r->call.streaming) {
    int ok = resp->result == LLN_UP_OK && resp->status >= 200 && resp->status <= 299;
    if (ok) {
      lln_stream_call_done(r, resp);
      return;
    }
    if (r->stream.events) {
      /* a stream that sent bytes is never retried: its failure ends it */
      lln__call_error ce;
      lln__call_error_read(&ce, r->call.node, lln_run_model_id(r), resp);
      failf(r, 502, "%s (mid-stream)", ce.why.data);
      lln__call_error_free(&ce);
      return;
    }
    r->call.streaming = 0;
  }
  const cJSON *message = NULL;
  cJSON *json = lln__parse_completion(resp, &message);
  if (!json) {
    lln__call_error ce;
    lln__call_error_read(&ce, r->call.node, lln_run_model_id(r), resp);
    ce.failure.upstream_calls = r->call.upstream_calls;
    lln_run_after_failure(r, &ce.failure, &ce.error);
    lln__call_error_free(&ce);
    return;
  }
  lln_buf text;
  lln_buf_init(&text);
  lln_content_text(cJSON_GetObjectItemCaseSensitive(message, "content"), &text);
  if (!text.data)
    lln_buf_reserve(&text, 0);
  cJSON *hop = lln_run_trace_hop(r, r->call.node, "answer", lln_run_model_id(r), resp->elapsed_ms);
  lln_run_add_usage(r, json, hop);
  cJSON_Delete(r->final);
  r->final = json;
  free(r->output);
  r->output = lln_buf_steal(&text);
  lln_hooks_run(r, r->call.node, 1, after_post_hooks);
}

/* ---- the flow ---- */

static void call_model(lln_run *r) {
  cJSON_Delete(r->call.json);
  r->call.json = lln__body_answer(r, r->call.node);
  r->call.kind = CALL_ANSWER;
  r->call.att = lln_attempt_start(r->call.node, 0, r->call.via_fallback ? &r->call.via : NULL);
  lln_run_start_call(r);
}

/* A route-only run (POST /v1/llmnet/route, eval) ends where a model would
 * answer or the response would go out: what was decided is the result. */
static void finish_route_only(lln_run *r) {
  lln_run_result res = {.status = 200, .route = r->route.data};
  lln_run_finish(r, &res);
}

static void respond(lln_run *r) {
  if (r->routing.route_only)
    finish_route_only(r);
  else
    lln__run_succeed(r);
}

/* Pre hooks first (they may replace the input), then the model call. */
static void ask_model(lln_run *r, const lln_node *n) {
  if (r->routing.route_only) {
    finish_route_only(r);
    return;
  }
  r->call.node = n;
  free(r->hooks.input);
  r->hooks.input = NULL;
  lln_hooks_run(r, n, 0, call_model);
}

static void after_post_hooks(lln_run *r) { choose_next(r, r->call.node); }

static void choose_next(lln_run *r, const lln_node *from) {
  r->call.cands = lln_arena_take(r->arena, (from->n_targets + 1) * sizeof *r->call.cands);
  r->call.n_cands = 0;
  lln_vars *v = lln_run_vars(r);
  time_t now = time(NULL);
  for (size_t i = 0; i < from->n_targets; i++) {
    if (lln_decide_target_holds(v, from->targets[i], now, lln_vars_lookup, v))
      r->call.cands[r->call.n_cands++] = from->targets[i];
  }
  switch (lln_decide_next(from, r->call.n_cands, r->output != NULL)) {
  case LLN_NEXT_ANSWER_ITSELF:
    /* every condition said no: the entry answers the request itself */
    LLN_DEBUG("request %s: no candidate after \"%s\"; it answers itself", r->request_id, from->name);
    ask_model(r, from);
    return;
  case LLN_NEXT_RESPOND: respond(r); return;
  case LLN_NEXT_GO: lln_run_go_to(r, r->call.cands[0], from->n_targets == 1 ? "single" : "condition"); return;
  case LLN_NEXT_ROUTE: lln__route_choose(r, from); return;
  }
}

static void enter(lln_run *r, const lln_node *n) {
  if (r->hops >= r->cfg->server.max_hops) {
    failf(r, 500, "the request passed %d nodes without reaching an answer (server.max-hops)", r->hops);
    return;
  }
  if (r->node) {
    r->prev = r->node;
    r->hops++;
    if (r->output)
      r->input = lln_arena_strdup(r->arena, r->output);
  }
  r->node = n;
  if (r->route.len)
    lln_buf_putc(&r->route, '>');
  lln_buf_puts(&r->route, n->name);
  switch (lln_decide_enter(n)) {
  case LLN_ENTER_RESPOND: respond(r); return;
  case LLN_ENTER_ROUTE: choose_next(r, n); return;
  case LLN_ENTER_ANSWER: ask_model(r, n); return;
  }
}

/* ---- start ---- */

static void on_deadline(uv_timer_t *t) {
  lln_run *r = t->data;
  LLN_JSON_SCOPE(r->arena);
  failf(r, 504, "the request did not finish within server.request-timeout (%.3g s); it was at node \"%s\"",
        (double)r->cfg->server.request_timeout_ms / 1000.0, r->node ? r->node->name : "?");
}

lln_run *lln_run_start(const lln_run_params *p) {
  assert(p->arena && lln_json_in_arena(p->request) && "the request is parsed in the run's arena");
  lln_run *r = lln_arena_alloc(p->arena, sizeof *r);
  r->arena = p->arena;
  lln_arena_init(&r->scratch);
  LLN_JSON_SCOPE(r->arena);
  r->cfg = p->cfg;
  r->up = p->upstream;
  r->loop = p->loop;
  r->request = p->request;
  r->request_id = lln_arena_strdup(r->arena, p->request_id);
  r->done = p->done;
  r->ud = p->ud;
  r->sink = p->stream;
  r->trace = cJSON_CreateArray();
  lln_buf_init(&r->route);
  lln_buf_init(&r->call.body);
  lln_buf_init(&r->result_body);
  lln_buf_reserve(&r->route, 0);
  const char *problem = lln__check_request(r->request);
  if (problem) {
    lln_openai_error body = {.status = 400, .message = problem};
    lln_run_result res = {.status = 400, .error = problem, .error_body = &body, .route = ""};
    r->finished = 1;
    r->done(r->ud, &res);
    return r;
  }
  r->messages = cJSON_GetObjectItemCaseSensitive(r->request, "messages");
  problem = lln__route_setup(r, p);
  if (problem) {
    lln_openai_error body = {.status = 400, .message = problem, .type = "invalid_request_error"};
    lln_run_result res = {.status = 400, .error = problem, .error_body = &body, .route = ""};
    r->finished = 1;
    r->done(r->ud, &res);
    return r;
  }
  lln_buf in;
  lln_buf_init(&in);
  lln_last_user_text(r->messages, &in);
  r->initial_input = lln_buf_steal(&in);
  r->input = lln_arena_strdup(r->arena, r->initial_input);
  if (p->header)
    r->n_header_vars = lln_vars_collect_headers(r->cfg, p->header, p->header_ctx, &r->header_vars);

  uv_timer_init(r->loop, &r->timers.deadline);
  r->timers.deadline.data = r;
  r->timers.started = 1;
  r->timers.open = 2;
  uv_timer_init(r->loop, &r->timers.retry);
  r->timers.retry.data = r;
  r->timers.deadline_at = uv_now(r->loop) + (uint64_t)r->cfg->server.request_timeout_ms;
  r->models = p->models;
  r->stream.keep_text = r->sink && lln_sinks_present(r->cfg);
  r->ratelimit = p->ratelimit;
  if (r->sink)
    lln_stream_init(r);
  uv_timer_start(&r->timers.deadline, on_deadline, (uint64_t)r->cfg->server.request_timeout_ms, 0);

  /* "model" naming a node enters there; anything else means the pipeline. */
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(r->request, "model");
  const lln_node *start = r->cfg->entry;
  if (cJSON_IsString(model)) {
    const lln_node *named = lln_config_node(r->cfg, model->valuestring);
    if (named && named->adapter == LLN_ADAPTER_OPENAI) {
      start = named;
      r->routing.decided = "model";
    }
  }
  lln__cache_lookup(r, p, start, enter); /* a hit answers from the cache; else enter(r, start) */
  return r;
}

void lln_run_resume(lln_run *r) {
  if (r->stream.paused && r->call.upstream && !r->finished) {
    r->stream.paused = 0;
    lln_upstream_resume(r->call.upstream);
  }
}

void lln_run_abort(lln_run *r, int status, const char *message) {
  /* llmnet stopped it, not the upstream: another try (elsewhere) may pass */
  lln_run_error e = {.body = {.status = status, .message = message}, .should_retry = 1};
  LLN_JSON_SCOPE(r->arena);
  if (!r->finished)
    lln_run_fail_with(r, &e);
}

void lln_run_cancel(lln_run *r) {
  if (r->finished)
    return;
  r->finished = 1;
  stop_work(r);
}

/* The one place a run's memory goes: what is not in its arena first (the
 * heap strings hooks hand over, buffers that grow), then the arena with the
 * run itself and every tree built for it. */
static void release(lln_run *r) {
  assert(lln_json_scope_current() != r->arena && "a run released inside its own JSON scope");
  /* a tree changed outside the run's scope would hold heap nodes that leak */
  assert(lln_json_tree_in_arena(r->request) && lln_json_tree_in_arena(r->final));
  assert(lln_json_tree_in_arena(r->trace) && lln_json_tree_in_arena(r->call.json));
  free(r->initial_input);
  free(r->output);
  free(r->hooks.input);
  free(r->header_vars);
  lln_call_headers_free(r->call.headers);
  lln_buf_free(&r->route);
  lln_buf_free(&r->call.body);
  lln_buf_free(&r->result_body);
  lln__route_free(r);
  lln__cache_free(r);
  if (r->sink && r->timers.started)
    lln_stream_free(r);
  lln_arena_free(&r->scratch);
  lln_arena_destroy(r->arena);
}

static void on_timer_closed(uv_handle_t *h) {
  lln_run *r = h->data;
  if (--r->timers.open == 0)
    release(r);
}

/* The memory lives until the timers have closed (the next loop turn), so a
 * run freed from inside its own callbacks is still readable on the way out. */
void lln_run_free(lln_run *r) {
  if (!r)
    return;
  stop_work(r);
  r->finished = 1;
  if (!r->timers.started) {
    release(r);
    return;
  }
  uv_close((uv_handle_t *)&r->timers.deadline, on_timer_closed);
  uv_close((uv_handle_t *)&r->timers.retry, on_timer_closed);
  if (r->sink)
    uv_close((uv_handle_t *)&r->stream.keepalive, on_timer_closed);
}
