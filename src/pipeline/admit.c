/* admit: the gate in front of every upstream call. llmnet's own rate limit
 * for the endpoint answers go (now, or later from Redis), wait in the
 * endpoint's bounded queue, or no (llmnet's own 429); then the model id's
 * circuit breaker lets the call pass, makes it the half-open probe, or
 * refuses it. A refusal is a failure like any other, carried out by run.c.
 * The tickets taken here (run_state_int.h) are cancelled by stop_work. */
#include "pipeline/admit_int.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "observe/metrics.h"
#include "upstream/model_state.h"
#include "upstream/ratelimit.h"
#include "util/json_alloc.h"

lln_breaker *lln_admit_breaker(const lln_run *r) {
  return r->models ? lln_model_table_breaker(r->models, r->call.att.node, r->call.att.model_index) : NULL;
}

void lln_admit_spent(lln_run *r, const lln_node *node, double usd) {
  (void)r, (void)node, (void)usd; /* TODO(budgets) */
}

void lln_admit_stop_waiting(lln_run *r) {
  if (r->tickets.rl_waiting) {
    r->tickets.rl_waiting = 0;
    lln_model_table_dequeue(r->models, r->call.node->endpoint);
  }
}

/* A failure llmnet decided itself, before any call: the circuit is open or
 * its own rate limit is reached. */
static void refuse_call(lln_run *r, lln_failure_kind kind, long wait_ms, const char *why) {
  lln_failure f = {.kind = kind, .hint_ms = wait_ms, .upstream_calls = r->call.upstream_calls};
  lln_run_error e = {.body = {.message = why}};
  lln_run_after_failure(r, &f, &e);
}

/* The rate limiter's answer for the call being prepared: go, wait in the
 * endpoint's bounded queue, or fail with llmnet's own 429. */
static void on_rate_limit(void *ud, long wait_ms) {
  lln_run *r = ud;
  LLN_JSON_SCOPE(r->arena);
  r->tickets.rl_take = NULL;
  const lln_model *ep = r->call.node->endpoint;
  const char *labels[] = {ep->key};
  if (wait_ms == 0) {
    r->tickets.rl_granted = 1;
    lln_run_start_call(r);
    return;
  }
  if (wait_ms <= ep->rl_max_wait_ms && uv_now(r->loop) + (uint64_t)wait_ms < r->timers.deadline_at &&
      lln_model_table_enqueue(r->models, ep, ep->rl_queue)) {
    r->tickets.rl_waiting = 1;
    lln_metric_add(&LLN_M_RATE_LIMIT_WAITS, labels, 1);
    lln_run_retry_in(r, (uint64_t)wait_ms);
    return;
  }
  lln_metric_add(&LLN_M_RATE_LIMIT_REFUSED, labels, 1);
  char why[400];
  snprintf(
      why, sizeof why,
      "node \"%s\" (model \"%s\" at %s): llmnet's rate limit for this model (rpm %d, rpd %d) is reached; "
      "a slot frees in %.1f s",
      r->call.node->name, lln_run_model_id(r), ep->key, ep->rpm, ep->rpd, (double)wait_ms / 1000.0);
  refuse_call(r, LLN_FAILURE_RATE_LIMITED, wait_ms, why);
}

int lln_admit_call(lln_run *r) {
  const lln_model *ep = r->call.node->endpoint;
  lln_admit_stop_waiting(r);
  if ((ep->rpm || ep->rpd) && r->ratelimit && r->models && !r->tickets.rl_granted) {
    /* answered at once (memory store) or later (Redis) in on_rate_limit */
    r->tickets.rl_take = lln_ratelimit_acquire(r->ratelimit, ep->key, ep->rpm, ep->rpd, on_rate_limit, r);
    return 0;
  }
  r->tickets.rl_granted = 0;
  lln_breaker *b = lln_admit_breaker(r);
  long open_ms = 0;
  lln_breaker_verdict verdict = b ? lln_breaker_allow(b, uv_now(r->loop), &open_ms) : LLN_BREAKER_PASS;
  if (verdict == LLN_BREAKER_DENY) {
    char why[400];
    snprintf(why, sizeof why,
             "node \"%s\" (model \"%s\" at %s): the circuit is open after %d failures in a row; next try in "
             "%.1f s",
             r->call.node->name, lln_run_model_id(r), ep->key, atomic_load(&b->failures),
             (double)open_ms / 1000.0);
    refuse_call(r, LLN_FAILURE_CIRCUIT_OPEN, open_ms, why);
    return 0;
  }
  if (verdict == LLN_BREAKER_PROBE)
    r->tickets.probe = b; /* a ticket: settled in on_call_done, or by stop_work */
  return 1;
}
