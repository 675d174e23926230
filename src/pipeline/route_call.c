/* route_call: the router model's call. It reads what route_flow.c chose
 * as the router's input, asks for at most LLN_ROUTER_MAX_TOKENS (unless the
 * router node's extra-options say otherwise) and streams the reply: as soon
 * as a complete line outside any reasoning block is exactly one
 * candidate's name (lln_router_early), the rest of the call is cancelled
 * and the run goes on ("early": true in the trace; its cost is unknown,
 * since the usage comes last, though the provider bills it). Otherwise the
 * whole reply is read (lln_router_parse_reply). An upstream that answers
 * with a plain chat completion instead of an event stream is read as one.
 * A failed call goes through failover.c like any other. */
#include "pipeline/route_flow_int.h"

#include <string.h>

#include "pipeline/call_body_int.h"
#include "pipeline/call_result_int.h"
#include "pipeline/cost_run_int.h"
#include "pipeline/decide_int.h"
#include "pipeline/text_int.h"
#include "util/json_alloc.h"
#include "util/log.h"

/* Bytes of a router's reply (and of its raw body) that are read; a router
 * that goes on past this is judged on what it said so far. */
#define LLN_ROUTER_REPLY_MAX (256 * 1024)

void lln__route_call(lln_run *r) {
  const lln_node *router = lln_decide_router(r->cfg);
  if (!router) {
    lln__route_default(r, NULL, "no_router");
    return;
  }
  lln_route_candidate *rc = lln__route_candidates(r);
  cJSON_Delete(r->call.json);
  r->call.json = lln__body_route(r, router, rc, r->call.n_cands);
  r->call.kind = CALL_ROUTE;
  r->call.node = router;
  r->call.route_from = r->routing.from;
  r->call.att = lln_attempt_start(router, 1, NULL);
  lln_run_start_call(r);
}

static void keep(lln_buf *b, const char *data, size_t len) {
  if (b->len >= LLN_ROUTER_REPLY_MAX)
    return;
  if (len > LLN_ROUTER_REPLY_MAX - b->len)
    len = LLN_ROUTER_REPLY_MAX - b->len;
  lln_buf_append(b, data, len);
}

/* One event of the router's stream: its content goes to the reply, its
 * usage is kept for the trace; an error event stops the reading. */
static int on_event(void *ud, const char *data, size_t len) {
  lln_run *r = ud;
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
    return 0;
  cJSON *chunk = cJSON_ParseWithLength(data, len);
  if (!cJSON_IsObject(chunk) || cJSON_GetObjectItemCaseSensitive(chunk, "error")) {
    cJSON_Delete(chunk);
    r->routing.events = -1; /* not a usable stream: read as a failed call */
    return 1;
  }
  r->routing.events++;
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(chunk, "usage");
  if (cJSON_IsObject(usage)) {
    LLN_JSON_HEAP(); /* outlives this chunk's scratch arena */
    cJSON_Delete(r->routing.usage);
    r->routing.usage = cJSON_Duplicate(usage, 1);
  }
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0);
  const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
  const char *piece = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(delta, "content"));
  if (piece)
    keep(&r->routing.reply, piece, strlen(piece));
  cJSON_Delete(chunk);
  return 0;
}

static double call_ms(const lln_run *r) { return (double)(uv_now(r->loop) - r->routing.call_started_ms); }

/* A line of the reply is exactly a candidate's name: cancel the rest (the
 * call was admitted, so it still counts against rate limits) and go on. */
static void decide_early(lln_run *r, int idx) {
  LLN_JSON_SCOPE(r->arena);
  lln_upstream_cancel(r->call.upstream);
  r->call.upstream = NULL;
  lln_upstream_response up = {.result = LLN_UP_OK, .status = 200, .elapsed_ms = call_ms(r)};
  lln_run_call_ended(r, &up);
  cJSON *hop = lln_run_trace_hop(r, r->routing.from, "router", lln_run_model_id(r), up.elapsed_ms);
  cJSON_AddTrueToObject(hop, "early");
  if (r->routing.usage) {
    cJSON *wrap = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(wrap, "usage", r->routing.usage);
    lln_run_add_usage(r, wrap, hop);
    cJSON_Delete(wrap);
  } else {
    /* the usage comes with the stream's last chunk, which is never read */
    lln__cost_unknown(hop, "the router call was cancelled once it named a target, before the upstream "
                           "reported its usage; the provider bills it all the same");
  }
  LLN_DEBUG("request %s: the router named \"%s\" on a line of its own; the rest of its reply is not read",
            r->request_id, r->call.cands[idx]->name);
  lln__route_decide(r, r->call.cands[idx], "router", hop);
}

static int on_data(void *ud, const char *data, size_t len) {
  lln_run *r = ud;
  if (r->finished || r->routing.events < 0)
    return 0;
  keep(&r->routing.raw, data, len);
  size_t before = r->routing.reply.len;
  int rc;
  {
    LLN_JSON_SCOPE(&r->scratch);
    rc = lln_sse_feed(&r->routing.sse, data, len);
  }
  lln_arena_reset(&r->scratch);
  if (rc == LLN_SSE_ERR_LINE || rc == LLN_SSE_ERR_EVENT)
    r->routing.events = -1;
  if (r->routing.events <= 0 || r->routing.reply.len == before ||
      !memchr(r->routing.reply.data + before, '\n', r->routing.reply.len - before))
    return 0;
  int idx;
  {
    LLN_JSON_SCOPE(r->arena);
    idx = lln_router_early(r->routing.reply.data, r->routing.reply.len, lln__route_candidates(r),
                           r->call.n_cands);
  }
  if (idx >= 0)
    decide_early(r, idx);
  return 0;
}

void lln__route_call_prepare(lln_run *r, cJSON *body, lln_upstream_request *req) {
  cJSON_DeleteItemFromObjectCaseSensitive(body, "stream");
  cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
  cJSON_AddTrueToObject(body, "stream");
  cJSON *opts = cJSON_AddObjectToObject(body, "stream_options");
  cJSON_AddTrueToObject(opts, "include_usage");
  lln_buf_reset(&r->routing.reply);
  lln_buf_reset(&r->routing.raw);
  if (r->routing.sse_ready)
    lln_sse_free(&r->routing.sse);
  lln_sse_init(&r->routing.sse, on_event, r);
  r->routing.sse_ready = 1;
  r->routing.events = 0;
  {
    LLN_JSON_HEAP();
    cJSON_Delete(r->routing.usage);
  }
  r->routing.usage = NULL;
  r->routing.call_started_ms = uv_now(r->loop);
  r->routing.router_calls++;
  req->on_data = on_data;
}

static void failed(lln_run *r, const lln_upstream_response *resp) {
  lln__call_error ce;
  lln__call_error_read(&ce, r->call.node, lln_run_model_id(r), resp);
  ce.failure.upstream_calls = r->call.upstream_calls;
  lln_run_after_failure(r, &ce.failure, &ce.error);
  lln__call_error_free(&ce);
}

/* Bytes of a reply that decided nothing kept in the trace ("reply"), so
 * the response, the access log and `llmnet eval` can show what the router
 * said. */
#define REPLY_TRACED_MAX 200

/* Puts the head of an undecided reply on its hop, cut on a UTF-8
 * character boundary. */
static void trace_reply(cJSON *hop, const char *text, size_t len) {
  size_t n = len < REPLY_TRACED_MAX ? len : REPLY_TRACED_MAX;
  while (n < len && n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
    n--;
  char head[REPLY_TRACED_MAX + 1];
  memcpy(head, text, n);
  head[n] = '\0';
  cJSON_AddStringToObject(hop, "reply", head);
}

/* The whole reply was read: it names a candidate, several (ambiguous) or
 * none (the default target answers either way). */
static void decide_on_reply(lln_run *r, const char *text, size_t len, cJSON *hop) {
  int idx = lln_router_parse_reply(text, len, lln__route_candidates(r), r->call.n_cands);
  if (idx < 0)
    trace_reply(hop, text, len);
  if (idx == LLN_ROUTER_AMBIGUOUS) {
    LLN_WARN("request %s: router reply \"%.80s\" names several candidates and picks none", r->request_id,
             text);
    lln__route_default(r, hop, "ambiguous");
  } else if (idx < 0) {
    LLN_WARN("request %s: router reply \"%.80s\" names no candidate", r->request_id, text);
    lln__route_default(r, hop, "router_reply");
  } else {
    lln__route_decide(r, r->call.cands[idx], "router", hop);
  }
}

void lln__route_call_done(lln_run *r, const lln_upstream_response *resp) {
  if (resp->result != LLN_UP_OK || resp->status < 200 || resp->status > 299) {
    failed(r, resp);
    return;
  }
  cJSON *hop;
  if (r->routing.events > 0) {
    hop = lln_run_trace_hop(r, r->routing.from, "router", lln_run_model_id(r), resp->elapsed_ms);
    if (r->routing.usage) {
      cJSON *wrap = cJSON_CreateObject();
      cJSON_AddItemReferenceToObject(wrap, "usage", r->routing.usage);
      lln_run_add_usage(r, wrap, hop);
      cJSON_Delete(wrap);
    }
    lln_buf_reserve(&r->routing.reply, 0);
    decide_on_reply(r, r->routing.reply.data, r->routing.reply.len, hop);
    return;
  }
  /* no event stream: the upstream answered with a chat completion (or
   * with something that is not one, read as a failure) */
  lln_buf_reserve(&r->routing.raw, 0);
  lln_upstream_response whole = *resp;
  whole.body = r->routing.raw.data;
  whole.body_len = r->routing.raw.len;
  const cJSON *message = NULL;
  cJSON *json = r->routing.events == 0 ? lln__parse_completion(&whole, &message) : NULL;
  if (!json) {
    failed(r, &whole);
    return;
  }
  hop = lln_run_trace_hop(r, r->routing.from, "router", lln_run_model_id(r), resp->elapsed_ms);
  lln_run_add_usage(r, json, hop);
  lln_buf text;
  lln_buf_init(&text);
  lln_content_text(cJSON_GetObjectItemCaseSensitive(message, "content"), &text);
  lln_buf_reserve(&text, 0);
  decide_on_reply(r, text.data, text.len, hop);
  lln_buf_free(&text);
  cJSON_Delete(json);
}

void lln__route_free(lln_run *r) {
  lln_buf_free(&r->routing.reply);
  lln_buf_free(&r->routing.raw);
  if (r->routing.sse_ready)
    lln_sse_free(&r->routing.sse);
  r->routing.sse_ready = 0;
  cJSON_Delete(r->routing.usage);
  r->routing.usage = NULL;
}
