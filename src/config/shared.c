/* shared: an atomic reference count around an immutable lln_config. */
#include "config/shared.h"

#include <stdatomic.h>
#include <stdlib.h>

struct lln_shared_config {
  lln_config cfg;
  lln_model_state *models;
  atomic_int refs;
};

lln_shared_config *lln_shared_config_new(lln_config *cfg) {
  lln_shared_config *sc = malloc(sizeof *sc);
  if (!sc)
    abort();
  sc->cfg = *cfg;
  sc->models = lln_model_states_new(cfg->n_models);
  atomic_init(&sc->refs, 1);
  return sc;
}

const lln_config *lln_shared_config_get(const lln_shared_config *sc) { return &sc->cfg; }

lln_model_state *lln_shared_config_models(const lln_shared_config *sc) { return sc->models; }

void lln_shared_config_retain(lln_shared_config *sc) {
  atomic_fetch_add_explicit(&sc->refs, 1, memory_order_relaxed);
}

void lln_shared_config_release(lln_shared_config *sc) {
  if (atomic_fetch_sub_explicit(&sc->refs, 1, memory_order_acq_rel) != 1)
    return;
  lln_model_states_free(sc->models);
  lln_config_free(&sc->cfg);
  free(sc);
}
