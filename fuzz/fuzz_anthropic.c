/* fuzz_anthropic: the Anthropic Messages door's translators
 * (src/doors/anthropic_*.c). The input, parsed as JSON, is a Messages
 * request: a refusal has a message, an accepted one is a chat request with
 * a string model, a whole max_tokens of at least 1 and a non-empty
 * messages array whose roles are system, user, assistant or tool. The same
 * input is then a chat.completion answer (translated into a message with
 * a content array and a stop_reason) and, split at its newlines, a stream
 * of chunk events: every event the stream translator writes is
 * "event: NAME\ndata: JSON\n\n" with data that parses, and after an error
 * event or message_stop nothing more is written. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doors/anthropic.h"

static void check_request(const cJSON *in) {
  char err[LLN_ANTHROPIC_ERR_MAX] = "";
  cJSON *chat = lln_anthropic_request(in, err, sizeof err);
  if (!chat) {
    if (!err[0])
      abort();
    return;
  }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(chat, "model");
  const cJSON *max = cJSON_GetObjectItemCaseSensitive(chat, "max_tokens");
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(chat, "messages");
  if (!cJSON_IsString(model) || !cJSON_IsNumber(max) || max->valuedouble < 1 || !cJSON_IsArray(msgs))
    abort();
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
    if (!role ||
        (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool")))
      abort();
  }
  char *text = cJSON_PrintUnformatted(chat);
  if (!text)
    abort();
  free(text);
  cJSON_Delete(chat);
}

static void check_answer(const cJSON *chat, const cJSON *request) {
  cJSON *msg = lln_anthropic_response(chat, request);
  if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(msg, "content")) ||
      !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "stop_reason")))
    abort();
  cJSON_Delete(msg);
}

/* Every event is "event: NAME\ndata: JSON\n\n" with JSON data. */
static void check_events(const char *s, size_t len) {
  size_t pos = 0;
  while (pos < len) {
    if (strncmp(s + pos, "event: ", 7) != 0)
      abort();
    const char *nl = memchr(s + pos, '\n', len - pos);
    if (!nl || strncmp(nl + 1, "data: ", 6) != 0)
      abort();
    const char *data = nl + 7;
    const char *end = strstr(data, "\n\n");
    if (!end)
      abort();
    cJSON *j = cJSON_ParseWithLength(data, (size_t)(end - data));
    if (!cJSON_IsObject(j))
      abort();
    cJSON_Delete(j);
    pos = (size_t)(end + 2 - s);
  }
}

static void check_stream(const char *data, size_t size, const cJSON *request) {
  lln_anthropic_stream s;
  lln_anthropic_stream_init(&s, request, size % 2 ? "req-1" : NULL);
  lln_buf out;
  lln_buf_init(&out);
  size_t start = 0;
  int ended = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i < size && data[i] != '\n')
      continue;
    size_t before = out.len;
    int r = lln_anthropic_stream_event(&s, data + start, i - start, &out);
    if (ended && out.len != before)
      abort(); /* nothing after message_stop or an error event */
    ended |= r;
    start = i + 1;
  }
  if (!ended && size % 3 == 0)
    lln_anthropic_stream_fail(&s, 502, "cut", &out);
  check_events(out.data ? out.data : "", out.len);
  lln_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  cJSON *in = cJSON_ParseWithLength(text, size);
  if (in) {
    check_request(in);
    check_answer(in, in);
  }
  check_stream(text, size, in);
  cJSON_Delete(in);
  return 0;
}
