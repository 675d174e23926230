/* openai_error: maps HTTP statuses to OpenAI's error types so SDKs raise
 * the exception class users expect (RateLimitError, AuthenticationError...). */
#include "util/openai_error.h"

#include <string.h>

#include "util/secrets.h"

static void type_and_code(int status, const char **type, const char **code) {
  switch (status) {
  case 400: *type = "invalid_request_error", *code = "invalid_request"; break;
  case 401: *type = "authentication_error", *code = "invalid_api_key"; break;
  case 403: *type = "permission_error", *code = "forbidden"; break;
  case 404: *type = "invalid_request_error", *code = "not_found"; break;
  case 405: *type = "invalid_request_error", *code = "method_not_allowed"; break;
  case 408: *type = "invalid_request_error", *code = "request_timeout"; break;
  case 413: *type = "invalid_request_error", *code = "request_too_large"; break;
  case 415: *type = "invalid_request_error", *code = "unsupported_media_type"; break;
  case 422: *type = "invalid_request_error", *code = "unprocessable"; break;
  case 429: *type = "rate_limit_error", *code = "rate_limit_exceeded"; break;
  case 431: *type = "invalid_request_error", *code = "headers_too_large"; break;
  case 502: *type = "upstream_error", *code = "bad_gateway"; break;
  case 503: *type = "server_error", *code = "unavailable"; break;
  case 504: *type = "timeout_error", *code = "upstream_timeout"; break;
  default: *type = status >= 500 ? "server_error" : "invalid_request_error", *code = NULL; break;
  }
}

static void put_string_or_null(lln_buf *out, const char *s) {
  if (s)
    lln_buf_json_string(out, s, strlen(s));
  else
    lln_buf_puts(out, "null");
}

void lln_openai_error_json_ex(lln_buf *out, const lln_openai_error *e) {
  const char *type, *code;
  type_and_code(e->status, &type, &code);
  lln_buf_puts(out, "{\"error\":{\"message\":");
  /* every error a client reads passes here: a secret an upstream quoted in
   * a mid-stream error event or a 200 error body is scrubbed too */
  lln_buf clean;
  lln_buf_init(&clean);
  const char *msg = e->message ? e->message : "";
  lln_secrets_scrub(msg, strlen(msg), &clean);
  lln_buf_json_string(out, clean.data ? clean.data : "", clean.len);
  lln_buf_free(&clean);
  lln_buf_puts(out, ",\"type\":");
  put_string_or_null(out, e->type ? e->type : type); /* a type is never null */
  lln_buf_puts(out, ",\"param\":");
  put_string_or_null(out, e->param);
  lln_buf_puts(out, ",\"code\":");
  put_string_or_null(out, e->code || e->relayed ? e->code : code);
  lln_buf_puts(out, "}}");
}

void lln_openai_error_json(lln_buf *out, int status, const char *message) {
  lln_openai_error e = {.status = status, .message = message};
  lln_openai_error_json_ex(out, &e);
}
