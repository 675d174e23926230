/* model_state: the breakers, one per distinct (endpoint, model id) found in
 * the nodes at load, and the per-endpoint queue counters. */
#include "upstream/model_state.h"

#include <stdlib.h>
#include <string.h>

struct lln_model_table {
  lln_breaker *breakers; /* one per distinct (endpoint, model id) */
  size_t *slot_of;       /* per node, per model id: the breaker's index */
  size_t *first_slot;    /* per node: where its model ids start in slot_of */
  atomic_int *waiting;   /* per endpoint (cfg->models order) */
};

static void *zalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p)
    abort();
  return p;
}

lln_model_table *lln_model_table_new(const lln_config *cfg) {
  lln_model_table *t = zalloc(1, sizeof *t);
  size_t total = 0;
  t->first_slot = zalloc(cfg->n_nodes, sizeof *t->first_slot);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    t->first_slot[i] = total;
    total += cfg->nodes[i].endpoint ? cfg->nodes[i].n_model_ids : 0;
  }
  t->slot_of = zalloc(total, sizeof *t->slot_of);
  /* (node, model index) of each distinct pair's first use */
  const lln_node **owner = zalloc(total, sizeof *owner);
  size_t *owner_id = zalloc(total, sizeof *owner_id);
  size_t n_pairs = 0;
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *n = &cfg->nodes[i];
    if (!n->endpoint)
      continue;
    for (size_t m = 0; m < n->n_model_ids; m++) {
      size_t p = 0;
      while (p < n_pairs && !(owner[p]->endpoint == n->endpoint &&
                              strcmp(owner[p]->model_ids[owner_id[p]], n->model_ids[m]) == 0))
        p++;
      if (p == n_pairs) {
        owner[n_pairs] = n;
        owner_id[n_pairs++] = m;
      }
      t->slot_of[t->first_slot[i] + m] = p;
    }
  }
  free(owner);
  free(owner_id);
  /* all-zero is a closed breaker and an empty queue */
  t->breakers = zalloc(n_pairs, sizeof *t->breakers);
  t->waiting = zalloc(cfg->n_models, sizeof *t->waiting);
  return t;
}

void lln_model_table_free(lln_model_table *t) {
  if (!t)
    return;
  free(t->breakers);
  free(t->slot_of);
  free(t->first_slot);
  free(t->waiting);
  free(t);
}

void lln_model_table_release(void *t) { lln_model_table_free(t); }

lln_breaker *lln_model_table_breaker(lln_model_table *t, const lln_node *n, size_t model_index) {
  return &t->breakers[t->slot_of[t->first_slot[n->index] + model_index]];
}

int lln_model_table_enqueue(lln_model_table *t, const lln_model *ep, int limit) {
  atomic_int *w = &t->waiting[ep->index];
  int now = atomic_load(w);
  while (now < limit) {
    if (atomic_compare_exchange_weak(w, &now, now + 1))
      return 1;
  }
  return 0;
}

void lln_model_table_dequeue(lln_model_table *t, const lln_model *ep) {
  atomic_fetch_sub(&t->waiting[ep->index], 1);
}
