/* anthropic_response: a chat.completion answer as an Anthropic message
 * (text and tool_use content blocks, stop_reason, usage) and llmnet's
 * errors in Anthropic's error shape and types. */
#include "doors/anthropic.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "doors/anthropic_int.h"
#include "util/secrets.h"

void lln__anthropic_message_id(const char *chat_id, const char *fallback, char *out, size_t size) {
  const char *src = chat_id && *chat_id ? chat_id : fallback ? fallback : "llmnet";
  size_t n = snprintf(out, size, "msg_");
  for (; *src && n + 1 < size; src++)
    if (isalnum((unsigned char)*src) || *src == '_' || *src == '-')
      out[n++] = *src;
  out[n < size ? n : size - 1] = '\0';
}

int lln__anthropic_is_stop_sequence(const cJSON *stop_sequences, const char *matched) {
  const cJSON *s, *list = cJSON_IsArray(stop_sequences) ? stop_sequences : NULL;
  if (!matched)
    return 0;
  cJSON_ArrayForEach(s, list) {
    if (cJSON_IsString(s) && strcmp(s->valuestring, matched) == 0)
      return 1;
  }
  return 0;
}

const char *lln__anthropic_stop_reason(const char *finish_reason, int stop_sequence) {
  if (!finish_reason)
    return "end_turn";
  if (strcmp(finish_reason, "length") == 0)
    return "max_tokens";
  if (strcmp(finish_reason, "tool_calls") == 0 || strcmp(finish_reason, "function_call") == 0)
    return "tool_use";
  if (strcmp(finish_reason, "content_filter") == 0)
    return "refusal";
  return stop_sequence ? "stop_sequence" : "end_turn";
}

cJSON *lln__anthropic_parse_input(const char *arguments) {
  cJSON *input = arguments ? cJSON_Parse(arguments) : NULL;
  if (cJSON_IsObject(input))
    return input;
  cJSON_Delete(input);
  return cJSON_CreateObject();
}

static void add_usage(cJSON *msg, const cJSON *usage) {
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
  const cJSON *out = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
  cJSON *u = cJSON_AddObjectToObject(msg, "usage");
  cJSON_AddNumberToObject(u, "input_tokens", cJSON_IsNumber(in) ? in->valuedouble : 0);
  cJSON_AddNumberToObject(u, "output_tokens", cJSON_IsNumber(out) ? out->valuedouble : 0);
}

static void add_tool_uses(cJSON *content, const cJSON *calls) {
  const cJSON *call;
  int i = 0;
  cJSON_ArrayForEach(call, calls) {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(call, "id"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "name"));
    char made_id[40];
    snprintf(made_id, sizeof made_id, "toolu_llmnet_%d", i++);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "tool_use");
    cJSON_AddStringToObject(b, "id", id ? id : made_id);
    cJSON_AddStringToObject(b, "name", name ? name : "");
    cJSON_AddItemToObject(
        b, "input",
        lln__anthropic_parse_input(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "arguments"))));
    cJSON_AddItemToArray(content, b);
  }
}

cJSON *lln_anthropic_response(const cJSON *chat, const cJSON *request) {
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chat, "choices"), 0);
  const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
  const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(chat, "model"));
  if (!model)
    model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(request, "model"));
  char id[80];
  lln__anthropic_message_id(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(chat, "id")), NULL, id,
                            sizeof id);
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "id", id);
  cJSON_AddStringToObject(msg, "type", "message");
  cJSON_AddStringToObject(msg, "role", "assistant");
  cJSON_AddStringToObject(msg, "model", model ? model : "llmnet");
  cJSON *content = cJSON_AddArrayToObject(msg, "content");
  const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(message, "content"));
  if (text && *text) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "text");
    cJSON_AddStringToObject(b, "text", text);
    cJSON_AddItemToArray(content, b);
  }
  add_tool_uses(content, cJSON_GetObjectItemCaseSensitive(message, "tool_calls"));
  /* vLLM-style servers name the stop string that ended the answer */
  const char *matched = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "stop_reason"));
  int by_sequence =
      lln__anthropic_is_stop_sequence(cJSON_GetObjectItemCaseSensitive(request, "stop_sequences"), matched);
  const char *fr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
  const char *reason = lln__anthropic_stop_reason(fr, by_sequence);
  /* a tool call is a tool_use stop whatever finish_reason said */
  if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(message, "tool_calls")) > 0 &&
      strcmp(reason, "end_turn") == 0)
    reason = "tool_use";
  cJSON_AddStringToObject(msg, "stop_reason", reason);
  if (strcmp(reason, "stop_sequence") == 0)
    cJSON_AddStringToObject(msg, "stop_sequence", matched);
  else
    cJSON_AddNullToObject(msg, "stop_sequence");
  add_usage(msg, cJSON_GetObjectItemCaseSensitive(chat, "usage"));
  return msg;
}

const char *lln_anthropic_error_type(int status) {
  switch (status) {
  case 401: return "authentication_error";
  case 403: return "permission_error";
  case 404: return "not_found_error";
  case 413: return "request_too_large";
  case 429: return "rate_limit_error";
  case 503:
  case 529: return "overloaded_error";
  default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

void lln_anthropic_error_json(lln_buf *out, const char *type, const char *message) {
  lln_buf clean;
  lln_buf_init(&clean);
  const char *msg = message ? message : "";
  lln_secrets_scrub(msg, strlen(msg), &clean);
  lln_buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":");
  lln_buf_json_string(out, type, strlen(type));
  lln_buf_puts(out, ",\"message\":");
  lln_buf_json_string(out, clean.data ? clean.data : "", clean.len);
  lln_buf_puts(out, "}}");
  lln_buf_free(&clean);
}
