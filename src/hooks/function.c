/* function: starting and cancelling a user function call, whatever its type;
 * the work is done by the runners (shell.c, rest.c, websocket.c). */
#include "hooks/function.h"

#include "hooks/runner.h"

static lln_fn_call *fail(const lln_fn_request *req, const char *error) {
  lln_fn_result r = {.ok = 0, .output = "", .output_len = 0, .error = error};
  req->done(req->ud, &r);
  return NULL;
}

lln_fn_call *lln_fn_start(const lln_fn_request *req) {
  if (!req || !req->done)
    return NULL;
  if (!req->loop || !req->fn)
    return fail(req, "function call without a loop or a definition");
  switch (req->fn->type) {
  case LLN_FN_SHELL: return lln_shell_start(req);
  case LLN_FN_REST: return lln_rest_start(req);
  case LLN_FN_WEBSOCKET: return lln_ws_start(req);
  case LLN_FN_GRPC: return fail(req, "the grpc function type is not supported by this build");
  }
  return fail(req, "unknown function type");
}

void lln_fn_cancel(lln_fn_call *c) {
  if (!c)
    return;
  switch (c->type) {
  case LLN_FN_SHELL: lln_shell_cancel(c); break;
  case LLN_FN_REST: lln_rest_cancel(c); break;
  case LLN_FN_WEBSOCKET: lln_ws_cancel(c); break;
  default: break;
  }
}
