/* fuzz_responses: the Responses door's request parser (src/doors/
 * responses.c) and its answer and stream translators (responses_out.c).
 * The input is a request body: translated with nothing kept, then with the
 * same bytes as what every key it asks for holds (previous_response_id,
 * item references); then the same bytes as a chat.completion answer and as
 * a stream event. A translated request is an object with messages or a
 * clear 400; every answer and every event's data is valid JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doors/responses.h"
#include "util/json_print.h"

static void check_json(const char *data, size_t len) {
  cJSON *j = cJSON_ParseWithLength(data, len);
  if (!j)
    abort();
  cJSON_Delete(j);
}

static void check_request(const cJSON *body, const char *data, size_t size, int with_stored) {
  void *st = calloc(1, lln_door_responses.state_size);
  if (!st)
    abort();
  lln_door_error err = {0};
  lln_door_lookup look;
  int need = lln_responses_lookup(body, &look, &err);
  lln_door_stored kept[LLN_DOOR_MAX_LOOKUPS];
  size_t n = need > 0 && with_stored ? look.n : 0;
  for (size_t i = 0; i < n; i++)
    kept[i] = (lln_door_stored){data, size, LLN_STORE_OK};
  cJSON *copy = cJSON_Duplicate(body, 1);
  cJSON *chat = need < 0 ? NULL : lln_door_responses.to_chat(st, copy, kept, n, &err);
  if (chat) {
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(chat, "messages")))
      abort();
    cJSON_Delete(chat);
  } else if (err.status != 400 || !err.message[0]) {
    abort();
  }
  cJSON_Delete(copy);
  lln_buf out;
  lln_buf_init(&out);
  cJSON *answer = cJSON_ParseWithLength((const char *)data, size);
  if (answer) /* the run hands a door the tree it printed: always one */
    lln_door_responses.answer(st, answer, &out);
  cJSON_Delete(answer);
  if (out.data)
    check_json(out.data, out.len);
  lln_store_put put;
  if (lln_door_responses.keep(st, &put) == 1) {
    if (put.len > LLN_STORE_MAX_VALUE)
      abort();
    check_json(put.value, put.len);
  }
  lln_door_responses.release(st);
  memset(st, 0, lln_door_responses.state_size);
  lln_buf_reset(&out);
  lln_door_responses.event(st, data, size, &out);
  lln_door_responses.event(st, "[DONE]", 6, &out);
  /* "\ndata: " cannot be inside JSON (a newline in a string is escaped) */
  for (const char *p = out.data; p && (p = strstr(p, "\ndata: ")); p += 7)
    check_json(p + 7, strcspn(p + 7, "\n"));
  lln_buf_free(&out);
  lln_door_responses.release(st);
  free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *body = cJSON_ParseWithLength((const char *)data, size);
  if (!body) {
    body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "input", cJSON_CreateString(""));
  }
  check_request(body, (const char *)data, size, 0);
  check_request(body, (const char *)data, size, 1);
  cJSON_Delete(body);
  return 0;
}
