/* explain: a dry walk of the request flow for `llmnet explain`. It keeps a
 * request's variables as the flow would (vars.h) and takes every decision
 * through the flow's rules (decide_int.h); what it adds is the telling, and the
 * bookkeeping of which values are unknown because no model is called. */
#include "pipeline/explain.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipeline/decide_int.h"
#include "pipeline/explain_int.h"
#include "pipeline/failover_int.h"
#include "pipeline/router.h"
#include "pipeline/text_int.h"

#define VALUE_SHOWN LLN_EXPLAIN_VALUE_SHOWN

static char *xstrndup(const char *s, size_t n) {
  char *p = strndup(s, n);
  if (!p)
    abort();
  return p;
}

static const char *header_of(void *ctx, const char *name) {
  const lln_explain *e = ctx;
  for (size_t i = 0; i < e->n_headers; i++) {
    /* HTTP header names are case-insensitive; the first one given wins */
    if (strcasecmp(e->headers[i].name, name) == 0)
      return e->headers[i].value;
  }
  return NULL;
}

static void trim(const char **s, const char **end) {
  while (*s < *end && isspace((unsigned char)**s))
    (*s)++;
  while (*end > *s && isspace((unsigned char)(*end)[-1]))
    (*end)--;
}

int lln_explain_init(lln_explain *e, const lln_config *cfg, const lln_explain_request *req, char *err,
                     size_t err_size) {
  memset(e, 0, sizeof *e);
  e->cfg = cfg;
  e->door = req->door;
  e->now = time(NULL);
  if (req->messages) {
    e->messages = cJSON_Duplicate(req->messages, 1);
    e->from_messages = 1;
    lln_buf text;
    lln_buf_init(&text);
    lln_last_user_text(e->messages, &text);
    e->prompt = xstrndup(text.data ? text.data : "", text.len);
    lln_buf_free(&text);
  } else {
    e->prompt = xstrndup(req->prompt ? req->prompt : "", strlen(req->prompt ? req->prompt : ""));
    e->messages = cJSON_CreateArray();
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", e->prompt);
    cJSON_AddItemToArray(e->messages, m);
  }
  if (!e->messages)
    abort();
  e->headers = calloc(req->n_headers + 1, sizeof *e->headers);
  if (!e->headers)
    abort();
  for (size_t i = 0; i < req->n_headers; i++) {
    const char *line = req->headers[i];
    const char *colon = strchr(line, ':');
    const char *name = line, *name_end = colon ? colon : line;
    trim(&name, &name_end);
    if (!colon || name == name_end) {
      if (err && err_size)
        snprintf(err, err_size, "a header is given as \"Name: value\", not \"%s\"", line);
      lln_explain_free(e);
      return -1;
    }
    const char *value = colon + 1, *value_end = colon + strlen(colon);
    trim(&value, &value_end);
    e->headers[e->n_headers].name = xstrndup(name, (size_t)(name_end - name));
    e->headers[e->n_headers].value = xstrndup(value, (size_t)(value_end - value));
    e->n_headers++;
  }
  e->n_header_vars = lln_vars_collect_headers(cfg, header_of, e, &e->header_vars);
  e->vars.initial_input = e->prompt;
  e->vars.input = e->prompt;
  e->vars.request_id = "explain";
  e->vars.headers = e->header_vars;
  e->vars.n_headers = e->n_header_vars;
  lln__explain_conversation(e, header_of(e, "x-session-id"));
  return 0;
}

void lln_explain_free(lln_explain *e) {
  for (size_t i = 0; i < e->n_headers; i++) {
    free(e->headers[i].name);
    free(e->headers[i].value);
  }
  free(e->headers);
  free(e->header_vars);
  free(e->prompt);
  free(e->session);
  free(e->bad_session);
  cJSON_Delete(e->messages);
  memset(e, 0, sizeof *e);
}

/* ---- conditions, with the values they read ---- */

typedef struct seen_name {
  const char *name;
  size_t len;
} seen_name;

typedef struct reading {
  lln_explain *e;
  lln_buf values;
  seen_name *seen;
  size_t n_seen, cap;
  int unknown; /* the condition read a variable that comes from an unknown answer */
} reading;

static int is_number(const char *v) {
  const char *p = v + (*v == '-');
  if (!*p)
    return 0;
  return strspn(p, "0123456789") == strlen(p);
}

/* A value as a reader would type it back: numbers bare, text quoted with its
 * quotes and control characters escaped, cut on a character boundary. */
void lln__explain_put_value(lln_buf *b, const char *v, size_t max) {
  if (is_number(v)) {
    lln_buf_puts(b, v);
    return;
  }
  size_t n = strlen(v), cut = n;
  if (n > max) {
    cut = max;
    while (cut > 0 && ((unsigned char)v[cut] & 0xC0) == 0x80)
      cut--;
  }
  lln_buf_putc(b, '"');
  for (size_t i = 0; i < cut; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c == '"' || c == '\\')
      lln_buf_printf(b, "\\%c", c);
    else if (c == '\n')
      lln_buf_puts(b, "\\n");
    else if (c < 0x20 || c == 0x7f)
      lln_buf_printf(b, "\\x%02x", c);
    else
      lln_buf_putc(b, (char)c);
  }
  if (cut < n)
    lln_buf_puts(b, "...");
  lln_buf_putc(b, '"');
}

static const char *read_var(void *ctx, const char *name, size_t len) {
  reading *r = ctx;
  int from_answer = r->e->answered && lln_vars_from_output(name, len);
  const char *v = from_answer ? NULL : lln_vars_lookup(&r->e->vars, name, len);
  r->unknown |= from_answer;
  for (size_t i = 0; i < r->n_seen; i++) {
    if (r->seen[i].len == len && memcmp(r->seen[i].name, name, len) == 0)
      return v;
  }
  if (r->n_seen == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 4;
    r->seen = realloc(r->seen, r->cap * sizeof *r->seen);
    if (!r->seen)
      abort();
  }
  r->seen[r->n_seen++] = (seen_name){name, len};
  lln_buf_printf(&r->values, "%s%.*s", r->n_seen > 1 ? ", " : "", (int)len, name);
  if (from_answer)
    lln_buf_puts(&r->values, "=?");
  else if (!v)
    lln_buf_puts(&r->values, " unset");
  else {
    lln_buf_putc(&r->values, '=');
    lln__explain_put_value(&r->values, v, VALUE_SHOWN);
  }
  return v;
}

size_t lln_explain_targets(lln_explain *e, const lln_node *from, lln_explain_target *out) {
  for (size_t i = 0; i < from->n_targets; i++) {
    const lln_node *t = from->targets[i];
    reading r = {.e = e};
    lln_buf_init(&r.values);
    lln_buf_reserve(&r.values, 0);
    int holds = lln_decide_target_holds(&e->vars, t, e->now, read_var, &r);
    out[i].node = t;
    out[i].verdict = r.unknown ? LLN_EXPLAIN_UNKNOWN : holds ? LLN_EXPLAIN_HOLDS : LLN_EXPLAIN_FAILS;
    out[i].values = t->cond ? lln_buf_steal(&r.values) : NULL;
    lln_buf_free(&r.values);
    free(r.seen);
  }
  return from->n_targets;
}

void lln_explain_targets_free(lln_explain_target *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(t[i].values);
    t[i].values = NULL;
  }
}

/* ---- the walk ---- */

typedef struct summary {
  lln_buf route;
  lln_buf answers; /* the nodes whose model answers, in order */
  size_t n_answers;
  const lln_node *router_at;  /* the node whose choice needs the router model */
  const lln_node *unknown_at; /* where an answer's text decides what follows */
  int failed;
  lln__explain_calls calls; /* for the budgets they draw from */
} summary;

static const char *verdict_text(lln_explain_verdict v) {
  switch (v) {
  case LLN_EXPLAIN_HOLDS: return "holds";
  case LLN_EXPLAIN_FAILS: return "does not hold";
  case LLN_EXPLAIN_UNKNOWN: return "depends on the answer";
  }
  return "?";
}

static void put_model(lln_buf *out, const lln_node *n) {
  if (!n->endpoint) {
    lln_buf_puts(out, "no model (the request would fail here)");
    return;
  }
  lln_buf_printf(out, "model %s", n->endpoint->key);
  if (n->inherited_from)
    lln_buf_printf(out, " (inherited from %s)", n->inherited_from->name);
  for (size_t k = 0; k < n->n_model_ids; k++)
    lln_buf_printf(out, "%s%s", k == 0 ? " as " : ", then ", n->model_ids[k]);
}

void lln__explain_put_block(lln_buf *out, const char *indent, const char *text) {
  const char *p = text;
  do {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    lln_buf_printf(out, "%s|%s%.*s\n", indent, len ? " " : "", (int)len, p);
    p = nl ? nl + 1 : NULL;
  } while (p);
}

static void put_targets(lln_buf *out, const char *indent, const lln_explain_target *t, size_t n) {
  size_t width = 0, vwidth = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(t[i].node->name), vlen = strlen(verdict_text(t[i].verdict));
    width = len > width ? len : width;
    vwidth = vlen > vwidth ? vlen : vwidth;
  }
  for (size_t i = 0; i < n; i++) {
    const lln_node *c = t[i].node;
    lln_buf_printf(out, "%s%-*s  %-*s  ", indent, (int)width, c->name, (int)vwidth,
                   verdict_text(t[i].verdict));
    if (c->if_src)
      lln_buf_printf(out, "if %s%s%s%s\n", c->if_src, t[i].values && *t[i].values ? "  (" : "",
                     t[i].values ? t[i].values : "", t[i].values && *t[i].values ? ")" : "");
    else
      lln_buf_puts(out, "no condition\n");
  }
}

static void put_names(lln_buf *out, const lln_node *const *nodes, size_t n) {
  for (size_t i = 0; i < n; i++)
    lln_buf_printf(out, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", nodes[i]->name);
}

static void walk(lln_explain *e, const lln_node *n, int preview, lln_buf *out, summary *s);

/* What answers when every call of `n` fails (an outage, after the retries
 * of each model id), walked with the flow's own failover decision. */
static void put_failover(lln_buf *out, const lln_config *cfg, const lln_node *n) {
  if (n->n_model_ids < 2 && !n->n_fallbacks)
    return;
  lln_failure outage = {
      .kind = LLN_FAILURE_HTTP, .http_status = 500, .hint_ms = -1, .remaining_ms = 1L << 30};
  lln_attempt a = lln_attempt_start(n, 0, NULL);
  lln_buf_puts(out, "; if it fails");
  /* every step moves to another model id or node; max-hops bounds cycles */
  for (int step = 0; step < cfg->server.max_hops * 8; step++) {
    a.retries_done = a.node->endpoint ? a.node->endpoint->retries : 0;
    lln_failover d = lln_failover_decide(&a, &outage);
    switch (d.kind) {
    case LLN_FO_NEXT_MODEL:
      a = d.next;
      lln_buf_printf(out, ", %s tries model \"%s\"", a.node->name, a.node->model_ids[a.model_index]);
      continue;
    case LLN_FO_FALLBACK:
      a = lln_attempt_start(d.fallback, 0, &d);
      lln_buf_printf(out, ", %s answers instead", d.fallback->name);
      continue;
    case LLN_FO_FAIL: lln_buf_printf(out, ", then the request fails (HTTP %d)", d.status); return;
    case LLN_FO_RETRY:
    case LLN_FO_DEFAULT: return;
    }
  }
}

/* The router call's model, temperature and max_tokens, as the run sends them. */
static void put_router_call(lln_buf *out, const lln_node *router, size_t n) {
  lln_buf_printf(out, "   %zu candidates left: the router model chooses (one call to node \"%s\", ", n,
                 router->name);
  put_model(out, router);
  const cJSON *temp = cJSON_GetObjectItemCaseSensitive(router->options, "temperature");
  if (cJSON_IsNumber(temp))
    lln_buf_printf(out, ", temperature %g from its extra-options", temp->valuedouble);
  else
    lln_buf_puts(out, ", temperature 0");
  const cJSON *max = cJSON_GetObjectItemCaseSensitive(router->options, "max_tokens");
  if (!cJSON_IsNumber(max))
    max = cJSON_GetObjectItemCaseSensitive(router->options, "max_completion_tokens");
  if (cJSON_IsNumber(max))
    lln_buf_printf(out, ", %s %g from its extra-options).\n", max->string, max->valuedouble);
  else
    lln_buf_printf(out, ", max_tokens %d).\n", LLN_ROUTER_MAX_TOKENS);
}

/* What a reply that names no candidate, or a failed router, leads to. */
static void put_router_default(lln_buf *out, const lln_node *router, const lln_node *fallback) {
  lln_failure outage = {.kind = LLN_FAILURE_HTTP, .http_status = 500, .hint_ms = -1};
  lln_attempt a = lln_attempt_start(router, 1, NULL);
  a.model_index = router->n_model_ids ? router->n_model_ids - 1 : 0;
  a.retries_done = router->endpoint->retries;
  int to_default = lln_failover_decide(&a, &outage).kind == LLN_FO_DEFAULT;
  lln_buf_printf(out,
                 "   The reply cannot be known without calling the model. A reply that names no candidate%s "
                 "goes to %s (%s).\n",
                 to_default ? ", or a router failure," : "", fallback->name,
                 fallback->is_default ? "marked default" : "the first candidate; none is marked default");
}

/* Several candidates: what decides before the router model (a pin, the
 * cache), the router's call shown exactly, and where each of its possible
 * choices would go next. Returns 0 when there is no user text to route:
 * then the default target answers without a router call (*next). */
static int explain_route(lln_explain *e, const lln_node *from, const lln_node **cands, size_t n, lln_buf *out,
                         summary *s, const lln_node **next) {
  const lln_node *router = lln_decide_router(e->cfg);
  const lln_node *fallback = lln_decide_default(cands, n);
  lln_buf input;
  lln_buf_init(&input);
  if (!e->answered && !lln__explain_router_input(e, from, &input)) {
    lln_buf_printf(out,
                   "   %zu candidates left, but no user text: the default target answers, no router call "
                   "(decided: no-input): %s (%s)\n",
                   n, fallback->name, fallback->is_default ? "marked default" : "the first candidate");
    lln_buf_free(&input);
    *next = fallback;
    return 0;
  }
  lln_route_candidate *rc = calloc(n, sizeof *rc);
  if (!rc)
    abort();
  for (size_t i = 0; i < n; i++)
    rc[i] = (lln_route_candidate){cands[i]->name, cands[i]->use_case};
  if (!e->answered)
    lln__explain_deciders(e, from, rc, n, input.data, out);
  lln_buf prompt;
  lln_buf_init(&prompt);
  lln_router_system_prompt(&prompt, rc, n);
  free(rc);
  s->router_at = from;
  lln__explain_call_add(&s->calls, router, from, 0);
  put_router_call(out, router, n);
  lln_buf_puts(out, "   system prompt:\n");
  lln__explain_put_block(out, "     ", prompt.data);
  lln_buf_free(&prompt);
  if (e->answered) {
    lln_buf_puts(out, "   user message:\n");
    lln_buf_printf(out, "     (the answer of %s: unknown until its model is called)\n", e->answered_by->name);
  } else {
    lln_buf_puts(out, "   user message:\n");
    lln__explain_put_block(out, "     ", input.data);
    lln_buf_printf(out, "   (what the router reads: %zu characters; at most %zu, routing.max-input-chars)\n",
                   lln_utf8_length(input.data), from->routing.max_input_chars);
  }
  lln_buf_free(&input);
  put_router_default(out, router, fallback);
  lln_buf_puts(out, "   Each choice would lead to:\n");
  for (size_t i = 0; i < n; i++) {
    lln_explain branch = *e;
    branch.vars.route_decision = cands[i]->name;
    walk(&branch, cands[i], 1, out, s);
  }
  return 1;
}

/* `n` answers: its text is unknown from here on, and the summary lists it. */
static void answered(lln_explain *e, const lln_node *n, int preview, summary *s) {
  e->answered = 1;
  e->answered_by = n;
  e->vars.input = e->vars.output = "";
  lln__explain_call_add(&s->calls, n, NULL, preview);
  if (!preview) {
    lln_buf_printf(&s->answers, "%s%s", s->n_answers ? ", " : "", n->name);
    s->n_answers++;
  }
}

/* One walk's fixed context: where it writes and how deep it indents. */
typedef struct walker {
  lln_explain *e;
  lln_buf *out;
  summary *s;
  int preview;
  const char *ind, *list_ind;
} walker;

/* What a node does after its targets are weighed. */
typedef enum {
  STEP_STOP,  /* the walk ends here */
  STEP_AGAIN, /* the node answered itself: weigh its targets once more */
  STEP_GO     /* go on to the next node */
} step_kind;

/* Counts the hop to `n` and writes its heading; returns 0 when max-hops
 * ends the request first. */
static int enter_node(walker *w, const lln_node *n, int step) {
  lln_explain *e = w->e;
  if (e->vars.hops >= e->cfg->server.max_hops) {
    lln_buf_printf(w->out,
                   "%sthe request fails: it passed %d nodes without reaching an answer (server.max-hops)\n",
                   w->ind, e->vars.hops);
    w->s->failed = !w->preview;
    return 0;
  }
  if (e->vars.node)
    e->vars.hops++;
  e->vars.node = n;
  if (!w->preview)
    lln_buf_printf(&w->s->route, "%s%s", w->s->route.len ? " > " : "", n->name);
  if (w->preview)
    lln_buf_printf(w->out, "     - %s", n->name);
  else
    lln_buf_printf(w->out, "%d. %s", step, n->name);
  if (n->layer >= 0)
    lln_buf_printf(w->out, " (layer %d%s)", n->layer, n == e->cfg->entry ? ", entry" : "");
  else if (n == e->cfg->entry)
    lln_buf_puts(w->out, " (entry)");
  return 1;
}

/* Says what `n` does on entry (responds, routes or answers); returns 0 when
 * it is the output node, which ends the walk. */
static int show_role(walker *w, const lln_node *n) {
  lln_explain *e = w->e;
  int received_answer = e->answered;
  lln_enter_kind kind = lln_decide_enter(n);
  if (kind == LLN_ENTER_RESPOND) {
    if (e->answered)
      lln_buf_printf(w->out, ": output node; the response leaves here with %s's answer\n",
                     e->answered_by->name);
    else {
      lln_buf_puts(w->out, ": output node, but no model has answered: the request fails (HTTP 500)\n");
      w->s->failed = !w->preview;
    }
    return 0;
  }
  if (kind == LLN_ENTER_ROUTE) {
    lln_buf_puts(w->out, ": routes only; its model is called only when there is a choice\n");
    return 1;
  }
  lln_buf_puts(w->out, ": answers with ");
  put_model(w->out, n);
  if (received_answer)
    lln_buf_printf(w->out, "; it receives %s's answer%s", e->answered_by->name,
                   n->prompt_template ? " through its prompt-template" : " as the user message");
  else
    lln_buf_puts(w->out, "; it receives the client's messages");
  put_failover(w->out, e->cfg, n);
  lln_buf_puts(w->out, "\n");
  answered(e, n, w->preview, w->s);
  return 1;
}

/* Weighs the conditions of `n`'s targets and lists them; the ones that may
 * hold go to cands (room for n->n_targets). Returns 0 when which ones hold
 * depends on a model's answer, which ends the walk. */
static int weigh_targets(walker *w, const lln_node *n, int again, const lln_node **cands, size_t *nc,
                         size_t *nt) {
  lln_explain *e = w->e;
  lln_explain_target *t = calloc(n->n_targets + 1, sizeof *t);
  if (!t)
    abort();
  size_t unknown = 0;
  *nt = lln_explain_targets(e, n, t);
  *nc = 0;
  if (*nt) {
    lln_buf_printf(w->out, "%stargets (output-to)%s:\n", w->ind, again ? ", now that it has answered" : "");
    put_targets(w->out, w->list_ind, t, *nt);
  }
  for (size_t i = 0; i < *nt; i++) {
    unknown += t[i].verdict == LLN_EXPLAIN_UNKNOWN;
    if (t[i].verdict != LLN_EXPLAIN_FAILS)
      cands[(*nc)++] = t[i].node;
  }
  lln_explain_targets_free(t, *nt);
  free(t);
  if (!unknown)
    return 1;
  lln_buf_printf(w->out, "%s%s ", w->ind, *nc == 1 ? "whether" : "which of");
  put_names(w->out, cands, *nc);
  lln_buf_printf(w->out, " %s on %s's answer: explain stops here\n",
                 *nc == 1 ? "stays a candidate depends" : "stay candidates depends", e->answered_by->name);
  if (!w->preview)
    w->s->unknown_at = n;
  return 0;
}

/* Several candidates: the router model chooses (explained once, with a
 * preview of each choice), or without one the default candidate is taken. */
static step_kind route_step(walker *w, const lln_node *n, const lln_node **cands, size_t nc,
                            const lln_node **next) {
  if (w->preview) {
    lln_buf_printf(w->out, "%sthen the router model chooses among ", w->ind);
    put_names(w->out, cands, nc);
    lln_buf_puts(w->out, "\n");
    return STEP_STOP;
  }
  if (lln_decide_router(w->e->cfg))
    return explain_route(w->e, n, cands, nc, w->out, w->s, next) ? STEP_STOP : STEP_GO;
  const lln_node *d = lln_decide_default(cands, nc);
  lln_buf_printf(w->out, "%s%zu candidates left but the pipeline has no router model: it goes to %s (%s)\n",
                 w->ind, nc, d->name, d->is_default ? "marked default" : "the first candidate");
  *next = d;
  return STEP_GO;
}

/* Follows the flow's decision for the candidates left after `n` (nt targets
 * weighed, nc left): the response, `n` answering itself, a route, or the one
 * candidate. */
static step_kind decide_step(walker *w, const lln_node *n, const lln_node **cands, size_t nc, size_t nt,
                             const lln_node **next) {
  lln_explain *e = w->e;
  switch (lln_decide_next(n, nc, e->answered)) {
  case LLN_NEXT_RESPOND:
    if (!e->answered) {
      lln_buf_printf(w->out, "%sno candidate left and no model has answered: the request fails (HTTP 500)\n",
                     w->ind);
      w->s->failed = !w->preview;
    } else if (nt == 0) {
      lln_buf_printf(w->out, "%sno output-to: %s's answer is the response\n", w->ind, e->answered_by->name);
    } else {
      lln_buf_printf(w->out, "%sno candidate left: %s's answer is the response\n", w->ind,
                     e->answered_by->name);
    }
    return STEP_STOP;
  case LLN_NEXT_ANSWER_ITSELF:
    lln_buf_printf(w->out, "%sno candidate left: %s answers the request itself with ", w->ind, n->name);
    put_model(w->out, n);
    lln_buf_puts(w->out, "\n");
    answered(e, n, w->preview, w->s);
    return STEP_AGAIN;
  case LLN_NEXT_ROUTE: return route_step(w, n, cands, nc, next);
  default: break;
  }
  if (w->preview) {
    lln_buf_printf(w->out, "%sthen %s, without a model call\n", w->ind, cands[0]->name);
    return STEP_STOP;
  }
  lln_buf_printf(w->out, "%sone candidate left: go to %s without a model call\n", w->ind, cands[0]->name);
  *next = cands[0];
  return STEP_GO;
}

/* Weighs `n`'s targets and decides where the flow goes; a node that answers
 * itself has its targets weighed again, now that it has answered. */
static step_kind choose_next(walker *w, const lln_node *n, const lln_node **next) {
  const lln_node **cands = calloc(n->n_targets + 1, sizeof *cands);
  if (!cands)
    abort();
  step_kind k;
  int again = 0;
  do {
    size_t nc, nt;
    k = weigh_targets(w, n, again, cands, &nc, &nt) ? decide_step(w, n, cands, nc, nt, next) : STEP_STOP;
    again = 1;
  } while (k == STEP_AGAIN);
  free(cands);
  return k;
}

/* Enters `n` and follows the flow while it needs no model's text. A preview
 * (a router's possible choice) shows one node and what it would do next. */
static void walk(lln_explain *e, const lln_node *n, int preview, lln_buf *out, summary *s) {
  walker w = {e, out, s, preview, preview ? "       " : "   ", preview ? "         " : "     "};
  for (int step = 1;; step++) {
    const lln_node *next = NULL;
    if (!enter_node(&w, n, step) || !show_role(&w, n) || choose_next(&w, n, &next) != STEP_GO)
      return;
    e->vars.route_decision = next->name;
    n = next;
  }
}

/* Which API the request comes through: every door leads into the same
 * pipeline, after its translation into a chat completion request. */
static void put_door(lln_buf *out, const char *door) {
  if (!door || strcmp(door, "chat") == 0)
    lln_buf_puts(out,
                 "door: chat (POST /v1/chat/completions): the request goes into the pipeline as it is\n");
  else if (strcmp(door, "responses") == 0)
    lln_buf_puts(out, "door: responses (POST /v1/responses): the Responses request is translated into a chat "
                      "completion request (input items to messages, instructions to a system message, "
                      "previous_response_id's stored turns first), then runs through the same pipeline as "
                      "below; the answer is translated back into a response object or Responses events\n");
  else
    lln_buf_printf(out,
                   "door: %s: the request is translated into a chat completion request, then runs "
                   "through the same pipeline as below; the answer is translated back\n",
                   door);
}

void lln_explain_write(lln_explain *e, lln_buf *out) {
  const lln_config *cfg = e->cfg;
  lln_buf_printf(out, "llmnet explain %s: no model is called; this is what llmnet would do.\n", cfg->path);
  put_door(out, e->door);
  lln__explain_write_request(e, out);
  for (size_t i = 0; i < e->n_headers; i++) {
    int used = 0;
    for (size_t k = 0; k < e->n_header_vars; k++)
      used |= e->header_vars[k].value == e->headers[i].value;
    if (used)
      lln_buf_printf(out, "header %s: \"%s\" (a variable through UseHeaderKeys)\n", e->headers[i].name,
                     e->headers[i].value);
    else if (strcasecmp(e->headers[i].name, "x-session-id") == 0)
      lln_buf_printf(out, "header %s: names the session\n", e->headers[i].name);
    else
      lln_buf_printf(out, "header %s: not in any node's UseHeaderKeys, so no condition can read it\n",
                     e->headers[i].name);
  }
  lln__explain_write_cache(e, out);
  lln_buf_putc(out, '\n');
  summary s = {0};
  lln_buf_init(&s.route);
  lln_buf_init(&s.answers);
  lln_buf_reserve(&s.route, 0);
  lln_buf_reserve(&s.answers, 0);
  walk(e, cfg->entry, 0, out, &s);
  lln_buf_putc(out, '\n');
  if (s.router_at)
    lln_buf_printf(out, "route: %s > (the router model's choice)\n", s.route.data);
  else if (s.unknown_at)
    lln_buf_printf(out, "route: %s > (depends on %s's answer)\n", s.route.data, e->answered_by->name);
  else
    lln_buf_printf(out, "route: %s%s\n", s.route.data, s.failed ? " (fails)" : "");
  if (s.router_at)
    lln_buf_printf(out, "router model: needed (one call, after %s)\n", s.router_at->name);
  else if (s.unknown_at)
    lln_buf_puts(out, "router model: not needed so far\n");
  else
    lln_buf_puts(out, "router model: not needed\n");
  if (s.n_answers)
    lln_buf_printf(out, "answering calls: %zu (%s)%s\n", s.n_answers, s.answers.data,
                   s.router_at || s.unknown_at ? ", then more as shown above" : "");
  else
    lln_buf_printf(out, "answering calls: %s\n",
                   s.router_at ? "none before the router's choice; then as shown for each choice" : "none");
  lln__explain_write_budgets(e, &s.calls, out);
  lln_buf_free(&s.route);
  lln_buf_free(&s.answers);
}
