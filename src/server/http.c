/* http: connection handling for the HTTP/1.1 server (responses are queued
 * by http_write.c). One connection answers
 * one request at a time: the parser is paused at the end of each message and
 * resumed when its response has been queued, so pipelined requests are
 * answered in order without buffering responses. */
#include "server/http_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <malloc.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"

#define MAX_HEADERS 128
/* Header table slots a request starts with (doubled as needed). */
#define HEADERS_FIRST_CAP 16
#define LISTEN_BACKLOG 1024
/* Bytes a client may send ahead of the request being handled before we
 * stop reading from it. */
#define MAX_PIPELINED_BYTES (256 * 1024)

/* across every server of the process (the workers), for the metrics */
static atomic_size_t total_conns;

static void on_conn_timer(uv_timer_t *t);

/* One timer per connection, its meaning set by the connection's state:
 * idle between requests, header or body deadline while one is read. A
 * deadline later than the running timer's is only noted: the timer re-arms
 * itself for the rest when it fires, so a keep-alive request (idle, header,
 * body deadline, handled, idle again) costs no timer calls. */
void lln__http_arm(conn *c, unsigned ms) {
  if (c->broken)
    return;
  uint64_t due = uv_now(c->srv->loop) + ms;
  c->deadline = due;
  if (c->deadline_timer && c->timer_due <= due)
    return;
  c->deadline_timer = 1;
  c->timer_due = due;
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
  l->write_timeout_ms = 60 * 1000;
}

/* ---- requests ---- */

/* A request lives in the first block of its own arena, with its path,
 * query and header strings and table: one allocation for all of them. */
req_impl *lln__http_req_new(conn *c) {
  lln_arena arena;
  lln_arena_init(&arena);
  req_impl *r = lln_arena_alloc(&arena, sizeof *r);
  r->arena = arena;
  lln_buf_init(&r->body);
  r->pub.arena = &r->arena;
  r->c = c;
  return r;
}

void lln__http_req_free(req_impl *r) {
  if (!r)
    return;
  if (r->body.cap >= LLN_HTTP_TRIM_AFTER_BYTES)
    lln__http_trim_later(r->c->srv);
  lln_buf_free(&r->body);
  lln_arena arena = r->arena; /* r itself is in it */
  lln_arena_free(&arena);
}

const char *lln_http_header_get(const lln_http_request *req, const char *name) {
  /* first letters compared first: (c | 0x20) differs only where
   * strcasecmp would */
  unsigned char first = (unsigned char)name[0] | 0x20;
  for (size_t i = 0; i < req->header_count; i++) {
    if (((unsigned char)req->headers[i].name[0] | 0x20) == first &&
        strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  }
  return NULL;
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
    size_t cap = r->header_cap ? r->header_cap * 2 : HEADERS_FIRST_CAP;
    lln_http_header *grown = lln_arena_take(&r->arena, cap * sizeof *grown);
    if (r->pub.header_count)
      memcpy(grown, r->headers, r->pub.header_count * sizeof *grown);
    r->headers = grown; /* the old table stays in the arena until the request ends */
    r->header_cap = cap;
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
  c->parsing = lln__http_req_new(c);
  lln__http_arm(c, c->srv->limits.header_timeout_ms);
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
  r->head = llhttp_get_method(p) == HTTP_HEAD;
  lln__http_arm(c, c->srv->limits.body_timeout_ms);
  if (c->srv->admit && !c->srv->admit(c->srv->ctx, &r->pub)) {
    r->refused = 1; /* answered now, before any body byte or 100 Continue */
    return HPE_PAUSED;
  }
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->limits.max_body_bytes)
    return fail_with(c, 413, "request body is larger than the server accepts");
  const char *expect = lln_http_header_get(&r->pub, "Expect");
  if (expect && strcasecmp(expect, "100-continue") == 0 && !r->http10) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    lln__http_conn_write(c, cont, sizeof cont - 1, NULL, 0, 0);
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
  req_impl *r = c->parsing ? c->parsing : lln__http_req_new(c);
  c->parsing = NULL;
  r->keep_alive = 0;
  c->handling = r;
  /* a 503 (too many connections) did no work: trying again may pass */
  static const char *const retry_ok[] = {"x-should-retry: true", NULL};
  lln_http_respond_error(&r->pub, status, status == 503 ? retry_ok : NULL, message);
}

static void dispatch(conn *c) {
  req_impl *r = c->parsing;
  if (r->refused) {
    /* paused at the end of the headers: the body is never read; what the
     * client still sends is dropped while the refusal goes out */
    r->keep_alive = 0;
    lln_buf_reserve(&r->body, 0);
    r->pub.body = r->body.data;
    r->pub.body_len = 0;
  }
  c->parsing = NULL;
  c->handling = r;
  /* no deadline while the request is handled: the timer, if it fires,
   * finds c->handling and does nothing */
  c->srv->handler(c->srv->ctx, &r->pub);
}

/* Reads while there is room: the pipelined input under its bound and the
 * queued output under its own. */
static void update_reading(conn *c) {
  if (c->closing || c->done)
    return;
  int want = c->in.len < MAX_PIPELINED_BYTES && !lln__http_output_full(c);
  if (want && !c->reading)
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
  else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

void lln__http_process(conn *c) {
  c->in_process = 1;
  while (!c->handling && !c->done && !c->broken && !c->closing && c->in.len > 0 &&
         !lln__http_output_full(c)) {
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
  update_reading(c);
}

/* ---- connections ---- */

void lln__http_read_start(conn *c) {
  if (!c->reading)
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
}

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
    lln__http_conn_close(c);
    return;
  }
  if (nread == 0 || c->done)
    return;
  c->in.len += (size_t)nread;
  c->in.data[c->in.len] = '\0';
  if (!c->handling && !c->parsing)
    lln__http_arm(c, c->srv->limits.idle_timeout_ms);
  lln__http_process(c);
}

static void on_conn_timer(uv_timer_t *t) {
  conn *c = t->data;
  c->deadline_timer = 0;
  if (c->handling || c->done)
    return;
  uint64_t now = uv_now(c->srv->loop);
  if (c->deadline > now) { /* moved later since the timer started */
    c->deadline_timer = 1;
    c->timer_due = c->deadline;
    uv_timer_start(&c->timer, on_conn_timer, c->deadline - now, 0);
    return;
  }
  if (c->parsing)
    reject(c, 408, "the request did not arrive in time; the connection is closed");
  else
    lln__http_conn_close(c);
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
  lln_buf_free(&c->out);
  free(c);
  s->open_handles--;
  maybe_free_server(s);
}

void lln__http_conn_close(conn *c) {
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
  lln__http_req_free(c->parsing);
  c->parsing = NULL;
  req_impl *r = c->handling;
  c->handling = NULL;
  if (r) {
    r->c = NULL;
    if (r->pub.on_abort) {
      r->pub.on_abort(&r->pub);
      lln__http_req_free(r);
    }
    /* Without on_abort the handler still owns the request: answering it
     * later frees it. */
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->write_timer, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->flush, on_conn_handle_closed);
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
  uv_timer_init(s->loop, &c->write_timer);
  c->write_timer.data = c;
  uv_prepare_init(s->loop, &c->flush);
  c->flush.data = c;
  c->open_handles += 3;
  llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
  c->parser.data = c;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  s->n_conns++;
  atomic_fetch_add(&total_conns, 1);
  lln__http_arm(c, s->limits.idle_timeout_ms);
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

/* Opens a duplicate of `from`'s bound socket on s's listener: every
 * worker's loop accepts from the same socket, which no other process can
 * bind while it is open (no SO_REUSEPORT). */
static int share_socket(lln_http_server *s, const lln_http_server *from) {
  uv_os_fd_t fd;
  if (uv_fileno((const uv_handle_t *)&from->listener, &fd) != 0)
    return UV_EBADF;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0)
    return uv_translate_sys_error(errno);
  int rc = uv_tcp_open(&s->listener, copy);
  if (rc != 0)
    close(copy);
  return rc;
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
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  uv_timer_init(loop, &s->trim_timer);
  s->trim_timer.data = s;
  uv_unref((uv_handle_t *)&s->trim_timer);
  s->open_handles = 2;
  int rc = s->limits.share ? share_socket(s, s->limits.share)
                           : uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
  if (rc < 0) {
    snprintf(err, err_size, "cannot listen on %s:%d: %s%s", addr, port, uv_strerror(rc),
             rc == UV_EADDRINUSE
                 ? " (another llmnet or another program listens there; stop it or choose another "
                   "--port)"
                 : "");
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

void lln_http_server_set_admit(lln_http_server *s, lln_http_admit admit) { s->admit = admit; }

static void on_listener_closed(uv_handle_t *h) {
  lln_http_server *s = h->data;
  s->open_handles--;
  maybe_free_server(s);
}

/* Large requests leave large free blocks behind; glibc keeps them (its mmap
 * threshold rises after the first large free), so shortly after such a
 * request ends, when its run has been released too, malloc_trim gives the
 * free pages back. One timer per server; a pending trim covers every
 * request that ends before it fires. */
#define TRIM_DELAY_MS 50

static void on_trim(uv_timer_t *t) {
  (void)t;
  malloc_trim(0);
}

void lln__http_trim_later(lln_http_server *s) {
  if (!s->trim_closed && !uv_is_active((uv_handle_t *)&s->trim_timer))
    uv_timer_start(&s->trim_timer, on_trim, TRIM_DELAY_MS, 0);
}

static void on_trim_closed(uv_handle_t *h) {
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

void lln_http_server_close_each(lln_http_server *s) { s->close_each = 1; }

void lln_http_server_drain(lln_http_server *s, void (*on_empty)(void *ud), void *ud) {
  s->draining = 1;
  s->on_empty = on_empty;
  s->on_empty_ud = ud;
  close_listener(s);
  for (conn *c = s->conns, *next; c; c = next) {
    next = c->next;
    if (!c->handling && !c->parsing)
      lln__http_conn_close(c);
  }
  maybe_drained(s);
}

void lln_http_server_close(lln_http_server *s) {
  s->closing = 1;
  s->on_empty = NULL;
  while (s->conns)
    lln__http_conn_close(s->conns);
  close_listener(s);
  if (!s->trim_closed) {
    s->trim_closed = 1;
    uv_close((uv_handle_t *)&s->trim_timer, on_trim_closed);
  }
  maybe_free_server(s);
}
