/* stream: relaying the final hop's events. Every chunk is re-stamped with
 * the run's id and created time so the client sees one stream (an ordinary
 * one by splicing, stream_splice.c; the others as trees), usage events
 * are held back and summed with the earlier hops, and the end of the stream
 * is only ever clean when the upstream said [DONE]. */
#include "pipeline/stream_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/cache_int.h"
#include "pipeline/cost_run_int.h"
#include "pipeline/sinks_int.h"
#include "util/json_alloc.h"
#include "util/json_print.h"
#include "util/log.h"
#include "util/openai_error.h"
#include "util/xalloc.h"

/* While earlier hops run, a comment this often keeps proxies and clients
 * from timing the stream out; it also commits the response to status 200. */
#define KEEPALIVE_MS 15000

static void start_stream(lln_run *r, int route_complete) {
  if (r->stream.started)
    return;
  r->stream.started = 1;
  r->sink->start(r->ud, route_complete ? r->route.data : NULL);
}

static void emit_raw(lln_run *r, const char *data, size_t len) {
  if (r->sink->event(r->ud, data, len))
    r->stream.paused = 1;
}

static void emit(lln_run *r, cJSON *chunk) {
  lln_buf json;
  lln_buf_init(&json);
  lln_json_print(chunk, &json);
  start_stream(r, 1);
  emit_raw(r, json.data, json.len);
  lln_buf_free(&json);
}

static cJSON *new_chunk(const lln_run *r, const char *model) {
  cJSON *from = cJSON_CreateObject();
  cJSON_AddStringToObject(from, "model", model ? model : "llmnet");
  cJSON *c = lln_run_stamp(r, from, "chat.completion.chunk", (time_t)r->stream.created);
  cJSON_Delete(from);
  return c;
}

/* Ends the run with an error: an error event when the stream has started,
 * else a plain error status. */
static void stream_error(lln_run *r, int status, const char *why) { lln_run_fail(r, status, why); }

static void on_keepalive(uv_timer_t *t) {
  lln_run *r = t->data;
  if (r->finished || r->stream.events) {
    uv_timer_stop(t);
    return;
  }
  start_stream(r, 0);
  r->sink->comment(r->ud);
}

void lln_stream_init(lln_run *r) {
  lln_sse_init(&r->stream.sse, NULL, r);
  const cJSON *opts = cJSON_GetObjectItemCaseSensitive(r->request, "stream_options");
  r->stream.include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
  r->stream.created = (double)time(NULL);
  uv_timer_init(r->loop, &r->stream.keepalive);
  r->stream.keepalive.data = r;
  r->timers.open++;
  uv_timer_start(&r->stream.keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
}

static void set_field(cJSON *obj, const char *key, cJSON *value) {
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  cJSON_AddItemToObject(obj, key, value);
}

static int on_event(void *ud, const char *data, size_t len) {
  lln_run *r = ud;
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    r->stream.done = 1;
    return 0;
  }
  if (lln__stream_splice(r, data, len))
    return 0;
  cJSON *chunk = cJSON_ParseWithLength(data, len);
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(chunk, "error");
  if (!cJSON_IsObject(chunk) || err) {
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    char why[512];
    snprintf(why, sizeof why, "node \"%s\" (model \"%s\"): %s%.300s", r->call.node->name, lln_run_model_id(r),
             err ? "the upstream reported an error mid-stream: "
                 : "the upstream sent an event that is not JSON",
             cJSON_IsString(msg) ? msg->valuestring : "");
    cJSON_Delete(chunk);
    stream_error(r, 502, why);
    return 1;
  }
  cJSON *stamped = lln_run_stamp(r, chunk, "chat.completion.chunk", (time_t)r->stream.created);
  cJSON_Delete(chunk);
  chunk = stamped;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(chunk, "model");
  if (cJSON_IsString(model) && !r->stream.model) {
    r->stream.model = lln_xstrdup(model->valuestring);
  }
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(chunk, "usage");
  if (cJSON_IsObject(usage)) {
    /* kept past this chunk's scratch arena; on the heap, so a stream of
     * usage events replaces one copy instead of piling them up */
    LLN_JSON_HEAP();
    cJSON_Delete(r->stream.usage);
    r->stream.usage = cJSON_Duplicate(usage, 1);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(chunk, "usage");
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
  if (cJSON_GetArraySize(choices) == 0) {
    /* a usage-only event: ours, with every hop summed, comes at the end */
    cJSON_Delete(chunk);
    return 0;
  }
  const cJSON *fr = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "finish_reason");
  if (cJSON_IsString(fr))
    set_field(chunk, "llmnet", lln_run_extension(r));
  if (r->stream.keep_text) {
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "delta");
    const char *piece = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(delta, "content"));
    if (piece)
      lln_sinks_keep_text(&r->stream.text, piece);
  }
  r->stream.events++;
  lln__cache_stream_chunk(r, chunk);
  emit(r, chunk);
  cJSON_Delete(chunk);
  return 0;
}

void lln__stream_relay(lln_run *r, const char *data, size_t len) {
  r->stream.events++;
  start_stream(r, 1);
  emit_raw(r, data, len);
}

static int on_data(void *ud, const char *data, size_t len) {
  lln_run *r = ud;
  if (r->finished)
    return 0;
  int rc;
  {
    /* a chunk's trees live until the next read: a long stream stays small */
    LLN_JSON_SCOPE(&r->scratch);
    rc = lln_sse_feed(&r->stream.sse, data, len);
  }
  lln_arena_reset(&r->scratch);
  if (r->finished)
    return 0;
  if (rc == LLN_SSE_ERR_LINE || rc == LLN_SSE_ERR_EVENT) {
    char why[300];
    snprintf(why, sizeof why, "node \"%s\" (model \"%s\"): the upstream sent an SSE %s larger than 4 MiB",
             r->call.node->name, lln_run_model_id(r), rc == LLN_SSE_ERR_LINE ? "line" : "event");
    stream_error(r, 502, why);
    return 0;
  }
  return r->stream.paused;
}

void lln_stream_prepare_call(lln_run *r, cJSON *body, lln_upstream_request *req) {
  set_field(body, "stream", cJSON_CreateTrue());
  cJSON *opts = cJSON_CreateObject();
  /* always asked for, so the total can include this hop */
  cJSON_AddTrueToObject(opts, "include_usage");
  set_field(body, "stream_options", opts);
  lln_sse_free(&r->stream.sse);
  lln_sse_init(&r->stream.sse, on_event, r);
  r->stream.done = 0;
  r->call.streaming = 1;
  r->stream.call_started_ms = uv_now(r->loop);
  req->on_data = on_data;
}

/* Ends a stream that went well; `content` is the answer's text for the ws
 * sinks. */
static void end_stream(lln_run *r, const char *model, const char *content) {
  if (r->stream.include_usage) {
    cJSON *c = new_chunk(r, model);
    cJSON_AddArrayToObject(c, "choices");
    /* the final hop's usage keeps its details; the three totals are sums */
    cJSON *usage = r->stream.usage ? cJSON_Duplicate(r->stream.usage, 1) : cJSON_CreateObject();
    static const char *const totals[] = {"prompt_tokens", "completion_tokens", "total_tokens"};
    for (int i = 0; i < 3; i++)
      set_field(usage, totals[i], cJSON_CreateNumber((double)r->usage[i]));
    lln__cost_into_usage(r, usage);
    cJSON_AddItemToObject(c, "usage", usage);
    cJSON_AddItemToObject(c, "llmnet", lln_run_extension(r));
    emit(r, c);
    cJSON_Delete(c);
  }
  start_stream(r, 1);
  emit_raw(r, "[DONE]", 6);
  lln_sinks_fire(r, model, content);
  lln_run_result res = {.status = 200, .route = r->route.data, .streamed = 1};
  lln_run_finish(r, &res);
}

void lln_stream_call_done(lln_run *r, const lln_upstream_response *resp) {
  r->call.streaming = 0;
  if (!r->stream.done) {
    char why[300];
    snprintf(why, sizeof why, "node \"%s\" (model \"%s\"): the upstream ended the stream before [DONE]",
             r->call.node->name, lln_run_model_id(r));
    stream_error(r, 502, why);
    return;
  }
  cJSON *hop = lln_run_trace_hop(r, r->call.node, "answer", lln_run_model_id(r), resp->elapsed_ms);
  if (r->stream.usage) {
    cJSON *wrap = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(wrap, "usage", r->stream.usage);
    lln_run_add_usage(r, wrap, hop);
    cJSON_Delete(wrap);
  }
  lln__cache_keep_stream(r);
  end_stream(r, r->stream.model, r->stream.text.data ? r->stream.text.data : "");
}

void lln_stream_replay(lln_run *r) {
  lln__cache_keep(r, r->final);
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(r->final, "model");
  const char *model_id = cJSON_IsString(model) ? model->valuestring : NULL;
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r->final, "choices"), 0);
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
  const cJSON *fr = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");

  cJSON *c = new_chunk(r, model_id);
  cJSON *delta = cJSON_CreateObject();
  cJSON_AddStringToObject(delta, "role", "assistant");
  static const char *const fields[] = {"content", "refusal", "tool_calls"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, fields[i]);
    if (!v || cJSON_IsNull(v))
      continue;
    cJSON *copy = cJSON_Duplicate(v, 1);
    int index = 0;
    cJSON *call;
    cJSON *calls = cJSON_IsArray(copy) && i == 2 ? copy : NULL;
    cJSON_ArrayForEach(call, calls) { set_field(call, "index", cJSON_CreateNumber(index++)); }
    cJSON_AddItemToObject(delta, fields[i], copy);
  }
  cJSON *choices = cJSON_AddArrayToObject(c, "choices");
  cJSON *ch = cJSON_CreateObject();
  cJSON_AddNumberToObject(ch, "index", 0);
  cJSON_AddItemToObject(ch, "delta", delta);
  cJSON_AddNullToObject(ch, "finish_reason");
  cJSON_AddItemToArray(choices, ch);
  emit(r, c);
  cJSON_Delete(c);

  c = new_chunk(r, model_id);
  choices = cJSON_AddArrayToObject(c, "choices");
  ch = cJSON_CreateObject();
  cJSON_AddNumberToObject(ch, "index", 0);
  cJSON_AddObjectToObject(ch, "delta");
  cJSON_AddStringToObject(ch, "finish_reason", cJSON_IsString(fr) ? fr->valuestring : "stop");
  cJSON_AddItemToArray(choices, ch);
  cJSON_AddItemToObject(c, "llmnet", lln_run_extension(r));
  emit(r, c);
  cJSON_Delete(c);
  end_stream(r, model_id, r->output);
}

/* A stream that started ends with an OpenAI error event and no [DONE]:
 * every SDK reads that as a failure, not as a short answer. */
int lln_stream_fail(lln_run *r, const lln_openai_error *e) {
  if (!r->stream.started)
    return 0;
  lln_buf err;
  lln_buf_init(&err);
  lln_openai_error_json_ex(&err, e);
  emit_raw(r, err.data, err.len);
  lln_buf_free(&err);
  lln_run_result res = {
      .status = e->status, .error = e->message, .error_body = e, .route = r->route.data, .streamed = 1};
  lln_run_finish(r, &res);
  return 1;
}

void lln_stream_free(lln_run *r) {
  lln_sse_free(&r->stream.sse);
  lln_buf_free(&r->stream.text);
  lln_buf_free(&r->stream.head);
  cJSON_Delete(r->stream.usage);
  free(r->stream.model);
}
