/* breaker: a circuit breaker per `models` entry (its endpoint), kept in the
 * loaded composition's model state, so a reload starts closed. After `failures`
 * failures in a row the circuit opens: calls fail fast for `cooldown`, then
 * one probe is let through; its success closes the circuit. Every worker
 * thread uses the same breaker, without a lock: the state is atomics, and
 * a race only ever lets one call more or less through. */
#ifndef LLN_UPSTREAM_BREAKER_H
#define LLN_UPSTREAM_BREAKER_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct lln_breaker {
  atomic_int failures;             /* in a row */
  atomic_uint_fast64_t open_until; /* ms; 0 = closed */
  atomic_int probing;              /* a probe is in flight */
} lln_breaker;

/* 1 when a call may go out now (and marks it as the probe when the cooldown
 * is over); 0 with *retry_in_ms set when the circuit is open. */
int lln_breaker_allow(lln_breaker *b, uint64_t now_ms, long *retry_in_ms);
/* Records a call's outcome. `threshold` 0 disables the breaker. */
void lln_breaker_record(lln_breaker *b, int ok, int threshold, long cooldown_ms, uint64_t now_ms);

#endif
