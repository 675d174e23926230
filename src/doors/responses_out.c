/* responses_out: the Responses door's answer side: a chat.completion
 * becomes a response object, a chat.completion.chunk stream becomes the
 * Responses event sequence (response.created, response.in_progress,
 * output items with their text and function-call argument deltas,
 * response.completed), and a stream the run ends with an error event
 * becomes response.failed followed by an error event: never a
 * clean-looking end. Events are printed straight into the output buffer
 * (no tree per event): the translation stays cheap next to the chat path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doors/responses_int.h"
#include "util/json_print.h"
#include "util/log.h"

/* Request fields a response object repeats, with their value when the
 * request left them out. */
static const struct {
  const char *key, *absent;
} echo_fields[] = {
    {"instructions", "null"},
    {"metadata", "{}"},
    {"temperature", "null"},
    {"top_p", "null"},
    {"max_output_tokens", "null"},
    {"tools", "[]"},
    {"tool_choice", "\"auto\""},
    {"text", "{\"format\":{\"type\":\"text\"}}"},
    {"previous_response_id", "null"},
    {"parallel_tool_calls", "true"},
    {"user", "null"},
    {"reasoning", "{\"effort\":null,\"summary\":null}"},
};
#define N_ECHO (sizeof echo_fields / sizeof echo_fields[0])

/* The pieces of a response are written with appends, not printf: they are
 * mostly constant text, and a response has dozens of them (bench: the
 * printf calls were a fifth of the door's cost). */
static void put_key(lln_buf *out, const char *key) {
  lln_buf_append(out, ",\"", 2);
  lln_buf_puts(out, key);
  lln_buf_append(out, "\":", 2);
}

/* A whole number (a token count or a time in seconds) as JSON digits. */
static void put_whole(lln_buf *out, double v) {
  char digits[24];
  size_t n = sizeof digits;
  unsigned long long u = v > 0 && v < 1e19 ? (unsigned long long)v : 0;
  do {
    digits[--n] = (char)('0' + u % 10);
    u /= 10;
  } while (u && n);
  lln_buf_append(out, digits + n, sizeof digits - n);
}

void lln__resp_keep_echo(lln_responses_state *st, const cJSON *body) {
  for (size_t i = 0; i < N_ECHO; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, echo_fields[i].key);
    put_key(&st->echo, echo_fields[i].key);
    if (v && !cJSON_IsNull(v))
      lln_json_print(v, &st->echo);
    else
      lln_buf_puts(&st->echo, echo_fields[i].absent);
  }
  const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "model"));
  snprintf(st->model, sizeof st->model, "%s", model ? model : "llmnet");
}

/* Item ids are named after the response (responses_int.h). */
static void msg_id_of(lln_responses_state *st) {
  char hex[LLN_RESPONSES_ID_MAX];
  snprintf(hex, sizeof hex, "%s", st->id + 5);
  snprintf(st->msg_id, sizeof st->msg_id, "msg_%.32s", hex);
}

static void call_id_of(lln_responses_state *st, lln__resp_call *c) {
  char hex[LLN_RESPONSES_ID_MAX];
  snprintf(hex, sizeof hex, "%s", st->id + 5);
  snprintf(c->id, sizeof c->id, "fc_%.32s_%d", hex, (int)(c - st->calls));
}

static void put_str(lln_buf *out, const char *key, const char *s, size_t len) {
  put_key(out, key);
  lln_buf_json_string(out, s ? s : "", s ? len : 0);
}

static void put_message_item(const lln_responses_state *st, const char *status, lln_buf *out) {
  lln_buf_puts(out, "{\"type\":\"message\"");
  put_str(out, "id", st->msg_id, strlen(st->msg_id));
  lln_buf_puts(out, ",\"status\":\"");
  lln_buf_puts(out, status);
  lln_buf_puts(out, "\",\"role\":\"assistant\",\"content\":[");
  if (strcmp(status, "in_progress") != 0) {
    lln_buf_puts(out, "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[]");
    put_str(out, "text", st->text.data, st->text.len);
    lln_buf_putc(out, '}');
  }
  lln_buf_puts(out, "]}");
}

static void put_call_item(const lln__resp_call *c, const char *status, lln_buf *out) {
  lln_buf_puts(out, "{\"type\":\"function_call\"");
  put_str(out, "id", c->id, strlen(c->id));
  put_str(out, "call_id", c->call_id.data, c->call_id.len);
  put_str(out, "name", c->name.data, c->name.len);
  put_str(out, "arguments", c->args.data, c->args.len);
  lln_buf_puts(out, ",\"status\":\"");
  lln_buf_puts(out, status);
  lln_buf_puts(out, "\"}");
}

static const char *final_status(const lln_responses_state *st) {
  return strcmp(st->finish, "length") == 0 || strcmp(st->finish, "content_filter") == 0 ? "incomplete"
                                                                                        : "completed";
}

void lln__resp_object(lln_responses_state *st, const char *status, const char *error_json, lln_buf *out) {
  lln_buf_puts(out, "{\"id\":");
  lln_buf_json_string(out, st->id, strlen(st->id));
  lln_buf_puts(out, ",\"object\":\"response\",\"created_at\":");
  put_whole(out, st->created_at);
  lln_buf_puts(out, ",\"status\":\"");
  lln_buf_puts(out, status);
  lln_buf_puts(out, "\",\"error\":");
  lln_buf_puts(out, error_json ? error_json : "null");
  if (strcmp(status, "incomplete") == 0)
    lln_buf_printf(out, ",\"incomplete_details\":{\"reason\":\"%s\"}",
                   strcmp(st->finish, "length") == 0 ? "max_output_tokens" : "content_filter");
  else
    lln_buf_puts(out, ",\"incomplete_details\":null");
  put_str(out, "model", st->model, strlen(st->model));
  lln_buf_puts(out, ",\"output\":[");
  int in_progress = strcmp(status, "in_progress") == 0;
  const char *item_status = strcmp(status, "completed") == 0 ? "completed" : "incomplete";
  for (int i = 0; i < st->n_outputs && !in_progress; i++) {
    if (i)
      lln_buf_putc(out, ',');
    if (i == st->msg_index)
      put_message_item(st, item_status, out);
    for (int k = 0; k < st->n_calls; k++) {
      if (st->calls[k].output_index == i)
        put_call_item(&st->calls[k], item_status, out);
    }
  }
  lln_buf_putc(out, ']');
  lln_buf_append(out, st->echo.data ? st->echo.data : "", st->echo.len);
  lln_buf_puts(out, st->no_store ? ",\"store\":false,\"truncation\":\"disabled\""
                                 : ",\"store\":true,\"truncation\":\"disabled\"");
  if (in_progress || strcmp(status, "failed") == 0)
    lln_buf_puts(out, ",\"usage\":null}");
  else {
    lln_buf_puts(out, ",\"usage\":{\"input_tokens\":");
    put_whole(out, st->usage_in);
    lln_buf_puts(out, ",\"input_tokens_details\":{\"cached_tokens\":");
    put_whole(out, st->usage_cached);
    lln_buf_puts(out, "},\"output_tokens\":");
    put_whole(out, st->usage_out);
    lln_buf_puts(out, ",\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":");
    put_whole(out, st->usage_total ? st->usage_total : st->usage_in + st->usage_out);
    if (st->has_cost) {
      lln_buf_puts(out, ",\"cost\":");
      lln_json_print_number(st->usage_cost, out);
    }
    lln_buf_puts(out, "}}");
  }
}

void lln__resp_assistant_message(const lln_responses_state *st, lln_buf *out) {
  lln_buf_puts(out, "{\"role\":\"assistant\",\"content\":");
  if (st->msg_index >= 0)
    lln_buf_json_string(out, st->text.data ? st->text.data : "", st->text.len);
  else
    lln_buf_puts(out, "null");
  if (st->n_calls) {
    lln_buf_puts(out, ",\"tool_calls\":[");
    for (int k = 0; k < st->n_calls; k++) {
      const lln__resp_call *c = &st->calls[k];
      lln_buf_puts(out, k ? ",{\"type\":\"function\"" : "{\"type\":\"function\"");
      put_str(out, "id", c->call_id.data, c->call_id.len);
      lln_buf_puts(out, ",\"function\":{\"name\":");
      lln_buf_json_string(out, c->name.data ? c->name.data : "", c->name.len);
      put_str(out, "arguments", c->args.data, c->args.len);
      lln_buf_puts(out, "}}");
    }
    lln_buf_putc(out, ']');
  }
  lln_buf_putc(out, '}');
}

/* ---- events ---- */

static void event_begin(lln_responses_state *st, lln_buf *out, const char *type) {
  lln_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%d", type, type, st->seq++);
}

static void event_end(lln_buf *out) { lln_buf_puts(out, "}\n\n"); }

static void ev_response(lln_responses_state *st, lln_buf *out, const char *type, const char *status,
                        const char *error_json) {
  event_begin(st, out, type);
  lln_buf_puts(out, ",\"response\":");
  lln__resp_object(st, status, error_json, out);
  event_end(out);
}

static void ensure_started(lln_responses_state *st, lln_buf *out) {
  if (st->started)
    return;
  st->started = 1;
  ev_response(st, out, "response.created", "in_progress", NULL);
  ev_response(st, out, "response.in_progress", "in_progress", NULL);
}

static void close_message(lln_responses_state *st, lln_buf *out) {
  if (!st->msg_open)
    return;
  st->msg_open = 0;
  event_begin(st, out, "response.output_text.done");
  put_str(out, "item_id", st->msg_id, strlen(st->msg_id));
  lln_buf_printf(out, ",\"output_index\":%d,\"content_index\":0,\"logprobs\":[]", st->msg_index);
  put_str(out, "text", st->text.data, st->text.len);
  event_end(out);
  event_begin(st, out, "response.content_part.done");
  put_str(out, "item_id", st->msg_id, strlen(st->msg_id));
  lln_buf_printf(out,
                 ",\"output_index\":%d,\"content_index\":0,\"part\":{\"type\":\"output_text\","
                 "\"annotations\":[],\"logprobs\":[]",
                 st->msg_index);
  put_str(out, "text", st->text.data, st->text.len);
  lln_buf_putc(out, '}');
  event_end(out);
  event_begin(st, out, "response.output_item.done");
  lln_buf_printf(out, ",\"output_index\":%d,\"item\":", st->msg_index);
  put_message_item(st, "completed", out);
  event_end(out);
}

static void open_message(lln_responses_state *st, lln_buf *out) {
  if (st->msg_open)
    return;
  if (st->msg_index >= 0)
    return; /* text after a function call: appended to the one message (rare) */
  st->msg_index = st->n_outputs++;
  st->msg_open = 1;
  msg_id_of(st);
  event_begin(st, out, "response.output_item.added");
  lln_buf_printf(out, ",\"output_index\":%d,\"item\":", st->msg_index);
  put_message_item(st, "in_progress", out);
  event_end(out);
  event_begin(st, out, "response.content_part.added");
  put_str(out, "item_id", st->msg_id, strlen(st->msg_id));
  lln_buf_printf(out,
                 ",\"output_index\":%d,\"content_index\":0,\"part\":{\"type\":\"output_text\","
                 "\"text\":\"\",\"annotations\":[],\"logprobs\":[]}",
                 st->msg_index);
  event_end(out);
}

static void close_call(lln_responses_state *st, lln__resp_call *c, lln_buf *out) {
  event_begin(st, out, "response.function_call_arguments.done");
  put_str(out, "item_id", c->id, strlen(c->id));
  lln_buf_printf(out, ",\"output_index\":%d", c->output_index);
  put_str(out, "name", c->name.data, c->name.len);
  put_str(out, "arguments", c->args.data, c->args.len);
  event_end(out);
  event_begin(st, out, "response.output_item.done");
  lln_buf_printf(out, ",\"output_index\":%d,\"item\":", c->output_index);
  put_call_item(c, "completed", out);
  event_end(out);
}

static void on_text(lln_responses_state *st, const char *piece, size_t len, lln_buf *out) {
  open_message(st, out);
  lln_buf_append(&st->text, piece, len);
  if (!st->msg_open)
    return;
  event_begin(st, out, "response.output_text.delta");
  put_str(out, "item_id", st->msg_id, strlen(st->msg_id));
  lln_buf_printf(out, ",\"output_index\":%d,\"content_index\":0,\"logprobs\":[]", st->msg_index);
  put_str(out, "delta", piece, len);
  event_end(out);
}

static void on_tool_call(lln_responses_state *st, const cJSON *tc, lln_buf *out) {
  const cJSON *index = cJSON_GetObjectItemCaseSensitive(tc, "index");
  /* an index is checked before it is made an int: 1e40 is not one */
  int k = !cJSON_IsNumber(index) ? st->n_calls - (st->n_calls > 0)
          : index->valuedouble >= 0 && index->valuedouble < LLN_RESPONSES_MAX_CALLS ? (int)index->valuedouble
                                                                                    : -1;
  if (k < 0 || k >= LLN_RESPONSES_MAX_CALLS || k > st->n_calls) {
    LLN_WARN("responses: a streamed tool call index %d is out of order or past %d calls; dropped", k,
             LLN_RESPONSES_MAX_CALLS);
    return;
  }
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
  const char *args = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
  lln__resp_call *c = &st->calls[k];
  if (k == st->n_calls) {
    close_message(st, out);
    st->n_calls++;
    c->output_index = st->n_outputs++;
    call_id_of(st, c);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "id"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "name"));
    lln_buf_puts(&c->call_id, id ? id : c->id);
    lln_buf_puts(&c->name, name ? name : "");
    event_begin(st, out, "response.output_item.added");
    lln_buf_printf(out, ",\"output_index\":%d,\"item\":", c->output_index);
    put_call_item(c, "in_progress", out);
    event_end(out);
  }
  if (args && *args) {
    lln_buf_puts(&c->args, args);
    event_begin(st, out, "response.function_call_arguments.delta");
    put_str(out, "item_id", c->id, strlen(c->id));
    lln_buf_printf(out, ",\"output_index\":%d", c->output_index);
    put_str(out, "delta", args, strlen(args));
    event_end(out);
  }
}

static void take_usage(lln_responses_state *st, const cJSON *usage) {
  const cJSON *v;
  if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens")))
    st->usage_in = v->valuedouble;
  if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens")))
    st->usage_out = v->valuedouble;
  if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(usage, "total_tokens")))
    st->usage_total = v->valuedouble;
  const cJSON *details = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
  if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(details, "cached_tokens")))
    st->usage_cached = v->valuedouble;
  /* every hop's cost, summed by the pipeline (docs/CONFIG.md "Cost") */
  if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(usage, "cost"))) {
    st->usage_cost = v->valuedouble;
    st->has_cost = 1;
  }
}

static void take_model(lln_responses_state *st, const cJSON *obj) {
  const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "model"));
  if (model && *model)
    snprintf(st->model, sizeof st->model, "%s", model);
}

/* The run ended the stream with {"error":{...}}: response.failed, then an
 * error event (the openai SDK throws on it; the AI SDK reads its
 * error.code). */
static void on_failure(lln_responses_state *st, const cJSON *error, lln_buf *out) {
  const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));
  const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "code"));
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "type"));
  if (!code)
    code = type ? type : "server_error";
  if (!msg)
    msg = "the upstream stream failed";
  ensure_started(st, out);
  lln_buf err;
  lln_buf_init(&err);
  lln_buf_puts(&err, "{\"code\":");
  lln_buf_json_string(&err, code, strlen(code));
  put_str(&err, "message", msg, strlen(msg));
  lln_buf_putc(&err, '}');
  st->ended = 1;
  st->failed = 1;
  ev_response(st, out, "response.failed", "failed", err.data);
  event_begin(st, out, "error");
  put_str(out, "code", code, strlen(code));
  put_str(out, "message", msg, strlen(msg));
  lln_buf_puts(out, ",\"param\":null,\"error\":{\"type\":");
  lln_buf_json_string(out, type ? type : "server_error", strlen(type ? type : "server_error"));
  put_str(out, "code", code, strlen(code));
  put_str(out, "message", msg, strlen(msg));
  lln_buf_puts(out, ",\"param\":null}");
  event_end(out);
  lln_buf_free(&err);
}

static void on_done(lln_responses_state *st, lln_buf *out) {
  ensure_started(st, out);
  close_message(st, out);
  for (int k = 0; k < st->n_calls; k++)
    close_call(st, &st->calls[k], out);
  const char *status = final_status(st);
  st->ended = 1;
  ev_response(st, out, strcmp(status, "completed") == 0 ? "response.completed" : "response.incomplete",
              status, NULL);
}

void lln__resp_event(void *state, const char *data, size_t len, lln_buf *out) {
  lln_responses_state *st = state;
  if (st->ended)
    return;
  if (!st->created_at) {
    st->created_at = (double)time(NULL);
    st->msg_index = -1;
  }
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    on_done(st, out);
    return;
  }
  cJSON *chunk = cJSON_ParseWithLength(data, len);
  const cJSON *error = cJSON_GetObjectItemCaseSensitive(chunk, "error");
  if (!cJSON_IsObject(chunk) || error) {
    on_failure(st, error, out);
    cJSON_Delete(chunk);
    return;
  }
  if (!st->started)
    take_model(st, chunk);
  ensure_started(st, out);
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(chunk, "usage");
  if (cJSON_IsObject(usage))
    take_usage(st, usage);
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0);
  const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(delta, "content");
  if (cJSON_IsString(content) && *content->valuestring)
    on_text(st, content->valuestring, strlen(content->valuestring), out);
  const cJSON *tc;
  cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(delta, "tool_calls")) { on_tool_call(st, tc, out); }
  const char *fr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
  if (fr)
    snprintf(st->finish, sizeof st->finish, "%s", fr);
  cJSON_Delete(chunk);
}

void lln__resp_answer(void *state, const cJSON *cc, lln_buf *out) {
  lln_responses_state *st = state;
  st->created_at = (double)time(NULL);
  st->msg_index = -1;
  take_model(st, cc);
  take_usage(st, cJSON_GetObjectItemCaseSensitive(cc, "usage"));
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cc, "choices"), 0);
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
  const char *fr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
  snprintf(st->finish, sizeof st->finish, "%s", fr ? fr : "stop");
  const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "content"));
  const char *refusal = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "refusal"));
  if (!content || !*content)
    content = refusal;
  if (content && *content) {
    st->msg_index = st->n_outputs++;
    msg_id_of(st);
    lln_buf_puts(&st->text, content);
  }
  const cJSON *tc;
  cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) {
    if (st->n_calls >= LLN_RESPONSES_MAX_CALLS)
      break;
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "id"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "name"));
    const char *args = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
    lln__resp_call *c = &st->calls[st->n_calls++];
    c->output_index = st->n_outputs++;
    call_id_of(st, c);
    lln_buf_puts(&c->call_id, id ? id : c->id);
    lln_buf_puts(&c->name, name ? name : "");
    lln_buf_puts(&c->args, args ? args : "{}");
  }
  lln__resp_object(st, final_status(st), NULL, out);
  /* llmnet's own extension (route, hops) rides along, as on chat */
  const cJSON *ext = cJSON_GetObjectItemCaseSensitive(cc, "llmnet");
  if (ext && out->len) {
    out->len--; /* reopen the object */
    lln_buf_puts(out, ",\"llmnet\":");
    lln_json_print(ext, out);
    lln_buf_putc(out, '}');
  }
  st->ended = 1;
}

int lln__resp_keep(void *state, lln_store_put *put) {
  lln_responses_state *st = state;
  if (st->no_store || !st->ended || st->failed || !*st->id)
    return 0;
  lln_buf_reset(&st->keep);
  lln_buf_puts(&st->keep, "{\"messages\":[");
  lln_buf_append(&st->keep, st->history.data ? st->history.data : "", st->history.len);
  if (st->history.len)
    lln_buf_putc(&st->keep, ',');
  lln__resp_assistant_message(st, &st->keep);
  lln_buf_puts(&st->keep, "]}");
  if (st->keep.len > LLN_STORE_MAX_VALUE) {
    /* too long to continue with previous_response_id: the answer alone
     * is kept, so item references to it still resolve */
    LLN_DEBUG("responses: %s's conversation is %zu bytes, over %d: only its answer is kept", st->id,
              st->keep.len, LLN_STORE_MAX_VALUE);
    lln_buf_reset(&st->keep);
    lln_buf_puts(&st->keep, "{\"partial\":true,\"messages\":[");
    lln__resp_assistant_message(st, &st->keep);
    lln_buf_puts(&st->keep, "]}");
    if (st->keep.len > LLN_STORE_MAX_VALUE)
      return 0;
  }
  snprintf(st->keep_key, sizeof st->keep_key, LLN_RESPONSES_KEY_PREFIX "%s", st->id);
  put->key = st->keep_key;
  put->value = st->keep.data;
  put->len = st->keep.len;
  put->ttl_ms = LLN_RESPONSES_TTL_MS;
  put->group = "responses";
  put->max_entries = LLN_RESPONSES_MAX_KEPT;
  return 1;
}
