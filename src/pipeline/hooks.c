/* hooks: running the hook lists. Observe hooks are detached: they own
 * what they need once started, so they may outlive the request. */
#include "pipeline/hooks_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "observe/metrics.h"
#include "util/buf.h"
#include "util/json_alloc.h"
#include "util/json_check.h"
#include "util/json_print.h"
#include "util/log.h"
#include "util/utf8.h"
#include "util/xalloc.h"

static const lln_hook *hook_list(const lln_node *n, int post, size_t *count) {
  *count = post ? n->n_post : n->n_pre;
  return post ? n->post : n->pre;
}

int lln_hooks_transform_output(const lln_node *n) {
  for (size_t i = 0; i < n->n_post; i++) {
    if (n->post[i].transform)
      return 1;
  }
  return 0;
}

static void count(const lln_node *n, const lln_hook *h, const char *outcome) {
  const char *labels[] = {n->name, h->function->name, outcome};
  lln_metric_add(&LLN_M_HOOK_RUNS, labels, 1);
}

/* What a function gets on stdin: the node's input and answer and the
 * request's variables, as JSON. */
static void payload(lln_run *r, lln_buf *out) {
  static const char *const names[] = {"INITIAL_INPUT", "INPUT",     "OUTPUT",     "NODE",
                                      "PREV_NODE",     "HOP_COUNT", "REQUEST_ID", "TIMESTAMP",
                                      "INPUT_LENGTH",  "WORD_COUNT"};
  lln_vars *v = lln_run_vars(r);
  cJSON *p = cJSON_CreateObject();
  const char *input = r->hooks.post ? v->input : lln_vars_current_input(v);
  cJSON_AddStringToObject(p, "input", input ? input : "");
  if (r->hooks.post)
    cJSON_AddStringToObject(p, "output", v->output ? v->output : "");
  cJSON_AddStringToObject(p, "node", r->hooks.node->name);
  cJSON_AddStringToObject(p, "request_id", r->request_id);
  cJSON *vars = cJSON_AddObjectToObject(p, "variables");
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *value = lln_vars_get(v, names[i]);
    if (value)
      cJSON_AddStringToObject(vars, names[i], value);
  }
  for (size_t i = 0; i < v->n_headers; i++)
    cJSON_AddStringToObject(vars, v->headers[i].name, v->headers[i].value);
  lln_json_print(p, out);
  cJSON_Delete(p);
}

/* A transform's result: {"output": "..."} ({"input"} for pre hooks), a
 * JSON string, or else the text itself without its trailing newline.
 * Nothing at all (a validator that only exits 0) changes nothing: NULL.
 * JSON that json_check refuses sets *failed and `error`. */
static char *transformed(const lln_fn_result *res, int post, int *failed, char *error, size_t size) {
  size_t len = res->output_len;
  while (len && (res->output[len - 1] == '\n' || res->output[len - 1] == '\r' || res->output[len - 1] == ' '))
    len--;
  if (len == 0)
    return NULL;
  cJSON *j = cJSON_ParseWithLength(res->output, res->output_len);
  size_t bad_at = 0;
  const char *why = NULL;
  if (j && lln_json_check(res->output, res->output_len, &bad_at, &why) != 0) {
    /* JSON that cJSON reads but must not be used: "\u0000" would cut the
     * text silently, a raw control character is not JSON */
    cJSON_Delete(j);
    snprintf(error, size,
             "its JSON output is refused at byte %zu: %s; a transform hook must print UTF-8 text or JSON",
             bad_at, why ? why : "invalid");
    *failed = 1;
    return NULL;
  }
  const cJSON *field = cJSON_GetObjectItemCaseSensitive(j, post ? "output" : "input");
  char *out;
  if (cJSON_IsString(field))
    out = lln_xstrdup(field->valuestring);
  else if (cJSON_IsString(j))
    out = lln_xstrdup(j->valuestring);
  else {
    size_t n = res->output_len;
    while (n && (res->output[n - 1] == '\n' || res->output[n - 1] == '\r'))
      n--;
    out = strndup(res->output, n);
  }
  cJSON_Delete(j);
  if (!out)
    abort();
  return out;
}

/* A post transform replaces the answer: the text later nodes see and the
 * message content of the response. */
static void replace_output(lln_run *r, char *text) {
  free(r->output);
  r->output = text;
  cJSON *msg = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r->final, "choices"), 0), "message");
  if (cJSON_IsObject(msg)) {
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "content");
    cJSON_AddStringToObject(msg, "content", text);
  }
}

/* An observe hook in flight: copies of what it reports, since the request
 * (and after a reload its composition) may be gone when it ends. */
typedef struct observer {
  char *label; /* "request R: node N: post hook 2 (function \"f\")" */
  char *node, *function;
} observer;

static void on_observe_done(void *ud, const lln_fn_result *res) {
  observer *o = ud;
  const char *labels[] = {o->node, o->function, res->ok ? "ok" : "failed"};
  lln_metric_add(&LLN_M_HOOK_RUNS, labels, 1);
  if (!res->ok)
    LLN_WARN("%s failed: %s (observe: the request went on)", o->label, res->error ? res->error : "?");
  free(o->label);
  free(o->node);
  free(o->function);
  free(o);
}

static void run_next(lln_run *r);

/* A transform's result as text, or NULL with *error set when it cannot be
 * used: the text must be UTF-8 without NUL bytes (a NUL would silently cut
 * it). *value is NULL too when the hook printed nothing. */
static int checked_output(const lln_fn_result *res, int post, char **value, char *error, size_t size) {
  *value = NULL;
  if (memchr(res->output, '\0', res->output_len)) {
    snprintf(error, size, "its output contains a NUL byte; a transform hook must print UTF-8 text");
    return -1;
  }
  int failed = 0;
  *value = transformed(res, post, &failed, error, size);
  if (failed)
    return -1;
  size_t bad = 0;
  if (*value && !lln_utf8_valid(*value, strlen(*value), &bad)) {
    snprintf(error, size,
             "its output is not valid UTF-8 (bad byte at offset %zu); a transform hook must print UTF-8 text",
             bad);
    free(*value);
    *value = NULL;
    return -1;
  }
  return 0;
}

static void on_hook_done(void *ud, const lln_fn_result *res) {
  lln_run *r = ud;
  LLN_JSON_SCOPE(r->arena);
  r->hooks.call = NULL;
  size_t n;
  const lln_hook *h = &hook_list(r->hooks.node, r->hooks.post, &n)[r->hooks.index - 1];
  char bad_output[160];
  char *value = NULL;
  const char *error = res->error;
  int ok = res->ok;
  if (ok && checked_output(res, r->hooks.post, &value, bad_output, sizeof bad_output) != 0) {
    ok = 0;
    error = bad_output;
  }
  if (!ok) {
    count(r->hooks.node, h, "failed");
    char why[600];
    snprintf(why, sizeof why, "node \"%s\": %s hook %zu (function \"%s\") failed: %.400s",
             r->hooks.node->name, r->hooks.post ? "post" : "pre", r->hooks.index, h->function->name,
             error ? error : "?");
    if (h->abort) {
      /* a pre hook that says no refuses the request; a post hook that fails
       * leaves no answer to give */
      lln_run_fail(r, r->hooks.post ? 502 : 422, why);
      return;
    }
    LLN_WARN("request %s: %s; on_failure continue", r->request_id, why);
  } else {
    count(r->hooks.node, h, "ok");
    if (!value) {
      /* nothing printed: the input or answer stays as it was */
    } else if (r->hooks.post) {
      replace_output(r, value);
    } else {
      free(r->hooks.input);
      r->hooks.input = value;
    }
  }
  run_next(r);
}

static void run_next(lln_run *r) {
  size_t n;
  const lln_hook *list = hook_list(r->hooks.node, r->hooks.post, &n);
  while (r->hooks.index < n) {
    const lln_hook *h = &list[r->hooks.index++];
    lln_vars *v = lln_run_vars(r);
    lln_vars_set_target(v, r->hooks.node, time(NULL));
    if (h->cond && !lln_cond_eval(h->cond, lln_vars_lookup, v)) {
      count(r->hooks.node, h, "skipped");
      continue;
    }
    lln_buf body;
    lln_buf_init(&body);
    payload(r, &body);
    lln_fn_request req = {.loop = r->loop,
                          .upstream = r->up,
                          .fn = h->function,
                          .payload = body.data,
                          .lookup = lln_vars_lookup,
                          .lookup_ctx = v};
    if (!h->transform) {
      observer *o = malloc(sizeof *o);
      lln_buf label;
      lln_buf_init(&label);
      lln_buf_printf(&label, "request %s: node \"%s\": %s hook %zu (function \"%s\")", r->request_id,
                     r->hooks.node->name, r->hooks.post ? "post" : "pre", r->hooks.index, h->function->name);
      if (!o)
        abort();
      o->label = lln_buf_steal(&label);
      o->node = lln_xstrdup(r->hooks.node->name);
      o->function = lln_xstrdup(h->function->name);
      req.done = on_observe_done;
      req.ud = o;
      LLN_JSON_HEAP(); /* detached: nothing it keeps may be in the run's arena */
      lln_fn_start(&req);
      lln_buf_free(&body);
      continue;
    }
    req.done = on_hook_done;
    req.ud = r;
    /* done may run before lln_fn_start returns (a function that cannot
     * start); it carries the loop on from there */
    lln_fn_call *call;
    {
      LLN_JSON_HEAP();
      call = lln_fn_start(&req);
    }
    /* NULL: it could not start and its done already ran, which may have
     * moved on to the next hook: r->hooks.call is that one's now */
    if (call)
      r->hooks.call = call;
    lln_buf_free(&body);
    return;
  }
  void (*next)(lln_run *) = r->hooks.next;
  r->hooks.next = NULL;
  next(r);
}

void lln_hooks_run(lln_run *r, const lln_node *n, int post, void (*next)(lln_run *r)) {
  r->hooks.node = n;
  r->hooks.post = post;
  r->hooks.index = 0;
  r->hooks.next = next;
  run_next(r);
}

void lln_hooks_cancel(lln_run *r) {
  if (r->hooks.call) {
    lln_fn_cancel(r->hooks.call);
    r->hooks.call = NULL;
  }
}
