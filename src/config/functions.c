/* functions: the "functions" object (what hooks call) and each node's
 * "hooks". Values are substituted at load like model fields, except the
 * request variables ($INPUT, $NODE ...), which stay for each call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "config/loader_int.h"
#include "templates/template.h"
#include "util/buf.h"
#include "util/json_print.h"
#include "util/xalloc.h"

static const char *const request_vars[] = {"INITIAL_INPUT", "CURRENT_INPUT", "INPUT",      "OUTPUT",
                                           "NODE",          "PREV_NODE",     "PREV_LAYER", "CURRENT_LAYER",
                                           "HOP_COUNT",     "TIMESTAMP",     "REQUEST_ID", "ROUTE_DECISION",
                                           "INPUT_LENGTH",  "WORD_COUNT",    NULL};

/* A request variable, or a header variable some node declares, is kept
 * as written for expansion per call. */
static int runtime_var(const lln_loader *L, const char *name) {
  if (lln_key_known(name, request_vars))
    return 1;
  const cJSON *arch = cJSON_GetObjectItemCaseSensitive(L->doc.root, "architecture");
  const cJSON *node;
  cJSON_ArrayForEach(node, arch) {
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(node, "extra-options"), "UseHeaderKeys");
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
      if (cJSON_IsString(k) && strcmp(k->valuestring, name) == 0)
        return 1;
    }
  }
  return 0;
}

typedef struct fn_bind {
  lln_loader *L;
  const char *path, *what;
} fn_bind;

/* Load-time values become literal text of the template; request
 * variables stay references; anything else is reported (an error at run,
 * a warning at validate) and stays as written, as text. */
static lln_tmpl_bind_result bind_fn_ref(void *ctx, const char *name, const char **value) {
  fn_bind *b = ctx;
  if (runtime_var(b->L, name))
    return LLN_TMPL_KEEP;
  *value = lln_loader_lookup(b->L, name);
  if (*value)
    return LLN_TMPL_VALUE;
  lln_loader_report(b->L, b->L->opts->mode == LLN_LOAD_RUN ? LLN_DIAG_ERROR : LLN_DIAG_WARNING, b->path,
                    "%s uses $%s, which is not set and is not a request variable", b->what, name);
  return LLN_TMPL_MISSING;
}

/* Compiles one field once: load-time values are bound (escaped by
 * `escape` where they land, e.g. inside a JSON string), so a call only
 * fills the request variables and never scans a bound value again. */
static lln_tmpl *fn_template(lln_loader *L, const char *value, const char *path, const char *what,
                             lln_tmpl_escape escape) {
  lln_tmpl *t = lln_tmpl_compile(value, LLN_TMPL_DOLLAR);
  fn_bind b = {L, path, what};
  lln_tmpl_bind(t, bind_fn_ref, &b, escape, NULL, 0);
  return t;
}

/* The text form of a compiled field (literal '$' as "$$", references as
 * "${NAME}"): shown in messages, and compiled again to the same template
 * by anything that only has the text. */
static char *template_text(const lln_tmpl *t) {
  lln_buf out;
  lln_buf_init(&out);
  lln_tmpl_format(t, &out);
  return lln_buf_steal(&out);
}

static char *fn_value(lln_loader *L, const char *value, const char *path, const char *what, lln_tmpl **tmpl,
                      lln_tmpl_escape escape) {
  *tmpl = fn_template(L, value, path, what, escape);
  return template_text(*tmpl);
}

static char **string_array(lln_loader *L, const cJSON *arr, const char *path, const char *what,
                           lln_tmpl ***tmpls) {
  char **out = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *out);
  *tmpls = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof **tmpls);
  if (!out || !*tmpls)
    abort();
  size_t n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    if (cJSON_IsString(e))
      out[n] = fn_value(L, e->valuestring, path, what, &(*tmpls)[n], NULL), n++;
    else
      lln_loader_report(L, LLN_DIAG_ERROR, path, "%s must hold strings", what);
  }
  return out;
}

/* {"Name": "value"} as NULL-terminated "Name<sep>value" lines. */
static char **pairs(lln_loader *L, const cJSON *obj, const char *path, const char *fn, const char *what,
                    const char *sep, lln_tmpl ***tmpls) {
  char **out = calloc((size_t)cJSON_GetArraySize(obj) + 1, sizeof *out);
  *tmpls = calloc((size_t)cJSON_GetArraySize(obj) + 1, sizeof **tmpls);
  if (!out || !*tmpls)
    abort();
  size_t n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, obj) {
    if (!cJSON_IsString(e)) {
      lln_loader_report(L, LLN_DIAG_ERROR, path, "%s \"%s\" must be a string", what, e->string);
      continue;
    }
    /* the name is literal text in front of the value's template */
    lln_tmpl *t = fn_template(L, e->valuestring, path, what, NULL);
    char *v = template_text(t);
    if (strcmp(sep, ": ") == 0) {
      char label[512];
      snprintf(label, sizeof label, "function \"%s\": header %s", fn, e->string);
      if (!*e->string || strpbrk(e->string, ": \r\n"))
        lln_loader_report(L, LLN_DIAG_ERROR, path, "%s: a header name is one word without ':' or spaces",
                          label);
      lln_loader_header_value_ok(L, v, path, label);
    }
    lln_buf line;
    lln_buf_init(&line);
    lln_buf_printf(&line, "%s%s", e->string, sep);
    lln_tmpl_prepend(t, line.data, line.len);
    lln_buf_puts(&line, v);
    free(v);
    (*tmpls)[n] = t;
    out[n++] = lln_buf_steal(&line);
  }
  return out;
}

/* A JSON value as a template whose load-time values are JSON-escaped. */
static char *fn_json_value(lln_loader *L, const cJSON *json, const char *path, const char *what,
                           lln_tmpl **tmpl) {
  lln_buf text;
  lln_buf_init(&text);
  lln_json_print(json, &text);
  char *v = fn_value(L, text.data, path, what, tmpl, lln_tmpl_escape_json);
  lln_buf_free(&text);
  return v;
}

static void load_shell_function(lln_loader *L, lln_function *fn, const char *name, const cJSON *j,
                                const char *path) {
  static const char *const keys[] = {"type", "command", "args", "env", "cwd", "timeout", NULL};
  fn->type = LLN_FN_SHELL;
  lln_loader_check_keys(L, j, path, keys);
  const char *command = lln_loader_string(L, j, "command", path);
  if (!command || !*command)
    lln_loader_report(L, LLN_DIAG_ERROR, path, "shell function \"%s\" needs a \"command\"", name);
  fn->t_command = fn_template(L, command ? command : "", path, "a shell command", NULL);
  /* a relative path is found beside the composition, as env-files are;
   * a bare name is looked up in PATH */
  const char *slash = strrchr(L->cfg->path, '/');
  lln_buf shown;
  lln_buf_init(&shown);
  lln_tmpl_render(fn->t_command, NULL, NULL, NULL, &shown);
  if (strchr(shown.data, '/') && shown.data[0] != '/' && slash)
    lln_tmpl_prepend(fn->t_command, L->cfg->path, (size_t)(slash - L->cfg->path + 1));
  lln_buf_free(&shown);
  fn->command = template_text(fn->t_command);
  fn->args = string_array(L, cJSON_GetObjectItemCaseSensitive(j, "args"), path, "\"args\"", &fn->t_args);
  fn->env = pairs(L, cJSON_GetObjectItemCaseSensitive(j, "env"), path, name, "env", "=", &fn->t_env);
  const char *cwd = lln_loader_string(L, j, "cwd", path);
  if (cwd)
    fn->cwd = lln_xstrdup(cwd);
}

/* "url" and "headers" of a rest or websocket function (`kind`): the url
 * starts with `plain` or `secure`, or is a variable. */
static void load_url_and_headers(lln_loader *L, lln_function *fn, const char *name, const cJSON *j,
                                 const char *path, const char *kind, const char *plain, const char *secure) {
  const char *url = lln_loader_string(L, j, "url", path);
  if (!url ||
      (strncmp(url, plain, strlen(plain)) != 0 && strncmp(url, secure, strlen(secure)) != 0 && url[0] != '$'))
    lln_loader_report(L, LLN_DIAG_ERROR, path, "%s function \"%s\" needs %s %s or %s \"url\"", kind, name,
                      plain[0] == 'h' ? "an" : "a", plain, secure);
  char what[32];
  snprintf(what, sizeof what, "a %s url", kind);
  fn->url = fn_value(L, url ? url : "", path, what, &fn->t_url, NULL);
  fn->headers =
      pairs(L, cJSON_GetObjectItemCaseSensitive(j, "headers"), path, name, "header", ": ", &fn->t_headers);
}

static void load_rest_function(lln_loader *L, lln_function *fn, const char *name, const cJSON *j,
                               const char *path) {
  static const char *const keys[] = {"type", "method", "url", "headers", "body", "timeout", NULL};
  static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
  fn->type = LLN_FN_REST;
  lln_loader_check_keys(L, j, path, keys);
  const char *method = lln_loader_string(L, j, "method", path);
  if (method && !lln_key_known(method, methods))
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "rest function \"%s\": method is GET, POST, PUT, PATCH or DELETE", name);
  if (method)
    fn->method = lln_xstrdup(method);
  load_url_and_headers(L, fn, name, j, path, "rest", "http://", "https://");
  const cJSON *body = cJSON_GetObjectItemCaseSensitive(j, "body");
  if (body)
    fn->body = fn_json_value(L, body, path, "a rest body", &fn->t_body);
}

static void load_websocket_function(lln_loader *L, lln_function *fn, const char *name, const cJSON *j,
                                    const char *path) {
  static const char *const keys[] = {"type", "url", "message", "headers", "wait-reply", "timeout", NULL};
  fn->type = LLN_FN_WEBSOCKET;
  lln_loader_check_keys(L, j, path, keys);
  load_url_and_headers(L, fn, name, j, path, "websocket", "ws://", "wss://");
  const cJSON *message = cJSON_GetObjectItemCaseSensitive(j, "message");
  if (cJSON_IsString(message)) {
    /* a message that is JSON text gets its values JSON-escaped, as a call's */
    const char *first = message->valuestring + strspn(message->valuestring, " \t\r\n");
    fn->message = fn_value(L, message->valuestring, path, "a websocket message", &fn->t_message,
                           *first == '{' || *first == '[' ? lln_tmpl_escape_json : NULL);
  } else if (message) {
    fn->message = fn_json_value(L, message, path, "a websocket message", &fn->t_message);
  } else {
    fn->message = lln_xstrdup("");
  }
  const cJSON *wait = cJSON_GetObjectItemCaseSensitive(j, "wait-reply");
  if (wait && !cJSON_IsBool(wait))
    lln_loader_report(L, LLN_DIAG_ERROR, path, "websocket function \"%s\": \"wait-reply\" is true or false",
                      name);
  fn->wait_reply = cJSON_IsTrue(wait);
}

static void load_function(lln_loader *L, lln_function *fn, const char *name, const cJSON *j,
                          const char *path) {
  static const char *const grpc_keys[] = {"type", "address", "service", "method", "request", "timeout", NULL};
  fn->name = lln_xstrdup(name);
  fn->timeout_ms = 10000;
  if (!cJSON_IsObject(j)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "function \"%s\" must be an object", name);
    return;
  }
  const char *type = lln_loader_string(L, j, "type", path);
  const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(j, "timeout");
  if (timeout && (!cJSON_IsNumber(timeout) || timeout->valuedouble <= 0 || timeout->valuedouble > 3600))
    lln_loader_report(L, LLN_DIAG_ERROR, path, "function \"%s\": \"timeout\" is seconds, from 0 to 3600",
                      name);
  else if (timeout)
    fn->timeout_ms = (long)(timeout->valuedouble * 1000);
  if (type && strcmp(type, "shell") == 0) {
    load_shell_function(L, fn, name, j, path);
  } else if (type && strcmp(type, "rest") == 0) {
    load_rest_function(L, fn, name, j, path);
  } else if (type && strcmp(type, "websocket") == 0) {
    load_websocket_function(L, fn, name, j, path);
  } else if (type && strcmp(type, "grpc") == 0) {
    fn->type = LLN_FN_GRPC;
    lln_loader_check_keys(L, j, path, grpc_keys);
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "function \"%s\": the grpc function type is not supported by this build (shell, rest "
                      "and websocket are)",
                      name);
  } else {
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "function \"%s\" needs a \"type\": shell, rest, websocket or grpc", name);
  }
}

void lln_loader_functions(lln_loader *L, const cJSON *functions) {
  if (!functions)
    return;
  if (!cJSON_IsObject(functions)) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/functions", "\"functions\" must be an object");
    return;
  }
  lln_config *cfg = L->cfg;
  cfg->n_functions = (size_t)cJSON_GetArraySize(functions);
  cfg->functions = calloc(cfg->n_functions ? cfg->n_functions : 1, sizeof *cfg->functions);
  if (!cfg->functions)
    abort();
  size_t i = 0;
  const cJSON *f;
  cJSON_ArrayForEach(f, functions) {
    lln_buf path;
    lln_buf_init(&path);
    lln_buf_puts(&path, "/functions");
    lln_pointer_append(&path, f->string);
    load_function(L, &cfg->functions[i++], f->string, f, path.data);
    lln_buf_free(&path);
  }
}

static void load_hook(lln_loader *L, lln_hook *h, const lln_node *n, const cJSON *j, const char *path) {
  static const char *const known[] = {"function", "mode", "on_failure", "if", NULL};
  if (!cJSON_IsObject(j)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "node \"%s\": a hook is an object with a \"function\"",
                      n->name);
    return;
  }
  lln_loader_check_keys(L, j, path, known);
  const char *fn = lln_loader_string(L, j, "function", path);
  for (size_t i = 0; fn && i < L->cfg->n_functions; i++) {
    if (strcmp(L->cfg->functions[i].name, fn) == 0)
      h->function = &L->cfg->functions[i];
  }
  if (!h->function)
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "node \"%s\": hook function \"%s\" is not defined in \"functions\"", n->name,
                      fn ? fn : "(none)");
  const char *mode = lln_loader_string(L, j, "mode", path);
  if (mode && strcmp(mode, "observe") != 0 && strcmp(mode, "transform") != 0)
    lln_loader_report(L, LLN_DIAG_ERROR, path, "node \"%s\": hook mode is \"observe\" or \"transform\"",
                      n->name);
  h->transform = mode && strcmp(mode, "transform") == 0;
  const char *on_failure = lln_loader_string(L, j, "on_failure", path);
  if (on_failure && strcmp(on_failure, "continue") != 0 && strcmp(on_failure, "abort") != 0)
    lln_loader_report(L, LLN_DIAG_ERROR, path, "node \"%s\": on_failure is \"continue\" or \"abort\"",
                      n->name);
  h->abort = on_failure && strcmp(on_failure, "abort") == 0;
  const char *cond = lln_loader_string(L, j, "if", path);
  if (cond) {
    h->if_src = lln_xstrdup(cond);
    char what[512];
    snprintf(what, sizeof what, "node \"%s\": hook condition", n->name);
    h->cond = lln_loader_condition(L, cond, path, what);
  }
}

static lln_hook *load_hook_list(lln_loader *L, const lln_node *n, const cJSON *list, const char *path,
                                size_t *count) {
  *count = 0;
  if (!list)
    return NULL;
  if (!cJSON_IsArray(list)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "node \"%s\": hooks lists are arrays", n->name);
    return NULL;
  }
  lln_hook *hooks = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *hooks);
  if (!hooks)
    abort();
  const cJSON *h;
  cJSON_ArrayForEach(h, list) {
    lln_buf p;
    lln_buf_init(&p);
    lln_buf_printf(&p, "%s/%zu", path, *count);
    load_hook(L, &hooks[(*count)++], n, h, p.data);
    lln_buf_free(&p);
  }
  return hooks;
}

void lln_loader_hooks(lln_loader *L, lln_node *n, const cJSON *hooks, const char *path) {
  static const char *const known[] = {"pre", "post", NULL};
  if (!hooks)
    return;
  if (!cJSON_IsObject(hooks)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "node \"%s\": \"hooks\" is {\"pre\": [...], \"post\": [...]}",
                      n->name);
    return;
  }
  lln_loader_check_keys(L, hooks, path, known);
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_printf(&p, "%s/pre", path);
  n->pre = load_hook_list(L, n, cJSON_GetObjectItemCaseSensitive(hooks, "pre"), p.data, &n->n_pre);
  lln_buf_reset(&p);
  lln_buf_printf(&p, "%s/post", path);
  n->post = load_hook_list(L, n, cJSON_GetObjectItemCaseSensitive(hooks, "post"), p.data, &n->n_post);
  lln_buf_free(&p);
}

static void free_hooks(lln_hook *h, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(h[i].if_src);
    lln_cond_free(h[i].cond);
  }
  free(h);
}

static void free_templates(lln_tmpl **v) {
  for (size_t i = 0; v && v[i]; i++)
    lln_tmpl_free(v[i]);
  free(v);
}

void lln_config_free_functions(lln_config *cfg) {
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    free_hooks(cfg->nodes[i].pre, cfg->nodes[i].n_pre);
    free_hooks(cfg->nodes[i].post, cfg->nodes[i].n_post);
  }
  for (size_t i = 0; i < cfg->n_functions; i++) {
    lln_function *f = &cfg->functions[i];
    free(f->name);
    free(f->command);
    lln_strv_free(f->args);
    lln_strv_free(f->env);
    free(f->cwd);
    free(f->method);
    free(f->url);
    lln_strv_free(f->headers);
    free(f->body);
    free(f->message);
    lln_tmpl_free(f->t_command);
    lln_tmpl_free(f->t_url);
    lln_tmpl_free(f->t_body);
    lln_tmpl_free(f->t_message);
    free_templates(f->t_args);
    free_templates(f->t_env);
    free_templates(f->t_headers);
  }
  free(cfg->functions);
}
