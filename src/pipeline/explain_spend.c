/* explain_spend: what `llmnet explain` tells about money and quota: whether
 * the response cache would be looked up before the walk (and what keeps an
 * answer out of it), and which budgets the walk's model calls would draw
 * from (each hop's models entry's "budget", the router call's included),
 * with what happens when one is spent (docs/FREE-TIER.md). */
#include <string.h>
#include <strings.h>

#include "pipeline/explain_int.h"

void lln__explain_call_add(lln__explain_calls *c, const lln_node *n, int router, int if_chosen) {
  if (n && c->n < LLN_EXPLAIN_MAX_CALLS)
    c->call[c->n++] = (lln__explain_call){n, router, if_chosen};
}

/* The request's Cache-Control asks for no cached answer. */
static int no_cache_asked(const lln_explain *e) {
  for (size_t i = 0; i < e->n_headers; i++) {
    if (strcasecmp(e->headers[i].name, "cache-control") == 0 && strstr(e->headers[i].value, "no-cache"))
      return 1;
  }
  return 0;
}

/* The nodes whose extra-options set a temperature other than 0: their
 * answers are not stored (unless any-temperature). Returns how many. */
static size_t put_warm_nodes(const lln_config *cfg, lln_buf *out) {
  size_t n = 0;
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg->nodes[i].options, "temperature");
    if (cJSON_IsNumber(t) && t->valuedouble != 0)
      lln_buf_printf(out, "%s%s (temperature %g)", n++ ? ", " : "", cfg->nodes[i].name, t->valuedouble);
  }
  return n;
}

void lln__explain_write_cache(const lln_explain *e, lln_buf *out) {
  const lln_cache_settings *rc = &e->cfg->response_cache;
  const lln_node *entry = e->cfg->entry;
  if (!rc->enabled) {
    lln_buf_puts(out, "response cache: off (no top-level \"response-cache\"): every request runs the pipeline\n");
    return;
  }
  if (entry->response_cache == 0) {
    lln_buf_printf(out,
                   "response cache: not looked up: the entry node %s has \"response-cache\": false "
                   "(x-llmnet-cache: bypass)\n",
                   entry->name);
    return;
  }
  if (no_cache_asked(e)) {
    lln_buf_puts(out, "response cache: bypassed: the request's Cache-Control: no-cache asks for a fresh answer "
                      "(x-llmnet-cache: bypass); the pipeline runs and draws its budgets\n");
    return;
  }
  lln_buf_printf(out,
                 "response cache: looked up first, before any router call (ttl %ld s): a hit answers from the "
                 "cache with no model call and draws no budget (x-llmnet-cache: hit); a miss runs the pipeline "
                 "below",
                 rc->ttl_s);
  if (rc->any_temperature) {
    lln_buf_puts(out, ", and its answer is stored (any-temperature: true)\n");
    return;
  }
  lln_buf_puts(out, ", and its answer is stored only if every answering hop ran at temperature 0");
  lln_buf extra;
  lln_buf_init(&extra);
  if (put_warm_nodes(e->cfg, &extra))
    lln_buf_printf(out, "; not when these answer: %s", extra.data);
  lln_buf_free(&extra);
  lln_buf_putc(out, '\n');
}

/* "openrouter-free (20/min, 50/day, $1/day)" or "no budget". */
static void put_budget(lln_buf *out, const lln_budget *b) {
  if (!b) {
    lln_buf_puts(out, "no budget");
    return;
  }
  lln_buf_printf(out, "budget %s (", b->name);
  int any = 0;
  if (b->rpm)
    lln_buf_printf(out, "%d/min", b->rpm), any = 1;
  if (b->rpd)
    lln_buf_printf(out, "%s%d/day", any ? ", " : "", b->rpd), any = 1;
  if (b->usd_per_day > 0)
    lln_buf_printf(out, "%s$%g/day", any ? ", " : "", b->usd_per_day), any = 1;
  lln_buf_puts(out, any ? ")" : "no limit)");
}

static const lln_budget *budget_of(const lln_node *n) { return n->endpoint ? n->endpoint->budget : NULL; }

static void put_call(lln_buf *out, const lln__explain_call *c) {
  const lln_node *n = c->node;
  if (c->router)
    lln_buf_printf(out, "   the router call (node %s, model %s): ", n->name, n->endpoint ? n->endpoint->key : "none");
  else
    lln_buf_printf(out, "   %s%s (model %s): ", n->name, c->if_chosen ? ", if the router chooses it" : "",
                   n->endpoint ? n->endpoint->key : "none");
  put_budget(out, budget_of(n));
  lln_buf_putc(out, '\n');
  for (size_t k = 0; k < n->n_fallbacks; k++) {
    const lln_node *f = n->fallbacks[k];
    lln_buf_printf(out, "     if it fails, fallback %s (model %s): ", f->name, f->endpoint ? f->endpoint->key : "none");
    put_budget(out, budget_of(f));
    lln_buf_putc(out, '\n');
  }
}

/* How many of the calls draw from `b`: the sure ones, and whether one of
 * the router's choices would add one. */
static void count_draws(const lln__explain_calls *c, const lln_budget *b, int *sure, int *branch) {
  *sure = *branch = 0;
  int branches = 0, branches_b = 0;
  for (size_t i = 0; i < c->n; i++) {
    int uses = budget_of(c->call[i].node) == b;
    if (c->call[i].if_chosen) {
      branches++;
      branches_b += uses;
    } else {
      *sure += uses;
    }
  }
  *branch = branches_b == 0 ? 0 : branches_b == branches ? 2 : 1; /* 2: every choice draws */
}

/* One line per budget the calls draw from: how many calls, at most. */
static void put_totals(const lln_explain *e, const lln__explain_calls *c, lln_buf *out) {
  for (size_t i = 0; i < e->cfg->n_budgets; i++) {
    const lln_budget *b = &e->cfg->budgets[i];
    int sure, branch;
    count_draws(c, b, &sure, &branch);
    if (!sure && !branch)
      continue;
    lln_buf_printf(out, "   this request draws from %s: ", b->name);
    if (branch == 2)
      lln_buf_printf(out, "%d call%s\n", sure + 1, sure + 1 == 1 ? "" : "s");
    else if (branch == 1)
      lln_buf_printf(out, "%d or %d calls, as the router chooses\n", sure, sure + 1);
    else
      lln_buf_printf(out, "%d call%s\n", sure, sure == 1 ? "" : "s");
  }
}

void lln__explain_write_budgets(const lln_explain *e, const lln__explain_calls *c, lln_buf *out) {
  if (!e->cfg->n_budgets) {
    lln_buf_puts(out, "budgets: none (no top-level \"budgets\")\n");
    return;
  }
  if (!c->n) {
    lln_buf_puts(out, "budgets: no model call, so none is drawn\n");
    return;
  }
  lln_buf_puts(out, "budgets: each model call counts against its models entry's \"budget\", router calls "
                    "included:\n");
  for (size_t i = 0; i < c->n; i++)
    put_call(out, &c->call[i]);
  put_totals(e, c, out);
  lln_buf_puts(out, "   A spent budget makes a call wait for it (within the budget's max-wait), else llmnet answers "
                    "429 with Retry-After, naming the budget and when it resets, or the node's fallback answers.\n");
}
