/* shared: an atomic reference count around an immutable lln_config and
 * the one piece of state attached to it. */
#include "config/shared.h"

#include <stdatomic.h>
#include <stdlib.h>

struct lln_shared_config {
  lln_config cfg;
  void *state;
  void (*release_state)(void *state);
  atomic_int refs;
};

lln_shared_config *lln_shared_config_new(lln_config *cfg) {
  lln_shared_config *sc = calloc(1, sizeof *sc);
  if (!sc)
    abort();
  sc->cfg = *cfg;
  atomic_init(&sc->refs, 1);
  return sc;
}

const lln_config *lln_shared_config_get(const lln_shared_config *sc) { return &sc->cfg; }

void lln_shared_config_attach(lln_shared_config *sc, void *state, void (*release)(void *state)) {
  sc->state = state;
  sc->release_state = release;
}

void *lln_shared_config_attachment(const lln_shared_config *sc) { return sc->state; }

void lln_shared_config_retain(lln_shared_config *sc) {
  atomic_fetch_add_explicit(&sc->refs, 1, memory_order_relaxed);
}

void lln_shared_config_release(lln_shared_config *sc) {
  if (atomic_fetch_sub_explicit(&sc->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (sc->release_state)
    sc->release_state(sc->state);
  lln_config_free(&sc->cfg);
  free(sc);
}
