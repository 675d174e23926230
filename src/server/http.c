/* http: connection handling for the HTTP/1.1 server. One connection answers
 * one request at a time: the parser is paused at the end of each message and
 * resumed when its response has been queued, so pipelined requests are
 * answered in order without buffering responses. */
#include "server/http.h"

#include <ctype.h>
#include <errno.h>
#include <llhttp.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/openai_error.h"

/* Bytes a client may send ahead of the request being handled before we
 * stop reading from it. */
#define MAX_PIPELINED_BYTES (256 * 1024)
#define MAX_HEADERS 128
#define LINGER_MS 5000

typedef struct conn conn;

typedef struct req_impl {
  lln_http_request pub;
  lln_arena arena;
  conn *c; /* NULL once the client has gone */
  lln_buf body;
  lln_http_header *headers;
  size_t header_cap;
  int keep_alive;
  int http10;
  int streaming;
} req_impl;

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  lln_http_server *srv;
  conn *prev, *next;
  llhttp_t parser;
  lln_buf in;
  lln_buf url, hname, hval;
  int in_value;
  size_t header_bytes;
  int error_status;
  const char *error_message;
  req_impl *parsing;  /* message being read */
  req_impl *handling; /* message handed to the handler, not yet answered */
  int in_process;
  int done;   /* the last response said Connection: close */
  int broken; /* a write failed: closing on the next loop turn */
  int closing;
  int reading;
  int open_handles;
};

struct lln_http_server {
  uv_tcp_t listener;
  uv_loop_t *loop;
  llhttp_settings_t settings;
  lln_http_limits limits;
  lln_http_handler handler;
  void *ctx;
  conn *conns;
  size_t n_conns;
  int port;
  int closing;
  int draining;
  int listener_closed;
  void (*on_empty)(void *ud);
  void *on_empty_ud;
  int open_handles;
};

typedef struct write_req {
  uv_write_t w;
  conn *c;
  int close_after;
  char data[];
} write_req;

/* across every server of the process (the workers), for the metrics */
static atomic_size_t total_conns;

static void conn_close(conn *c);
static void process(conn *c);
static void on_conn_timer(uv_timer_t *t);

/* One timer per connection, its meaning set by the connection's state:
 * idle between requests, header or body deadline while one is read. */
static void arm(conn *c, unsigned ms) {
  if (!c->broken)
    uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

void lln_http_limits_default(lln_http_limits *l) {
  memset(l, 0, sizeof *l);
  l->max_header_bytes = 16 * 1024;
  l->max_body_bytes = 8 * 1024 * 1024;
  l->idle_timeout_ms = 60 * 1000;
  l->header_timeout_ms = 10 * 1000;
  l->body_timeout_ms = 60 * 1000;
  l->max_connections = 10000;
}

const char *lln_http_status_text(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 413: return "Payload Too Large";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Entity";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return status < 400 ? "OK" : "Error";
  }
}

/* ---- requests ---- */

static req_impl *req_new(conn *c) {
  req_impl *r = calloc(1, sizeof *r);
  if (!r)
    abort();
  lln_arena_init(&r->arena);
  lln_buf_init(&r->body);
  r->pub.arena = &r->arena;
  r->c = c;
  return r;
}

static void req_free(req_impl *r) {
  if (!r)
    return;
  lln_arena_free(&r->arena);
  lln_buf_free(&r->body);
  free(r->headers);
  free(r);
}

const char *lln_http_header_get(const lln_http_request *req, const char *name) {
  for (size_t i = 0; i < req->header_count; i++) {
    if (strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  }
  return NULL;
}

/* ---- writing ---- */

static void on_linger_end(uv_timer_t *t) { conn_close(t->data); }

/* Our side is finished. Closing with unread bytes from the client would
 * reset the connection and could destroy the response before the client
 * reads it (a 413 sent while the body is still uploading), so the rest is
 * read and dropped until the client closes or LINGER_MS pass. */
static void on_shutdown(uv_shutdown_t *sr, int status) {
  conn *c = sr->data;
  free(sr);
  if (status < 0 || c->closing) {
    conn_close(c);
    return;
  }
  if (!c->reading)
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
  uv_timer_start(&c->timer, on_linger_end, LINGER_MS, 0);
}

static void on_write(uv_write_t *w, int status) {
  write_req *wr = (write_req *)w;
  conn *c = wr->c;
  int close_after = wr->close_after;
  free(wr);
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  req_impl *r = c->handling;
  if (r && r->pub.on_drain && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < LLN_HTTP_DRAINED)
    r->pub.on_drain(&r->pub);
  if (close_after) {
    uv_shutdown_t *sr = malloc(sizeof *sr);
    if (!sr)
      abort();
    sr->data = c;
    if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
      free(sr);
      conn_close(c);
    }
  }
}

static void on_write_failed(uv_timer_t *t) { conn_close(t->data); }

static void conn_write(conn *c, const char *a, size_t alen, const char *b, size_t blen, int close_after) {
  if (c->closing)
    return;
  write_req *wr = malloc(sizeof *wr + alen + blen);
  if (!wr)
    abort();
  memcpy(wr->data, a, alen);
  if (blen)
    memcpy(wr->data + alen, b, blen);
  wr->c = c;
  wr->close_after = close_after;
  uv_buf_t buf = uv_buf_init(wr->data, (unsigned)(alen + blen));
  if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) {
    free(wr);
    c->broken = 1;
    /* Closing now would abort the handler in the middle of its own call
     * into us; the connection's timer closes it on the next loop turn. */
    uv_timer_start(&c->timer, on_write_failed, 0, 0);
  }
}

static void put_head(lln_buf *h, req_impl *r, int status, const char *content_type,
                     const char *const *headers) {
  if (r->c && r->c->srv->draining)
    r->keep_alive = 0;
  lln_buf_printf(h, "HTTP/1.%d %d %s\r\n", r->http10 ? 0 : 1, status, lln_http_status_text(status));
  if (content_type)
    lln_buf_printf(h, "Content-Type: %s\r\n", content_type);
  for (size_t i = 0; headers && headers[i]; i++)
    lln_buf_printf(h, "%s\r\n", headers[i]);
  lln_buf_puts(h, r->keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
}

/* The response is queued: release the request and read the next one. */
static void request_done(req_impl *r) {
  conn *c = r->c;
  int r_keep_alive = r->keep_alive;
  req_free(r);
  if (!c)
    return;
  c->handling = NULL;
  if (c->closing)
    return;
  if (!r_keep_alive) {
    c->done = 1;
    return;
  }
  if (c->srv->draining) {
    c->done = 1;
    conn_write(c, "", 0, NULL, 0, 1);
    return;
  }
  llhttp_resume(&c->parser);
  arm(c, c->srv->limits.idle_timeout_ms);
  if (!c->in_process)
    process(c);
}

void lln_http_respond(lln_http_request *req, int status, const char *content_type, const char *const *headers,
                      const char *body, size_t len) {
  req_impl *r = (req_impl *)req;
  if (r->c) {
    lln_buf h;
    lln_buf_init(&h);
    put_head(&h, r, status, content_type, headers);
    if (status == 204 || status == 304 || status < 200)
      lln_buf_puts(&h, "\r\n"); /* these never carry a body (RFC 9110) */
    else
      lln_buf_printf(&h, "Content-Length: %zu\r\n\r\n", len);
    conn_write(r->c, h.data, h.len, body, len, !r->keep_alive);
    lln_buf_free(&h);
  }
  request_done(r);
}

/* Headers an error response can carry besides the caller's. */
#define ERROR_HEADERS_MAX 32

void lln_http_respond_error(lln_http_request *req, int status, const char *const *headers,
                            const char *message) {
  lln_buf body;
  lln_buf_init(&body);
  lln_openai_error_json(&body, status, message);
  /* every error says whether a retry can help (docs/OPERATIONS.md); the
   * caller's x-should-retry wins, else it cannot */
  const char *all[ERROR_HEADERS_MAX + 2];
  size_t n = 0;
  int told = 0;
  for (size_t i = 0; headers && headers[i] && n < ERROR_HEADERS_MAX; i++) {
    told |= strncasecmp(headers[i], "x-should-retry:", 15) == 0;
    all[n++] = headers[i];
  }
  if (!told)
    all[n++] = "x-should-retry: false";
  all[n] = NULL;
  lln_http_respond(req, status, "application/json", all, body.data, body.len);
  lln_buf_free(&body);
}

void lln_http_stream_begin(lln_http_request *req, int status, const char *content_type,
                           const char *const *headers) {
  req_impl *r = (req_impl *)req;
  r->streaming = 1;
  if (r->http10)
    r->keep_alive = 0; /* no chunked encoding: the end of the body is the close */
  if (!r->c)
    return;
  lln_buf h;
  lln_buf_init(&h);
  put_head(&h, r, status, content_type, headers);
  if (!r->http10)
    lln_buf_puts(&h, "Transfer-Encoding: chunked\r\n");
  lln_buf_puts(&h, "\r\n");
  conn_write(r->c, h.data, h.len, NULL, 0, 0);
  lln_buf_free(&h);
}

size_t lln_http_stream_write(lln_http_request *req, const char *data, size_t len) {
  req_impl *r = (req_impl *)req;
  if (!r->c || r->c->closing || len == 0)
    return 0;
  if (r->http10) {
    conn_write(r->c, data, len, NULL, 0, 0);
  } else {
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    lln_buf chunk;
    lln_buf_init(&chunk);
    lln_buf_append(&chunk, size, (size_t)n);
    lln_buf_append(&chunk, data, len);
    lln_buf_append(&chunk, "\r\n", 2);
    conn_write(r->c, chunk.data, chunk.len, NULL, 0, 0);
    lln_buf_free(&chunk);
  }
  return r->c->closing ? 0 : uv_stream_get_write_queue_size((uv_stream_t *)&r->c->tcp);
}

void lln_http_abort(lln_http_request *req) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  req_free(r);
  if (!c)
    return;
  /* what was written still goes out; then the connection ends with the
   * response unfinished (a chunked body without its last chunk) */
  c->handling = NULL;
  c->done = 1;
  conn_write(c, "", 0, NULL, 0, 1);
}

void lln_http_stream_end(lln_http_request *req) {
  req_impl *r = (req_impl *)req;
  if (r->c && !r->c->closing) {
    if (r->http10) {
      conn_write(r->c, "", 0, NULL, 0, 1);
    } else {
      conn_write(r->c, "0\r\n\r\n", 5, NULL, 0, !r->keep_alive);
    }
  }
  request_done(r);
}

/* ---- parsing ---- */

static conn *conn_of(llhttp_t *p) { return p->data; }

static int fail_with(conn *c, int status, const char *message) {
  c->error_status = status;
  c->error_message = message;
  return -1;
}

static int count_header_bytes(conn *c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes > c->srv->limits.max_header_bytes)
    return fail_with(c, 431, "request headers are larger than the server accepts");
  return 0;
}

static void flush_header(conn *c) {
  if (!c->in_value)
    return;
  req_impl *r = c->parsing;
  if (r->pub.header_count == r->header_cap) {
    r->header_cap = r->header_cap ? r->header_cap * 2 : 16;
    r->headers = realloc(r->headers, r->header_cap * sizeof *r->headers);
    if (!r->headers)
      abort();
  }
  lln_http_header *h = &r->headers[r->pub.header_count++];
  h->name = lln_arena_strndup(&r->arena, c->hname.data ? c->hname.data : "", c->hname.len);
  h->value = lln_arena_strndup(&r->arena, c->hval.data ? c->hval.data : "", c->hval.len);
  lln_buf_reset(&c->hname);
  lln_buf_reset(&c->hval);
  c->in_value = 0;
}

static int on_message_begin(llhttp_t *p) {
  conn *c = conn_of(p);
  c->parsing = req_new(c);
  arm(c, c->srv->limits.header_timeout_ms);
  c->header_bytes = 0;
  c->in_value = 0;
  lln_buf_reset(&c->url);
  lln_buf_reset(&c->hname);
  lln_buf_reset(&c->hval);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  conn *c = conn_of(p);
  if (count_header_bytes(c, len))
    return -1;
  lln_buf_append(&c->url, at, len);
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  conn *c = conn_of(p);
  if (count_header_bytes(c, len))
    return -1;
  flush_header(c);
  if (c->parsing->pub.header_count >= MAX_HEADERS)
    return fail_with(c, 431, "too many request headers");
  lln_buf_append(&c->hname, at, len);
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  conn *c = conn_of(p);
  if (count_header_bytes(c, len))
    return -1;
  lln_buf_append(&c->hval, at, len);
  c->in_value = 1;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  conn *c = conn_of(p);
  req_impl *r = c->parsing;
  flush_header(c);
  r->pub.headers = r->headers;
  r->pub.method = llhttp_method_name(llhttp_get_method(p));
  const char *url = c->url.data ? c->url.data : "/";
  const char *q = strchr(url, '?');
  r->pub.path = lln_arena_strndup(&r->arena, url, q ? (size_t)(q - url) : strlen(url));
  r->pub.query = q ? lln_arena_strdup(&r->arena, q + 1) : NULL;
  r->http10 = p->http_major == 1 && p->http_minor == 0;
  arm(c, c->srv->limits.body_timeout_ms);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->limits.max_body_bytes)
    return fail_with(c, 413, "request body is larger than the server accepts");
  const char *expect = lln_http_header_get(&r->pub, "Expect");
  if (expect && strcasecmp(expect, "100-continue") == 0 && !r->http10) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    conn_write(c, cont, sizeof cont - 1, NULL, 0, 0);
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  conn *c = conn_of(p);
  req_impl *r = c->parsing;
  if (r->body.len + len > c->srv->limits.max_body_bytes)
    return fail_with(c, 413, "request body is larger than the server accepts");
  lln_buf_append(&r->body, at, len);
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  conn *c = conn_of(p);
  req_impl *r = c->parsing;
  r->keep_alive = llhttp_should_keep_alive(p);
  if (!r->body.data)
    lln_buf_reserve(&r->body, 0);
  r->pub.body = r->body.data;
  r->pub.body_len = r->body.len;
  return HPE_PAUSED;
}

/* Answers a request the parser refused, then closes: after a framing error
 * the rest of the byte stream cannot be trusted. */
static void reject(conn *c, int status, const char *message) {
  req_impl *r = c->parsing ? c->parsing : req_new(c);
  c->parsing = NULL;
  r->keep_alive = 0;
  c->handling = r;
  /* a 503 (too many connections) did no work: trying again may pass */
  static const char *const retry_ok[] = {"x-should-retry: true", NULL};
  lln_http_respond_error(&r->pub, status, status == 503 ? retry_ok : NULL, message);
}

static void dispatch(conn *c) {
  req_impl *r = c->parsing;
  c->parsing = NULL;
  c->handling = r;
  if (!c->broken)
    uv_timer_stop(&c->timer);
  c->srv->handler(c->srv->ctx, &r->pub);
}

static void process(conn *c) {
  c->in_process = 1;
  while (!c->handling && !c->done && !c->broken && !c->closing && c->in.len > 0) {
    llhttp_errno_t e = llhttp_execute(&c->parser, c->in.data, c->in.len);
    if (e == HPE_OK) {
      lln_buf_reset(&c->in);
    } else if (e == HPE_PAUSED) {
      lln_buf_consume(&c->in, (size_t)(llhttp_get_error_pos(&c->parser) - c->in.data));
      dispatch(c);
    } else {
      if (c->error_status) {
        reject(c, c->error_status, c->error_message);
      } else {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed HTTP request: %s", llhttp_get_error_reason(&c->parser));
        reject(c, 400, msg);
      }
      break;
    }
  }
  c->in_process = 0;
  if (!c->closing && !c->done && !c->reading && c->in.len < MAX_PIPELINED_BYTES)
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
}

/* ---- connections ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn *c = h->data;
  (void)suggested;
  lln_buf_reserve(&c->in, 64 * 1024);
  buf->base = c->in.data + c->in.len;
  buf->len = c->in.cap - c->in.len - 1;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn *c = s->data;
  (void)buf;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (nread == 0 || c->done)
    return;
  c->in.len += (size_t)nread;
  c->in.data[c->in.len] = '\0';
  if (!c->handling && !c->parsing)
    arm(c, c->srv->limits.idle_timeout_ms);
  if (c->in.len >= MAX_PIPELINED_BYTES && c->handling) {
    c->reading = 0;
    uv_read_stop(s);
  }
  process(c);
}

static void on_conn_timer(uv_timer_t *t) {
  conn *c = t->data;
  if (c->handling || c->done)
    return;
  if (c->parsing)
    reject(c, 408, "the request did not arrive in time; the connection is closed");
  else
    conn_close(c);
}

static void maybe_free_server(lln_http_server *s) {
  if (s->closing && s->open_handles == 0)
    free(s);
}

static void maybe_drained(lln_http_server *s) {
  if (s->draining && s->n_conns == 0 && s->on_empty) {
    void (*cb)(void *) = s->on_empty;
    s->on_empty = NULL;
    cb(s->on_empty_ud);
  }
}

static void on_conn_handle_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->open_handles > 0)
    return;
  lln_http_server *s = c->srv;
  lln_buf_free(&c->in);
  lln_buf_free(&c->url);
  lln_buf_free(&c->hname);
  lln_buf_free(&c->hval);
  free(c);
  s->open_handles--;
  maybe_free_server(s);
}

static void conn_close(conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  lln_http_server *s = c->srv;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  s->n_conns--;
  atomic_fetch_sub(&total_conns, 1);
  req_free(c->parsing);
  c->parsing = NULL;
  req_impl *r = c->handling;
  c->handling = NULL;
  if (r) {
    r->c = NULL;
    if (r->pub.on_abort) {
      r->pub.on_abort(&r->pub);
      req_free(r);
    }
    /* Without on_abort the handler still owns the request: answering it
     * later frees it. */
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
  maybe_drained(s);
}

static void on_connection(uv_stream_t *listener, int status) {
  lln_http_server *s = listener->data;
  if (status < 0)
    return;
  conn *c = calloc(1, sizeof *c);
  if (!c)
    abort();
  c->srv = s;
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  c->open_handles = 1;
  s->open_handles++;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_init(s->loop, &c->timer);
  c->timer.data = c;
  c->open_handles++;
  llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
  c->parser.data = c;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  s->n_conns++;
  atomic_fetch_add(&total_conns, 1);
  arm(c, s->limits.idle_timeout_ms);
  c->reading = 1;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  /* the limit is the process's: workers share one port */
  if (s->limits.max_connections && atomic_load(&total_conns) > s->limits.max_connections)
    reject(c, 503, "the server has too many open connections; try again shortly");
}

static int resolve(const char *addr, int port, struct sockaddr_storage *out) {
  if (uv_ip4_addr(addr, port, (struct sockaddr_in *)out) == 0)
    return 0;
  if (uv_ip6_addr(addr, port, (struct sockaddr_in6 *)out) == 0)
    return 0;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  if (getaddrinfo(addr, NULL, &hints, &res) != 0 || !res)
    return UV_EINVAL;
  memcpy(out, res->ai_addr, res->ai_addrlen);
  ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
  freeaddrinfo(res);
  return 0;
}

int lln_http_server_start(lln_http_server **out, uv_loop_t *loop, const char *addr, int port,
                          const lln_http_limits *limits, lln_http_handler handler, void *ctx, char *err,
                          size_t err_size) {
  struct sockaddr_storage sa;
  if (resolve(addr, port, &sa) != 0) {
    snprintf(err, err_size, "cannot listen on %s:%d: not an address or known host name", addr, port);
    return UV_EINVAL;
  }
  lln_http_server *s = calloc(1, sizeof *s);
  if (!s)
    abort();
  s->loop = loop;
  s->handler = handler;
  s->ctx = ctx;
  if (limits)
    s->limits = *limits;
  else
    lln_http_limits_default(&s->limits);
  llhttp_settings_init(&s->settings);
  s->settings.on_message_begin = on_message_begin;
  s->settings.on_url = on_url;
  s->settings.on_header_field = on_header_field;
  s->settings.on_header_value = on_header_value;
  s->settings.on_headers_complete = on_headers_complete;
  s->settings.on_body = on_body;
  s->settings.on_message_complete = on_message_complete;
  /* uv_tcp_init_ex creates the socket now, so SO_REUSEPORT can be set
   * before bind (libuv 1.44 has no flag for it) */
  uv_tcp_init_ex(loop, &s->listener, sa.ss_family);
  s->listener.data = s;
  s->open_handles = 1;
  int rc = 0;
  if (s->limits.reuse_port) {
    uv_os_fd_t fd;
    int on = 1;
    if (uv_fileno((uv_handle_t *)&s->listener, &fd) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
      rc = UV_EINVAL;
  }
  if (rc == 0)
    rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
  if (rc < 0) {
    snprintf(err, err_size, "cannot listen on %s:%d: %s", addr, port, uv_strerror(rc));
    lln_http_server_close(s);
    return rc;
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  *out = s;
  return 0;
}

int lln_http_server_port(const lln_http_server *s) { return s->port; }

static void on_listener_closed(uv_handle_t *h) {
  lln_http_server *s = h->data;
  s->open_handles--;
  maybe_free_server(s);
}

static void close_listener(lln_http_server *s) {
  if (s->listener_closed)
    return;
  s->listener_closed = 1;
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

size_t lln_http_connections_total(void) { return atomic_load(&total_conns); }

void lln_http_server_drain(lln_http_server *s, void (*on_empty)(void *ud), void *ud) {
  s->draining = 1;
  s->on_empty = on_empty;
  s->on_empty_ud = ud;
  close_listener(s);
  for (conn *c = s->conns, *next; c; c = next) {
    next = c->next;
    if (!c->handling && !c->parsing)
      conn_close(c);
  }
  maybe_drained(s);
}

void lln_http_server_close(lln_http_server *s) {
  s->closing = 1;
  s->on_empty = NULL;
  while (s->conns)
    conn_close(s->conns);
  close_listener(s);
  maybe_free_server(s);
}
