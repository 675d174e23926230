/* access_log: the one line llmnet writes per answered request: id, status,
 * latency, route, the model of each hop, tokens, cost and retries; the user's
 * text only when the operator turned --log-content on. */
#ifndef LLN_OBSERVE_ACCESS_LOG_H
#define LLN_OBSERVE_ACCESS_LOG_H

#include <cjson/cJSON.h>

typedef struct lln_access {
  const char *request_id;
  const char *door; /* the API the request came through (chat, responses, ...), or NULL */
  int status;
  double latency_ms;
  const char *route;
  const cJSON *hops; /* the run's trace, or NULL */
  long tokens;
  double cost_usd; /* what the upstream calls cost, summed (usage.cost), when cost_known */
  int cost_known;
  int streamed;
  const char *error; /* the error message sent, or NULL */
  const char *input; /* the user's text; logged only with --log-content */
} lln_access;

void lln_access_log_content(int on);
void lln_access_log(const lln_access *a);

#endif
