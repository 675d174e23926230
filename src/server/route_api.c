/* route_api: POST /v1/llmnet/route's answer. A chat completion request body
 * goes in; the routing decision comes out, without any handler being
 * called:
 *   {"route": ["router", "technical-handler"], "decided": "router",
 *    "router_input": "...", "latency_ms": 12.3, "session": "...",
 *    "router_calls": 1}
 * `decided` uses the vocabulary of the response trace and the metrics
 * (condition, pin, cache, router, default, no-input, ambiguous, model,
 * single); it, router_input and session are null when the run has none. */
#include "server/route_api_int.h"

#include <string.h>

#include "util/buf.h"
#include "util/openai_error.h"

static void json_string_or_null(lln_buf *b, const char *s) {
  if (s)
    lln_buf_json_string(b, s, strlen(s));
  else
    lln_buf_puts(b, "null");
}

/* "a>b>c" as ["a","b","c"]. */
static void route_array(lln_buf *b, const char *route) {
  lln_buf_putc(b, '[');
  for (const char *p = route; p && *p;) {
    size_t n = strcspn(p, ">");
    if (p != route)
      lln_buf_putc(b, ',');
    lln_buf_json_string(b, p, n);
    p += n + (p[n] == '>');
  }
  lln_buf_putc(b, ']');
}

void lln__route_api_respond(lln_http_request *req, const char *const *headers, const lln_run_result *res,
                            double latency_ms) {
  if (res->status != 200) {
    lln_openai_error plain = {.status = res->status, .message = res->error ? res->error : ""};
    lln_http_respond_openai_error(req, headers, res->error_body ? res->error_body : &plain);
    return;
  }
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_puts(&b, "{\"route\":");
  route_array(&b, res->route);
  lln_buf_puts(&b, ",\"decided\":");
  json_string_or_null(&b, res->decided);
  lln_buf_puts(&b, ",\"router_input\":");
  json_string_or_null(&b, res->router_input);
  lln_buf_printf(&b, ",\"latency_ms\":%.3f,\"session\":", latency_ms);
  json_string_or_null(&b, res->session);
  lln_buf_printf(&b, ",\"router_calls\":%d}", res->router_calls);
  lln_http_respond(req, 200, "application/json", headers, b.data, b.len);
  lln_buf_free(&b);
}
