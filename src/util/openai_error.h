/* openai_error: the error object OpenAI clients understand, with the type
 * and code that fit each HTTP status. */
#ifndef LLN_UTIL_OPENAI_ERROR_H
#define LLN_UTIL_OPENAI_ERROR_H

#include "util/buf.h"

/* Appends {"error":{"message":...,"type":...,"param":null,"code":...}}. */
void lln_openai_error_json(lln_buf *out, int status, const char *message);

#endif
