/* route_flow: how a routing node with several candidates left chooses
 * one (docs/OPERATIONS.md "Routing decisions"): no user text goes to the
 * default target; a session's pin, then the decision cache, then the
 * router model (route_call.c). Every decision is traced ("decided"),
 * timed and counted, and a router's decision is remembered as the
 * session's pin and in the decision cache. Internal to src/pipeline. */
#ifndef LLN_PIPELINE_ROUTE_FLOW_H
#define LLN_PIPELINE_ROUTE_FLOW_H

#include "pipeline/router.h"
#include "pipeline/run_state_int.h"

/* The header a client names its conversation with; forwarded upstream. */
#define LLN_SESSION_HEADER "x-session-id"

/* Sets up the run's routing state from `p`: the store, route-only and
 * stateless, the turn kind and the session a client named
 * (x-session-id; the fingerprint waits for lln__route_session). Returns NULL, or the message
 * of the 400 an invalid x-session-id gets. */
const char *lln__route_setup(lln_run *r, const lln_run_params *p);

/* The conversation's session id: x-session-id, else the fingerprint of
 * its opening, taken at the first call; NULL when there is none. */
const char *lln__route_session(lln_run *r);

/* Chooses among r->call.cands (several) after `from`: no-input, pin,
 * cache, then the router. Ends in lln__route_decide or the router call. */
void lln__route_choose(lln_run *r, const lln_node *from);

/* The choice is made: `decided` is pin, cache, router, default, no-input
 * or ambiguous. `hop` (NULL: a new one) gets decided and chose; the
 * decision is timed, counted, remembered (router, cache: the pin; router:
 * the cache) and the run goes on to `target`. */
void lln__route_decide(lln_run *r, const lln_node *target, const char *decided, cJSON *hop);

/* Routing could not decide (reason no_router, router_failed, router_reply
 * or ambiguous): the default target answers. */
void lln__route_default(lln_run *r, cJSON *hop, const char *reason);

/* The candidates as the router sees them: name and use-case (in the arena). */
lln_route_candidate *lln__route_candidates(const lln_run *r);

/* route_call.c: asks the router model to choose among the candidates. */
void lln__route_call(lln_run *r);
/* Makes the router call's request a stream read by route_call.c. */
void lln__route_call_prepare(lln_run *r, cJSON *body, lln_upstream_request *req);
/* The router call ended (any outcome). */
void lln__route_call_done(lln_run *r, const lln_upstream_response *resp);
/* Frees what the router calls kept. */
void lln__route_free(lln_run *r);

#endif
