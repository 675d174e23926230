/* rest: the rest function runner. Expands the definition for one call (values
 * percent-encoded in the URL, stripped of control characters in headers,
 * JSON-escaped in the body) and sends it through the upstream client, which
 * copies every string, so nothing expanded outlives lln_rest_start. */
#include "hooks/runner_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hooks/expand_int.h"

typedef struct rest_call {
  struct lln_fn_call head;
  lln_upstream_call *up;
  lln_fn_done done;
  void *ud;
  long timeout_ms;
} rest_call;

static void report(lln_fn_done done, void *ud, int ok, const char *output, size_t len, const char *error) {
  lln_fn_result r = {
      .ok = ok, .output = output ? output : "", .output_len = output ? len : 0, .error = error};
  done(ud, &r);
}

static void on_up_done(void *ud, const lln_upstream_response *resp) {
  rest_call *c = ud;
  lln__fn_untrack(&c->head);
  lln_buf msg;
  lln_buf_init(&msg);
  int ok = 0;
  switch (resp->result) {
  case LLN_UP_OK:
    ok = resp->status >= 200 && resp->status < 300;
    if (!ok)
      lln_buf_printf(&msg, "HTTP %ld", resp->status);
    break;
  case LLN_UP_TIMEOUT: lln_buf_printf(&msg, "timed out after %g s", (double)c->timeout_ms / 1000.0); break;
  case LLN_UP_CONNECT:
    lln_buf_printf(&msg, "cannot connect: %s", resp->error ? resp->error : "connection failed");
    break;
  case LLN_UP_ERROR:
    lln_buf_printf(&msg, "request failed: %s", resp->error ? resp->error : "transfer error");
    break;
  }
  report(c->done, c->ud, ok, resp->body, resp->body_len, ok ? NULL : msg.data);
  lln_buf_free(&msg);
  free(c);
}

static int has_content_type(char *const *headers) {
  static const char name[] = "content-type";
  for (char *const *h = headers; h && *h; h++) {
    const char *p = *h;
    while (*p == ' ' || *p == '\t')
      p++;
    if (strncasecmp(p, name, sizeof name - 1) == 0) {
      p += sizeof name - 1;
      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == ':')
        return 1;
    }
  }
  return 0;
}

lln_fn_call *lln_rest_start(const lln_fn_request *req) {
  const lln_function *fn = req->fn;
  if (!fn->url || !*fn->url) {
    report(req->done, req->ud, 0, NULL, 0, "the rest function has no url");
    return NULL;
  }
  if (!req->upstream) {
    report(req->done, req->ud, 0, NULL, 0, "no HTTP client is available for rest functions");
    return NULL;
  }
  lln_buf url, body;
  lln_buf_init(&url);
  lln_buf_init(&body);
  lln_expand_field(fn->t_url, fn->url, LLN_EXPAND_URL, req->lookup, req->lookup_ctx, &url);
  int has_body = fn->body != NULL;
  if (has_body)
    lln_expand_field(fn->t_body, fn->body, LLN_EXPAND_JSON, req->lookup, req->lookup_ctx, &body);

  size_t n = 0;
  while (fn->headers && fn->headers[n])
    n++;
  /* one extra slot for the content type, one for the terminator */
  lln_buf *hbufs = calloc(n + 1, sizeof *hbufs);
  const char **headers = calloc(n + 2, sizeof *headers);
  if (!hbufs || !headers)
    abort();
  size_t k = 0;
  for (; k < n; k++) {
    lln_buf_init(&hbufs[k]);
    lln_expand_field(fn->t_headers ? fn->t_headers[k] : NULL, fn->headers[k], LLN_EXPAND_HEADER, req->lookup,
                     req->lookup_ctx, &hbufs[k]);
    headers[k] = hbufs[k].data;
  }
  if (has_body && !has_content_type(fn->headers))
    headers[k++] = "Content-Type: application/json";
  headers[k] = NULL;

  rest_call *c = calloc(1, sizeof *c);
  if (!c)
    abort();
  c->head.type = LLN_FN_REST;
  c->done = req->done;
  c->ud = req->ud;
  c->timeout_ms = fn->timeout_ms > 0 ? fn->timeout_ms : LLN_FN_DEFAULT_TIMEOUT_MS;

  lln_upstream_request ur;
  memset(&ur, 0, sizeof ur);
  ur.method = fn->method && *fn->method ? fn->method : (has_body ? "POST" : "GET");
  ur.url = url.data;
  ur.headers = headers;
  ur.body = has_body ? body.data : NULL;
  ur.body_len = has_body ? body.len : 0;
  ur.timeout_ms = c->timeout_ms;
  ur.on_done = on_up_done;
  ur.ud = c;
  c->up = lln_upstream_start(req->upstream, &ur);

  lln_buf_free(&url);
  lln_buf_free(&body);
  for (size_t i = 0; i < n; i++)
    lln_buf_free(&hbufs[i]);
  free(hbufs);
  free(headers);
  if (!c->up) {
    free(c);
    /* the URL is left out: it may carry a key in its query */
    report(req->done, req->ud, 0, NULL, 0, "cannot start the HTTP request (is the url valid?)");
    return NULL;
  }
  lln__fn_track(&c->head, req->loop);
  return &c->head;
}

void lln_rest_cancel(lln_fn_call *call) {
  rest_call *c = (rest_call *)call;
  lln__fn_untrack(&c->head);
  lln_upstream_cancel(c->up);
  free(c);
}

void lln_rest_abort(lln_fn_call *call, const char *why) {
  rest_call *c = (rest_call *)call;
  lln__fn_untrack(&c->head);
  lln_upstream_cancel(c->up);
  report(c->done, c->ud, 0, NULL, 0, why);
  free(c);
}
