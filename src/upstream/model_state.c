/* model_state: a mutex per model around the breaker and the queue count. */
#include "upstream/model_state.h"

#include <stdlib.h>

lln_model_state *lln_model_states_new(size_t n) {
  lln_model_state *s = calloc(n ? n : 1, sizeof *s);
  if (!s)
    abort();
  for (size_t i = 0; i < n; i++)
    uv_mutex_init(&s[i].lock);
  return s;
}

void lln_model_states_free(lln_model_state *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    uv_mutex_destroy(&s[i].lock);
  free(s);
}

int lln_model_state_allow(lln_model_state *s, uint64_t now_ms, long *retry_in_ms, int *failures) {
  uv_mutex_lock(&s->lock);
  int ok = lln_breaker_allow(&s->breaker, now_ms, retry_in_ms);
  *failures = s->breaker.failures;
  uv_mutex_unlock(&s->lock);
  return ok;
}

void lln_model_state_record(lln_model_state *s, int ok, int threshold, long cooldown_ms, uint64_t now_ms) {
  uv_mutex_lock(&s->lock);
  lln_breaker_record(&s->breaker, ok, threshold, cooldown_ms, now_ms);
  uv_mutex_unlock(&s->lock);
}

int lln_model_state_enqueue(lln_model_state *s, int limit) {
  uv_mutex_lock(&s->lock);
  int ok = s->waiting < limit;
  if (ok)
    s->waiting++;
  uv_mutex_unlock(&s->lock);
  return ok;
}

void lln_model_state_dequeue(lln_model_state *s) {
  uv_mutex_lock(&s->lock);
  s->waiting--;
  uv_mutex_unlock(&s->lock);
}
