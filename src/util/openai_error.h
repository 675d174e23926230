/* openai_error: the error object OpenAI clients understand, with the type
 * and code that fit each HTTP status, and whether a client should retry. */
#ifndef LLN_UTIL_OPENAI_ERROR_H
#define LLN_UTIL_OPENAI_ERROR_H

#include "util/buf.h"

/* The longest upstream error message relayed to a client; longer ones are
 * cut (an error body is for reading, not for carrying data). */
#define LLN_UPSTREAM_MESSAGE_MAX 2000

/* An error as the client sees it. Only `status` and `message` are
 * required; NULL `type`/`code` take the ones that fit the status, NULL
 * `param` is JSON null. `relayed`: type, param and code are an upstream's,
 * kept as they came (NULL stays null). */
typedef struct lln_openai_error {
  int status;
  const char *message;
  const char *type;
  const char *param;
  const char *code;
  int relayed;
} lln_openai_error;

/* Appends {"error":{"message":...,"type":...,"param":null,"code":...}}. */
void lln_openai_error_json(lln_buf *out, int status, const char *message);
/* The same with the upstream's type, param and code kept. */
void lln_openai_error_json_ex(lln_buf *out, const lln_openai_error *e);

#endif
