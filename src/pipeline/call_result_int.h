/* call_result: what one upstream call brought back, read for the flow: a
 * usable chat completion, or a failure as data for failover.h plus the
 * error the client would get. Internal to src/pipeline. */
#ifndef LLN_PIPELINE_CALL_RESULT_H
#define LLN_PIPELINE_CALL_RESULT_H

#include <cjson/cJSON.h>

#include "pipeline/failover_int.h"
#include "pipeline/run.h"
#include "upstream/client.h"
#include "util/buf.h"

typedef struct lln__call_error {
  lln_failure failure; /* kind, status, retryable, the upstream's wait */
  lln_run_error error; /* body.message is `why`; type/param/code point into `doc` */
  lln_buf why;
  cJSON *doc; /* the upstream's error body, parsed */
  char code_text[32];
} lln__call_error;

/* Reads a failed call of node `n` (model id `model_id`); free it with
 * lln__call_error_free. */
void lln__call_error_read(lln__call_error *ce, const lln_node *n, const char *model_id,
                          const lln_upstream_response *resp);
void lln__call_error_free(lln__call_error *ce);

/* A usable answer: a 2xx JSON object whose first choice has a message
 * (*message points into it); NULL otherwise. */
cJSON *lln__parse_completion(const lln_upstream_response *resp, const cJSON **message);

#endif
