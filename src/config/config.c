/* config: reading a composition file: the document and the models, with
 * value substitution; secret_sources.c does the secrets, server.c the server
 * settings, nodes.c the architecture, functions.c the functions and hooks. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "config/loader_int.h"
#include "config/runner.h"
#include "config/secret_values_int.h"
#include "config/subst_int.h"
#include "config/url_int.h"
#include "util/buf.h"
#include "util/json_alloc.h"
#include "util/xalloc.h"

/* ---- reporting ---- */

void lln_loader_report(lln_loader *L, lln_diag_severity sev, const char *path, const char *fmt, ...) {
  int line = 0, col = 0;
  if (path && L->doc.root)
    lln_jsonc_position(&L->doc, path, &line, &col);
  va_list ap;
  va_start(ap, fmt);
  lln_diags_vadd(L->diags, sev, line, col, fmt, ap);
  va_end(ap);
}

size_t lln_loader_each_unknown_key(lln_loader *L, const cJSON *obj, const char *path,
                                   const char *const *known, lln_loader_unknown_key_fn report, void *ud) {
  size_t n = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, obj) {
    if (lln_key_known(item->string, known))
      continue;
    const char *best = lln_key_suggest(item->string, known);
    lln_buf p;
    lln_buf_init(&p);
    lln_buf_puts(&p, path);
    lln_pointer_append(&p, item->string);
    report(L, p.data, item->string, best, ud);
    lln_buf_free(&p);
    n++;
  }
  return n;
}

static void warn_unknown_key(lln_loader *L, const char *pointer, const char *key, const char *best,
                             void *ud) {
  (void)ud;
  if (best)
    lln_loader_report(L, LLN_DIAG_WARNING, pointer, "unknown key \"%s\" is ignored; did you mean \"%s\"?",
                      key, best);
  else
    lln_loader_report(L, LLN_DIAG_WARNING, pointer, "unknown key \"%s\" is ignored", key);
}

void lln_loader_check_keys(lln_loader *L, const cJSON *obj, const char *path, const char *const *known) {
  lln_loader_each_unknown_key(L, obj, path, known, warn_unknown_key, NULL);
}

const char *lln_loader_string(lln_loader *L, const cJSON *obj, const char *key, const char *path) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v))
    return NULL;
  if (!cJSON_IsString(v)) {
    lln_buf p;
    lln_buf_init(&p);
    lln_buf_printf(&p, "%s/%s", path, key);
    lln_loader_report(L, LLN_DIAG_ERROR, p.data, "\"%s\" must be a string", key);
    lln_buf_free(&p);
    return NULL;
  }
  return v->valuestring;
}

/* ---- substitution ---- */

static const char *lookup_ref(void *ctx, const char *name) { return lln_loader_lookup(ctx, name); }

const char *lln_loader_lookup(lln_loader *L, const char *name) {
  if (strncmp(name, "secrets.", 8) == 0) {
    for (size_t i = 0; i < L->cfg->n_secrets; i++) {
      if (strcmp(L->cfg->secrets[i].ref, name) == 0)
        return L->cfg->secrets[i].value;
    }
    return NULL;
  }
  const char *v = getenv(name);
  if (!v)
    v = lln_envfile_get(&L->env_file, name);
  return v;
}

/* lln_loader_substitute, also telling whether every reference resolved
 * and the first one that did not. */
static char *substitute_missing(lln_loader *L, const char *value, const char *path, const char *what, int *ok,
                                char *missing, size_t missing_size) {
  lln_buf out;
  lln_buf_init(&out);
  *ok = lln_subst(value, lookup_ref, L, &out, missing, missing_size) == 0;
  if (!*ok) {
    int run = L->opts->mode == LLN_LOAD_RUN;
    lln_loader_report(L, run ? LLN_DIAG_ERROR : LLN_DIAG_WARNING, path, "%s uses $%s, which is not set%s",
                      what, missing,
                      strncmp(missing, "secrets.", 8) == 0 ? " (no such secret is loaded)"
                                                           : " (export it or pass --env-file FILE)");
  }
  return lln_buf_steal(&out);
}

char *lln_loader_substitute_ok(lln_loader *L, const char *value, const char *path, const char *what,
                               int *ok) {
  char missing[256];
  return substitute_missing(L, value, path, what, ok, missing, sizeof missing);
}

char *lln_loader_substitute(lln_loader *L, const char *value, const char *path, const char *what) {
  int ok;
  return lln_loader_substitute_ok(L, value, path, what, &ok);
}

int lln_loader_header_value_ok(lln_loader *L, const char *value, const char *path, const char *what) {
  if (!value || !strpbrk(value, "\r\n"))
    return 1;
  /* the value itself may be a secret: only its name is shown */
  lln_loader_report(L, LLN_DIAG_ERROR, path,
                    "%s contains a line break (CR or LF) once its variables are substituted; a header "
                    "value is one line: fix the variable or the secret it comes from",
                    what);
  return 0;
}

/* ---- models ---- */

static long seconds_ms(lln_loader *L, const cJSON *m, const char *key, const char *path, long def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
  if (!v)
    return def;
  if (!cJSON_IsNumber(v) || v->valuedouble <= 0 || v->valuedouble > 86400) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "\"%s\" must be a number of seconds between 0 and 86400", key);
    return def;
  }
  return (long)(v->valuedouble * 1000.0);
}

/* Reads the whole numbers of a settings object: {"rpm": 20, "rpd": 200}. */
static void number_fields(lln_loader *L, const cJSON *obj, const char *path, const char *what,
                          const char *const *keys, const double *max, double *out) {
  if (!obj)
    return;
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_printf(&p, "%s/%s", path, what);
  if (!cJSON_IsObject(obj)) {
    lln_loader_report(L, LLN_DIAG_ERROR, p.data, "\"%s\" must be an object", what);
    lln_buf_free(&p);
    return;
  }
  lln_loader_check_keys(L, obj, p.data, keys);
  for (size_t i = 0; keys[i]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[i]);
    if (!v)
      continue;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max[i])
      lln_loader_report(L, LLN_DIAG_ERROR, p.data, "\"%s\" in \"%s\" must be a number from 0 to %g", keys[i],
                        what, max[i]);
    else
      out[i] = v->valuedouble;
  }
  lln_buf_free(&p);
}

static void load_limits(lln_loader *L, lln_model *model, const cJSON *m, const char *path) {
  static const char *const rl_keys[] = {"rpm", "rpd", "queue", "max-wait", NULL};
  static const double rl_max[] = {1e6, 1e9, 1e6, 86400};
  double rl[] = {0, 0, model->rl_queue, (double)model->rl_max_wait_ms / 1000.0};
  number_fields(L, cJSON_GetObjectItemCaseSensitive(m, "rate-limit"), path, "rate-limit", rl_keys, rl_max,
                rl);
  model->rpm = (int)rl[0];
  model->rpd = (int)rl[1];
  model->rl_queue = (int)rl[2];
  model->rl_max_wait_ms = (long)(rl[3] * 1000.0);
  static const char *const cb_keys[] = {"failures", "cooldown", NULL};
  static const double cb_max[] = {1000, 86400};
  double cb[] = {model->breaker_failures, (double)model->breaker_cooldown_ms / 1000.0};
  number_fields(L, cJSON_GetObjectItemCaseSensitive(m, "circuit-breaker"), path, "circuit-breaker", cb_keys,
                cb_max, cb);
  model->breaker_failures = (int)cb[0];
  model->breaker_cooldown_ms = (long)(cb[1] * 1000.0);
}

/* "headers": substituted "Name: value" lines, each value checked once
 * substituted (a variable must not add a header line). */
static void load_model_headers(lln_loader *L, lln_model *model, const char *key, const cJSON *m,
                               const char *path) {
  char what[300];
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive(m, "headers");
  size_t nh = 0;
  model->headers = calloc((size_t)cJSON_GetArraySize(headers) + 1, sizeof(char *));
  if (!model->headers)
    abort();
  if (headers && !cJSON_IsObject(headers))
    lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\": \"headers\" must be an object of strings", key);
  const cJSON *h;
  const cJSON *header_obj = cJSON_IsObject(headers) ? headers : NULL;
  cJSON_ArrayForEach(h, header_obj) {
    if (!cJSON_IsString(h) || !*h->string || strpbrk(h->string, ": \r\n")) {
      lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\": header \"%s\" must be a one-line string", key,
                        h->string);
      continue;
    }
    snprintf(what, sizeof what, "model \"%s\": header %s", key, h->string);
    lln_buf hp;
    lln_buf_init(&hp);
    lln_buf_printf(&hp, "%s/headers", path);
    lln_pointer_append(&hp, h->string);
    char *value = lln_loader_substitute(L, h->valuestring, hp.data, what);
    lln_loader_header_value_ok(L, value, hp.data, what);
    lln_buf_free(&hp);
    lln_buf line;
    lln_buf_init(&line);
    lln_buf_printf(&line, "%s: %s", h->string, value);
    free(value);
    model->headers[nh++] = lln_buf_steal(&line);
  }
}

/* Every model field's default, before the document says otherwise. */
static void model_defaults(lln_model *model, const char *key) {
  model->key = lln_xstrdup(key);
  model->timeout_ms = 120000;
  model->connect_timeout_ms = 10000;
  model->retries = 2;
  model->breaker_failures = 5;
  model->breaker_cooldown_ms = 30000;
  model->rl_queue = LLN_RATE_LIMIT_DEFAULT_QUEUE;
  model->rl_max_wait_ms = LLN_RATE_LIMIT_DEFAULT_MAX_WAIT_MS;
}

/* "type" and "interface": external OpenAI-compatible APIs, or a local
 * server llmnet runs itself (config/runner.c). */
static void load_model_kind(lln_loader *L, lln_model *model, const char *key, const cJSON *m,
                            const char *path) {
  const char *type = lln_loader_string(L, m, "type", path);
  model->type = lln_xstrdup(type ? type : "external");
  if (!type)
    lln_loader_report(L, LLN_DIAG_WARNING, path, "model \"%s\" has no \"type\"; \"external\" is assumed",
                      key);
  else if (strcmp(type, "external") != 0 && !lln_runner_type(type))
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "model \"%s\": type \"%s\" is not supported; use \"external\" (an OpenAI-compatible "
                      "API reached by URL) or a runner: \"command\", \"llama-cpp\", \"ollama\", \"vllm\", "
                      "\"docker\"",
                      key, type);
  const char *iface = lln_loader_string(L, m, "interface", path);
  if (iface && strcmp(iface, "openai-api") != 0)
    lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\": interface \"%s\" is not supported (openai-api)",
                      key, iface);
}

/* "url": kept as written (for messages) and, substituted, turned into the
 * chat-completions URL a call posts to. */
static void load_model_url(lln_loader *L, lln_model *model, const char *key, const cJSON *m,
                           const char *path) {
  const char *url = lln_loader_string(L, m, "url", path);
  if (!url) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\" needs a \"url\"", key);
    return;
  }
  char what[300];
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_printf(&p, "%s/url", path);
  snprintf(what, sizeof what, "model \"%s\": url", key);
  /* Whether it resolved, not whether the result has a '$' in it: "$$" and
   * values that contain '$' are legitimate. */
  int resolved;
  char *expanded = lln_loader_substitute_ok(L, url, p.data, what, &resolved);
  model->url = lln_xstrdup(url);
  if (resolved) {
    model->chat_url = lln_url_chat_completions(expanded);
    model->embeddings_url = lln_url_embeddings(expanded);
    if (!model->chat_url)
      lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                        "model \"%s\": url \"%s\" is not an http:// or https:// URL%s", key, url,
                        lln_subst_has_ref(url) ? " once its variables are substituted" : "");
  }
  free(expanded);
  lln_buf_free(&p);
}

/* "api-key": substituted now; an unset variable is remembered by name so a
 * call can say which one is missing. */
static void load_model_api_key(lln_loader *L, lln_model *model, const char *key, const cJSON *m,
                               const char *path) {
  const char *api_key = lln_loader_string(L, m, "api-key", path);
  if (!api_key)
    return;
  char what[300], missing[256];
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_printf(&p, "%s/api-key", path);
  snprintf(what, sizeof what, "model \"%s\": api-key", key);
  int resolved;
  model->api_key = substitute_missing(L, api_key, p.data, what, &resolved, missing, sizeof missing);
  if (!resolved)
    model->api_key_unset = lln_xstrdup(missing);
  lln_loader_header_value_ok(L, model->api_key, p.data, what);
  lln_buf_free(&p);
}

static void load_model(lln_loader *L, lln_model *model, const char *key, const cJSON *m, const char *path) {
  static const char *const known[] = {"type",
                                      "interface",
                                      "url",
                                      "api-key",
                                      "timeout",
                                      "connect-timeout",
                                      "first-byte-timeout",
                                      "retries",
                                      "headers",
                                      "rate-limit",
                                      "circuit-breaker",
                                      "embeddings",
                                      "model-id",
                                      "default",
                                      "price",
                                      "budget",
                                      "command",
                                      "args",
                                      "env",
                                      "cwd",
                                      "health",
                                      "startup-timeout",
                                      "model",
                                      "image",
                                      "engine",
                                      "container-port",
                                      NULL};
  model_defaults(model, key);
  if (!cJSON_IsObject(m)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\" must be an object", key);
    return;
  }
  lln_loader_check_keys(L, m, path, known);
  load_model_kind(L, model, key, m, path);
  if (lln_runner_type(model->type) && strcmp(model->type, "external") != 0)
    lln_loader_model_runner(L, model, m, path);
  else
    load_model_url(L, model, key, m, path);
  load_model_api_key(L, model, key, m, path);
  model->timeout_ms = seconds_ms(L, m, "timeout", path, model->timeout_ms);
  model->connect_timeout_ms = seconds_ms(L, m, "connect-timeout", path, model->connect_timeout_ms);
  model->first_byte_timeout_ms = seconds_ms(L, m, "first-byte-timeout", path, 0);
  load_limits(L, model, m, path);
  const cJSON *retries = cJSON_GetObjectItemCaseSensitive(m, "retries");
  if (retries) {
    if (!cJSON_IsNumber(retries) || retries->valuedouble < 0 || retries->valuedouble > 10)
      lln_loader_report(L, LLN_DIAG_ERROR, path, "\"retries\" must be a number from 0 to 10");
    else
      model->retries = retries->valueint;
  }
  load_model_headers(L, model, key, m, path);
  lln_loader_model_embeddings(L, model, m, path);
  lln_loader_model_price(L, model, m, path);
  lln_loader_model_budget(L, model, m, path);
}

static void load_models(lln_loader *L, const cJSON *models) {
  if (!models) {
    lln_loader_report(L, LLN_DIAG_ERROR, "", "the composition needs a \"models\" object");
    return;
  }
  if (!cJSON_IsObject(models)) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/models", "\"models\" must be an object");
    return;
  }
  lln_config *cfg = L->cfg;
  cfg->n_models = (size_t)cJSON_GetArraySize(models);
  cfg->models = calloc(cfg->n_models ? cfg->n_models : 1, sizeof *cfg->models);
  if (!cfg->models)
    abort();
  size_t i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, models) {
    lln_buf path;
    lln_buf_init(&path);
    lln_buf_puts(&path, "/models");
    lln_pointer_append(&path, m->string);
    cfg->models[i].index = (int)i;
    load_model(L, &cfg->models[i++], m->string, m, path.data);
    lln_buf_free(&path);
  }
}

/* ---- document ---- */

static char *read_file(const char *path, size_t *len, char *err, size_t err_size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_size, "cannot open: %s", strerror(errno));
    return NULL;
  }
  lln_buf b;
  lln_buf_init(&b);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    lln_buf_append(&b, chunk, n);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    snprintf(err, err_size, "cannot read: %s", strerror(errno));
    lln_buf_free(&b);
    return NULL;
  }
  *len = b.len;
  return lln_buf_steal(&b);
}

int lln_config_load(lln_config *cfg, const char *path, const lln_load_options *opts, lln_diags *diags) {
  LLN_JSON_ASSERT_HEAP(); /* a composition outlives every request */
  static const char *const known[] = {"models",  "architecture", "secrets",        "functions", "server",
                                      "routing", "budgets",      "response-cache", NULL};
  memset(cfg, 0, sizeof *cfg);
  cfg->path = lln_xstrdup(path);
  lln_loader L = {.cfg = cfg, .diags = diags, .opts = opts};
  char err[1024];
  size_t len = 0;
  char *text = read_file(path, &len, err, sizeof err);
  if (!text) {
    lln_diags_add(diags, LLN_DIAG_ERROR, 0, 0, "%s", err);
    lln_config_free(cfg);
    return -1;
  }
  if (lln_jsonc_parse(&L.doc, text, len, err, sizeof err) != 0) {
    int line = 0, col = 0, used = 0;
    if (sscanf(err, "%d:%d: %n", &line, &col, &used) < 2)
      used = 0;
    lln_diags_add(diags, LLN_DIAG_ERROR, line, col, "%s", err + used);
    free(text);
    lln_config_free(cfg);
    return -1;
  }
  free(text);
  const cJSON *root = L.doc.root;
  if (!cJSON_IsObject(root)) {
    lln_loader_report(&L, LLN_DIAG_ERROR, "",
                      "a composition is a JSON object with \"models\" and \"architecture\"");
  } else {
    lln_loader_check_keys(&L, root, "", known);
    if (opts->env_file && lln_envfile_load(&L.env_file, opts->env_file, err, sizeof err) != 0)
      lln_diags_add(diags, LLN_DIAG_ERROR, 0, 0, "--env-file: %s", err);
    lln_loader_secrets(&L, cJSON_GetObjectItemCaseSensitive(root, "secrets"));
    lln_loader_budgets(&L, cJSON_GetObjectItemCaseSensitive(root, "budgets"));
    lln_loader_response_cache(&L, cJSON_GetObjectItemCaseSensitive(root, "response-cache"));
    load_models(&L, cJSON_GetObjectItemCaseSensitive(root, "models"));
    lln_loader_server(&L, cJSON_GetObjectItemCaseSensitive(root, "server"));
    lln_loader_functions(&L, cJSON_GetObjectItemCaseSensitive(root, "functions"));
    lln_loader_routing(&L, cJSON_GetObjectItemCaseSensitive(root, "routing"));
    lln_loader_nodes(&L, cJSON_GetObjectItemCaseSensitive(root, "architecture"));
    lln_loader_embeddings_check(&L);
  }
  lln_jsonc_free(&L.doc);
  lln_envfile_free(&L.env_file);
  if (diags->errors) {
    lln_config_free(cfg);
    return -1;
  }
  lln_config_register_secrets(cfg); /* so they are scrubbed from errors and logs */
  return 0;
}

void lln_config_free(lln_config *cfg) {
  lln_config_free_functions(cfg);
  for (size_t i = 0; i < cfg->n_models; i++) {
    lln_model *m = &cfg->models[i];
    free(m->key);
    free(m->type);
    free(m->url);
    free(m->chat_url);
    free(m->embeddings_url);
    free(m->model_id);
    free(m->api_key);
    free(m->api_key_unset);
    lln_strv_free(m->headers);
    lln_runner_spec_free(m->runner);
  }
  free(cfg->models);
  lln_config_free_budgets(cfg);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    lln_node *n = &cfg->nodes[i];
    free(n->name);
    lln_strv_free(n->model_ids);
    free(n->targets);
    free(n->fallbacks);
    free(n->use_case);
    free(n->if_src);
    lln_cond_free(n->cond);
    cJSON_Delete(n->options);
    free(n->system);
    free(n->prompt_template);
    lln_tmpl_free(n->t_system);
    lln_tmpl_free(n->t_prompt_template);
    lln_strv_free(n->header_keys);
    free(n->bind_addr);
    free(n->url);
  }
  free(cfg->nodes);
  for (size_t i = 0; i < cfg->n_secrets; i++) {
    free(cfg->secrets[i].ref);
    free(cfg->secrets[i].value);
  }
  free(cfg->secrets);
  lln_strv_free(cfg->server.api_keys);
  lln_strv_free(cfg->server.cors_origins);
  free(cfg->server.log_format);
  free(cfg->server.store);
  free(cfg->path);
  memset(cfg, 0, sizeof *cfg);
}

const lln_node *lln_config_node(const lln_config *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    if (strcmp(cfg->nodes[i].name, name) == 0)
      return &cfg->nodes[i];
  }
  return NULL;
}
