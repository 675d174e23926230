/* responses: the Responses door's request side: a Responses request
 * (input string or items, instructions, tools, tool_choice, text.format,
 * sampling fields, previous_response_id) into the chat completion request
 * the pipeline runs. Bad input is a 400 in OpenAI's error shape naming the
 * field and the fix. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "doors/responses_int.h"
#include "util/json_print.h"

static int fail(lln_door_error *err, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(lln_door_error *err, const char *param, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  err->status = 400;
  err->param = param;
  err->code = code;
  return -1;
}

void lln__resp_new_id(char *out, size_t size, const char *prefix) {
  unsigned char r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    /* never short for 16 bytes once the pool is ready; be safe anyway */
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (unsigned char)rand();
  }
  int n = snprintf(out, size, "%s", prefix);
  for (size_t i = 0; i < sizeof r && n > 0 && (size_t)n + 2 < size; i++)
    n += snprintf(out + n, size - (size_t)n, "%02x", r[i]);
}

/* Built-in tools run by OpenAI's servers: llmnet has nothing to run them. */
static int builtin_tool(const char *type) {
  static const char *const builtin[] = {"web_search",       "file_search", "computer_use", "code_interpreter",
                                        "image_generation", "mcp",         "local_shell",  "custom",
                                        "apply_patch",      "shell"};
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
    if (strncmp(type, builtin[i], strlen(builtin[i])) == 0)
      return 1;
  }
  return 0;
}

static cJSON *copy_of(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return v && !cJSON_IsNull(v) ? cJSON_Duplicate(v, 1) : NULL;
}

static void put_copy(cJSON *to, const char *to_key, const cJSON *from, const char *key) {
  cJSON *v = copy_of(from, key);
  if (v)
    cJSON_AddItemToObject(to, to_key, v);
}

/* tools: function tools become chat tools; any other is refused. */
static int add_tools(cJSON *chat, const cJSON *tools, lln_door_error *err) {
  if (!tools || cJSON_IsNull(tools))
    return 0;
  if (!cJSON_IsArray(tools))
    return fail(err, "tools", NULL, "tools must be an array of function tools");
  cJSON *out = cJSON_CreateArray();
  cJSON_AddItemToObject(chat, "tools", out);
  const cJSON *t;
  int i = 0;
  cJSON_ArrayForEach(t, tools) {
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
    if (!type)
      return fail(err, "tools", NULL, "tools[%d] has no \"type\"; llmnet takes {\"type\": \"function\", ...}",
                  i);
    if (strcmp(type, "function") != 0) {
      fail(err, "tools", "unsupported_tool",
           "tools[%d] is the built-in tool \"%.60s\", which llmnet cannot run: its upstreams are chat "
           "completion models. Remove it, or give the model a function tool that does the same%s",
           i, type, builtin_tool(type) ? "" : " (llmnet takes only \"function\" tools)");
      return -1;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    if (!cJSON_IsString(name) || !*name->valuestring)
      return fail(err, "tools", NULL, "tools[%d] (a function tool) has no \"name\"", i);
    cJSON *fn = cJSON_CreateObject();
    put_copy(fn, "name", t, "name");
    put_copy(fn, "description", t, "description");
    put_copy(fn, "parameters", t, "parameters");
    put_copy(fn, "strict", t, "strict");
    cJSON *ct = cJSON_CreateObject();
    cJSON_AddStringToObject(ct, "type", "function");
    cJSON_AddItemToObject(ct, "function", fn);
    cJSON_AddItemToArray(out, ct);
    i++;
  }
  return 0;
}

static int add_tool_choice(cJSON *chat, const cJSON *tc, lln_door_error *err) {
  if (!tc || cJSON_IsNull(tc))
    return 0;
  if (cJSON_IsString(tc)) {
    const char *v = tc->valuestring;
    if (strcmp(v, "auto") && strcmp(v, "none") && strcmp(v, "required"))
      return fail(err, "tool_choice", NULL, "tool_choice \"%.40s\" is not auto, none or required", v);
    cJSON_AddStringToObject(chat, "tool_choice", v);
    return 0;
  }
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "type"));
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "name"));
  if (type && strcmp(type, "function") == 0 && name) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "function");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(c, "function"), "name", name);
    cJSON_AddItemToObject(chat, "tool_choice", c);
    return 0;
  }
  return fail(err, "tool_choice", NULL,
              "tool_choice must be auto, none, required or {\"type\": \"function\", \"name\": ...}");
}

/* text.format: json_schema and json_object become response_format. */
static int add_format(cJSON *chat, const cJSON *text, lln_door_error *err) {
  const cJSON *format = cJSON_GetObjectItemCaseSensitive(text, "format");
  if (!format || cJSON_IsNull(format))
    return 0;
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(format, "type"));
  if (!type)
    return fail(err, "text.format", NULL, "text.format needs a \"type\": text, json_schema or json_object");
  if (strcmp(type, "text") == 0)
    return 0;
  cJSON *rf = cJSON_CreateObject();
  cJSON_AddItemToObject(chat, "response_format", rf);
  cJSON_AddStringToObject(rf, "type", type);
  if (strcmp(type, "json_object") == 0)
    return 0;
  if (strcmp(type, "json_schema") != 0)
    return fail(err, "text.format", NULL,
                "text.format type \"%.40s\" is not text, json_schema or json_object", type);
  if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(format, "schema")))
    return fail(err, "text.format.schema", NULL, "text.format (json_schema) needs a \"schema\" object");
  cJSON *js = cJSON_AddObjectToObject(rf, "json_schema");
  put_copy(js, "name", format, "name");
  if (!cJSON_GetObjectItemCaseSensitive(js, "name"))
    cJSON_AddStringToObject(js, "name", "response");
  put_copy(js, "description", format, "description");
  put_copy(js, "schema", format, "schema");
  put_copy(js, "strict", format, "strict");
  return 0;
}

/* The text of a content string or an array of text parts. */
static int join_text(const cJSON *content, lln_buf *out) {
  if (cJSON_IsString(content)) {
    lln_buf_puts(out, content->valuestring);
    return 0;
  }
  if (!cJSON_IsArray(content))
    return -1;
  const cJSON *part;
  cJSON_ArrayForEach(part, content) {
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "text"));
    if (cJSON_IsString(part))
      text = part->valuestring;
    if (!text)
      return -1;
    lln_buf_puts(out, text);
  }
  return 0;
}

/* A user message's content parts: input_text and input_image. */
static cJSON *user_parts(const cJSON *content, int at, lln_door_error *err) {
  cJSON *parts = cJSON_CreateArray();
  const cJSON *part;
  cJSON_ArrayForEach(part, content) {
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "type"));
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "text"));
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToArray(parts, p);
    if (type && (!strcmp(type, "input_text") || !strcmp(type, "output_text") || !strcmp(type, "text")) &&
        text) {
      cJSON_AddStringToObject(p, "type", "text");
      cJSON_AddStringToObject(p, "text", text);
    } else if (type && strcmp(type, "input_image") == 0) {
      const cJSON *url = cJSON_GetObjectItemCaseSensitive(part, "image_url");
      if (cJSON_IsObject(url))
        url = cJSON_GetObjectItemCaseSensitive(url, "url");
      if (!cJSON_IsString(url)) {
        cJSON_Delete(parts);
        fail(err, "input", NULL,
             "input[%d]: an input_image needs \"image_url\" (a URL or a data: URL); llmnet cannot "
             "read OpenAI file ids",
             at);
        return NULL;
      }
      cJSON_AddStringToObject(p, "type", "image_url");
      cJSON *iu = cJSON_AddObjectToObject(p, "image_url");
      cJSON_AddStringToObject(iu, "url", url->valuestring);
      put_copy(iu, "detail", part, "detail");
    } else {
      cJSON_Delete(parts);
      fail(err, "input", NULL,
           "input[%d]: content part type \"%.40s\" is not one llmnet takes (input_text, input_image)", at,
           type ? type : "(none)");
      return NULL;
    }
  }
  return parts;
}

/* The newest message when it is the assistant's (tool calls join it). */
static cJSON *last_assistant(cJSON *messages) {
  cJSON *last = cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1);
  const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "role"));
  return role && strcmp(role, "assistant") == 0 ? last : NULL;
}

static int add_message(cJSON *messages, const cJSON *item, int at, lln_door_error *err) {
  const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "role"));
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
  if (!role || (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system") &&
                strcmp(role, "developer")))
    return fail(err, "input", NULL,
                "input[%d]: a message's role must be user, assistant, system or developer", at);
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", role);
  cJSON_AddItemToArray(messages, m);
  if (cJSON_IsString(content)) {
    cJSON_AddStringToObject(m, "content", content->valuestring);
  } else if (!cJSON_IsArray(content)) {
    return fail(err, "input", NULL, "input[%d]: a message needs \"content\": a string or an array of parts",
                at);
  } else if (strcmp(role, "user") == 0) {
    cJSON *parts = user_parts(content, at, err);
    if (!parts)
      return -1;
    cJSON_AddItemToObject(m, "content", parts);
  } else {
    lln_buf text;
    lln_buf_init(&text);
    int rc = join_text(content, &text);
    cJSON_AddStringToObject(m, "content", text.data ? text.data : "");
    lln_buf_free(&text);
    if (rc != 0)
      return fail(err, "input", NULL, "input[%d]: a %s message's content parts must be text", at, role);
  }
  return 0;
}

static int add_function_call(cJSON *messages, const cJSON *item, int at, lln_door_error *err) {
  const char *call_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "call_id"));
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "name"));
  const char *args = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "arguments"));
  if (!call_id || !name)
    return fail(err, "input", NULL, "input[%d]: a function_call item needs \"call_id\" and \"name\"", at);
  cJSON *m = last_assistant(messages);
  if (!m || cJSON_GetObjectItemCaseSensitive(m, "tool_calls") == NULL) {
    if (!m) {
      m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, "role", "assistant");
      cJSON_AddNullToObject(m, "content");
      cJSON_AddItemToArray(messages, m);
    }
    cJSON_AddArrayToObject(m, "tool_calls");
  }
  cJSON *call = cJSON_CreateObject();
  cJSON_AddStringToObject(call, "id", call_id);
  cJSON_AddStringToObject(call, "type", "function");
  cJSON *fn = cJSON_AddObjectToObject(call, "function");
  cJSON_AddStringToObject(fn, "name", name);
  cJSON_AddStringToObject(fn, "arguments", args ? args : "{}");
  cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), call);
  return 0;
}

static int add_call_output(cJSON *messages, const cJSON *item, int at, lln_door_error *err) {
  const char *call_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "call_id"));
  const cJSON *output = cJSON_GetObjectItemCaseSensitive(item, "output");
  if (!call_id || !output)
    return fail(err, "input", NULL, "input[%d]: a function_call_output item needs \"call_id\" and \"output\"",
                at);
  lln_buf text;
  lln_buf_init(&text);
  if (join_text(output, &text) != 0) {
    lln_buf_reset(&text);
    lln_json_print(output, &text);
  }
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "tool");
  cJSON_AddStringToObject(m, "tool_call_id", call_id);
  cJSON_AddStringToObject(m, "content", text.data ? text.data : "");
  lln_buf_free(&text);
  cJSON_AddItemToArray(messages, m);
  return 0;
}

/* What the store held for the keys lln_responses_lookup asked for. */
typedef struct kept {
  lln_door_lookup look;
  const lln_door_stored *stored;
  size_t n_stored;
} kept;

/* The stored value for `key`, or NULL. */
static const lln_door_stored *kept_value(const kept *k, const char *key) {
  for (size_t i = 0; i < k->look.n && i < k->n_stored; i++) {
    if (strcmp(k->look.key[i], key) == 0)
      return k->stored[i].status == 0 && k->stored[i].value ? &k->stored[i] : NULL;
  }
  return NULL;
}

/* The response key an item id (msg_HEX, fc_HEX_K) points into; *call is K
 * (-1 for a message). 0, or -1 when the id is not one llmnet made. */
static int item_key(const char *id, char *key, size_t size, int *call) {
  const char *hex;
  if (strncmp(id, "msg_", 4) == 0)
    hex = id + 4;
  else if (strncmp(id, "fc_", 3) == 0)
    hex = id + 3;
  else
    return -1;
  size_t n = strspn(hex, "0123456789abcdef");
  if (n != 32)
    return -1;
  *call = -1;
  if (hex[32] == '_') {
    char *end;
    long k = strtol(hex + 33, &end, 10);
    if (*end || k < 0 || k >= LLN_RESPONSES_MAX_CALLS || hex[0] == 'm')
      return -1;
    *call = (int)k;
  } else if (hex[32]) {
    return -1;
  }
  if (id[0] == 'f' && *call < 0)
    return -1;
  snprintf(key, size, LLN_RESPONSES_KEY_PREFIX "resp_%.32s", hex);
  return 0;
}

static int add_function_call(cJSON *messages, const cJSON *item, int at, lln_door_error *err);

/* An item_reference: the message or function call of a response llmnet
 * answered, from its kept answer. */
static int add_reference(cJSON *messages, const cJSON *item, const kept *k, int at, lln_door_error *err) {
  const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "id"));
  char key[LLN_STORE_MAX_KEY];
  int call = -1;
  if (!id || item_key(id, key, sizeof key, &call) != 0)
    return fail(err, "input", NULL,
                "input[%d]: item_reference \"%.80s\" is not an item llmnet answered; send the item itself",
                at, id ? id : "");
  const lln_door_stored *v = kept_value(k, key);
  cJSON *resp = v ? cJSON_ParseWithLength(v->value, v->len) : NULL;
  cJSON *list = cJSON_GetObjectItemCaseSensitive(resp, "messages");
  cJSON *answer = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
  int rc = 0;
  if (!answer) {
    rc = fail(
        err, "input", "item_not_found",
        "input[%d]: item_reference \"%.80s\" points into a response llmnet no longer keeps (responses are "
        "kept %ld minutes); send the item itself",
        at, id, LLN_RESPONSES_TTL_MS / 60000);
  } else if (call >= 0) {
    const cJSON *tc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(answer, "tool_calls"), call);
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    cJSON *fc = cJSON_CreateObject();
    put_copy(fc, "call_id", tc, "id");
    put_copy(fc, "name", fn, "name");
    put_copy(fc, "arguments", fn, "arguments");
    rc = tc ? add_function_call(messages, fc, at, err)
            : fail(err, "input", "item_not_found", "input[%d]: item_reference \"%.80s\": no such call", at,
                   id);
    cJSON_Delete(fc);
  } else {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "assistant");
    put_copy(m, "content", answer, "content");
    cJSON_AddItemToArray(messages, m);
  }
  cJSON_Delete(resp);
  return rc;
}

static int add_input(cJSON *messages, const cJSON *input, const kept *k, lln_door_error *err) {
  if (cJSON_IsString(input)) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", input->valuestring);
    cJSON_AddItemToArray(messages, m);
    return 0;
  }
  if (!cJSON_IsArray(input))
    return fail(err, "input", NULL, "input must be a string or an array of input items");
  const cJSON *item;
  int at = 0;
  cJSON_ArrayForEach(item, input) {
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "type"));
    int rc;
    if (!cJSON_IsObject(item))
      rc = fail(err, "input", NULL, "input[%d] is not an object", at);
    else if (!type || strcmp(type, "message") == 0)
      rc = add_message(messages, item, at, err);
    else if (strcmp(type, "function_call") == 0)
      rc = add_function_call(messages, item, at, err);
    else if (strcmp(type, "function_call_output") == 0)
      rc = add_call_output(messages, item, at, err);
    else if (strcmp(type, "item_reference") == 0)
      rc = add_reference(messages, item, k, at, err);
    else if (strcmp(type, "reasoning") == 0)
      rc = 0; /* a reasoning model's notes: chat upstreams have no place for them */
    else
      rc = fail(err, "input", NULL,
                "input[%d]: item type \"%.40s\" is not one llmnet takes (message, function_call, "
                "function_call_output)%s",
                at, type,
                strcmp(type, "item_reference") == 0 ? "; send the item itself, not a reference" : "");
    if (rc != 0)
      return -1;
    at++;
  }
  return 0;
}

/* previous_response_id's conversation: {"messages":[...]} as kept. */
static int add_previous(cJSON *messages, const char *prev, const kept *k, lln_door_error *err) {
  char key[LLN_STORE_MAX_KEY];
  snprintf(key, sizeof key, LLN_RESPONSES_KEY_PREFIX "%s", prev);
  const lln_door_stored *v = kept_value(k, key);
  cJSON *resp = v ? cJSON_ParseWithLength(v->value, v->len) : NULL;
  cJSON *old = cJSON_GetObjectItemCaseSensitive(resp, "messages");
  if (!cJSON_IsArray(old) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "partial"))) {
    int unreachable = 0;
    for (size_t i = 0; i < k->look.n && i < k->n_stored; i++)
      unreachable |= strcmp(k->look.key[i], key) == 0 && k->stored[i].status == -2;
    fail(err, "previous_response_id", "previous_response_not_found",
         "previous_response_id \"%.100s\" is not a response llmnet knows%s: llmnet keeps a response's "
         "conversation for %ld minutes after its answer, up to %d KiB, and not when it was sent with "
         "\"store\": false. Send the whole conversation in \"input\" instead",
         prev,
         unreachable ? " (server.store could not be reached)"
         : resp      ? " (its conversation was over the size kept)"
                     : "",
         LLN_RESPONSES_TTL_MS / 60000, LLN_STORE_MAX_VALUE / 1024);
    cJSON_Delete(resp);
    return -1;
  }
  cJSON *m;
  while ((m = cJSON_DetachItemFromArray(old, 0)) != NULL)
    cJSON_AddItemToArray(messages, m);
  cJSON_Delete(resp);
  return 0;
}

int lln_responses_lookup(const cJSON *body, lln_door_lookup *out, lln_door_error *err) {
  out->n = 0;
  const cJSON *prev = cJSON_GetObjectItemCaseSensitive(body, "previous_response_id");
  if (prev && !cJSON_IsNull(prev)) {
    if (!cJSON_IsString(prev) || !*prev->valuestring || strlen(prev->valuestring) > 100)
      return fail(err, "previous_response_id", NULL, "previous_response_id must be a response id (resp_...)");
    snprintf(out->key[out->n++], sizeof out->key[0], LLN_RESPONSES_KEY_PREFIX "%s", prev->valuestring);
  }
  const cJSON *item;
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(body, "input")) {
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "type"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "id"));
    char key[LLN_STORE_MAX_KEY];
    int call;
    if (!type || strcmp(type, "item_reference") != 0 || !id || item_key(id, key, sizeof key, &call) != 0)
      continue; /* the translation says what is wrong with it */
    size_t i = 0;
    while (i < out->n && strcmp(out->key[i], key) != 0)
      i++;
    if (i < out->n)
      continue;
    if (out->n == LLN_DOOR_MAX_LOOKUPS)
      return fail(err, "input", NULL,
                  "input refers to items of more than %d earlier responses; send older items themselves",
                  LLN_DOOR_MAX_LOOKUPS - 1);
    snprintf(out->key[out->n++], sizeof out->key[0], "%s", key);
  }
  return out->n ? 1 : 0;
}

/* Sampling and other fields with the same meaning in chat completions. */
static int add_fields(cJSON *chat, const cJSON *body, lln_door_error *err) {
  static const char *const same[] = {"model", "temperature",         "top_p",
                                     "user",  "parallel_tool_calls", "top_logprobs"};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
    put_copy(chat, same[i], body, same[i]);
  const cJSON *max = cJSON_GetObjectItemCaseSensitive(body, "max_output_tokens");
  if (max && !cJSON_IsNull(max)) {
    if (!cJSON_IsNumber(max) || max->valuedouble < 1)
      return fail(err, "max_output_tokens", NULL, "max_output_tokens must be a positive integer");
    cJSON_AddNumberToObject(chat, "max_tokens", max->valuedouble);
  }
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"))) {
    cJSON_AddTrueToObject(chat, "stream");
    /* the usage event completes response.completed's usage */
    cJSON_AddTrueToObject(cJSON_AddObjectToObject(chat, "stream_options"), "include_usage");
  }
  return 0;
}

cJSON *lln_responses_to_chat(lln_responses_state *st, const cJSON *body, const lln_door_stored *stored,
                             size_t n_stored, lln_door_error *err) {
  if (!cJSON_IsObject(body))
    return fail(err, NULL, NULL, "the request body must be a JSON object (a Responses API request)"), NULL;
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
  const cJSON *instr = cJSON_GetObjectItemCaseSensitive(body, "instructions");
  if (!input || cJSON_IsNull(input))
    return fail(err, "input", "missing_required_parameter",
                "the request has no \"input\"; send a string or items"),
           NULL;
  if (instr && !cJSON_IsNull(instr) && !cJSON_IsString(instr))
    return fail(err, "instructions", NULL, "instructions must be a string"), NULL;
  kept k = {.stored = stored, .n_stored = n_stored};
  if (lln_responses_lookup(body, &k.look, err) < 0)
    return NULL;
  const char *prev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "previous_response_id"));
  cJSON *chat = cJSON_CreateObject();
  cJSON *messages = cJSON_CreateArray();
  int rc = add_fields(chat, body, err);
  if (rc == 0 && cJSON_IsString(instr)) {
    cJSON *sys = cJSON_CreateObject();
    cJSON_AddStringToObject(sys, "role", "system");
    cJSON_AddStringToObject(sys, "content", instr->valuestring);
    cJSON_AddItemToArray(messages, sys);
  }
  int first = cJSON_GetArraySize(messages); /* the conversation starts after the instructions */
  if (rc == 0 && prev)
    rc = add_previous(messages, prev, &k, err);
  if (rc == 0)
    rc = add_input(messages, input, &k, err);
  if (rc == 0)
    rc = add_tools(chat, cJSON_GetObjectItemCaseSensitive(body, "tools"), err);
  if (rc == 0)
    rc = add_tool_choice(chat, cJSON_GetObjectItemCaseSensitive(body, "tool_choice"), err);
  if (rc == 0)
    rc = add_format(chat, cJSON_GetObjectItemCaseSensitive(body, "text"), err);
  if (rc == 0 && cJSON_GetArraySize(messages) == first)
    rc = fail(err, "input", NULL, "input has no items; send at least one message");
  if (rc != 0) {
    cJSON_Delete(chat);
    cJSON_Delete(messages);
    return NULL;
  }
  cJSON_AddItemToObject(chat, "messages", messages);
  if (st) {
    lln__resp_keep_echo(st, body);
    st->no_store = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(body, "store"));
    for (const cJSON *m = cJSON_GetArrayItem(messages, first); m; m = m->next) {
      if (st->history.len)
        lln_buf_putc(&st->history, ',');
      lln_json_print(m, &st->history);
    }
  }
  return chat;
}

lln_responses_state *lln_responses_state_new(void) {
  lln_responses_state *st = calloc(1, sizeof *st);
  if (!st)
    abort();
  return st;
}

static void state_release(void *state) {
  lln_responses_state *st = state;
  lln_buf_free(&st->echo);
  lln_buf_free(&st->history);
  lln_buf_free(&st->keep);
  lln_buf_free(&st->text);
  for (int i = 0; i < st->n_calls; i++) {
    lln_buf_free(&st->calls[i].call_id);
    lln_buf_free(&st->calls[i].name);
    lln_buf_free(&st->calls[i].args);
  }
}

void lln_responses_state_free(lln_responses_state *st) {
  if (!st)
    return;
  state_release(st);
  free(st);
}

/* previous_response_id and item references: the store keys to read first. */
static int lookup(void *state, const cJSON *body, lln_door_lookup *out, lln_door_error *err) {
  (void)state;
  return lln_responses_lookup(body, out, err);
}

static cJSON *to_chat(void *state, cJSON *body, const lln_door_stored *stored, size_t n_stored,
                      lln_door_error *err) {
  lln_responses_state *st = state;
  lln__resp_new_id(st->id, sizeof st->id, "resp_");
  return lln_responses_to_chat(st, body, stored, n_stored, err);
}

/* responses_out.c */
void lln__resp_answer(void *state, const cJSON *chat, lln_buf *out);
void lln__resp_event(void *state, const char *data, size_t len, lln_buf *out);
int lln__resp_keep(void *state, lln_store_put *put);

const lln_door lln_door_responses = {
    .name = "responses",
    .state_size = sizeof(lln_responses_state),
    .lookup = lookup,
    .to_chat = to_chat,
    .answer = lln__resp_answer,
    .event = lln__resp_event,
    .keep = lln__resp_keep,
    .release = state_release,
};
