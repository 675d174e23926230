/* failover: the failure policy as data. Order: retry the same model id
 * while its endpoint's retries and the deadline allow; a refusal of the
 * client's request ends at once (another model would refuse it too); then
 * the node's next model id; a routing call then goes to the default
 * target; then the fallback list the visit is on; then fail. */
#include "pipeline/failover_int.h"

#include "upstream/ratelimit.h"

lln_refusal lln_failover_refusal(int http_status) {
  switch (http_status) {
  case 400:
  case 413:
  case 422: return LLN_REFUSAL_REQUEST;
  case 404: return LLN_REFUSAL_MODEL;
  case 401:
  case 402:
  case 403: return LLN_REFUSAL_ACCOUNT;
  default: return LLN_REFUSAL_NONE;
  }
}

int lln_failover_status(const lln_failure *f) {
  switch (f->kind) {
  case LLN_FAILURE_TIMEOUT: return 504;
  case LLN_FAILURE_TRANSPORT: return 502;
  case LLN_FAILURE_CIRCUIT_OPEN: return 503;
  case LLN_FAILURE_RATE_LIMITED: return 429;
  case LLN_FAILURE_HTTP: break;
  }
  if (f->http_status == 429)
    return 429;
  lln_refusal r = lln_failover_refusal(f->http_status);
  return r == LLN_REFUSAL_REQUEST || r == LLN_REFUSAL_MODEL ? f->http_status : 502;
}

lln_attempt lln_attempt_start(const lln_node *n, int routing, const lln_failover *via) {
  lln_attempt a = {.node = n, .routing = routing};
  if (via && via->kind == LLN_FO_FALLBACK) {
    a.fb_owner = via->next.fb_owner;
    a.fb_next = via->next.fb_next;
  }
  return a;
}

/* The fallback list a failed visit continues: the node's own, else the one
 * it was itself a fallback from. */
static int next_fallback(const lln_attempt *a, lln_failover *out) {
  const lln_node *owner = a->fb_owner;
  size_t pos = a->fb_next;
  if (a->node->n_fallbacks && owner != a->node) {
    owner = a->node;
    pos = 0;
  }
  if (!owner || pos >= owner->n_fallbacks)
    return 0;
  out->kind = LLN_FO_FALLBACK;
  out->fallback = owner->fallbacks[pos];
  out->next.fb_owner = owner;
  out->next.fb_next = pos + 1;
  return 1;
}

lln_failover lln_failover_decide(const lln_attempt *a, const lln_failure *f) {
  lln_failover d = {.kind = LLN_FO_FAIL, .next = *a};
  const lln_model *ep = a->node->endpoint;
  lln_refusal refusal = f->kind == LLN_FAILURE_HTTP ? lln_failover_refusal(f->http_status) : LLN_REFUSAL_NONE;
  if (f->retryable && ep && a->retries_done < ep->retries) {
    long delay = f->hint_ms > f->backoff_ms ? f->hint_ms : f->backoff_ms;
    if (delay < f->remaining_ms) {
      d.kind = LLN_FO_RETRY;
      d.delay_ms = delay;
      d.next.retries_done++;
      return d;
    }
  }
  d.next.retries_done = 0;
  /* the client's request is at fault (routing prompts are llmnet's own) */
  if (refusal == LLN_REFUSAL_REQUEST && !a->routing)
    goto fail;
  /* the same key on the same endpoint would be refused again */
  if (refusal != LLN_REFUSAL_ACCOUNT && a->model_index + 1 < a->node->n_model_ids) {
    d.kind = LLN_FO_NEXT_MODEL;
    d.next.model_index++;
    return d;
  }
  if (a->routing) {
    d.kind = LLN_FO_DEFAULT;
    return d;
  }
  if (next_fallback(a, &d))
    return d;
fail:
  d.kind = LLN_FO_FAIL;
  d.status = lln_failover_status(f);
  d.pass_retry_after = d.status == 429 || d.status == 503;
  /* Only llmnet's own rate limit, before the request cost any upstream
   * call, is worth a client's retry, and only when it frees soon (not a
   * day's budget): everything else has been retried by llmnet already or
   * cannot succeed. */
  d.should_retry = f->kind == LLN_FAILURE_RATE_LIMITED && f->upstream_calls == 0 &&
                   f->hint_ms <= LLN_RATELIMIT_CLIENT_RETRY_MAX_MS;
  return d;
}
