/* door_int: what the gateway's files share: response header lists, the
 * composition a request holds, CORS, request ids, the in-flight count and
 * serving a request through a door (door_run.c) found in the door table
 * (doors_table.c). Internal to src/server. */
#ifndef LLN_SERVER_DOOR_INT_H
#define LLN_SERVER_DOOR_INT_H

#include <stdarg.h>

#include "doors/door.h"
#include "server/gateway_int.h"
#include "server/http.h"

/* This worker's hold on a shared composition; each request holds the one
 * it started on, so a reload never changes a request midway. */
struct lln_generation {
  lln_shared_config *sc;
  const lln_config *cfg;
  int refs;
};
void lln__gen_release(lln_generation *gen);

/* Response headers: a few fixed lines plus CORS when configured. */
typedef struct lln__headers {
  const char *line[12];
  size_t n;
  char store[6][520];
  size_t stored;
} lln__headers;

void lln__hdr_add(lln__headers *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lln__hdr_fixed(lln__headers *h, const char *line);
void lln__add_cors(const lln_gateway *g, const lln_http_request *req, lln__headers *h);

/* A path the door table serves: POST only. */
typedef struct lln__door_path {
  const char *path;
  const char *alt; /* the same without /v1, or NULL */
  const lln_door *door;
} lln__door_path;

/* The door serving `path`, or NULL. */
const lln_door *lln__door_for(const char *path);
/* The doors' paths, for the 404 message ("POST /v1/chat/completions, ..."). */
void lln__door_paths(char *out, size_t size);

/* Serves a POST through `door`; route_only: POST /v1/llmnet/route. */
void lln__door_serve(lln_gateway *g, lln_http_request *req, lln__headers *h, const lln_door *door,
                     int route_only);
/* An error answer in `door`'s shape (NULL door: OpenAI's). */
void lln__door_respond_error(lln_http_request *req, const lln_door *door, const char *const *headers,
                             int status, const char *message);
/* Requests in flight across every worker. */
long lln__in_flight(void);
/* Shutdown: every request of `g` still running ends with an error. */
void lln__door_abort_all(lln_gateway *g, const char *message);

#endif
