/* nodes: the architecture array: node fields, the entry node, output-to
 * expanded into target lists, endpoints inherited from routing nodes, and
 * the checks that make the graph safe to run (names, cycles, conditions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/loader_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* extra-options keys that configure llmnet itself; the rest go upstream. */
static const char *const own_options[] = {"model_override", "system", "prompt-template", "UseHeaderKeys",
                                          NULL};

/* Body fields llmnet writes itself on every upstream call: an extra-option
 * of the same name would be a second key in the body (or replace the
 * conversation), so the loader refuses it and says what to use instead. */
static const struct {
  const char *key, *fix;
} reserved_options[] = {
    {"model", "name the upstream model with \"model_override\" instead"},
    {"stream", "remove it: llmnet streams when the client asks (\"stream\": true in its request)"},
    {"stream_options", "remove it: llmnet passes the client's stream_options through"},
    {"messages", "remove it: llmnet builds the messages from the request; use \"system\" or "
                 "\"prompt-template\" to shape them"},
};

static const char *reserved_option_fix(const char *key) {
  for (size_t i = 0; i < sizeof reserved_options / sizeof reserved_options[0]; i++) {
    if (strcmp(key, reserved_options[i].key) == 0)
      return reserved_options[i].fix;
  }
  return NULL;
}

static int is_own_option(const char *key) {
  for (size_t i = 0; own_options[i]; i++) {
    if (strcmp(key, own_options[i]) == 0)
      return 1;
  }
  return 0;
}

static void node_path(lln_buf *p, size_t i, const char *key) {
  lln_buf_reset(p);
  lln_buf_printf(p, "/architecture/%zu%s%s", i, key ? "/" : "", key ? key : "");
}

static int model_node(const lln_node *n) { return n->adapter == LLN_ADAPTER_OPENAI; }

static char **string_list(lln_loader *L, const cJSON *v, const char *path, const char *what, size_t *count) {
  size_t n = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 1;
  char **out = calloc(n + 1, sizeof *out);
  if (!out)
    abort();
  *count = 0;
  if (cJSON_IsString(v)) {
    if (*v->valuestring)
      out[(*count)++] = lln_xstrdup(v->valuestring);
    else
      lln_loader_report(L, LLN_DIAG_ERROR, path, "%s must not be empty", what);
    return out;
  }
  const cJSON *e;
  const cJSON *array = cJSON_IsArray(v) ? v : NULL;
  cJSON_ArrayForEach(e, array) {
    if (cJSON_IsString(e) && *e->valuestring)
      out[(*count)++] = lln_xstrdup(e->valuestring);
    else
      lln_loader_report(L, LLN_DIAG_ERROR, path, "%s must hold non-empty strings", what);
  }
  if (!cJSON_IsArray(v))
    lln_loader_report(L, LLN_DIAG_ERROR, path, "%s must be a string or an array of strings", what);
  return out;
}

static void load_options(lln_loader *L, lln_node *n, const cJSON *opts, lln_buf *p, size_t i) {
  n->options = cJSON_CreateObject();
  if (!opts)
    return;
  node_path(p, i, "extra-options");
  if (!cJSON_IsObject(opts)) {
    lln_loader_report(L, LLN_DIAG_ERROR, p->data, "\"extra-options\" must be an object");
    return;
  }
  const cJSON *o;
  cJSON_ArrayForEach(o, opts) {
    const char *fix = reserved_option_fix(o->string);
    if (fix) {
      lln_buf k;
      lln_buf_init(&k);
      lln_buf_printf(&k, "%s/%s", p->data, o->string);
      lln_loader_report(L, LLN_DIAG_ERROR, k.data,
                        "node \"%s\": extra-options \"%s\" is a field llmnet sets in every upstream "
                        "request (it would be sent twice or break the call); %s",
                        n->name, o->string, fix);
      lln_buf_free(&k);
    } else if (!is_own_option(o->string)) {
      cJSON_AddItemToObject(n->options, o->string, cJSON_Duplicate(o, 1));
    }
  }
  const cJSON *ov = cJSON_GetObjectItemCaseSensitive(opts, "model_override");
  if (ov) {
    for (size_t k = 0; k < n->n_model_ids; k++)
      free(n->model_ids[k]);
    free(n->model_ids);
    n->model_ids = string_list(L, ov, p->data, "model_override", &n->n_model_ids);
    if (cJSON_IsArray(ov) && cJSON_GetArraySize(ov) == 0)
      lln_loader_report(L, LLN_DIAG_ERROR, p->data,
                        "node \"%s\": model_override must name at least one model", n->name);
  }
  const char *sys = lln_loader_string(L, opts, "system", p->data);
  /* compiled once here: a call only looks the variables up, and a value
   * holding "{{NAME}}" is never scanned again */
  if (sys) {
    n->system = lln_xstrdup(sys);
    n->t_system = lln_tmpl_compile(sys, LLN_TMPL_BRACES);
  }
  const char *tpl = lln_loader_string(L, opts, "prompt-template", p->data);
  if (tpl) {
    n->prompt_template = lln_xstrdup(tpl);
    n->t_prompt_template = lln_tmpl_compile(tpl, LLN_TMPL_BRACES);
  }
  const cJSON *hk = cJSON_GetObjectItemCaseSensitive(opts, "UseHeaderKeys");
  if (hk)
    n->header_keys = string_list(L, hk, p->data, "UseHeaderKeys", &n->n_header_keys);
}

/* In a condition, "$secrets.S.V" is a load-time value: bound here, once, as
 * a string literal (never scanned again); every other name is a request
 * variable, looked up per request as it always was. */
static lln_tmpl_bind_result bind_cond_ref(void *ctx, const char *name, const char **value) {
  if (strncmp(name, "secrets.", 8) != 0)
    return LLN_TMPL_KEEP;
  *value = lln_loader_lookup(ctx, name);
  return *value ? LLN_TMPL_VALUE : LLN_TMPL_MISSING;
}

lln_cond *lln_loader_condition(lln_loader *L, const char *src, const char *path, const char *what) {
  lln_cond *c = NULL;
  char err[256], missing[LLN_TMPL_MAX_NAME + 1];
  int col = 0;
  if (lln_cond_parse(src, &c, err, sizeof err, &col) != 0) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "%s \"%s\" does not parse: %s (column %d)", what, src, err,
                      col);
    return NULL;
  }
  if (lln_cond_bind(c, bind_cond_ref, L, missing, sizeof missing))
    lln_loader_report(L, L->opts->mode == LLN_LOAD_RUN ? LLN_DIAG_ERROR : LLN_DIAG_WARNING, path,
                      "%s \"%s\" uses $%s, which is not set (no such secret is loaded)", what, src, missing);
  return c;
}

/* A name goes into the routing prompt as "- name: use-case" and comes back
 * as the router's answer: a control character (a newline), ':' or '>'
 * would break that line or the "a -> b" paths of traces. */
static void check_node_name(lln_loader *L, const char *name, const lln_buf *p) {
  for (const char *c = name; *c; c++) {
    unsigned char ch = (unsigned char)*c;
    if (ch >= 0x20 && ch != 0x7F && ch != ':' && ch != '>')
      continue;
    lln_buf np;
    lln_buf_init(&np);
    lln_buf_printf(&np, "%s/name", p->data);
    if (ch < 0x20 || ch == 0x7F)
      lln_loader_report(L, LLN_DIAG_ERROR, np.data,
                        "node name \"%.*s...\" contains a control character (\\x%02x, e.g. a newline), which "
                        "breaks the routing prompt; rename the node without it",
                        (int)(c - name), name, ch);
    else
      lln_loader_report(
          L, LLN_DIAG_ERROR, np.data,
          "node name \"%s\" contains '%c', which breaks the routing prompt (\"- name: use-case\") "
          "and route paths (\"a -> b\"); rename it, e.g. with '-' instead",
          name, ch);
    lln_buf_free(&np);
    return;
  }
}

/* "name", and the node's one model id until extra-options says otherwise.
 * A node without a name is called "#<index>" in later messages. */
static void load_node_name(lln_loader *L, lln_node *n, size_t i, const cJSON *j, lln_buf *p) {
  const char *name = lln_loader_string(L, j, "name", p->data);
  if (!name || !*name) {
    lln_loader_report(L, LLN_DIAG_ERROR, p->data, "every node needs a \"name\"");
    char fallback[32];
    snprintf(fallback, sizeof fallback, "#%zu", i);
    n->name = lln_xstrdup(fallback);
  } else {
    n->name = lln_xstrdup(name);
    check_node_name(L, n->name, p);
  }
  n->model_ids = calloc(2, sizeof *n->model_ids);
  if (!n->model_ids)
    abort();
  n->model_ids[0] = lln_xstrdup(n->name);
  n->n_model_ids = 1;
}

static void load_node_adapter(lln_loader *L, lln_node *n, size_t i, const cJSON *j, lln_buf *p) {
  const char *adapter = lln_loader_string(L, j, "adapter", p->data);
  if (!adapter || strcmp(adapter, "openai-api") == 0) {
    n->adapter = LLN_ADAPTER_OPENAI;
  } else if (strcmp(adapter, "output") == 0) {
    n->adapter = LLN_ADAPTER_OUTPUT;
  } else if (strcmp(adapter, "ws") == 0) {
    n->adapter = LLN_ADAPTER_WS;
  } else {
    node_path(p, i, "adapter");
    lln_loader_report(L, LLN_DIAG_ERROR, p->data,
                      "node \"%s\": unknown adapter \"%s\" (openai-api, output or ws)", n->name, adapter);
  }
  node_path(p, i, NULL);
}

static void load_node_layer(lln_loader *L, lln_node *n, size_t i, const cJSON *j, lln_buf *p) {
  const cJSON *layer = cJSON_GetObjectItemCaseSensitive(j, "layer");
  if (layer) {
    if (!cJSON_IsNumber(layer) || layer->valuedouble < 0 || layer->valuedouble > 1000 ||
        layer->valuedouble != (double)layer->valueint) {
      node_path(p, i, "layer");
      lln_loader_report(L, LLN_DIAG_ERROR, p->data, "node \"%s\": \"layer\" must be a whole number from 0",
                        n->name);
    } else {
      n->layer = layer->valueint;
    }
  }
  node_path(p, i, NULL);
}

/* "model": a key of "models"; a node without one may inherit an endpoint
 * later (inherit_endpoints). */
static void load_node_model(lln_loader *L, lln_node *n, size_t i, const cJSON *j, lln_buf *p) {
  const char *model = lln_loader_string(L, j, "model", p->data);
  if (model) {
    for (size_t m = 0; m < L->cfg->n_models; m++) {
      if (strcmp(L->cfg->models[m].key, model) == 0)
        n->model = &L->cfg->models[m];
    }
    if (!n->model) {
      n->model_undefined = 1;
      node_path(p, i, "model");
      lln_loader_report(L, LLN_DIAG_ERROR, p->data, "node \"%s\": model \"%s\" is not defined in \"models\"",
                        n->name, model);
    }
  }
  node_path(p, i, NULL);
}

/* "if": parsed and bound now, so a bad condition fails at load. */
static void load_node_condition(lln_loader *L, lln_node *n, size_t i, const cJSON *j, lln_buf *p) {
  const char *cond = lln_loader_string(L, j, "if", p->data);
  if (!cond)
    return;
  n->if_src = lln_xstrdup(cond);
  lln_buf what;
  lln_buf_init(&what);
  lln_buf_printf(&what, "node \"%s\": condition", n->name);
  node_path(p, i, "if");
  n->cond = lln_loader_condition(L, cond, p->data, what.data);
  lln_buf_free(&what);
  node_path(p, i, NULL);
}

static void load_node_port(lln_loader *L, lln_node *n, size_t i, const cJSON *j, lln_buf *p) {
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(j, "bind-port");
  if (!port)
    return;
  /* A string port is decimal digits only: strtod would also take " 80",
   * "0x50", "8e3" and "nan" (whose cast to int is undefined). */
  double v = -1;
  if (cJSON_IsNumber(port)) {
    v = port->valuedouble;
  } else if (cJSON_IsString(port) && *port->valuestring &&
             strspn(port->valuestring, "0123456789") == strlen(port->valuestring) &&
             strlen(port->valuestring) <= 5) {
    v = strtod(port->valuestring, NULL);
  }
  if (!(v >= 1 && v <= 65535) || v != (double)(int)v) {
    node_path(p, i, "bind-port");
    lln_loader_report(L, LLN_DIAG_ERROR, p->data, "node \"%s\": \"bind-port\" must be a port from 1 to 65535",
                      n->name);
  } else {
    n->bind_port = (int)v;
  }
}

/* "url": where a ws node sends its events; it must be ws:// or wss://. */
static void load_node_url(lln_loader *L, lln_node *n, const cJSON *j, lln_buf *p) {
  const char *url = lln_loader_string(L, j, "url", p->data);
  if (url)
    n->url = lln_xstrdup(url);
  if (n->adapter == LLN_ADAPTER_WS &&
      (!url || (strncmp(url, "ws://", 5) != 0 && strncmp(url, "wss://", 6) != 0)))
    lln_loader_report(L, LLN_DIAG_ERROR, p->data, "node \"%s\": a ws node needs a ws:// or wss:// \"url\"",
                      n->name);
}

static void load_node(lln_loader *L, lln_node *n, size_t i, const cJSON *j) {
  static const char *const known[] = {"name",           "layer", "model",         "adapter",   "output-to",
                                      "use-case",       "if",    "extra-options", "bind-addr", "bind-port",
                                      "hooks",          "url",   "default",       "fallback",  "routing",
                                      "response-cache", NULL};
  lln_buf p;
  lln_buf_init(&p);
  node_path(&p, i, NULL);
  n->index = (int)i;
  n->layer = -1;
  lln_loader_check_keys(L, j, p.data, known);
  load_node_name(L, n, i, j, &p);
  load_node_adapter(L, n, i, j, &p);
  load_node_layer(L, n, i, j, &p);
  load_node_model(L, n, i, j, &p);
  const char *use_case = lln_loader_string(L, j, "use-case", p.data);
  if (use_case)
    n->use_case = lln_xstrdup(use_case);
  load_node_condition(L, n, i, j, &p);
  const char *bind = lln_loader_string(L, j, "bind-addr", p.data);
  if (bind)
    n->bind_addr = lln_xstrdup(bind);
  load_node_port(L, n, i, j, &p);
  load_node_url(L, n, j, &p);
  node_path(&p, i, "response-cache");
  lln_loader_node_response_cache(L, n, cJSON_GetObjectItemCaseSensitive(j, "response-cache"), p.data);
  const cJSON *def = cJSON_GetObjectItemCaseSensitive(j, "default");
  if (def && !cJSON_IsBool(def)) {
    node_path(&p, i, "default");
    lln_loader_report(L, LLN_DIAG_ERROR, p.data, "node \"%s\": \"default\" must be true or false", n->name);
  }
  n->is_default = cJSON_IsTrue(def);
  const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(j, "hooks");
  if (hooks) {
    node_path(&p, i, "hooks");
    lln_loader_hooks(L, n, hooks, p.data);
  }
  load_options(L, n, cJSON_GetObjectItemCaseSensitive(j, "extra-options"), &p, i);
  lln_buf_free(&p);
}

static void add_target(lln_node *n, lln_node *t) {
  for (size_t i = 0; i < n->n_targets; i++) {
    if (n->targets[i] == t)
      return;
  }
  n->targets[n->n_targets++] = t;
}

static void resolve_targets(lln_loader *L, lln_node *n, const cJSON *out) {
  lln_config *cfg = L->cfg;
  lln_buf p;
  lln_buf_init(&p);
  node_path(&p, (size_t)n->index, "output-to");
  n->targets = calloc(cfg->n_nodes + 1, sizeof *n->targets);
  if (!n->targets)
    abort();
  if (!out) {
    lln_buf_free(&p);
    return;
  }
  if (!cJSON_IsArray(out)) {
    lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                      "node \"%s\": \"output-to\" must be an array of layer numbers "
                      "or node names",
                      n->name);
    lln_buf_free(&p);
    return;
  }
  const cJSON *t;
  cJSON_ArrayForEach(t, out) {
    if (cJSON_IsNumber(t) &&
        (t->valuedouble < 0 || t->valuedouble > 1000 || t->valuedouble != (double)t->valueint)) {
      /* -1 would otherwise pick up every node that has no layer. */
      lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                        "node \"%s\": output-to layer %g is not a whole number from 0", n->name,
                        t->valuedouble);
    } else if (cJSON_IsNumber(t)) {
      size_t before = n->n_targets;
      for (size_t k = 0; k < cfg->n_nodes; k++) {
        lln_node *c = &cfg->nodes[k];
        if (c->layer == t->valueint && model_node(c) && c != n)
          add_target(n, c);
      }
      if (n->n_targets == before)
        lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                          "node \"%s\": output-to layer %d, but no node is in layer %d", n->name, t->valueint,
                          t->valueint);
    } else if (cJSON_IsString(t)) {
      lln_node *c = (lln_node *)lln_config_node(cfg, t->valuestring);
      if (!c)
        lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                          "node \"%s\": output-to names \"%s\", which is not a node", n->name,
                          t->valuestring);
      else if (c->adapter == LLN_ADAPTER_WS)
        lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                          "node \"%s\": output-to names ws node \"%s\"; ws nodes receive every response by "
                          "their own \"if\" and are not routed to",
                          n->name, c->name);
      else if (c == n)
        lln_loader_report(L, LLN_DIAG_ERROR, p.data, "node \"%s\": output-to names the node itself", n->name);
      else
        add_target(n, c);
    } else {
      lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                        "node \"%s\": output-to entries are layer numbers or names", n->name);
    }
  }
  lln_buf_free(&p);
}

/* "fallback": a node name or a list of them, answering in order when every
 * model id of this node has failed. */
static void resolve_fallbacks(lln_loader *L, lln_node *n, const cJSON *fb) {
  if (!fb)
    return;
  lln_buf p;
  lln_buf_init(&p);
  node_path(&p, (size_t)n->index, "fallback");
  size_t count = 0;
  char **names = string_list(L, fb, p.data, "fallback", &count);
  n->fallbacks = calloc(count + 1, sizeof *n->fallbacks);
  if (!n->fallbacks)
    abort();
  for (size_t k = 0; k < count; k++) {
    lln_node *f = (lln_node *)lln_config_node(L->cfg, names[k]);
    if (!f || f->adapter != LLN_ADAPTER_OPENAI || f == n)
      lln_loader_report(L, LLN_DIAG_ERROR, p.data, "node \"%s\": fallback \"%s\" is not another model node",
                        n->name, names[k]);
    else
      n->fallbacks[n->n_fallbacks++] = f;
    free(names[k]);
  }
  free(names);
  lln_buf_free(&p);
}

/* Depth-first search for a cycle through targets (colour 1 = on the DFS
 * path, 2 = done). On the way back only the loop itself goes into `path`
 * (not the nodes that lead to it), and `closer` is the node whose output-to
 * closes it: that is the line to point at. */
typedef struct cycle_walk {
  char *colour;
  const lln_node *base;
  lln_buf path;
  const lln_node *start; /* where the loop begins; NULL once the path is complete */
  const lln_node *closer;
  const lln_node *closed; /* the node `closer` leads back to */
  int fallbacks;          /* walk "fallback" edges instead of output-to */
} cycle_walk;

static int find_cycle(lln_node *n, cycle_walk *w) {
  size_t i = (size_t)(n - w->base);
  if (w->colour[i] == 2)
    return 0;
  if (w->colour[i] == 1) {
    w->start = n;
    w->closed = n;
    lln_buf_puts(&w->path, n->name);
    return 1;
  }
  w->colour[i] = 1;
  size_t count = w->fallbacks ? n->n_fallbacks : n->n_targets;
  for (size_t k = 0; k < count; k++) {
    if (find_cycle(w->fallbacks ? n->fallbacks[k] : n->targets[k], w)) {
      if (!w->closer)
        w->closer = n;
      if (w->start) {
        lln_buf b;
        lln_buf_init(&b);
        lln_buf_printf(&b, "%s -> %s", n->name, w->path.data);
        lln_buf_reset(&w->path);
        lln_buf_puts(&w->path, b.data);
        lln_buf_free(&b);
        if (n == w->start)
          w->start = NULL;
      }
      return 1;
    }
  }
  w->colour[i] = 2;
  return 0;
}

/* Reports the first cycle through output-to (fallbacks = 0) or through
 * "fallback" lists (1), at the node whose list closes it. */
static void report_cycle(lln_loader *L, int fallbacks) {
  lln_config *cfg = L->cfg;
  cycle_walk w = {.colour = calloc(cfg->n_nodes, 1), .base = cfg->nodes, .fallbacks = fallbacks};
  if (!w.colour)
    abort();
  lln_buf_init(&w.path);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    if (!find_cycle(&cfg->nodes[i], &w))
      continue;
    lln_buf p;
    lln_buf_init(&p);
    node_path(&p, (size_t)w.closer->index, fallbacks ? "fallback" : "output-to");
    if (fallbacks)
      lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                        "the fallbacks form a cycle: %s; a node's fallback must not fall back to it again "
                        "(remove \"%s\" from the \"fallback\" of node \"%s\")",
                        w.path.data, w.closed->name, w.closer->name);
    else
      lln_loader_report(L, LLN_DIAG_ERROR, p.data, "the graph has a cycle: %s", w.path.data);
    lln_buf_free(&p);
    break;
  }
  lln_buf_free(&w.path);
  free(w.colour);
}

/* A node without a model takes the endpoint of a node that routes to it;
 * repeated until nothing changes so chains of such nodes resolve too. */
static void inherit_endpoints(lln_loader *L) {
  lln_config *cfg = L->cfg;
  for (size_t i = 0; i < cfg->n_nodes; i++)
    cfg->nodes[i].endpoint = cfg->nodes[i].model;
  for (int changed = 1; changed;) {
    changed = 0;
    for (size_t i = 0; i < cfg->n_nodes; i++) {
      lln_node *from = &cfg->nodes[i];
      if (!from->endpoint)
        continue;
      for (size_t k = 0; k < from->n_targets; k++) {
        lln_node *t = from->targets[k];
        if (!t->endpoint && model_node(t) && !t->model_undefined) {
          t->endpoint = from->endpoint;
          t->inherited_from = from;
          changed = 1;
        }
      }
    }
  }
}

static void choose_entry(lln_loader *L) {
  lln_config *cfg = L->cfg;
  for (size_t i = 0; i < cfg->n_nodes && !cfg->entry; i++) {
    if (cfg->nodes[i].layer == 0 && model_node(&cfg->nodes[i]))
      cfg->entry = &cfg->nodes[i];
  }
  /* "A node without a layer is layer 0 only if nothing else is." */
  for (size_t i = 0; i < cfg->n_nodes && !cfg->entry; i++) {
    if (cfg->nodes[i].layer < 0 && model_node(&cfg->nodes[i])) {
      cfg->entry = &cfg->nodes[i];
      cfg->entry->layer = 0;
    }
  }
  if (!cfg->entry) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/architecture",
                      "the architecture has no entry node (a model node in layer 0)");
    return;
  }
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    lln_node *n = &cfg->nodes[i];
    if (n != cfg->entry && n->layer == 0 && model_node(n)) {
      lln_buf p;
      lln_buf_init(&p);
      node_path(&p, i, "layer");
      lln_loader_report(
          L, LLN_DIAG_WARNING, p.data,
          "node \"%s\" is also in layer 0; requests enter at \"%s\" unless their \"model\" names "
          "\"%s\"",
          n->name, cfg->entry->name, n->name);
      lln_buf_free(&p);
    }
  }
}

/* Loads every entry of the architecture array into cfg->nodes (an entry
 * that is not an object becomes a placeholder "#invalid" node) and reports a
 * name used twice. */
static void load_nodes(lln_loader *L, const cJSON *arch) {
  lln_config *cfg = L->cfg;
  lln_buf p;
  lln_buf_init(&p);
  size_t i = 0;
  const cJSON *j;
  cJSON_ArrayForEach(j, arch) {
    if (!cJSON_IsObject(j)) {
      node_path(&p, i, NULL);
      lln_loader_report(L, LLN_DIAG_ERROR, p.data, "each architecture entry must be an object");
      cfg->nodes[i].name = lln_xstrdup("#invalid");
      cfg->nodes[i].index = (int)i;
      cfg->nodes[i].layer = -1;
      cfg->nodes[i].options = cJSON_CreateObject();
    } else {
      load_node(L, &cfg->nodes[i], i, j);
    }
    for (size_t k = 0; k < i; k++) {
      if (strcmp(cfg->nodes[k].name, cfg->nodes[i].name) == 0) {
        node_path(&p, i, "name");
        lln_loader_report(L, LLN_DIAG_ERROR, p.data, "node name \"%s\" is used twice (also entry %zu)",
                          cfg->nodes[i].name, k);
      } else if (strcasecmp(cfg->nodes[k].name, cfg->nodes[i].name) == 0) {
        /* a router answering in another case could mean either */
        node_path(&p, i, "name");
        lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                          "node name \"%s\" differs from \"%s\" (entry %zu) only in case; a router's answer "
                          "is read case-insensitively, so rename one of them",
                          cfg->nodes[i].name, cfg->nodes[k].name, k);
      }
    }
    i++;
  }
  lln_buf_free(&p);
}

/* Resolves every node's output-to, then every node's fallbacks: both name
 * other nodes, so they wait until all are loaded. */
static void link_nodes(lln_loader *L, const cJSON *arch) {
  lln_config *cfg = L->cfg;
  size_t i = 0;
  const cJSON *j;
  cJSON_ArrayForEach(j, arch) {
    resolve_targets(L, &cfg->nodes[i],
                    cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "output-to") : NULL);
    i++;
  }
  i = 0;
  cJSON_ArrayForEach(j, arch) {
    resolve_fallbacks(L, &cfg->nodes[i],
                      cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "fallback") : NULL);
    i++;
  }
  i = 0;
  cJSON_ArrayForEach(j, arch) {
    lln_loader_node_routing(L, &cfg->nodes[i],
                            cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "routing") : NULL);
    i++;
  }
}

/* The entry node is the router; it only routes when it targets a model node. */
static void mark_router(lln_config *cfg) {
  lln_node *entry = cfg->entry;
  if (!entry)
    return;
  for (size_t k = 0; k < entry->n_targets; k++) {
    if (model_node(entry->targets[k]))
      entry->routes_only = 1;
  }
  cfg->router = entry;
}

/* Per node, once endpoints are inherited: hooks that never run, an
 * inherited model, a model node left without an endpoint. */
static void report_node_endpoints(lln_loader *L) {
  lln_config *cfg = L->cfg;
  lln_buf p;
  lln_buf_init(&p);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    lln_node *n = &cfg->nodes[i];
    node_path(&p, i, NULL);
    if (n->routes_only && (n->n_pre || n->n_post))
      lln_loader_report(L, LLN_DIAG_WARNING, p.data,
                        "node \"%s\" only routes: its hooks never run (hooks run around a node's answering "
                        "call)",
                        n->name);
    if (n->inherited_from)
      lln_loader_report(
          L, LLN_DIAG_WARNING, p.data,
          "node \"%s\" has no \"model\": it inherits model \"%s\" (%s) from \"%s\", which routes to it",
          n->name, n->endpoint->key, n->endpoint->url ? n->endpoint->url : "?", n->inherited_from->name);
    if (model_node(n) && !n->endpoint && !n->model_undefined && !(n->routes_only && n->n_targets < 2))
      lln_loader_report(
          L, LLN_DIAG_ERROR, p.data,
          "node \"%s\" has no \"model\" and no node with a model routes to it, so it has no endpoint",
          n->name);
  }
  lln_buf_free(&p);
}

static void report_defaults(lln_loader *L) {
  size_t defaults = 0;
  for (size_t i = 0; i < L->cfg->n_nodes; i++)
    defaults += (size_t)L->cfg->nodes[i].is_default;
  if (defaults > 1)
    lln_loader_report(L, LLN_DIAG_WARNING, "/architecture",
                      "%zu nodes say \"default\": true; the first of the candidates in file order is used",
                      defaults);
}

int lln_loader_nodes(lln_loader *L, const cJSON *arch) {
  lln_config *cfg = L->cfg;
  if (!arch) {
    lln_loader_report(L, LLN_DIAG_ERROR, "", "the composition needs an \"architecture\" array");
    return -1;
  }
  if (!cJSON_IsArray(arch) || cJSON_GetArraySize(arch) == 0) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/architecture",
                      "\"architecture\" must be a non-empty array of nodes");
    return -1;
  }
  cfg->n_nodes = (size_t)cJSON_GetArraySize(arch);
  cfg->nodes = calloc(cfg->n_nodes, sizeof *cfg->nodes);
  if (!cfg->nodes)
    abort();
  load_nodes(L, arch);
  link_nodes(L, arch);
  choose_entry(L);

  report_cycle(L, 0);
  report_cycle(L, 1);

  inherit_endpoints(L);
  mark_router(cfg);
  report_node_endpoints(L);
  report_defaults(L);
  return 0;
}
