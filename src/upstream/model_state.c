/* model_state: the per-model array and its bounded queue counter. */
#include "upstream/model_state.h"

#include <stdlib.h>

lln_model_state *lln_model_states_new(size_t n) {
  /* all-zero is a closed breaker and an empty queue */
  lln_model_state *s = calloc(n ? n : 1, sizeof *s);
  if (!s)
    abort();
  return s;
}

void lln_model_states_free(lln_model_state *s) { free(s); }

int lln_model_state_enqueue(lln_model_state *s, int limit) {
  int now = atomic_load(&s->waiting);
  while (now < limit) {
    if (atomic_compare_exchange_weak(&s->waiting, &now, now + 1))
      return 1;
  }
  return 0;
}

void lln_model_state_dequeue(lln_model_state *s) { atomic_fetch_sub(&s->waiting, 1); }
