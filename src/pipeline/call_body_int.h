/* call_body: the upstream request of one model call, built from the
 * client's request, the node's options and the run's variables: an
 * answering node's body and the router's body (the headers: upstream/call_headers.h).
 * Internal to src/pipeline. */
#ifndef LLN_PIPELINE_CALL_BODY_H
#define LLN_PIPELINE_CALL_BODY_H

#include "pipeline/router.h"
#include "pipeline/run_state_int.h"

/* What is wrong with the client's chat request (a message for a 400), or
 * NULL when the pipeline can take it. */
const char *lln__check_request(const cJSON *req);
/* The body asking node `n` to answer ("model" is set per attempt). */
cJSON *lln__body_answer(lln_run *r, const lln_node *n);
/* The body asking `router` to choose among `rc`: the routing prompt and
 * the router input (r->routing.input), max_tokens LLN_ROUTER_MAX_TOKENS
 * unless the router's extra-options set max_tokens or
 * max_completion_tokens. */
cJSON *lln__body_route(lln_run *r, const lln_node *router, const lln_route_candidate *rc, size_t n);

#endif
