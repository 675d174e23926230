/* explain_spend: what `llmnet explain` tells about money and quota: whether
 * the response cache would be looked up before the walk (and what keeps an
 * answer out of it), and which budgets the walk's model calls would draw
 * from (each hop's models entry's "budget", the router call's included),
 * with what happens when one is spent (docs/FREE-TIER.md). */
#include <string.h>
#include <strings.h>

#include "pipeline/cache_int.h"
#include "pipeline/explain_int.h"

void lln__explain_call_add(lln__explain_calls *c, const lln_node *n, const lln_node *routing, int if_chosen) {
  if (n && c->n < LLN_EXPLAIN_MAX_CALLS)
    c->call[c->n++] = (lln__explain_call){n, routing, if_chosen};
}

/* The request's Cache-Control holds no-cache or no-store: the cache is
 * bypassed. Returns the directive, or NULL. */
static const char *bypass_asked(const lln_explain *e) {
  for (size_t i = 0; i < e->n_headers; i++) {
    if (strcasecmp(e->headers[i].name, "cache-control") != 0)
      continue;
    if (lln__cache_control_has(e->headers[i].value, "no-store"))
      return "no-store";
    if (lln__cache_control_has(e->headers[i].value, "no-cache"))
      return "no-cache";
  }
  return NULL;
}

/* The nodes whose answer would not be stored when they are on the route:
 * "response-cache": false, hooks without "response-cache": true, or (unless
 * any-temperature) an extra-options temperature other than 0. */
static void put_unkept(const lln_config *cfg, lln_buf *out) {
  size_t n = 0;
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *node = &cfg->nodes[i];
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(node->options, "temperature");
    const char *why = node->response_cache == 0 ? "\"response-cache\": false"
                      : (node->n_pre || node->n_post) && node->response_cache != 1 ? "runs hooks"
                      : !cfg->response_cache.any_temperature && cJSON_IsNumber(t) && t->valuedouble != 0
                          ? "temperature in extra-options"
                          : NULL;
    if (why)
      lln_buf_printf(out, "%s%s (%s)", n++ ? ", " : "; never when the route passes ", node->name, why);
  }
}

void lln__explain_write_cache(const lln_explain *e, lln_buf *out) {
  const lln_cache_settings *rc = &e->cfg->response_cache;
  if (!rc->enabled) {
    lln_buf_puts(out,
                 "response cache: off (no top-level \"response-cache\"): every request runs the pipeline\n");
    return;
  }
  const char *bypass = bypass_asked(e);
  if (bypass) {
    lln_buf_printf(
        out,
        "response cache: bypassed: the request says Cache-Control: %s (x-llmnet-cache: bypass); the "
        "pipeline runs and its calls draw their budgets\n",
        bypass);
    return;
  }
  lln_buf_printf(
      out,
      "response cache: looked up first, before any router call (the request's messages, tools and "
      "parameters, entry node %s, and the headers conditions read; ttl %ld s): a hit answers with no "
      "model call and draws no budget (x-llmnet-cache: hit); a miss runs the pipeline below, and its "
      "answer is stored ",
      e->cfg->entry->name, rc->ttl_s);
  if (rc->any_temperature)
    lln_buf_puts(out, "whatever its temperature (any-temperature: true)");
  else
    lln_buf_puts(out, "only if every answering node ran at temperature 0 (its extra-options' value, else the "
                      "request's; a request without \"temperature\" is not kept)");
  put_unkept(e->cfg, out);
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

/* A router call that a pin or the decision cache may save. */
static int may_be_saved(const lln__explain_call *c) {
  const lln_routing *rs = c->routing ? &c->routing->routing : NULL;
  return rs && (rs->sticky != LLN_STICKY_OFF || rs->cache_ttl_s > 0);
}

static void put_call(lln_buf *out, const lln__explain_call *c) {
  const lln_node *n = c->node;
  if (c->routing)
    lln_buf_printf(out, "   the router call (node %s, model %s): ", n->name,
                   n->endpoint ? n->endpoint->key : "none");
  else
    lln_buf_printf(out, "   %s%s (model %s): ", n->name, c->if_chosen ? ", if the router chooses it" : "",
                   n->endpoint ? n->endpoint->key : "none");
  put_budget(out, budget_of(n));
  const lln_routing *rs = c->routing ? &c->routing->routing : NULL;
  if (may_be_saved(c))
    lln_buf_printf(out, "; not made when %s decides",
                   rs->sticky == LLN_STICKY_OFF ? "the decision cache"
                   : rs->cache_ttl_s > 0        ? "a pin or the decision cache"
                                                : "a pin");
  lln_buf_putc(out, '\n');
  for (size_t k = 0; k < n->n_fallbacks; k++) {
    const lln_node *f = n->fallbacks[k];
    lln_buf_printf(out, "     if it fails, fallback %s (model %s): ", f->name,
                   f->endpoint ? f->endpoint->key : "none");
    put_budget(out, budget_of(f));
    lln_buf_putc(out, '\n');
  }
}

/* How many of the calls draw from `b`: the sure ones, whether one of the
 * router's choices would add one (*branch 2: every choice does, 1: some),
 * and how many of the sure ones are router calls a pin or the decision
 * cache may save. */
static void count_draws(const lln__explain_calls *c, const lln_budget *b, int *sure, int *branch,
                        int *saved) {
  *sure = *branch = *saved = 0;
  int branches = 0, branches_b = 0;
  for (size_t i = 0; i < c->n; i++) {
    int uses = budget_of(c->call[i].node) == b;
    if (c->call[i].if_chosen) {
      branches++;
      branches_b += uses;
    } else {
      *sure += uses;
      *saved += uses && may_be_saved(&c->call[i]);
    }
  }
  *branch = branches_b == 0 ? 0 : branches_b == branches ? 2 : 1;
}

/* One line per budget the calls draw from: how many calls, at most. */
static void put_totals(const lln_explain *e, const lln__explain_calls *c, lln_buf *out) {
  for (size_t i = 0; i < e->cfg->n_budgets; i++) {
    const lln_budget *b = &e->cfg->budgets[i];
    int sure, branch, saved;
    count_draws(c, b, &sure, &branch, &saved);
    if (!sure && !branch)
      continue;
    lln_buf_printf(out, "   this request draws from %s: ", b->name);
    int most = sure + (branch == 2);
    if (branch == 1)
      lln_buf_printf(out, "%d or %d calls, as the router chooses", sure, sure + 1);
    else
      lln_buf_printf(out, "%d call%s", most, most == 1 ? "" : "s");
    if (saved)
      lln_buf_printf(out, " (%d fewer when a router call is not made)", saved);
    lln_buf_putc(out, '\n');
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
  lln_buf_puts(
      out, "   A spent budget makes a call wait for it (within the budget's max-wait), else llmnet answers "
           "429 with Retry-After, naming the budget and when it resets, or the node's fallback answers.\n");
}
