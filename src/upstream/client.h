/* upstream client: outbound HTTP(S) calls on a libuv loop through one curl
 * multi handle per loop, so connections (and TLS sessions) are reused across
 * requests and nothing blocks the loop. */
#ifndef LLN_UPSTREAM_CLIENT_H
#define LLN_UPSTREAM_CLIENT_H

#include <stddef.h>
#include <uv.h>

typedef struct lln_upstream lln_upstream;
typedef struct lln_upstream_call lln_upstream_call;

typedef enum {
  LLN_UP_OK = 0,  /* a complete HTTP response arrived (any status) */
  LLN_UP_TIMEOUT, /* connect or total timeout expired */
  LLN_UP_CONNECT, /* could not resolve or connect */
  LLN_UP_ERROR,   /* any other transfer failure (reset, TLS, bad framing) */
} lln_up_result;

typedef struct lln_upstream_response {
  lln_up_result result;
  long status;      /* HTTP status, 0 when no response */
  const char *body; /* NUL-terminated; empty when streaming */
  size_t body_len;
  const char *retry_after;      /* Retry-After header value or NULL */
  const char *rate_limit_reset; /* X-RateLimit-Reset header value or NULL */
  const char *error;            /* human-readable transfer error or NULL */
  double elapsed_ms;
} lln_upstream_response;

typedef struct lln_upstream_request {
  const char *method; /* NULL = POST */
  const char *url;
  const char *const *headers; /* NULL-terminated "Name: value" lines */
  const char *body;
  size_t body_len;
  long timeout_ms;            /* total; 0 = none */
  long connect_timeout_ms;    /* 0 = curl default */
  long first_byte_timeout_ms; /* until the status line arrives; 0 = none */
  size_t max_body;            /* a collected body's bound in bytes; 0 = LLN_UP_MAX_BODY (64 MiB) */
  /* Streaming: when set, body bytes of a 2xx response go here as they
   * arrive instead of being collected; return 0 to go on, 1 to pause the
   * transfer (resume with lln_upstream_resume). */
  int (*on_data)(void *ud, const char *data, size_t len);
  /* Always called exactly once, unless the call was cancelled. */
  void (*on_done)(void *ud, const lln_upstream_response *resp);
  void *ud;
} lln_upstream_request;

int lln_upstream_init(lln_upstream **out, uv_loop_t *loop);
/* Aborts every call still running (their on_done is not called) and closes
 * the libuv handles; the loop must run once more to finish closing. */
void lln_upstream_close(lln_upstream *u);

/* Starts a call. The request's strings are copied; returns NULL only when
 * curl refuses the handle (then on_done is not called). */
lln_upstream_call *lln_upstream_start(lln_upstream *u, const lln_upstream_request *req);
/* Stops a running call; its on_done is not called. */
void lln_upstream_cancel(lln_upstream_call *c);
void lln_upstream_resume(lln_upstream_call *c);

#endif
