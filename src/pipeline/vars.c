/* vars: the values of the request variables, shared by the flow and
 * `llmnet explain` so a condition holds in one exactly when it holds in the
 * other. */
#include "pipeline/vars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/text_int.h"

const char *lln_vars_current_input(const lln_vars *v) { return v->output ? v->output : v->input; }

void lln_vars_set_target(lln_vars *v, const lln_node *target, time_t now) {
  const char *in = lln_vars_current_input(v);
  if (!in)
    in = "";
  snprintf(v->hop_str, sizeof v->hop_str, "%d", v->hops);
  snprintf(v->layer_str, sizeof v->layer_str, "%d", target ? target->layer : -1);
  snprintf(v->prev_layer_str, sizeof v->prev_layer_str, "%d", v->node ? v->node->layer : -1);
  snprintf(v->ts_str, sizeof v->ts_str, "%ld", (long)now);
  snprintf(v->len_str, sizeof v->len_str, "%zu", lln_utf8_length(in));
  snprintf(v->wc_str, sizeof v->wc_str, "%zu", lln_word_count(in));
  v->eval_node = target ? target->name : NULL;
}

#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)

int lln_vars_from_output(const char *name, size_t len) {
  return IS("INPUT") || IS("CURRENT_INPUT") || IS("OUTPUT") || IS("INPUT_LENGTH") || IS("WORD_COUNT");
}

const char *lln_vars_lookup(void *vars, const char *name, size_t len) {
  const lln_vars *v = vars;
  if (IS("INITIAL_INPUT"))
    return v->initial_input;
  if (IS("CURRENT_INPUT") || IS("INPUT"))
    return lln_vars_current_input(v);
  if (IS("OUTPUT"))
    return v->output;
  if (IS("NODE"))
    return v->eval_node;
  if (IS("PREV_NODE"))
    return v->node ? v->node->name : NULL;
  if (IS("PREV_LAYER"))
    return v->prev_layer_str;
  if (IS("CURRENT_LAYER"))
    return v->layer_str;
  if (IS("HOP_COUNT"))
    return v->hop_str;
  if (IS("TIMESTAMP"))
    return v->ts_str;
  if (IS("REQUEST_ID"))
    return v->request_id;
  if (IS("ROUTE_DECISION"))
    return v->route_decision;
  if (IS("INPUT_LENGTH"))
    return v->len_str;
  if (IS("WORD_COUNT"))
    return v->wc_str;
  for (size_t i = 0; i < v->n_headers; i++) {
    if (strlen(v->headers[i].name) == len && memcmp(v->headers[i].name, name, len) == 0)
      return v->headers[i].value;
  }
  return NULL;
}

#undef IS

const char *lln_vars_get(const lln_vars *v, const char *name) {
  return lln_vars_lookup((void *)v, name, strlen(name));
}

size_t lln_vars_collect_headers(const lln_config *cfg, lln_vars_header_fn header, void *ctx,
                                lln_var_header **out) {
  *out = NULL;
  size_t total = 0, n = 0;
  for (size_t i = 0; i < cfg->n_nodes; i++)
    total += cfg->nodes[i].n_header_keys;
  if (!total || !header)
    return 0;
  lln_var_header *vars = calloc(total, sizeof *vars);
  if (!vars)
    abort();
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *node = &cfg->nodes[i];
    for (size_t k = 0; k < node->n_header_keys; k++) {
      const char *value = header(ctx, node->header_keys[k]);
      if (value)
        vars[n++] = (lln_var_header){node->header_keys[k], value};
    }
  }
  if (!n) {
    free(vars);
    vars = NULL;
  }
  *out = vars;
  return n;
}
