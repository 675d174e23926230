/* admit: the gate in front of every upstream call. llmnet's own rate limit
 * for the endpoint and the budget it names (one take) answer go (now, or
 * later from Redis), wait in the spent limit's bounded queue (the
 * endpoint's or the budget's), or no (llmnet's own 429); a call's cost,
 * once known, is spent from the budget; then the model id's
 * circuit breaker lets the call pass, makes it the half-open probe, or
 * refuses it. A refusal is a failure like any other, carried out by run.c.
 * The tickets taken here (run_state_int.h) are cancelled by stop_work. */
#include "pipeline/admit_int.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "observe/metrics.h"
#include "upstream/budget.h"
#include "upstream/model_state.h"
#include "upstream/ratelimit.h"
#include "util/json_alloc.h"

lln_breaker *lln_admit_breaker(const lln_run *r) {
  return r->models ? lln_model_table_breaker(r->models, r->call.att.node, r->call.att.model_index) : NULL;
}

void lln_admit_spent(lln_run *r, const lln_node *node, double usd) {
  const lln_model *ep = node ? node->endpoint : NULL;
  if (ep && ep->budget)
    lln_ratelimit_spend(r->ratelimit, ep->budget, usd);
}

/* What rl_waiting holds: the queue the run waits in. */
enum { WAIT_NONE, WAIT_ENDPOINT, WAIT_BUDGET };

void lln_admit_stop_waiting(lln_run *r) {
  if (r->tickets.rl_waiting == WAIT_ENDPOINT)
    lln_model_table_dequeue(r->models, r->call.node->endpoint);
  else if (r->tickets.rl_waiting == WAIT_BUDGET)
    lln_budget_dequeue(r->call.node->endpoint->budget);
  r->tickets.rl_waiting = WAIT_NONE;
}

/* A failure llmnet decided itself, before any call: the circuit is open or
 * its own rate limit is reached. */
static void refuse_call(lln_run *r, lln_failure_kind kind, long wait_ms, const char *why) {
  lln_failure f = {.kind = kind, .hint_ms = wait_ms, .upstream_calls = r->call.upstream_calls};
  lln_run_error e = {.body = {.message = why}};
  lln_run_after_failure(r, &f, &e);
}

/* A place in the queue of the limit that is spent: the budget's, or the
 * endpoint's own. */
static int enqueue(lln_run *r, const lln_ratelimit_verdict *v) {
  const lln_model *ep = r->call.node->endpoint;
  if (v->budget) {
    if (!lln_budget_enqueue(v->budget))
      return 0;
    r->tickets.rl_waiting = WAIT_BUDGET;
  } else {
    if (!lln_model_table_enqueue(r->models, ep, ep->rl_queue))
      return 0;
    r->tickets.rl_waiting = WAIT_ENDPOINT;
  }
  return 1;
}

/* The rate limiter's answer for the call being prepared (the endpoint's
 * own limits and its budget's): go, wait in the spent limit's bounded
 * queue, or fail with llmnet's own 429. */
static void on_rate_limit(void *ud, long wait_ms, const long *counts, size_t n) {
  lln_run *r = ud;
  LLN_JSON_SCOPE(r->arena);
  r->tickets.rl_take = NULL;
  const lln_model *ep = r->call.node->endpoint;
  lln_ratelimit_verdict v = lln_ratelimit_verdict_of(ep, wait_ms, counts, n);
  if (wait_ms == 0) {
    r->tickets.rl_granted = 1;
    lln_run_start_call(r);
    return;
  }
  const char *labels[] = {v.budget ? v.budget->name : ep->key};
  if (wait_ms <= v.max_wait_ms && uv_now(r->loop) + (uint64_t)wait_ms < r->timers.deadline_at &&
      enqueue(r, &v)) {
    lln_metric_add(v.budget ? &LLN_M_BUDGET_WAITS : &LLN_M_RATE_LIMIT_WAITS, labels, 1);
    lln_run_retry_in(r, (uint64_t)wait_ms);
    return;
  }
  lln_metric_add(v.budget ? &LLN_M_BUDGET_REFUSED : &LLN_M_RATE_LIMIT_REFUSED, labels, 1);
  char what[300], why[500];
  lln_ratelimit_describe(ep, &v, what, sizeof what);
  snprintf(why, sizeof why, "node \"%s\" (model \"%s\" at %s): %s", r->call.node->name, lln_run_model_id(r),
           ep->key, what);
  refuse_call(r, LLN_FAILURE_RATE_LIMITED, wait_ms, why);
}

int lln_admit_call(lln_run *r) {
  const lln_model *ep = r->call.node->endpoint;
  lln_admit_stop_waiting(r);
  if ((ep->rpm || ep->rpd || ep->budget) && r->ratelimit && r->models && !r->tickets.rl_granted) {
    /* answered at once (memory store) or later (Redis) in on_rate_limit */
    r->tickets.rl_take = lln_ratelimit_acquire_entry(r->ratelimit, ep, on_rate_limit, r);
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
