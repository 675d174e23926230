/* Tests for the Responses door's translators (src/doors/responses*.c):
 * requests into chat completion requests, chat answers into response
 * objects, chat chunk streams into the Responses event sequence (a failed
 * stream ends with response.failed and error, never response.completed),
 * what is kept for previous_response_id and item references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doors/responses.h"
#include "util/json_print.h"

static void *new_state(void) {
  void *st = calloc(1, lln_door_responses.state_size);
  assert_non_null(st);
  return st;
}

static void free_state(void *st) {
  lln_door_responses.release(st);
  free(st);
}

/* Translates `json` with what `stored` holds for its keys (NULL: none kept). */
static cJSON *translate(void *st, const char *json, const char *stored, lln_door_error *err) {
  cJSON *body = cJSON_Parse(json);
  assert_non_null(body);
  lln_door_lookup look = {0};
  int need = lln_door_responses.lookup(st, body, &look, err);
  assert_true(need >= 0);
  lln_door_stored kept[LLN_DOOR_MAX_LOOKUPS];
  for (size_t i = 0; i < look.n; i++)
    kept[i] =
        (lln_door_stored){stored, stored ? strlen(stored) : 0, stored ? LLN_STORE_OK : LLN_STORE_ENOTFOUND};
  cJSON *chat = lln_door_responses.to_chat(st, body, kept, look.n, err);
  cJSON_Delete(body);
  return chat;
}

static char *print(const cJSON *j) {
  lln_buf b;
  lln_buf_init(&b);
  lln_json_print(j, &b);
  return b.data;
}

static void string_input_and_fields(void **state) {
  (void)state;
  void *st = new_state();
  lln_door_error err = {0};
  cJSON *chat =
      translate(st,
                "{\"model\":\"m\",\"input\":\"hi\",\"instructions\":\"be brief\",\"max_output_tokens\":50,"
                "\"temperature\":0.5,\"top_p\":0.9,\"metadata\":{\"a\":\"b\"},"
                "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"x\",\"schema\":{\"type\":"
                "\"object\"},\"strict\":true}},\"tool_choice\":{\"type\":\"function\",\"name\":\"f\"},"
                "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{}}],\"stream\":true}",
                NULL, &err);
  assert_non_null(chat);
  char *s = print(chat);
  assert_string_equal(
      s, "{\"model\":\"m\",\"temperature\":0.5,\"top_p\":0.9,\"max_tokens\":50,\"stream\":true,"
         "\"stream_options\":{\"include_usage\":true},\"tools\":[{\"type\":\"function\",\"function\":{"
         "\"name\":\"f\","
         "\"parameters\":{}}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
         "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":"
         "\"object\"},\"strict\":true}},\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
         "{\"role\":\"user\",\"content\":\"hi\"}]}");
  free(s);
  cJSON_Delete(chat);
  free_state(st);
}

static void items(void **state) {
  (void)state;
  void *st = new_state();
  lln_door_error err = {0};
  cJSON *chat = translate(
      st,
      "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"look\"},"
      "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,AA\"}]},"
      "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},"
      "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"g\",\"arguments\":\"{\\\"a\\\":1}\"},"
      "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"one\"},"
      "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":[{\"type\":\"input_text\",\"text\":"
      "\"two\"}]}]}",
      NULL, &err);
  assert_non_null(chat);
  char *s = print(cJSON_GetObjectItem(chat, "messages"));
  assert_string_equal(
      s,
      "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"data:image/png;base64,AA\"}}]},{\"role\":\"assistant\",\"content\":null,"
      "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}"
      "\"}},"
      "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{\\\"a\\\":1}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"one\"},{\"role\":\"tool\",\"tool_call_id\":"
      "\"c2\",\"content\":\"two\"}]");
  free(s);
  cJSON_Delete(chat);
  free_state(st);
}

static void refusals(void **state) {
  (void)state;
  static const struct {
    const char *body, *message, *param;
  } cases[] = {
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"web_search_preview\"}]}",
       "built-in tool \"web_search_preview\"", "tools"},
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"file_search\"}]}", "\"file_search\"", "tools"},
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"computer_use_preview\"}]}", "\"computer_use_preview\"",
       "tools"},
      {"{\"model\":\"m\"}", "no \"input\"", "input"},
      {"{\"input\":5}", "input must be a string or an array", "input"},
      {"{\"input\":[{\"type\":\"input_file\"}]}", "item type \"input_file\"", "input"},
      {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"file_id\":\"f\"}]}]}",
       "needs \"image_url\"", "input"},
      {"{\"input\":[{\"type\":\"item_reference\",\"id\":\"rs_1\"}]}", "is not an item llmnet answered",
       "input"},
      {"{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\"}}}", "needs a \"schema\"",
       "text.format.schema"},
      {"{\"input\":\"x\",\"tool_choice\":\"sometimes\"}", "not auto, none or required", "tool_choice"},
      {"{\"input\":[]}", "input has no items", "input"},
      {"[1]", "must be a JSON object", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    void *st = new_state();
    lln_door_error err = {0};
    cJSON *chat = translate(st, cases[i].body, NULL, &err);
    assert_null(chat);
    assert_int_equal(err.status, 400);
    if (!strstr(err.message, cases[i].message))
      fail_msg("case %zu: \"%s\" does not say %s", i, err.message, cases[i].message);
    if (cases[i].param)
      assert_string_equal(err.param, cases[i].param);
    free_state(st);
  }
}

/* The answer of one request: a chat.completion through the door. */
static char *answer(void *st, const char *completion) {
  lln_buf out;
  lln_buf_init(&out);
  cJSON *chat = cJSON_Parse(completion);
  assert_non_null(chat);
  lln_door_responses.answer(st, chat, &out);
  cJSON_Delete(chat);
  return out.data;
}

static void answers(void **state) {
  (void)state;
  void *st = new_state();
  lln_door_error err = {0};
  cJSON_Delete(translate(st, "{\"input\":\"hi\",\"instructions\":\"sys\"}", NULL, &err));
  char *out =
      answer(st, "{\"model\":\"up\",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hello\","
                 "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
                 "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}],"
                 "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}");
  cJSON *r = cJSON_Parse(out);
  assert_non_null(r);
  assert_string_equal(cJSON_GetObjectItem(r, "object")->valuestring, "response");
  assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "completed");
  assert_string_equal(cJSON_GetObjectItem(r, "model")->valuestring, "up");
  assert_string_equal(cJSON_GetObjectItem(r, "instructions")->valuestring, "sys");
  cJSON *output = cJSON_GetObjectItem(r, "output");
  assert_int_equal(cJSON_GetArraySize(output), 2);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(output, 0), "type")->valuestring, "message");
  cJSON *fc = cJSON_GetArrayItem(output, 1);
  assert_string_equal(cJSON_GetObjectItem(fc, "type")->valuestring, "function_call");
  assert_string_equal(cJSON_GetObjectItem(fc, "call_id")->valuestring, "call_1");
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "usage"), "total_tokens")->valueint, 7);

  /* what is kept: the conversation and the answer, under the response id */
  lln_store_put put = {0};
  assert_int_equal(lln_door_responses.keep(st, &put), 1);
  char key[200];
  snprintf(key, sizeof key, LLN_RESPONSES_KEY_PREFIX "%s", cJSON_GetObjectItem(r, "id")->valuestring);
  assert_string_equal(put.key, key);
  assert_int_equal(put.ttl_ms, LLN_RESPONSES_TTL_MS);
  char *kept = strndup(put.value, put.len);
  assert_string_equal(kept, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\","
                            "\"content\":\"hello\",\"tool_calls\":[{\"type\":\"function\",\"id\":\"call_1\","
                            "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}");

  /* the next turn: previous_response_id puts the kept conversation first */
  void *st2 = new_state();
  char next[400];
  snprintf(next, sizeof next, "{\"previous_response_id\":\"%s\",\"input\":\"more\"}",
           cJSON_GetObjectItem(r, "id")->valuestring);
  cJSON *chat = translate(st2, next, kept, &err);
  assert_non_null(chat);
  char *s = print(cJSON_GetObjectItem(chat, "messages"));
  assert_string_equal(s,
                      "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\","
                      "\"tool_calls\":[{\"type\":\"function\",\"id\":\"call_1\",\"function\":{\"name\":\"f\","
                      "\"arguments\":\"{}\"}}]},{\"role\":\"user\",\"content\":\"more\"}]");
  free(s);
  cJSON_Delete(chat);
  free_state(st2);

  /* or an item_reference to the call (the AI SDK's way) */
  st2 = new_state();
  snprintf(next, sizeof next,
           "{\"input\":[{\"role\":\"user\",\"content\":\"hi\"},{\"type\":\"item_reference\",\"id\":\"%s\"},"
           "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"ok\"}]}",
           cJSON_GetObjectItem(fc, "id")->valuestring);
  chat = translate(st2, next, kept, &err);
  assert_non_null(chat);
  s = print(cJSON_GetObjectItem(chat, "messages"));
  assert_string_equal(
      s, "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":null,"
         "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
         "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"ok\"}]");
  free(s);
  cJSON_Delete(chat);
  free_state(st2);

  /* a reference into a response no longer kept */
  st2 = new_state();
  assert_null(translate(st2, next, NULL, &err));
  assert_string_equal(err.code, "item_not_found");
  free_state(st2);

  /* an unknown previous_response_id is a 400 saying so */
  st2 = new_state();
  assert_null(translate(st2, "{\"previous_response_id\":\"resp_gone\",\"input\":\"x\"}", NULL, &err));
  assert_int_equal(err.status, 400);
  assert_string_equal(err.code, "previous_response_not_found");
  assert_non_null(strstr(err.message, "\"resp_gone\" is not a response llmnet knows"));
  free_state(st2);

  free(kept);
  cJSON_Delete(r);
  free(out);
  free_state(st);
}

static void length_is_incomplete(void **state) {
  (void)state;
  void *st = new_state();
  lln_door_error err = {0};
  cJSON_Delete(translate(st, "{\"input\":\"hi\",\"store\":false}", NULL, &err));
  char *out = answer(st, "{\"choices\":[{\"message\":{\"content\":\"cut\"},\"finish_reason\":\"length\"}]}");
  assert_non_null(strstr(out, "\"status\":\"incomplete\""));
  assert_non_null(strstr(out, "\"incomplete_details\":{\"reason\":\"max_output_tokens\"}"));
  lln_store_put put = {0};
  assert_int_equal(lln_door_responses.keep(st, &put), 0); /* "store": false */
  free(out);
  free_state(st);
}

/* The event types of a translated stream, joined by spaces. */
static char *stream(void *st, const char *const *events) {
  lln_buf out, types;
  lln_buf_init(&out);
  lln_buf_init(&types);
  for (size_t i = 0; events[i]; i++)
    lln_door_responses.event(st, events[i], strlen(events[i]), &out);
  for (const char *p = out.data; p && (p = strstr(p, "event: ")); p += 7) {
    if (types.len)
      lln_buf_putc(&types, ' ');
    lln_buf_append(&types, p + 7, strcspn(p + 7, "\n"));
  }
  /* every data line is JSON with the type it names */
  for (const char *p = out.data; p && (p = strstr(p, "\ndata: ")); p += 7) {
    size_t n = strcspn(p + 7, "\n");
    cJSON *j = cJSON_ParseWithLength(p + 7, n);
    assert_non_null(j);
    assert_non_null(cJSON_GetObjectItem(j, "sequence_number"));
    cJSON_Delete(j);
  }
  lln_buf_free(&out);
  return types.data;
}

static void streams(void **state) {
  (void)state;
  void *st = new_state();
  lln_door_error err = {0};
  cJSON_Delete(translate(st, "{\"input\":\"hi\",\"stream\":true}", NULL, &err));
  const char *text[] = {
      "{\"model\":\"up\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"he\"}}]}",
      "{\"choices\":[{\"delta\":{\"content\":\"llo\"},\"finish_reason\":null}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{\\\"a\\\"\"}}]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},"
      "\"finish_reason\":\"tool_calls\"}]}",
      "{\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}",
      "[DONE]",
      NULL};
  char *types = stream(st, text);
  assert_string_equal(types,
                      "response.created response.in_progress response.output_item.added "
                      "response.content_part.added response.output_text.delta response.output_text.delta "
                      "response.output_text.done response.content_part.done response.output_item.done "
                      "response.output_item.added response.function_call_arguments.delta "
                      "response.function_call_arguments.delta response.function_call_arguments.done "
                      "response.output_item.done response.completed");
  free(types);
  lln_store_put put = {0};
  assert_int_equal(lln_door_responses.keep(st, &put), 1);
  free_state(st);

  /* a stream the run ends with an error event */
  st = new_state();
  cJSON_Delete(translate(st, "{\"input\":\"hi\",\"stream\":true}", NULL, &err));
  const char *cut[] = {"{\"choices\":[{\"delta\":{\"content\":\"he\"}}]}",
                       "{\"error\":{\"message\":\"node x: cut\",\"type\":\"upstream_error\",\"code\":null}}",
                       "[DONE]", NULL};
  types = stream(st, cut);
  assert_string_equal(types, "response.created response.in_progress response.output_item.added "
                             "response.content_part.added response.output_text.delta response.failed error");
  free(types);
  assert_int_equal(lln_door_responses.keep(st, &put), 0);
  free_state(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(string_input_and_fields),
      cmocka_unit_test(items),
      cmocka_unit_test(refusals),
      cmocka_unit_test(answers),
      cmocka_unit_test(length_is_incomplete),
      cmocka_unit_test(streams),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
