/* call_headers: the request headers of a call to a model entry, as the
 * pipeline's model calls and POST /v1/embeddings send them: the entry's key
 * as a bearer token, llmnet's request id, the conversation's session id
 * (when known) and the entry's own "headers". */
#ifndef LLN_UPSTREAM_CALL_HEADERS_H
#define LLN_UPSTREAM_CALL_HEADERS_H

#include "config/config.h"

/* "Name: value" lines, NULL-terminated, the array and its lines in one heap block;
 * `session` may be NULL. Free with lln_call_headers_free. */
char **lln_call_headers(const lln_model *ep, const char *request_id, const char *session);
void lln_call_headers_free(char **headers);

#endif
