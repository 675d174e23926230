/* function: running a user function a hook calls (docs/CONFIG.md "functions
 * and hooks") once, asynchronously, on a libuv loop; its definition, as
 * loaded from the composition, is config/function_def.h. Field values may
 * hold request variables ($INPUT, $NODE, ...), compiled once at load into
 * templates and rendered per call (hooks/expand_int.h): in argv elements as
 * plain text, in URLs percent-encoded, in a JSON body JSON-escaped. A value
 * is never expanded again. */
#ifndef LLN_HOOKS_FUNCTION_H
#define LLN_HOOKS_FUNCTION_H

#include <stddef.h>
#include <uv.h>

#include "config/function_def.h"
#include "upstream/client.h"

/* Looks up a request variable by name (without '$'); NULL when unset. */
typedef const char *(*lln_fn_lookup)(void *ctx, const char *name, size_t len);

typedef struct lln_fn_result {
  int ok;             /* exit status 0 (shell), a 2xx answer (rest), sent (and answered) (websocket) */
  const char *output; /* stdout, the response body or the reply message; NUL-terminated */
  size_t output_len;
  const char *error; /* why it failed (timeout, exit status, HTTP status...), or NULL */
} lln_fn_result;

typedef void (*lln_fn_done)(void *ud, const lln_fn_result *res);
typedef struct lln_fn_call lln_fn_call;

typedef struct lln_fn_request {
  uv_loop_t *loop;
  lln_upstream *upstream; /* for rest */
  const lln_function *fn;
  const char *payload; /* JSON given to a shell function on stdin */
  lln_fn_lookup lookup;
  void *lookup_ctx;
  lln_fn_done done; /* called exactly once unless cancelled */
  void *ud;
} lln_fn_request;

/* Starts the function. Returns NULL after calling `done` with the error
 * when it cannot start (no such program, bad URL ...). */
lln_fn_call *lln_fn_start(const lln_fn_request *req);
/* Stops a running call (a shell child and its children are killed); its
 * `done` is not called. */
void lln_fn_cancel(lln_fn_call *c);
/* Ends every function call still running on `loop` (detached ones: observe
 * hooks, ws sinks): shell process groups are killed, REST transfers and
 * websocket calls stopped, and each call's `done` reports
 * LLN_FN_SHUTDOWN_ERROR, so its owner frees what it holds. Call it on the
 * loop's thread before closing the loop's upstream client; the loop must
 * run on afterwards for the killed processes to be reaped. */
void lln_fn_loop_close(uv_loop_t *loop);
#define LLN_FN_SHUTDOWN_ERROR "cancelled: llmnet is shutting down"

#endif
