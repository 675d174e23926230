/* function: starting and cancelling a user function call, whatever its type;
 * the work is done by the runners (shell.c, rest.c, websocket.c). Each
 * thread keeps the list of its loop's live shell and rest calls, so a
 * closing gateway can end the detached ones instead of leaking them or
 * waiting for them (websocket calls have their own list in websocket.c). */
#include "hooks/function.h"

#include "hooks/runner_int.h"

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

static _Thread_local lln_fn_call *live;

void lln__fn_track(lln_fn_call *c, uv_loop_t *loop) {
  if (c->tracked)
    return;
  c->loop = loop;
  c->tracked = 1;
  c->prev = NULL;
  c->next = live;
  if (live)
    live->prev = c;
  live = c;
}

void lln__fn_untrack(lln_fn_call *c) {
  if (!c->tracked)
    return;
  c->tracked = 0;
  if (c->prev)
    c->prev->next = c->next;
  else
    live = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

void lln_fn_loop_close(uv_loop_t *loop) {
  /* each abort may run a done that starts or ends other calls: rescan */
  for (;;) {
    lln_fn_call *c = live;
    while (c && c->loop != loop)
      c = c->next;
    if (!c)
      break;
    lln__fn_untrack(c);
    if (c->type == LLN_FN_SHELL)
      lln_shell_abort(c, LLN_FN_SHUTDOWN_ERROR);
    else if (c->type == LLN_FN_REST)
      lln_rest_abort(c, LLN_FN_SHUTDOWN_ERROR);
  }
  lln_ws_loop_close(loop);
}
