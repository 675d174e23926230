/* fuzz_http: the inbound HTTP/1.1 server (src/server/http.h) end to end,
 * over a real loopback socket. Every byte a client sends reaches this code
 * first, so request parsing, pipelining, keep-alive, the header and body
 * limits (431/413), chunked request bodies, Expect: 100-continue, early
 * client close and streamed responses must never crash, leak or trip a
 * sanitizer.
 *
 * LLVMFuzzerInitialize starts one server on 127.0.0.1, port 0, with small
 * limits so short inputs reach them. Its handler answers by path:
 *   /stream        chunked response echoing the body (async ticks if a query)
 *   /async...      answered on a 0 ms timer, with on_abort set
 *   /late...       answered on a 0 ms timer without on_abort (the handler
 *                  keeps the request if the client leaves, answers into void)
 *   /error...      an OpenAI-shaped 400
 *   /drop...       lln_http_abort: the connection is dropped unanswered
 *   anything else  a small 200 at once
 * Each input is one connection: the bytes are written in one to four pieces
 * cut at points derived from the input (the loop runs between pieces), the
 * write side is usually shut down (not for one input in four, which then
 * ends by closing the socket once the server is quiet), and the loop runs in
 * bounded UV_RUN_NOWAIT turns while everything the server sends is read and
 * dropped. The input ends only when the server has closed the connection and
 * released every handle, so no state leaks into the next input; a connection
 * the server never releases is reported as a crash. With LLN_FUZZ_VERBOSE
 * set, what the server sends is copied to stderr (to look at one input). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "server/http.h"

#define MAX_TURNS 4000  /* loop turns per input while the client talks */
#define QUIET_TURNS 4   /* turns without progress that count as "the server waits" */
#define CLOSE_TURNS 400 /* loop turns for the server to release a closed connection */
#define STREAM_TICKS 3

static uv_loop_t loop;
static lln_http_server *server;
static int server_port;
static int base_handles;
static int live_pending;
static int verbose; /* LLN_FUZZ_VERBOSE=1: print what the server sends (to replay one input) */

/* ---- the handler ---- */

typedef struct pending {
  uv_timer_t timer;
  lln_http_request *req; /* NULL once aborted */
  int streaming;
  int ticks;
} pending;

static void pending_closed(uv_handle_t *h) {
  free(h->data);
  live_pending--;
}

static void pending_finish(pending *p) {
  p->req = NULL;
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, pending_closed);
}

static void on_abort(lln_http_request *req) {
  pending *p = req->user;
  if (!p || !p->req)
    abort(); /* aborted twice, or a request we never deferred */
  pending_finish(p);
}

static void on_drain(lln_http_request *req) { (void)req; }

static void on_tick(uv_timer_t *t) {
  pending *p = t->data;
  lln_http_request *req = p->req;
  if (!req)
    abort(); /* an aborted request's timer must be stopped */
  if (p->streaming && p->ticks-- > 0) {
    char line[64];
    int n = snprintf(line, sizeof line, "data: tick %d\n\n", p->ticks);
    lln_http_stream_write(req, line, (size_t)n);
    /* The write may fail and close the connection, aborting the request. */
    if (p->req)
      uv_timer_start(&p->timer, on_tick, 0, 0);
    return;
  }
  /* Clear our state first: answering frees the request, and on a
   * keep-alive connection may dispatch the next pipelined one at once. */
  req->on_abort = NULL;
  req->user = NULL;
  int streaming = p->streaming;
  pending_finish(p);
  if (streaming)
    lln_http_stream_end(req);
  else
    lln_http_respond(req, 200, "text/plain", NULL, "later\n", 6);
}

static void defer(lln_http_request *req, int streaming, int with_abort) {
  pending *p = calloc(1, sizeof *p);
  if (!p)
    abort();
  live_pending++;
  p->req = req;
  p->streaming = streaming;
  p->ticks = STREAM_TICKS;
  uv_timer_init(&loop, &p->timer);
  p->timer.data = p;
  req->user = p;
  if (with_abort)
    req->on_abort = on_abort;
  uv_timer_start(&p->timer, on_tick, 0, 0);
}

/* What the server promises a handler about a parsed request. */
static void check_request(const lln_http_request *req) {
  if (!req->method || !req->path || !req->body || req->body[req->body_len] != '\0' || !req->arena)
    abort();
  if (req->header_count > 128 || (req->header_count && !req->headers))
    abort();
  for (size_t i = 0; i < req->header_count; i++) {
    if (!req->headers[i].name || !req->headers[i].value)
      abort();
  }
  if (req->header_count && lln_http_header_get(req, req->headers[0].name) == NULL)
    abort();
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static void handler(void *ctx, lln_http_request *req) {
  (void)ctx;
  check_request(req);
  if (strcmp(req->path, "/stream") == 0) {
    static const char *const extra[] = {"Cache-Control: no-cache", NULL};
    lln_http_stream_begin(req, 200, "text/event-stream", extra);
    size_t half = req->body_len / 2;
    lln_http_stream_write(req, req->body, half);
    lln_http_stream_write(req, req->body + half, req->body_len - half);
    if (req->query) {
      req->on_drain = on_drain;
      defer(req, 1, 1);
    } else {
      lln_http_stream_end(req);
    }
  } else if (starts(req->path, "/async")) {
    defer(req, 0, 1);
  } else if (starts(req->path, "/late")) {
    defer(req, 0, 0);
  } else if (starts(req->path, "/drop")) {
    lln_http_abort(req);
  } else if (starts(req->path, "/error")) {
    lln_http_respond_error(req, 400, NULL, "fuzz: bad request");
  } else {
    static const char *const extra[] = {"X-Fuzz: 1", NULL};
    lln_http_respond(req, 200, "application/json", extra, "{\"ok\":true}", 11);
  }
}

/* ---- setup ---- */

static void count_handle(uv_handle_t *h, void *arg) {
  (void)h;
  (*(int *)arg)++;
}

static int handle_count(void) {
  int n = 0;
  uv_walk(&loop, count_handle, &n);
  return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  verbose = getenv("LLN_FUZZ_VERBOSE") != NULL;
  signal(SIGPIPE, SIG_IGN); /* writes to a peer that left must fail, not kill */
  if (uv_loop_init(&loop) != 0)
    abort();
  lln_http_limits limits;
  lln_http_limits_default(&limits);
  limits.max_header_bytes = 2048;
  limits.max_body_bytes = 4096;
  char err[256];
  if (lln_http_server_start(&server, &loop, "127.0.0.1", 0, &limits, handler, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "fuzz_http: %s\n", err);
    abort();
  }
  server_port = lln_http_server_port(server);
  base_handles = handle_count();
  return 0;
}

/* ---- one client connection per input ---- */

static uint64_t hash(const uint8_t *data, size_t size) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

static int client_connect(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    abort();
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* A loopback connect completes in the kernel's backlog: it does not wait
   * for the loop to accept. */
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  /* libFuzzer's SIGALRM (its -timeout check) can interrupt connect, which
   * then completes on its own: wait for it rather than call it a failure. */
  while (rc != 0 && (errno == EINTR || errno == EINPROGRESS || errno == EALREADY)) {
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    poll(&pfd, 1, 100);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc != 0 && errno == EISCONN)
      rc = 0;
  }
  if (rc != 0) {
    perror("fuzz_http: connect");
    abort();
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/* Reads and drops what the server sent; returns 1 once it has closed. */
static int drain(int fd, int *progress) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      if (verbose)
        fwrite(buf, 1, (size_t)n, stderr);
      *progress = 1;
      continue;
    }
    if (n == 0)
      return 1;
    if (errno == EINTR)
      continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t h = hash(data, size);
  size_t n_pieces = 1 + (h & 3);
  int shut_write = ((h >> 2) & 3) != 0;
  size_t ends[4];
  for (size_t i = 0; i + 1 < n_pieces; i++)
    ends[i] = (size_t)((h >> (8 + 14 * i)) % (size + 1));
  ends[n_pieces - 1] = size;
  for (size_t i = 1; i < n_pieces; i++) { /* insertion sort: ascending ends */
    for (size_t j = i; j > 0 && ends[j - 1] > ends[j]; j--) {
      size_t t = ends[j];
      ends[j] = ends[j - 1];
      ends[j - 1] = t;
    }
  }

  int fd = client_connect();
  size_t at = 0, piece = 0;
  int shut = 0, closed = 0, quiet = 0;
  for (int turn = 0; turn < MAX_TURNS && !closed; turn++) {
    int progress = 0;
    if (piece < n_pieces) {
      if (at < ends[piece]) {
        ssize_t n = write(fd, data + at, ends[piece] - at);
        if (n > 0) {
          at += (size_t)n;
          progress = 1;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          piece = n_pieces; /* the server closed: stop writing, read what is left */
          at = size;
        }
      }
      if (piece < n_pieces && at >= ends[piece])
        piece++;
    } else if (shut_write && !shut) {
      shutdown(fd, SHUT_WR);
      shut = 1;
      progress = 1;
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    closed = drain(fd, &progress);
    quiet = progress ? 0 : quiet + 1;
    /* Everything sent, the server neither answers nor closes and none of
     * our deferred answers is due: it waits for bytes that will not come. */
    if (piece >= n_pieces && (!shut_write || shut) && quiet >= QUIET_TURNS && live_pending == 0)
      break;
  }
  close(fd);

  /* The server must notice the close and release the connection. */
  int turns = 0;
  while (handle_count() != base_handles || live_pending) {
    if (++turns > CLOSE_TURNS) {
      fprintf(stderr,
              "fuzz_http: the server kept %d handle(s) (%d deferred answers) after the client closed\n",
              handle_count() - base_handles, live_pending);
      abort();
    }
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  return 0;
}
