/* describe: a reader's view of what the loader resolved: inherited
 * endpoints, expanded output-to lists, the entry node's role, prices,
 * budgets and the response cache. */
#include "config/describe.h"

#include <string.h>

#include "config/subst_int.h"
#include "util/mask.h"

/* The routing settings in effect at a node that chooses (docs/CONFIG.md
 * "Routing"). */
static void describe_routing(const lln_routing *rs, FILE *out) {
  static const char *const sticky[] = {"session", "turn", "off"};
  fprintf(out, "      routing  sticky %s, session-ttl %lds, max-input-chars %zu, ", sticky[rs->sticky],
          rs->session_ttl_s, rs->max_input_chars);
  if (rs->cache_ttl_s > 0 && rs->cache_max_entries > 0)
    fprintf(out, "decision-cache %lds x %ld\n", rs->cache_ttl_s, rs->cache_max_entries);
  else
    fprintf(out, "no decision cache\n");
}

/* A model's "price" and "budget", on a line of their own. */
static void describe_model_money(const lln_model *m, FILE *out) {
  if (!m->price.set && !m->budget)
    return;
  fprintf(out, "  %-20s", "");
  if (m->price.set) {
    fprintf(out, " price $%g prompt, $%g completion", m->price.prompt, m->price.completion);
    if (m->price.has_cached)
      fprintf(out, ", $%g cached prompt", m->price.cached_prompt);
    fprintf(out, " per million tokens (when the upstream reports no usage.cost)");
  }
  if (m->budget)
    fprintf(out, "%s budget %s", m->price.set ? ";" : "", m->budget->name);
  fputc('\n', out);
}

/* Who names a budget: the models entries, and through them the nodes. */
static void describe_budget_users(const lln_config *cfg, const lln_budget *b, FILE *out) {
  int any = 0;
  for (size_t i = 0; i < cfg->n_models; i++) {
    if (cfg->models[i].budget == b)
      fprintf(out, "%s%s", any++ ? ", " : "  (models ", cfg->models[i].key);
  }
  fprintf(out, "%s\n", any ? ")" : "  (no models entry names it)");
}

/* The top-level "budgets": each one's limits and who spends it. */
static void describe_budgets(const lln_config *cfg, FILE *out) {
  if (!cfg->n_budgets)
    return;
  fprintf(out, "\nbudgets  (every call through a models entry naming one counts, router calls included)\n");
  for (size_t i = 0; i < cfg->n_budgets; i++) {
    const lln_budget *b = &cfg->budgets[i];
    fprintf(out, "  %-20s", b->name);
    if (b->rpm)
      fprintf(out, " %d/min", b->rpm);
    if (b->rpd)
      fprintf(out, " %d/day", b->rpd);
    if (b->usd_per_day > 0)
      fprintf(out, " $%g/day", b->usd_per_day);
    if (!b->rpm && !b->rpd && b->usd_per_day <= 0)
      fprintf(out, " no limit");
    fprintf(out, ", queue %d, max-wait %gs", b->queue, (double)b->max_wait_ms / 1000.0);
    /* the sync URL may carry a secret once substituted: only that there is one */
    if (b->sync_url)
      fprintf(out, ", sync with the provider every %lds", b->sync_every_ms / 1000);
    describe_budget_users(cfg, b, out);
  }
}

/* The top-level "response-cache", and the nodes that opt out. */
static void describe_response_cache(const lln_config *cfg, FILE *out) {
  const lln_cache_settings *rc = &cfg->response_cache;
  if (!rc->enabled) {
    fprintf(out, "\nresponse cache  off (no top-level \"response-cache\")\n");
    return;
  }
  fprintf(out, "\nresponse cache  ttl %lds, max-bytes %zu, %s", rc->ttl_s, rc->max_bytes,
          rc->any_temperature ? "any temperature (any-temperature: true)" : "answers at temperature 0 only");
  int any = 0;
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    if (cfg->nodes[i].response_cache == 0)
      fprintf(out, "%s%s", any++ ? ", " : "; off at ", cfg->nodes[i].name);
  }
  fputc('\n', out);
}

void lln_config_describe(const lln_config *cfg, const char *addr, int port, FILE *out) {
  fprintf(out, "pipeline %s\n", cfg->path);
  fprintf(out,
          "listen   http://%s:%d  (POST /v1/chat/completions, POST /v1/llmnet/route, POST /v1/embeddings, "
          "GET /v1/models[/ID], "
          "GET /health, GET /metrics, GET /)\n",
          addr, port);
  /* a Redis URL may carry a password: only its kind is shown */
  int redis = cfg->server.store && strcmp(cfg->server.store, "memory") != 0;
  fprintf(out, "store    %s\n\n",
          redis ? "redis (shared by every process using it)" : "memory (this process)");
  fprintf(out, "models\n");
  for (size_t i = 0; i < cfg->n_models; i++) {
    const lln_model *m = &cfg->models[i];
    char key[300];
    /* Whether the key resolved is what the loader recorded, never a guess
     * from the text: a key may contain "$A" and is still masked. Only the
     * unset variable's name is shown, not the partly substituted key. */
    if (m->api_key_unset)
      snprintf(key, sizeof key, "$%s (not set)", m->api_key_unset);
    else
      lln_mask_secret(m->api_key, key, sizeof key);
    /* a URL built from variables may carry a secret: it is shown as written */
    const char *built = m->embeddings ? m->embeddings_url : m->chat_url;
    const char *url = built && !lln_subst_has_ref(m->url) ? built : m->url;
    fprintf(out, "  %-20s %s  key %s  timeout %lds", m->key, url, key, m->timeout_ms / 1000);
    if (m->embeddings)
      fprintf(out, "  embeddings%s, sends %s", m->embeddings_default ? " (default)" : "",
              m->model_id ? m->model_id : "the request's model");
    fputc('\n', out);
    describe_model_money(m, out);
  }
  describe_budgets(cfg, out);
  describe_response_cache(cfg, out);
  fprintf(out, "\nnodes\n");
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *n = &cfg->nodes[i];
    const char *role = n->adapter == LLN_ADAPTER_OUTPUT ? "output"
                       : n->adapter == LLN_ADAPTER_WS   ? "ws sink"
                       : n->routes_only                 ? "router"
                       : n->n_targets == 0              ? "answers (terminal)"
                                                        : "answers";
    if (n->layer >= 0)
      fprintf(out, "  [%d] %s", n->layer, n->name);
    else
      fprintf(out, "  [-] %s", n->name);
    fprintf(out, "  %s%s%s\n", role, n == cfg->entry ? ", entry" : "", n->is_default ? ", default" : "");
    if (n->endpoint) {
      fprintf(out, "      model    %s", n->endpoint->key);
      if (n->inherited_from)
        fprintf(out, " (inherited from %s)", n->inherited_from->name);
      fprintf(out, " as");
      for (size_t k = 0; k < n->n_model_ids; k++)
        fprintf(out, "%s %s", k ? "," : "", n->model_ids[k]);
      fprintf(out, "\n");
    }
    if (n->use_case)
      fprintf(out, "      use-case %s\n", n->use_case);
    if (n->if_src)
      fprintf(out, "      if       %s\n", n->if_src);
    if (n->url)
      fprintf(out, "      url      %s\n", n->url);
    if (n->n_targets) {
      fprintf(out, "      then    ");
      for (size_t k = 0; k < n->n_targets; k++)
        fprintf(out, "%s %s", k ? "," : "", n->targets[k]->name);
      fprintf(out, n->n_targets > 1 ? "  (router model chooses)\n" : "\n");
    }
    if (n->n_targets > 1)
      describe_routing(&n->routing, out);
  }
}
