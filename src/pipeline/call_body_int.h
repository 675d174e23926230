/* call_body: the upstream request of one model call, built from the
 * client's request, the node's options and the run's variables: an
 * answering node's body, the router's body and the request headers.
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
/* "Name: value" lines for a call to `ep`, NULL-terminated; free with
 * lln__headers_free. `session` (may be NULL) goes as x-session-id. */
char **lln__call_headers(const lln_model *ep, const char *request_id, const char *session);
void lln__headers_free(char **headers);

#endif
