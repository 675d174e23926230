/* call_body: checking the client's request, and building what one
 * upstream call sends from it. The body refers to the client's request and
 * the node's options instead of copying them: only what llmnet adds is
 * allocated. */
#include "pipeline/call_body_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/text_int.h"
#include "util/xalloc.h"

static void set_string(cJSON *obj, const char *key, const char *v) {
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  cJSON_AddStringToObject(obj, key, v);
}

/* Appends {"role": ROLE, "content": CONTENT} to `msgs`. */
static void add_message(cJSON *msgs, const char *role, const char *content) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", role);
  cJSON_AddStringToObject(m, "content", content);
  cJSON_AddItemToArray(msgs, m);
}

/* Renders a {{NAME}} template compiled at load (config/nodes.c): literal
 * text is copied, each variable's value appended as is (never scanned
 * again); an unknown name stays as written. */
static void render_template(lln_run *r, const lln_tmpl *tpl, lln_buf *out) {
  if (lln_tmpl_var_count(tpl))
    lln_vars_set_target(lln_run_vars(r), r->node, time(NULL));
  lln_tmpl_render(tpl, lln_vars_lookup, lln_run_vars(r), NULL, out);
}

/* 1 when the upstream body of `n` does not take the client's `key` as is:
 * llmnet sets it, or the node's extra-options replace it. */
static int replaced_key(const lln_node *n, const char *key, int own_messages) {
  if (strcmp(key, "stream") == 0 || strcmp(key, "stream_options") == 0 || strcmp(key, "model") == 0)
    return 1;
  if (own_messages && strcmp(key, "messages") == 0)
    return 1;
  return cJSON_GetObjectItemCaseSensitive(n->options, key) != NULL;
}

cJSON *lln__body_answer(lln_run *r, const lln_node *n) {
  cJSON *body = cJSON_CreateObject();
  /* a pre hook's transform replaces the text this node receives */
  const char *replaced_input = r->hooks.input;
  int own_messages = r->output || n->system || replaced_input;
  const cJSON *item;
  cJSON_ArrayForEach(item, r->request) {
    if (!replaced_key(n, item->string, own_messages))
      cJSON_AddItemReferenceToObject(body, item->string, (cJSON *)item);
  }
  set_string(body, "model", "");
  if (own_messages) {
    cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
    if (n->system) {
      lln_buf sys;
      lln_buf_init(&sys);
      render_template(r, n->t_system, &sys);
      add_message(msgs, "system", sys.data ? sys.data : "");
      lln_buf_free(&sys);
    }
    if (r->output) {
      /* a node after a handler gets the previous answer as the user message */
      lln_buf content;
      lln_buf_init(&content);
      if (replaced_input)
        lln_buf_puts(&content, replaced_input);
      else if (n->prompt_template)
        render_template(r, n->t_prompt_template, &content);
      else
        lln_buf_puts(&content, r->output);
      add_message(msgs, "user", content.data ? content.data : "");
      lln_buf_free(&content);
    } else {
      const cJSON *last_user = lln_last_user_message(r->messages);
      cJSON_ArrayForEach(item, r->messages) {
        if (item == last_user && replaced_input) {
          add_message(msgs, "user", replaced_input);
        } else {
          cJSON_AddItemReferenceToArray(msgs, (cJSON *)item);
        }
      }
    }
  }
  cJSON_ArrayForEach(item, n->options) cJSON_AddItemReferenceToObject(body, item->string, (cJSON *)item);
  return body;
}

cJSON *lln__body_route(lln_run *r, const lln_node *router, const lln_route_candidate *rc, size_t n) {
  lln_buf prompt;
  lln_buf_init(&prompt);
  lln_router_system_prompt(&prompt, rc, n);
  /* the router node's options by reference, as the answer body does;
   * route_call.c sets stream and stream_options */
  cJSON *body = cJSON_CreateObject();
  const cJSON *opt;
  cJSON_ArrayForEach(opt, router->options) {
    if (strcmp(opt->string, "messages") != 0 && strcmp(opt->string, "stream") != 0 &&
        strcmp(opt->string, "stream_options") != 0)
      cJSON_AddItemReferenceToObject(body, opt->string, (cJSON *)opt);
  }
  cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
  add_message(msgs, "system", prompt.data);
  add_message(msgs, "user", r->routing.input ? r->routing.input : "");
  if (!cJSON_GetObjectItemCaseSensitive(body, "temperature"))
    cJSON_AddNumberToObject(body, "temperature", 0);
  if (!cJSON_GetObjectItemCaseSensitive(body, "max_tokens") &&
      !cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens"))
    cJSON_AddNumberToObject(body, "max_tokens", LLN_ROUTER_MAX_TOKENS);
  lln_buf_free(&prompt);
  return body;
}

const char *lln__check_request(const cJSON *req) {
  static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function", NULL};
  if (!cJSON_IsObject(req))
    return "the request body must be a JSON object";
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
  if (model && !cJSON_IsString(model) && !cJSON_IsNull(model))
    return "\"model\" must be a string";
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive(req, "stream");
  if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream))
    return "\"stream\" must be true or false";
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
  if (!msgs)
    return "\"messages\" is required";
  if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
    return "\"messages\" must be a non-empty array";
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsObject(m) || !cJSON_IsString(role))
      return "each message must be an object with a \"role\"";
    int known = 0;
    for (size_t i = 0; roles[i]; i++)
      known |= strcmp(role->valuestring, roles[i]) == 0;
    if (!known)
      return "a message has an unknown role (system, developer, user, assistant or tool)";
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) && !cJSON_IsNull(content))
      return "a message's \"content\" must be a string, an array of parts or null";
  }
  return NULL;
}
