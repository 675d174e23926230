/* runner: the runners' internal interface, for function.c only. Every call a
 * runner hands out starts with `struct lln_fn_call` so lln_fn_cancel can find
 * its runner; the shell runner is in shell.c, the rest runner in rest.c,
 * the websocket runner in websocket.c. */
#ifndef LLN_HOOKS_RUNNER_H
#define LLN_HOOKS_RUNNER_H

#include "hooks/function.h"

struct lln_fn_call {
  lln_fn_type type;
  /* the loop's live shell and rest calls (lln__fn_track), so that
   * lln_fn_loop_close can end the detached ones */
  uv_loop_t *loop;
  struct lln_fn_call *prev, *next;
  int tracked;
};

/* A runner tracks a call once it has started and untracks it before its
 * `done` runs or when it is cancelled; both are idempotent. */
void lln__fn_track(lln_fn_call *c, uv_loop_t *loop);
void lln__fn_untrack(lln_fn_call *c);

/* Both follow lln_fn_start / lln_fn_cancel: NULL after `done` reported why
 * the call could not start; cancel suppresses `done`. */
lln_fn_call *lln_shell_start(const lln_fn_request *req);
void lln_shell_cancel(lln_fn_call *c);
lln_fn_call *lln_rest_start(const lln_fn_request *req);
void lln_rest_cancel(lln_fn_call *c);
/* End a tracked call at shutdown: its `done` reports `why` (a shell call's
 * once its killed process group has exited). */
void lln_shell_abort(lln_fn_call *c, const char *why);
void lln_rest_abort(lln_fn_call *c, const char *why);
lln_fn_call *lln_ws_start(const lln_fn_request *req);
void lln_ws_cancel(lln_fn_call *c);

/* Ends the websocket client on `loop` (its libwebsockets context, created by
 * the first websocket call on that loop, whose handles keep the loop alive):
 * calls still running report "cancelled: llmnet is shutting down". Call it
 * on the loop's own thread while the loop still runs or will run again (from
 * a callback, or before a last uv_run): freeing the context takes a few loop
 * iterations, after which uv_run can return. Harmless when no websocket call
 * ran on the loop, and when called twice. */
void lln_ws_loop_close(uv_loop_t *loop);

/* The timeout a function runs under when its definition gives none. */
#define LLN_FN_DEFAULT_TIMEOUT_MS 10000L

#endif
