/* runner: the runners' internal interface, for function.c only. Every call a
 * runner hands out starts with `struct lln_fn_call` so lln_fn_cancel can find
 * its runner; the shell runner is in shell.c, the rest runner in rest.c. */
#ifndef LLN_HOOKS_RUNNER_H
#define LLN_HOOKS_RUNNER_H

#include "hooks/function.h"

struct lln_fn_call {
  lln_fn_type type;
};

/* Both follow lln_fn_start / lln_fn_cancel: NULL after `done` reported why
 * the call could not start; cancel suppresses `done`. */
lln_fn_call *lln_shell_start(const lln_fn_request *req);
void lln_shell_cancel(lln_fn_call *c);
lln_fn_call *lln_rest_start(const lln_fn_request *req);
void lln_rest_cancel(lln_fn_call *c);

/* The timeout a function runs under when its definition gives none. */
#define LLN_FN_DEFAULT_TIMEOUT_MS 10000L

#endif
