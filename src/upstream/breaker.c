/* breaker: closed -> open after repeated failures -> half-open (one probe,
 * claimed with a compare-and-swap) -> closed on success or open again; a
 * cancelled probe hands its claim back. */
#include "upstream/breaker.h"

lln_breaker_verdict lln_breaker_allow(lln_breaker *b, uint64_t now_ms, long *retry_in_ms) {
  uint64_t until = atomic_load(&b->open_until);
  if (until == 0)
    return LLN_BREAKER_PASS;
  if (now_ms < until) {
    *retry_in_ms = (long)(until - now_ms);
    return LLN_BREAKER_DENY;
  }
  int idle = 0;
  if (atomic_compare_exchange_strong(&b->probing, &idle, 1))
    return LLN_BREAKER_PROBE;
  *retry_in_ms = LLN_BREAKER_PROBE_BUSY_MS;
  return LLN_BREAKER_DENY;
}

void lln_breaker_record(lln_breaker *b, int ok, int was_probe, int threshold, long cooldown_ms,
                        uint64_t now_ms) {
  if (ok) {
    /* closed: whatever probe is still out no longer matters */
    atomic_store(&b->failures, 0);
    atomic_store(&b->open_until, 0);
    atomic_store(&b->probing, 0);
    return;
  }
  int failures = atomic_fetch_add(&b->failures, 1) + 1;
  if (threshold > 0 && (failures >= threshold || atomic_load(&b->open_until)))
    atomic_store(&b->open_until, now_ms + (uint64_t)cooldown_ms);
  if (was_probe)
    atomic_store(&b->probing, 0);
}

void lln_breaker_release(lln_breaker *b) { atomic_store(&b->probing, 0); }
