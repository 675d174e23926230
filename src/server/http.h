/* http: an HTTP/1.1 server on a libuv loop (llhttp parsing, keep-alive,
 * pipelined requests answered in order, limits on header and body size,
 * chunked streaming responses). It knows nothing of what requests mean: a
 * handler gets each complete request and answers it, now or later. */
#ifndef LLN_SERVER_HTTP_H
#define LLN_SERVER_HTTP_H

#include <stddef.h>
#include <uv.h>

#include "util/arena.h"
#include "util/openai_error.h"

typedef struct lln_http_server lln_http_server;
typedef struct lln_http_request lln_http_request;

typedef struct lln_http_header {
  const char *name;
  const char *value;
} lln_http_header;

struct lln_http_request {
  const char *method;
  const char *path;  /* without the query string */
  const char *query; /* after '?', or NULL */
  lln_http_header *headers;
  size_t header_count;
  const char *body; /* NUL-terminated */
  size_t body_len;
  lln_arena *arena; /* freed once the response is sent */
  /* Set by the handler: called when the client goes away before the
   * response ended. The handler must release its state and must not answer. */
  void (*on_abort)(lln_http_request *req);
  /* Set by a streaming handler: called when the bytes the connection's
   * output holds fall below LLN_HTTP_DRAINED after a write completes, so a
   * paused source resumes. */
  void (*on_drain)(lln_http_request *req);
  void *user;
};

#define LLN_HTTP_DRAINED (64 * 1024)

typedef void (*lln_http_handler)(void *ctx, lln_http_request *req);
/* Called when a request's headers are complete, before its body is read
 * (and before any 100 Continue): returns 1 to read the body, 0 to hand the
 * request to the handler at once with an empty body, not kept alive, the
 * rest of the upload read and dropped (an unauthenticated upload costs no
 * memory). The handler must then answer it with a refusal. */
typedef int (*lln_http_admit)(void *ctx, const lln_http_request *req);

typedef struct lln_http_limits {
  size_t max_header_bytes;    /* request line + headers; over it: 431 */
  size_t max_body_bytes;      /* over it: 413 */
  unsigned idle_timeout_ms;   /* a keep-alive connection with no request is closed */
  unsigned header_timeout_ms; /* from a request's first byte to its last header; over it: 408 */
  unsigned body_timeout_ms;   /* from the last header to the end of the body; over it: 408 */
  unsigned max_connections;   /* more are answered 503 and closed; 0 = no limit */
  unsigned write_timeout_ms;  /* queued response bytes that make no progress this long: closed */
  /* Listen on this server's socket (a worker sharing the first worker's
   * port) instead of binding one: only llmnet's own workers share the
   * port, and another process binding it gets "address in use". */
  const lln_http_server *share;
} lln_http_limits;

void lln_http_limits_default(lln_http_limits *l);

/* Listens on addr:port (port 0 = any free port). On failure returns a
 * negative libuv error and writes a message into err. */
int lln_http_server_start(lln_http_server **out, uv_loop_t *loop, const char *addr, int port,
                          const lln_http_limits *limits, lln_http_handler handler, void *ctx, char *err,
                          size_t err_size);
int lln_http_server_port(const lln_http_server *s);
/* Sets the check run at the end of each request's headers (NULL: none). */
void lln_http_server_set_admit(lln_http_server *s, lln_http_admit admit);
/* Open connections across every server in the process. */
size_t lln_http_connections_total(void);
/* Every response from now on closes its connection (Connection: close),
 * while the server still accepts: a drain announced ahead, so that no idle
 * keep-alive connection is left for a load balancer to reuse when the
 * listener closes. */
void lln_http_server_close_each(lln_http_server *s);
/* Stops accepting, closes idle connections and closes the others once their
 * current response has gone out; calls on_empty when none is left. */
void lln_http_server_drain(lln_http_server *s, void (*on_empty)(void *ud), void *ud);
/* Stops listening and closes every connection (pending requests are
 * aborted); the loop must run once more to finish closing. */
void lln_http_server_close(lln_http_server *s);

/* Case-insensitive header lookup; NULL when absent. */
const char *lln_http_header_get(const lln_http_request *req, const char *name);

/* Sends a whole response. `headers` is NULL or a NULL-terminated list of
 * "Name: value" lines. The request is gone after this call. */
void lln_http_respond(lln_http_request *req, int status, const char *content_type, const char *const *headers,
                      const char *body, size_t len);
/* Sends an error in the OpenAI shape: {"error":{"message","type","param","code"}},
 * with `x-should-retry: false` unless `headers` says otherwise. */
void lln_http_respond_error(lln_http_request *req, int status, const char *const *headers,
                            const char *message);
/* The same with every field of the error given (param, code, a relayed type). */
void lln_http_respond_openai_error(lln_http_request *req, const char *const *headers,
                                   const lln_openai_error *e);
/* An error whose JSON body is already written (another API's error shape),
 * with `x-should-retry: false` unless `headers` says otherwise. */
void lln_http_respond_error_body(lln_http_request *req, int status, const char *const *headers,
                                 const char *body, size_t len);

/* Streaming: begin sends the head (chunked), write sends one chunk and
 * returns the bytes the connection's output holds (gathered, queued, or
 * written but not yet completed: for back-pressure), end finishes the
 * response; the request is gone after end. Chunks written in one loop turn
 * go out together, before the loop next waits for I/O. */
void lln_http_stream_begin(lln_http_request *req, int status, const char *content_type,
                           const char *const *headers);
size_t lln_http_stream_write(lln_http_request *req, const char *data, size_t len);
/* One chunk made of n parts (no copy of them before the send buffer). */
size_t lln_http_stream_writev(lln_http_request *req, const uv_buf_t *parts, size_t n);
void lln_http_stream_end(lln_http_request *req);
/* Drops the connection without finishing the response (on_abort is not
 * called); the request is gone after this call. For simulating failures. */
void lln_http_abort(lln_http_request *req);

const char *lln_http_status_text(int status);

#endif
