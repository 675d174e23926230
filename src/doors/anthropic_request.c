/* anthropic_request: a Messages API request (POST /v1/messages) as the chat
 * completion request the pipeline runs. System blocks become a system
 * message, text and image blocks become content parts, an assistant's
 * tool_use blocks become tool_calls and a user's tool_result blocks become
 * role "tool" messages; tools, tool_choice, max_tokens, temperature, top_p,
 * stop_sequences, stream and metadata.user_id map to their chat fields.
 * A request Anthropic would refuse gets the field path and the fix. */
#include "doors/anthropic.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/json_print.h"

typedef struct req_ctx {
  char *err;
  size_t err_size;
} req_ctx;

static int fail(req_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(req_ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->err_size, fmt, ap);
  va_end(ap);
  return -1;
}

static const char *str_field(const cJSON *obj, const char *key) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* Appends the text of a string or of an array of text blocks to `out`,
 * blocks joined by a newline; `what` names the field in errors. */
static int text_of(req_ctx *c, const cJSON *v, const char *what, lln_buf *out) {
  if (cJSON_IsString(v)) {
    lln_buf_puts(out, v->valuestring);
    return 0;
  }
  if (!cJSON_IsArray(v))
    return fail(c, "%s: must be a string or an array of text blocks", what);
  int i = 0;
  const cJSON *b;
  cJSON_ArrayForEach(b, v) {
    const char *type = str_field(b, "type");
    const char *text = str_field(b, "text");
    if (!type || strcmp(type, "text") != 0 || !text)
      return fail(c, "%s.%d: must be a text block {\"type\": \"text\", \"text\": \"...\"}", what, i);
    if (out->len)
      lln_buf_putc(out, '\n');
    lln_buf_puts(out, text);
    i++;
  }
  return 0;
}

/* An image block as a chat image_url part: base64 sources become data URLs. */
static cJSON *image_part(req_ctx *c, const cJSON *block, const char *where) {
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(block, "source");
  const char *type = str_field(src, "type");
  lln_buf url;
  lln_buf_init(&url);
  if (type && strcmp(type, "base64") == 0 && str_field(src, "media_type") && str_field(src, "data")) {
    lln_buf_printf(&url, "data:%s;base64,%s", str_field(src, "media_type"), str_field(src, "data"));
  } else if (type && strcmp(type, "url") == 0 && str_field(src, "url")) {
    lln_buf_puts(&url, str_field(src, "url"));
  } else {
    fail(c,
         "%s.source: an image source is {\"type\": \"base64\", \"media_type\", \"data\"} or "
         "{\"type\": \"url\", \"url\"}",
         where);
    return NULL;
  }
  cJSON *part = cJSON_CreateObject();
  cJSON_AddStringToObject(part, "type", "image_url");
  cJSON *iu = cJSON_AddObjectToObject(part, "image_url");
  cJSON_AddStringToObject(iu, "url", url.data);
  lln_buf_free(&url);
  return part;
}

static cJSON *text_part(const char *text) {
  cJSON *part = cJSON_CreateObject();
  cJSON_AddStringToObject(part, "type", "text");
  cJSON_AddStringToObject(part, "text", text);
  return part;
}

/* A tool_result block as a role "tool" message; its image blocks go to
 * `images` (a user message after the tool messages carries them). */
static int tool_result(req_ctx *c, const cJSON *block, const char *where, cJSON *out, cJSON *images) {
  const char *id = str_field(block, "tool_use_id");
  if (!id)
    return fail(c, "%s.tool_use_id: required: the id of the tool_use block this result answers", where);
  lln_buf text;
  lln_buf_init(&text);
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(block, "is_error")))
    lln_buf_puts(&text, "[tool error] ");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(block, "content");
  int i = 0, sep = 0;
  const cJSON *b;
  if (cJSON_IsString(content)) {
    lln_buf_puts(&text, content->valuestring);
  } else if (cJSON_IsArray(content)) {
    cJSON_ArrayForEach(b, content) {
      char part_where[96];
      snprintf(part_where, sizeof part_where, "%.60s.content.%d", where, i++);
      const char *type = str_field(b, "type");
      if (type && strcmp(type, "text") == 0 && str_field(b, "text")) {
        if (sep++)
          lln_buf_putc(&text, '\n');
        lln_buf_puts(&text, str_field(b, "text"));
      } else if (type && strcmp(type, "image") == 0) {
        cJSON *img = image_part(c, b, part_where);
        if (!img) {
          lln_buf_free(&text);
          return -1;
        }
        cJSON_AddItemToArray(images, img);
      } else {
        lln_buf_free(&text);
        return fail(c, "%s: a tool_result's content blocks are text or image blocks", part_where);
      }
    }
  } else if (content && !cJSON_IsNull(content)) {
    lln_buf_free(&text);
    return fail(c, "%s.content: must be a string or an array of text and image blocks", where);
  }
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "tool");
  cJSON_AddStringToObject(m, "tool_call_id", id);
  cJSON_AddStringToObject(m, "content", text.data ? text.data : "");
  cJSON_AddItemToArray(out, m);
  lln_buf_free(&text);
  return 0;
}

/* An assistant's tool_use block as a chat tool call. */
static int tool_use(req_ctx *c, const cJSON *block, const char *where, cJSON *calls) {
  const char *id = str_field(block, "id"), *name = str_field(block, "name");
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");
  if (!id || !name || !cJSON_IsObject(input))
    return fail(c, "%s: a tool_use block needs \"id\", \"name\" and an \"input\" object", where);
  lln_buf args;
  lln_buf_init(&args);
  lln_json_print(input, &args);
  cJSON *call = cJSON_CreateObject();
  cJSON_AddStringToObject(call, "id", id);
  cJSON_AddStringToObject(call, "type", "function");
  cJSON *fn = cJSON_AddObjectToObject(call, "function");
  cJSON_AddStringToObject(fn, "name", name);
  cJSON_AddStringToObject(fn, "arguments", args.data);
  lln_buf_free(&args);
  cJSON_AddItemToArray(calls, call);
  return 0;
}

/* Block types an upstream chat model has no use for: dropped. */
static int ignored_block(const char *type) {
  return strcmp(type, "thinking") == 0 || strcmp(type, "redacted_thinking") == 0;
}

/* The blocks of one message, sorted: content parts, tool calls (assistant)
 * and tool messages (user). */
typedef struct blocks {
  cJSON *parts, *calls, *tools, *images;
  int n_text, n_image;
} blocks;

static int one_block(req_ctx *c, const cJSON *b, const char *where, int assistant, blocks *bl) {
  const char *type = str_field(b, "type");
  if (!type)
    return fail(c, "%s.type: required (text, image, tool_use or tool_result)", where);
  if (strcmp(type, "text") == 0) {
    if (!str_field(b, "text"))
      return fail(c, "%s.text: required: a string", where);
    cJSON_AddItemToArray(bl->parts, text_part(str_field(b, "text")));
    bl->n_text++;
  } else if (strcmp(type, "image") == 0 && !assistant) {
    cJSON *img = image_part(c, b, where);
    if (!img)
      return -1;
    cJSON_AddItemToArray(bl->parts, img);
    bl->n_image++;
  } else if (strcmp(type, "tool_use") == 0 && assistant) {
    return tool_use(c, b, where, bl->calls);
  } else if (strcmp(type, "tool_result") == 0 && !assistant) {
    return tool_result(c, b, where, bl->tools, bl->images);
  } else if (!ignored_block(type)) {
    return fail(c,
                "%s.type: \"%.40s\" blocks are not supported in %s messages by llmnet; send text, image "
                "and tool_result blocks (user) or text and tool_use blocks (assistant)",
                where, type, assistant ? "assistant" : "user");
  }
  return 0;
}

/* Text-only content becomes a string (one block) or text parts; with
 * images it stays an array of parts. */
static cJSON *content_value(blocks *bl) {
  if (bl->n_image == 0 && bl->n_text == 1) {
    cJSON *only = cJSON_GetArrayItem(bl->parts, 0);
    return cJSON_CreateString(str_field(only, "text"));
  }
  return cJSON_Duplicate(bl->parts, 1);
}

static int one_message(req_ctx *c, const cJSON *m, int i, cJSON *out) {
  const char *role = str_field(m, "role");
  if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
    return fail(c,
                "messages.%d.role: must be \"user\" or \"assistant\" (the system prompt goes in the "
                "top-level \"system\" field)",
                i);
  int assistant = role[0] == 'a';
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
  if (cJSON_IsString(content)) {
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", role);
    cJSON_AddStringToObject(msg, "content", content->valuestring);
    cJSON_AddItemToArray(out, msg);
    return 0;
  }
  if (!cJSON_IsArray(content))
    return fail(c, "messages.%d.content: must be a string or an array of content blocks", i);
  blocks bl = {cJSON_CreateArray(), cJSON_CreateArray(), cJSON_CreateArray(), cJSON_CreateArray(), 0, 0};
  int rc = 0, k = 0;
  const cJSON *b;
  cJSON_ArrayForEach(b, content) {
    char where[64];
    snprintf(where, sizeof where, "messages.%d.content.%d", i, k++);
    if ((rc = one_block(c, b, where, assistant, &bl)) != 0)
      break;
  }
  if (rc == 0) {
    /* tool results answer the previous turn: they come first */
    cJSON *t;
    while ((t = cJSON_DetachItemFromArray(bl.tools, 0)))
      cJSON_AddItemToArray(out, t);
    cJSON *img;
    while ((img = cJSON_DetachItemFromArray(bl.images, 0))) {
      cJSON_AddItemToArray(bl.parts, img);
      bl.n_image++;
    }
    int has_calls = cJSON_GetArraySize(bl.calls) > 0;
    if (bl.n_text || bl.n_image || has_calls) {
      cJSON *msg = cJSON_CreateObject();
      cJSON_AddStringToObject(msg, "role", role);
      if (assistant && bl.n_text) {
        lln_buf joined;
        lln_buf_init(&joined);
        text_of(c, bl.parts, "content", &joined);
        cJSON_AddStringToObject(msg, "content", joined.data ? joined.data : "");
        lln_buf_free(&joined);
      } else if (bl.n_text || bl.n_image) {
        cJSON_AddItemToObject(msg, "content", content_value(&bl));
      } else {
        cJSON_AddNullToObject(msg, "content");
      }
      if (has_calls)
        cJSON_AddItemToObject(msg, "tool_calls", cJSON_Duplicate(bl.calls, 1));
      cJSON_AddItemToArray(out, msg);
    }
  }
  cJSON_Delete(bl.parts);
  cJSON_Delete(bl.calls);
  cJSON_Delete(bl.tools);
  cJSON_Delete(bl.images);
  return rc;
}

static int tools(req_ctx *c, const cJSON *in, cJSON *chat) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(in, "tools");
  if (!list || cJSON_IsNull(list))
    return 0;
  if (!cJSON_IsArray(list))
    return fail(c, "tools: must be an array of tool definitions");
  cJSON *out = cJSON_AddArrayToObject(chat, "tools");
  int i = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, list) {
    const char *type = str_field(t, "type");
    if (type && strcmp(type, "custom") != 0)
      return fail(
          c,
          "tools.%d: Anthropic's server tool \"%.60s\" cannot run behind llmnet (its upstreams are chat "
          "completion models); define it as a client tool with \"name\", \"description\" and "
          "\"input_schema\"",
          i, type);
    const char *name = str_field(t, "name");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
    if (!name || !cJSON_IsObject(schema))
      return fail(c, "tools.%d: a tool needs a \"name\" and an \"input_schema\" object", i);
    cJSON *ft = cJSON_CreateObject();
    cJSON_AddStringToObject(ft, "type", "function");
    cJSON *fn = cJSON_AddObjectToObject(ft, "function");
    cJSON_AddStringToObject(fn, "name", name);
    if (str_field(t, "description"))
      cJSON_AddStringToObject(fn, "description", str_field(t, "description"));
    cJSON_AddItemToObject(fn, "parameters", cJSON_Duplicate(schema, 1));
    cJSON_AddItemToArray(out, ft);
    i++;
  }
  return 0;
}

static int tool_choice(req_ctx *c, const cJSON *in, cJSON *chat) {
  const cJSON *tc = cJSON_GetObjectItemCaseSensitive(in, "tool_choice");
  if (!tc || cJSON_IsNull(tc))
    return 0;
  const char *type = str_field(tc, "type");
  if (!type)
    return fail(c, "tool_choice: must be an object with \"type\": auto, any, tool or none");
  if (strcmp(type, "auto") == 0) {
    cJSON_AddStringToObject(chat, "tool_choice", "auto");
  } else if (strcmp(type, "any") == 0) {
    cJSON_AddStringToObject(chat, "tool_choice", "required");
  } else if (strcmp(type, "none") == 0) {
    cJSON_AddStringToObject(chat, "tool_choice", "none");
  } else if (strcmp(type, "tool") == 0) {
    if (!str_field(tc, "name"))
      return fail(c, "tool_choice.name: required with \"type\": \"tool\"");
    cJSON *o = cJSON_AddObjectToObject(chat, "tool_choice");
    cJSON_AddStringToObject(o, "type", "function");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "function"), "name", str_field(tc, "name"));
  } else {
    return fail(c, "tool_choice.type: \"%.40s\" is not one of auto, any, tool, none", type);
  }
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tc, "disable_parallel_tool_use")) &&
      strcmp(type, "none") != 0)
    cJSON_AddFalseToObject(chat, "parallel_tool_calls");
  return 0;
}

static int number_field(req_ctx *c, const cJSON *in, const char *key, cJSON *chat, const char *to) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, key);
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsNumber(v))
    return fail(c, "%s: must be a number", key);
  cJSON_AddNumberToObject(chat, to, v->valuedouble);
  return 0;
}

/* model, max_tokens, sampling, stop_sequences, stream, metadata.user_id */
static int scalars(req_ctx *c, const cJSON *in, cJSON *chat) {
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(in, "model");
  if (!cJSON_IsString(model))
    return fail(c, "model: required: a string (a node name of the composition, or any name to let llmnet "
                   "route)");
  cJSON_AddStringToObject(chat, "model", model->valuestring);
  const cJSON *max = cJSON_GetObjectItemCaseSensitive(in, "max_tokens");
  if (!cJSON_IsNumber(max) || max->valuedouble < 1 || max->valuedouble != (double)(long)max->valuedouble)
    return fail(c, "max_tokens: required: a whole number of at least 1 (the Messages API has no default)");
  cJSON_AddNumberToObject(chat, "max_tokens", max->valuedouble);
  if (number_field(c, in, "temperature", chat, "temperature") || number_field(c, in, "top_p", chat, "top_p"))
    return -1;
  const cJSON *stop = cJSON_GetObjectItemCaseSensitive(in, "stop_sequences");
  if (stop && !cJSON_IsNull(stop)) {
    const cJSON *s;
    int ok = cJSON_IsArray(stop);
    const cJSON *list = ok ? stop : NULL;
    cJSON_ArrayForEach(s, list) ok &= cJSON_IsString(s);
    if (!ok)
      return fail(c, "stop_sequences: must be an array of strings");
    if (cJSON_GetArraySize(stop) > 0)
      cJSON_AddItemToObject(chat, "stop", cJSON_Duplicate(stop, 1));
  }
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive(in, "stream");
  if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream))
    return fail(c, "stream: must be true or false");
  if (cJSON_IsTrue(stream)) {
    cJSON_AddTrueToObject(chat, "stream");
    /* message_delta reports output_tokens: ask for the usage event */
    cJSON_AddTrueToObject(cJSON_AddObjectToObject(chat, "stream_options"), "include_usage");
  }
  const char *user = str_field(cJSON_GetObjectItemCaseSensitive(in, "metadata"), "user_id");
  if (user)
    cJSON_AddStringToObject(chat, "user", user);
  return 0;
}

static int build(req_ctx *c, const cJSON *in, cJSON *chat) {
  if (scalars(c, in, chat) != 0)
    return -1;
  cJSON *msgs = cJSON_AddArrayToObject(chat, "messages");
  const cJSON *system = cJSON_GetObjectItemCaseSensitive(in, "system");
  if (system && !cJSON_IsNull(system)) {
    lln_buf sys;
    lln_buf_init(&sys);
    int rc = text_of(c, system, "system", &sys);
    if (rc == 0 && sys.len) {
      cJSON *m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, "role", "system");
      cJSON_AddStringToObject(m, "content", sys.data);
      cJSON_AddItemToArray(msgs, m);
    }
    lln_buf_free(&sys);
    if (rc != 0)
      return -1;
  }
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(in, "messages");
  if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
    return fail(c, "messages: required: a non-empty array of {\"role\", \"content\"} messages");
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, list) {
    if (one_message(c, m, i++, msgs) != 0)
      return -1;
  }
  return tools(c, in, chat) || tool_choice(c, in, chat) ? -1 : 0;
}

cJSON *lln_anthropic_request(const cJSON *in, char *err, size_t err_size) {
  req_ctx c = {err, err_size};
  if (!cJSON_IsObject(in)) {
    fail(&c, "the request body must be a JSON object (a Messages API request)");
    return NULL;
  }
  cJSON *chat = cJSON_CreateObject();
  if (build(&c, in, chat) != 0) {
    cJSON_Delete(chat);
    return NULL;
  }
  return chat;
}
