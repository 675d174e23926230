/* breaker: closed -> open after repeated failures -> half-open (one probe,
 * claimed with a compare-and-swap) -> closed on success or open again. */
#include "upstream/breaker.h"

int lln_breaker_allow(lln_breaker *b, uint64_t now_ms, long *retry_in_ms) {
  uint64_t until = atomic_load(&b->open_until);
  if (until == 0)
    return 1;
  if (now_ms < until) {
    *retry_in_ms = (long)(until - now_ms);
    return 0;
  }
  int idle = 0;
  if (atomic_compare_exchange_strong(&b->probing, &idle, 1))
    return 1;
  *retry_in_ms = 1000; /* another call is probing */
  return 0;
}

void lln_breaker_record(lln_breaker *b, int ok, int threshold, long cooldown_ms, uint64_t now_ms) {
  atomic_store(&b->probing, 0);
  if (ok) {
    atomic_store(&b->failures, 0);
    atomic_store(&b->open_until, 0);
    return;
  }
  int failures = atomic_fetch_add(&b->failures, 1) + 1;
  if (threshold > 0 && (failures >= threshold || atomic_load(&b->open_until)))
    atomic_store(&b->open_until, now_ms + (uint64_t)cooldown_ms);
}
