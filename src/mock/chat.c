/* chat: reading chat-completions requests the way an OpenAI-compatible
 * server does: lenient about optional fields, strict about the shape of
 * "messages" so a gateway that builds broken requests gets a 400 here
 * instead of a plausible reply. */
#include "mock/chat_int.h"

#include <string.h>

#include "mock/reply_int.h"
#include "mock/route_int.h"
#include "util/buf.h"

const char *lln_mock_content_text(const cJSON *content, lln_arena *arena) {
  if (cJSON_IsString(content))
    return lln_arena_strdup(arena, content->valuestring);
  if (!cJSON_IsArray(content))
    return "";
  lln_buf b;
  lln_buf_init(&b);
  int first = 1;
  for (const cJSON *part = content->child; part; part = part->next) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 || !cJSON_IsString(text))
      continue;
    if (!first)
      lln_buf_putc(&b, ' ');
    lln_buf_puts(&b, text->valuestring);
    first = 0;
  }
  const char *s = lln_arena_strndup(arena, b.data ? b.data : "", b.len);
  lln_buf_free(&b);
  return s;
}

int lln_mock_chat_read(lln_mock_chat *out, const cJSON *body, lln_arena *arena, const char **why) {
  memset(out, 0, sizeof *out);
  out->last_user = "";
  if (!cJSON_IsObject(body)) {
    *why = "the request body must be a JSON object";
    return -1;
  }
  const cJSON *messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
  if (!cJSON_IsArray(messages)) {
    *why = "'messages' is required and must be an array";
    return -1;
  }
  for (const cJSON *m = messages->child; m; m = m->next) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
      *why = "each entry of 'messages' must be an object with a string 'role'";
      return -1;
    }
    const char *text = lln_mock_content_text(cJSON_GetObjectItemCaseSensitive(m, "content"), arena);
    out->prompt_words += lln_mock_count_words(text);
    const char *r = role->valuestring;
    if (strcmp(r, "user") == 0) {
      out->last_user = text;
    } else if (out->target_count == 0 && (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0)) {
      out->target_count = lln_mock_parse_targets(text, arena, &out->targets);
    }
  }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
  if (cJSON_IsString(model))
    out->model = lln_arena_strdup(arena, model->valuestring);
  out->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  const cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
  out->include_usage =
      cJSON_IsObject(so) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
  out->has_tools = cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0;
  return 0;
}
