/* anthropic_stream: the run's chat.completion.chunk events as Anthropic's
 * event stream: message_start, one content block per text run and per tool
 * call (content_block_start, text_delta or input_json_delta deltas,
 * content_block_stop), message_delta with the stop reason and output
 * tokens, message_stop at [DONE]; an error event
 * (never message_stop) when the run fails mid-stream. */
#include "doors/anthropic.h"

#include <stdio.h>
#include <string.h>

#include "doors/anthropic_int.h"
#include "util/json_print.h"

enum { OPEN_NONE, OPEN_TEXT, OPEN_TOOL };

static void send_event(lln_buf *out, const char *name, cJSON *data) {
  lln_buf_printf(out, "event: %s\ndata: ", name);
  lln_json_print(data, out);
  lln_buf_puts(out, "\n\n");
  cJSON_Delete(data);
}

static cJSON *typed(const char *type) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", type);
  return o;
}

void lln_anthropic_stream_init(lln_anthropic_stream *s, const cJSON *request, const char *request_id) {
  memset(s, 0, sizeof *s);
  if (request_id)
    lln__anthropic_message_id(request_id, NULL, s->id, sizeof s->id);
  const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(request, "model"));
  snprintf(s->model, sizeof s->model, "%s", model ? model : "llmnet");
  s->stop_sequences = cJSON_GetObjectItemCaseSensitive(request, "stop_sequences");
  s->tool_chat_index = -1;
}

static void message_start(lln_anthropic_stream *s, lln_buf *out) {
  if (s->started)
    return;
  s->started = 1;
  cJSON *ev = typed("message_start");
  cJSON *m = cJSON_AddObjectToObject(ev, "message");
  cJSON_AddStringToObject(m, "id", s->id);
  cJSON_AddStringToObject(m, "type", "message");
  cJSON_AddStringToObject(m, "role", "assistant");
  cJSON_AddStringToObject(m, "model", s->model);
  cJSON_AddArrayToObject(m, "content");
  cJSON_AddNullToObject(m, "stop_reason");
  cJSON_AddNullToObject(m, "stop_sequence");
  cJSON *u = cJSON_AddObjectToObject(m, "usage");
  cJSON_AddNumberToObject(u, "input_tokens", 0);
  cJSON_AddNumberToObject(u, "output_tokens", 0);
  send_event(out, "message_start", ev);
}

static void close_block(lln_anthropic_stream *s, lln_buf *out) {
  if (s->open == OPEN_NONE)
    return;
  cJSON *ev = typed("content_block_stop");
  cJSON_AddNumberToObject(ev, "index", s->next_index - 1);
  send_event(out, "content_block_stop", ev);
  s->open = OPEN_NONE;
  s->tool_chat_index = -1;
}

static void open_block(lln_anthropic_stream *s, lln_buf *out, cJSON *block) {
  close_block(s, out);
  cJSON *ev = typed("content_block_start");
  cJSON_AddNumberToObject(ev, "index", s->next_index++);
  cJSON_AddItemToObject(ev, "content_block", block);
  send_event(out, "content_block_start", ev);
}

static void delta(lln_anthropic_stream *s, lln_buf *out, const char *type, const char *key,
                  const char *value) {
  cJSON *ev = typed("content_block_delta");
  cJSON_AddNumberToObject(ev, "index", s->next_index - 1);
  cJSON *d = cJSON_AddObjectToObject(ev, "delta");
  cJSON_AddStringToObject(d, "type", type);
  cJSON_AddStringToObject(d, key, value);
  send_event(out, "content_block_delta", ev);
}

static void text_piece(lln_anthropic_stream *s, lln_buf *out, const char *text) {
  if (!*text)
    return;
  if (s->open != OPEN_TEXT) {
    cJSON *b = typed("text");
    cJSON_AddStringToObject(b, "text", "");
    open_block(s, out, b);
    s->open = OPEN_TEXT;
  }
  delta(s, out, "text_delta", "text", text);
}

/* One tool_calls entry of a delta: a new index or a new id opens a
 * tool_use block (an id repeated on every fragment, as some servers send
 * it, does not), argument fragments become input_json_delta events. */
static void tool_piece(lln_anthropic_stream *s, lln_buf *out, const cJSON *call) {
  const cJSON *idx = cJSON_GetObjectItemCaseSensitive(call, "index");
  int chat_index = cJSON_IsNumber(idx) ? idx->valueint : 0;
  const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(call, "id"));
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
  if (s->open != OPEN_TOOL || chat_index != s->tool_chat_index ||
      (id && *id && strcmp(id, s->tool_id) != 0)) {
    char made_id[40];
    snprintf(made_id, sizeof made_id, "toolu_llmnet_%d", s->next_index);
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "name"));
    cJSON *b = typed("tool_use");
    cJSON_AddStringToObject(b, "id", id && *id ? id : made_id);
    cJSON_AddStringToObject(b, "name", name ? name : "");
    cJSON_AddObjectToObject(b, "input");
    open_block(s, out, b);
    s->open = OPEN_TOOL;
    s->tool_chat_index = chat_index;
    snprintf(s->tool_id, sizeof s->tool_id, "%s", id ? id : "");
  }
  const char *args = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
  if (args && *args)
    delta(s, out, "input_json_delta", "partial_json", args);
}

static void chunk(lln_anthropic_stream *s, const cJSON *c, lln_buf *out) {
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(c, "usage");
  const cJSON *pt = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
  if (cJSON_IsNumber(pt))
    s->input_tokens = (long)pt->valuedouble;
  if (cJSON_IsNumber(ct))
    s->output_tokens = (long)ct->valuedouble;
  const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "model"));
  if (model && !s->started)
    snprintf(s->model, sizeof s->model, "%s", model);
  if (!s->id[0])
    lln__anthropic_message_id(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "id")), NULL, s->id,
                              sizeof s->id);
  message_start(s, out);
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "choices"), 0);
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(choice, "delta");
  const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "content"));
  if (text)
    text_piece(s, out, text);
  const cJSON *call;
  cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(d, "tool_calls")) tool_piece(s, out, call);
  const char *fr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
  if (fr) {
    const char *matched = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "stop_reason"));
    int by_sequence = lln__anthropic_is_stop_sequence(s->stop_sequences, matched);
    snprintf(s->stop_reason, sizeof s->stop_reason, "%s", lln__anthropic_stop_reason(fr, by_sequence));
    if (by_sequence)
      snprintf(s->stop_sequence, sizeof s->stop_sequence, "%s", matched);
  }
}

static void finish(lln_anthropic_stream *s, lln_buf *out) {
  message_start(s, out);
  int had_tool = s->open == OPEN_TOOL;
  close_block(s, out);
  const char *reason = s->stop_reason[0] ? s->stop_reason : "end_turn";
  if (had_tool && strcmp(reason, "end_turn") == 0)
    reason = "tool_use";
  cJSON *ev = typed("message_delta");
  cJSON *d = cJSON_AddObjectToObject(ev, "delta");
  cJSON_AddStringToObject(d, "stop_reason", reason);
  if (strcmp(reason, "stop_sequence") == 0)
    cJSON_AddStringToObject(d, "stop_sequence", s->stop_sequence);
  else
    cJSON_AddNullToObject(d, "stop_sequence");
  cJSON *u = cJSON_AddObjectToObject(ev, "usage");
  cJSON_AddNumberToObject(u, "input_tokens", (double)s->input_tokens);
  cJSON_AddNumberToObject(u, "output_tokens", (double)s->output_tokens);
  send_event(out, "message_delta", ev);
  send_event(out, "message_stop", typed("message_stop"));
  s->ended = 1;
}

/* An error event's type from the OpenAI error the run sent. */
static int status_of(const cJSON *err) {
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "type"));
  const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "code"));
  if (type && strcmp(type, "rate_limit_error") == 0)
    return 429;
  if (code && strcmp(code, "unavailable") == 0)
    return 503;
  return 500;
}

int lln_anthropic_stream_event(lln_anthropic_stream *s, const char *data, size_t len, lln_buf *out) {
  if (s->ended)
    return 1;
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    finish(s, out);
    return 1;
  }
  cJSON *c = cJSON_ParseWithLength(data, len);
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(c, "error");
  if (!cJSON_IsObject(c) || err) {
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message"));
    lln_anthropic_stream_fail(s, status_of(err),
                              msg ? msg
                                  : "llmnet's stream broke off: an event that is not "
                                    "JSON",
                              out);
    cJSON_Delete(c);
    return 1;
  }
  chunk(s, c, out);
  cJSON_Delete(c);
  return 0;
}

void lln_anthropic_stream_fail(lln_anthropic_stream *s, int status, const char *message, lln_buf *out) {
  if (s->ended)
    return;
  s->ended = 1;
  lln_buf_puts(out, "event: error\ndata: ");
  lln_anthropic_error_json(out, lln_anthropic_error_type(status), message);
  lln_buf_puts(out, "\n\n");
}
