/* workers: the data plane's threads. Each worker owns a libuv loop, a
 * handle on the one listening socket (the first worker binds it, the others
 * accept from a duplicate of it, so no other process can share the port),
 * its own curl multi handle and gateway, so workers share no connection.
 * What they share (the composition's reference count, per-model breakers
 * and queue counts, the in-flight and connection counts) is atomics; the
 * request path's only locks are short: the worker's own metrics table,
 * stderr for a log line, and the in-process rate-limit table for a
 * rate-limited model. The control thread (signals, reloads) talks to them
 * through a mailbox under a mutex and uv_async. */
#ifndef LLN_SERVER_WORKERS_H
#define LLN_SERVER_WORKERS_H

#include <stddef.h>
#include <uv.h>

#include "config/shared.h"

typedef struct lln_workers lln_workers;

typedef struct lln_workers_options {
  uv_loop_t *control;        /* the control thread's loop: on_drained runs there */
  lln_shared_config *config; /* retained by every worker */
  const char *addr;
  int port;       /* 0: any free port, the same for every worker */
  unsigned count; /* 0: one per core */
  void (*on_drained)(void *ud);
  void *ud;
} lln_workers_options;

/* Starts the workers; returns 0, or -1 with err filled (nothing left
 * running). */
int lln_workers_start(lln_workers **out, const lln_workers_options *o, char *err, size_t err_size);
int lln_workers_port(const lln_workers *w);
unsigned lln_workers_count(const lln_workers *w);
/* New requests on every worker run on `sc` (retained by each). */
void lln_workers_reload(lln_workers *w, lln_shared_config *sc);
/* Every worker answers GET /ready with 503 and closes each connection
 * after its response, still accepting and serving (the drain announced
 * for server.drain-delay before lln_workers_drain). */
void lln_workers_unready(lln_workers *w);
/* Every worker stops accepting and finishes its requests; on_drained runs
 * on the control loop once all are done. */
void lln_workers_drain(lln_workers *w);
/* Closes everything still open, joins the threads and frees. */
void lln_workers_stop(lln_workers *w);

#endif
