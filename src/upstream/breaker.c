/* breaker: closed -> open after repeated failures -> half-open (one probe)
 * -> closed on success or open again on failure. */
#include "upstream/breaker.h"

int lln_breaker_allow(lln_breaker *b, uint64_t now_ms, long *retry_in_ms) {
  if (b->open_until == 0)
    return 1;
  if (now_ms < b->open_until || b->probing) {
    *retry_in_ms = now_ms < b->open_until ? (long)(b->open_until - now_ms) : 1000;
    return 0;
  }
  b->probing = 1;
  return 1;
}

void lln_breaker_record(lln_breaker *b, int ok, int threshold, long cooldown_ms, uint64_t now_ms) {
  b->probing = 0;
  if (ok) {
    b->failures = 0;
    b->open_until = 0;
    return;
  }
  b->failures++;
  if (threshold > 0 && (b->failures >= threshold || b->open_until))
    b->open_until = now_ms + (uint64_t)cooldown_ms;
}
