/* cache_stream: a relayed stream assembled into the chat.completion it
 * stands for (content, refusal, tool calls, finish_reason; usage comes
 * from the run's sums), so that a later request, streamed or not, can be
 * answered from it. Only a stream of one choice is assembled; one whose
 * pieces pass LLN_CACHE_MAX_ENTRY bytes or LLN_CACHE_MAX_TOOL_CALLS tool
 * calls is not (it would not be stored anyway). */
#include <stdlib.h>
#include <string.h>

#include "pipeline/cache_int.h"
#include "pipeline/respond_int.h"
#include "util/json_alloc.h"

static void append(lln__cache_stream *s, lln_buf *b, const cJSON *piece) {
  const char *text = cJSON_GetStringValue(piece);
  if (!text || s->unusable)
    return;
  size_t n = strlen(text);
  s->bytes += n;
  if (s->bytes > LLN_CACHE_MAX_ENTRY) {
    s->unusable = 1;
    return;
  }
  lln_buf_append(b, text, n);
}

static void tool_call_delta(lln__cache_stream *s, const cJSON *d) {
  const cJSON *index = cJSON_GetObjectItemCaseSensitive(d, "index");
  double i = cJSON_IsNumber(index) ? index->valuedouble : (double)(s->n_calls ? s->n_calls - 1 : 0);
  if (i < 0 || i >= LLN_CACHE_MAX_TOOL_CALLS || i != (double)(size_t)i) {
    s->unusable = 1;
    return;
  }
  size_t k = (size_t)i;
  while (s->n_calls <= k) {
    lln__cache_tool_call *c = &s->calls[s->n_calls++];
    lln_buf_init(&c->id);
    lln_buf_init(&c->type);
    lln_buf_init(&c->name);
    lln_buf_init(&c->args);
  }
  lln__cache_tool_call *c = &s->calls[k];
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(d, "function");
  append(s, &c->id, cJSON_GetObjectItemCaseSensitive(d, "id"));
  append(s, &c->type, cJSON_GetObjectItemCaseSensitive(d, "type"));
  append(s, &c->name, cJSON_GetObjectItemCaseSensitive(fn, "name"));
  append(s, &c->args, cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
}

void lln__cache_stream_chunk(lln_run *r, const cJSON *chunk) {
  if (!r->cache || r->cache->no_store)
    return;
  lln__cache_stream *s = r->cache->stream;
  if (!s) {
    if (!(s = calloc(1, sizeof *s)))
      abort();
    lln_buf_init(&s->content);
    lln_buf_init(&s->refusal);
    r->cache->stream = s;
  }
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
  const cJSON *choice;
  cJSON_ArrayForEach(choice, choices) {
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(choice, "index");
    if (cJSON_IsNumber(index) && index->valuedouble != 0) {
      s->unusable = 1; /* n > 1: not assembled */
      continue;
    }
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    append(s, &s->content, cJSON_GetObjectItemCaseSensitive(delta, "content"));
    append(s, &s->refusal, cJSON_GetObjectItemCaseSensitive(delta, "refusal"));
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(delta, "tool_calls")) tool_call_delta(s, d);
    const char *fr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
    if (fr)
      snprintf(s->finish_reason, sizeof s->finish_reason, "%s", fr);
  }
}

static cJSON *text_or_null(const lln_buf *b, int null_when_empty) {
  if (!b->len && null_when_empty)
    return cJSON_CreateNull();
  return cJSON_CreateString(b->data ? b->data : "");
}

static cJSON *tool_calls(const lln__cache_stream *s) {
  cJSON *calls = cJSON_CreateArray();
  for (size_t i = 0; i < s->n_calls; i++) {
    const lln__cache_tool_call *c = &s->calls[i];
    cJSON *call = cJSON_CreateObject();
    cJSON_AddItemToObject(call, "id", text_or_null(&c->id, 0));
    cJSON_AddStringToObject(call, "type", c->type.len ? c->type.data : "function");
    cJSON *fn = cJSON_AddObjectToObject(call, "function");
    cJSON_AddItemToObject(fn, "name", text_or_null(&c->name, 0));
    cJSON_AddItemToObject(fn, "arguments", text_or_null(&c->args, 0));
    cJSON_AddItemToArray(calls, call);
  }
  return calls;
}

cJSON *lln__cache_stream_completion(lln_run *r) {
  lln__cache_stream *s = r->cache ? r->cache->stream : NULL;
  if (!s || s->unusable || !s->finish_reason[0])
    return NULL;
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "object", "chat.completion");
  cJSON_AddStringToObject(c, "model", r->stream.model ? r->stream.model : r->node->model_ids[0]);
  cJSON *choices = cJSON_AddArrayToObject(c, "choices");
  cJSON *choice = cJSON_CreateObject();
  cJSON_AddNumberToObject(choice, "index", 0);
  cJSON *msg = cJSON_AddObjectToObject(choice, "message");
  cJSON_AddStringToObject(msg, "role", "assistant");
  cJSON_AddItemToObject(msg, "content", text_or_null(&s->content, s->n_calls > 0 || s->refusal.len));
  if (s->refusal.len)
    cJSON_AddItemToObject(msg, "refusal", text_or_null(&s->refusal, 0));
  if (s->n_calls)
    cJSON_AddItemToObject(msg, "tool_calls", tool_calls(s));
  cJSON_AddStringToObject(choice, "finish_reason", s->finish_reason);
  cJSON_AddItemToArray(choices, choice);
  cJSON_AddItemToObject(c, "usage",
                        r->stream.usage ? cJSON_Duplicate(r->stream.usage, 1) : cJSON_CreateObject());
  lln__run_usage_totals(r, c);
  return c;
}

void lln__cache_stream_free(lln__cache_stream *s) {
  if (!s)
    return;
  lln_buf_free(&s->content);
  lln_buf_free(&s->refusal);
  for (size_t i = 0; i < s->n_calls; i++) {
    lln_buf_free(&s->calls[i].id);
    lln_buf_free(&s->calls[i].type);
    lln_buf_free(&s->calls[i].name);
    lln_buf_free(&s->calls[i].args);
  }
  free(s);
}
