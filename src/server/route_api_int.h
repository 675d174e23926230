/* route_api: the answer of POST /v1/llmnet/route, the routing decision a
 * chat completion request would get, without calling any handler. The
 * gateway runs the request with route_only set and hands the result here.
 * Internal to src/server. */
#ifndef LLN_SERVER_ROUTE_API_INT_H
#define LLN_SERVER_ROUTE_API_INT_H

#include "pipeline/run.h"
#include "server/http.h"

/* The path and the one method it takes. */
#define LLN_ROUTE_API_PATH "/v1/llmnet/route"

/* Answers `req` with the decision in `res` (status 200), or with the run's
 * error in OpenAI's shape. `latency_ms`: from the request to the decision. */
void lln__route_api_respond(lln_http_request *req, const char *const *headers, const lln_run_result *res,
                            double latency_ms);

#endif
