/* breaker: a circuit breaker per (endpoint, model id). After `failures`
 * failures in a row the circuit opens: calls fail fast for `cooldown`, then
 * one probe is let through; its success closes the circuit. Every worker
 * thread uses the same breaker, without a lock: the state is atomics, and
 * a race only ever lets one call more or less through.
 *
 * A probe is a ticket: whoever was handed LLN_BREAKER_PROBE must settle it,
 * with lln_breaker_record(..., was_probe = 1) when the call ends or with
 * lln_breaker_release when it is cancelled; a probe never settled would
 * keep the circuit open for good. */
#ifndef LLN_UPSTREAM_BREAKER_H
#define LLN_UPSTREAM_BREAKER_H

#include <stdatomic.h>
#include <stdint.h>

/* Another call holds the probe: the wait reported meanwhile. */
#define LLN_BREAKER_PROBE_BUSY_MS 1000

typedef struct lln_breaker {
  atomic_int failures;             /* in a row */
  atomic_uint_fast64_t open_until; /* ms; 0 = closed */
  atomic_int probing;              /* a probe is in flight */
} lln_breaker;

typedef enum {
  LLN_BREAKER_DENY = 0, /* open: fail fast, *retry_in_ms says for how long */
  LLN_BREAKER_PASS,     /* closed: go */
  LLN_BREAKER_PROBE     /* the cooldown is over and this call is the probe (a ticket) */
} lln_breaker_verdict;

lln_breaker_verdict lln_breaker_allow(lln_breaker *b, uint64_t now_ms, long *retry_in_ms);
/* Records a call's outcome (`was_probe`: it held the probe ticket).
 * `threshold` 0 disables the breaker. */
void lln_breaker_record(lln_breaker *b, int ok, int was_probe, int threshold, long cooldown_ms,
                        uint64_t now_ms);
/* Gives back a probe ticket whose call was cancelled before it ended: the
 * next call becomes the probe. */
void lln_breaker_release(lln_breaker *b);

#endif
