/* http_write: the response half of the HTTP server: heads, whole and
 * chunked bodies queued on the connection, the write deadline
 * (write_timeout_ms without progress closes the connection), the linger
 * after our side finished, and handing the connection back to the parser
 * once a response is queued. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#include <linux/sockios.h>

#include "server/http_int.h"
#include "util/log.h"
#include "util/openai_error.h"

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

/* ---- writing ---- */

static void on_linger_end(uv_timer_t *t) { lln__http_conn_close(t->data); }

/* Our side is finished. Closing with unread bytes from the client would
 * reset the connection and could destroy the response before the client
 * reads it (a 413 sent while the body is still uploading), so the rest is
 * read and dropped until the client closes or LINGER_MS pass. */
static void on_shutdown(uv_shutdown_t *sr, int status) {
  conn *c = sr->data;
  free(sr);
  if (status < 0 || c->closing) {
    lln__http_conn_close(c);
    return;
  }
  lln__http_read_start(c);
  c->deadline_timer = 0;
  uv_timer_start(&c->timer, on_linger_end, LINGER_MS, 0);
}

size_t lln__http_queued(conn *c) { return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp); }

size_t lln__http_held(conn *c) { return c->out.len + c->held; }

int lln__http_output_full(conn *c) { return lln__http_held(c) > MAX_QUEUED_OUTPUT; }

_Static_assert(OUT_FLUSH_BYTES < LLN_HTTP_DRAINED,
               "a connection with no write pending must count as drained");

/* Response bytes the client has taken so far: those handed to the kernel
 * minus those still in the socket's send queue (SIOCOUTQ), so a client
 * that reads slowly shows progress before the kernel asks for more. */
static uint64_t bytes_written(conn *c) {
  uint64_t to_kernel = c->bytes_queued - lln__http_queued(c);
  uv_os_fd_t fd;
  int outq = 0;
  if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0 &&
      (uint64_t)outq <= to_kernel)
    return to_kernel - (uint64_t)outq;
  return to_kernel;
}

static void on_write_timeout(uv_timer_t *t);

static void start_write_deadline(conn *c) {
  c->written_mark = bytes_written(c);
  uv_timer_start(&c->write_timer, on_write_timeout, c->srv->limits.write_timeout_ms, 0);
}

/* Runs every write_timeout_ms while response bytes are queued: a client
 * that took none of them in that time does not read, and what is queued
 * for it is let go. A slow reader makes progress and keeps its connection. */
static void on_write_timeout(uv_timer_t *t) {
  conn *c = t->data;
  if (lln__http_queued(c) == 0)
    return;
  if (bytes_written(c) > c->written_mark) {
    start_write_deadline(c);
    return;
  }
  lln_log(LLN_LOG_INFO,
          "closing a connection whose client read nothing for %u ms (%zu response bytes queued)",
          c->srv->limits.write_timeout_ms, lln__http_queued(c));
  lln__http_conn_close(c);
}

/* The deadline runs while bytes are queued and stops when none are. */
static void arm_write_timer(conn *c) {
  if (!c->srv->limits.write_timeout_ms || c->closing)
    return;
  if (lln__http_queued(c) == 0)
    uv_timer_stop(&c->write_timer);
  else if (!uv_is_active((uv_handle_t *)&c->write_timer))
    start_write_deadline(c);
}

static void on_write(uv_write_t *w, int status) {
  write_req *wr = (write_req *)w;
  conn *c = wr->c;
  int close_after = wr->close_after;
  c->held -= wr->size;
  free(wr);
  if (c->closing)
    return;
  if (status < 0) {
    lln__http_conn_close(c);
    return;
  }
  arm_write_timer(c);
  /* pipelined requests held back while the output was over its bound */
  if (!c->handling && !c->done && !c->in_process && !lln__http_output_full(c))
    lln__http_process(c);
  if (c->closing)
    return;
  req_impl *r = c->handling;
  if (r && r->pub.on_drain && lln__http_held(c) < LLN_HTTP_DRAINED)
    r->pub.on_drain(&r->pub);
  if (close_after) {
    uv_shutdown_t *sr = malloc(sizeof *sr);
    if (!sr)
      abort();
    sr->data = c;
    if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
      free(sr);
      lln__http_conn_close(c);
    }
  }
}

static void on_write_failed(uv_timer_t *t) { lln__http_conn_close(t->data); }

/* Closing now would abort the handler in the middle of its own call into
 * us; the connection's timer closes it on the next loop turn. */
static void write_failed(conn *c) {
  c->broken = 1;
  c->deadline_timer = 0;
  uv_timer_start(&c->timer, on_write_failed, 0, 0);
}

/* Hands a+b to the kernel as far as it takes them now, with no write
 * request and no copy (nothing when libuv still has bytes queued: they go
 * first). Returns the bytes taken, or -1 when the socket failed. */
static ssize_t try_write(conn *c, const char *a, size_t alen, const char *b, size_t blen) {
  uv_buf_t bufs[2] = {uv_buf_init((char *)a, (unsigned)alen), uv_buf_init((char *)b, (unsigned)blen)};
  int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, blen ? 2 : 1);
  if (n == UV_EAGAIN || n == UV_ENOSYS)
    return 0;
  if (n < 0) {
    write_failed(c);
    return -1;
  }
  c->bytes_queued += (size_t)n;
  return n;
}

/* Queues a+b in one write request, held (and counted in conn.held) until
 * its completion callback. */
static void queue_write(conn *c, const char *a, size_t alen, const char *b, size_t blen, int close_after) {
  size_t size = sizeof(write_req) + alen + blen;
  write_req *wr = malloc(size);
  if (!wr)
    abort();
  memcpy(wr->data, a, alen);
  if (blen)
    memcpy(wr->data + alen, b, blen);
  wr->c = c;
  wr->size = size;
  wr->close_after = close_after;
  uv_buf_t buf = uv_buf_init(wr->data, (unsigned)(alen + blen));
  if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) {
    free(wr);
    write_failed(c);
    return;
  }
  c->held += size;
  c->bytes_queued += alen + blen;
}

/* Sends a+b after what went before: what the kernel takes now costs
 * nothing further, the rest waits in a write request. close_after always
 * uses a request: its callback shuts the connection down. */
static void send_bytes(conn *c, const char *a, size_t alen, const char *b, size_t blen, int close_after) {
  if (!close_after && alen + blen > 0) {
    ssize_t n = try_write(c, a, alen, b, blen);
    if (n < 0)
      return;
    size_t took = (size_t)n;
    if (took >= alen) {
      size_t from_b = took - alen;
      if (from_b) { /* b may be NULL when it has nothing: no offset then */
        b += from_b;
        blen -= from_b;
      }
      alen = 0;
    } else {
      a += took;
      alen -= took;
    }
    if (alen + blen == 0) {
      arm_write_timer(c);
      return;
    }
  }
  queue_write(c, a, alen, b, blen, close_after);
  arm_write_timer(c);
}

/* Sends what the connection gathered. */
static void flush_out(conn *c) {
  uv_prepare_stop(&c->flush);
  if (c->out.len == 0 || c->closing)
    return;
  send_bytes(c, c->out.data, c->out.len, NULL, 0, 0);
  /* an idle keep-alive connection keeps no buffer */
  if (c->out.cap > OUT_KEEP_BYTES || !c->handling)
    lln_buf_free(&c->out);
  else
    lln_buf_reset(&c->out);
}

static void on_flush(uv_prepare_t *p) { flush_out(p->data); }

/* What was just appended to the connection's gathered output goes out
 * before the loop next waits for I/O, or now once OUT_FLUSH_BYTES are
 * gathered: a relayed stream costs one write per loop turn, not one per
 * event, and what waits for the socket stays counted in lln__http_held. */
static void gathered(conn *c) {
  if (c->out.len >= OUT_FLUSH_BYTES)
    flush_out(c);
  else if (!uv_is_active((uv_handle_t *)&c->flush))
    uv_prepare_start(&c->flush, on_flush);
}

void lln__http_conn_write(conn *c, const char *a, size_t alen, const char *b, size_t blen, int close_after) {
  if (c->closing)
    return;
  flush_out(c);
  if (!c->closing)
    send_bytes(c, a, alen, b, blen, close_after);
}

/* A response head up to this size is built on the stack. */
#define HEAD_STACK_BYTES 1024

static const char ct_name[] = "Content-Type: ";
static const char keep_line[] = "Connection: keep-alive\r\n", close_line[] = "Connection: close\r\n";

/* Bytes put_head writes at most. */
static size_t head_need(int status, const char *content_type, const char *const *headers) {
  size_t need = sizeof "HTTP/1.1 " + LLN_FMT_U64_MAX + 1 + strlen(lln_http_status_text(status)) + 2 +
                sizeof keep_line - 1;
  if (content_type)
    need += sizeof ct_name - 1 + strlen(content_type) + 2;
  for (size_t i = 0; headers && headers[i]; i++)
    need += strlen(headers[i]) + 2;
  return need;
}

/* Appends the response head without its blank line: status line,
 * Content-Type, the caller's lines and Connection, copied into room
 * reserved at once (`need`: head_need's figure plus what the caller
 * appends next), no printf. */
static void put_head(lln_buf *h, req_impl *r, int status, const char *content_type,
                     const char *const *headers, size_t need) {
  if (r->c && (r->c->srv->draining || r->c->srv->close_each))
    r->keep_alive = 0;
  const char *text = lln_http_status_text(status);
  size_t text_len = strlen(text), ct_len = content_type ? strlen(content_type) : 0;
  lln_buf_reserve(h, need);
  char *o = h->data + h->len;
  memcpy(o, r->http10 ? "HTTP/1.0 " : "HTTP/1.1 ", 9);
  o += 9;
  if (status < 0)
    *o++ = '-';
  o += lln_fmt_u64(o, status < 0 ? -(uint64_t)status : (uint64_t)status);
  *o++ = ' ';
  memcpy(o, text, text_len);
  o += text_len;
  *o++ = '\r', *o++ = '\n';
  if (content_type) {
    memcpy(o, ct_name, sizeof ct_name - 1);
    o += sizeof ct_name - 1;
    memcpy(o, content_type, ct_len);
    o += ct_len;
    *o++ = '\r', *o++ = '\n';
  }
  for (size_t i = 0; headers && headers[i]; i++) {
    size_t n = strlen(headers[i]);
    memcpy(o, headers[i], n);
    o += n;
    *o++ = '\r', *o++ = '\n';
  }
  if (r->keep_alive)
    memcpy(o, keep_line, sizeof keep_line - 1), o += sizeof keep_line - 1;
  else
    memcpy(o, close_line, sizeof close_line - 1), o += sizeof close_line - 1;
  h->len = (size_t)(o - h->data);
  h->data[h->len] = '\0';
}

/* The response is queued: release the request and read the next one. */
static void request_done(req_impl *r) {
  conn *c = r->c;
  int r_keep_alive = r->keep_alive;
  lln__http_req_free(r);
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
    lln__http_conn_write(c, "", 0, NULL, 0, 1);
    return;
  }
  llhttp_resume(&c->parser);
  lln__http_arm(c, c->srv->limits.idle_timeout_ms);
  if (!c->in_process)
    lln__http_process(c);
}

void lln_http_respond(lln_http_request *req, int status, const char *content_type, const char *const *headers,
                      const char *body, size_t len) {
  req_impl *r = (req_impl *)req;
  if (r->c) {
    static const char cl[] = "Content-Length: ";
    size_t need = head_need(status, content_type, headers) + sizeof cl - 1 + LLN_FMT_U64_MAX + 4;
    /* the head on the stack when it fits (the usual case): everything
     * appended below is within `need`, so it never grows */
    char stack[HEAD_STACK_BYTES];
    lln_buf h = {.data = stack, .len = 0, .cap = sizeof stack};
    if (need >= sizeof stack)
      lln_buf_init(&h);
    put_head(&h, r, status, content_type, headers, need);
    if (status == 204 || status == 304 || status < 200) {
      lln_buf_append(&h, "\r\n", 2); /* these never carry a body (RFC 9110) */
    } else {
      lln_buf_append(&h, cl, sizeof cl - 1);
      lln_buf_put_u64(&h, len);
      lln_buf_append(&h, "\r\n\r\n", 4);
    }
    if (len >= LLN_HTTP_TRIM_AFTER_BYTES)
      lln__http_trim_later(r->c->srv);
    /* a HEAD response says how long the body would be and sends none */
    lln__http_conn_write(r->c, h.data, h.len, body, r->head ? 0 : len, !r->keep_alive);
    if (h.data != stack)
      lln_buf_free(&h);
  }
  request_done(r);
}

/* Headers an error response can carry besides the caller's. */
#define ERROR_HEADERS_MAX 32

void lln_http_respond_error(lln_http_request *req, int status, const char *const *headers,
                            const char *message) {
  lln_openai_error e = {.status = status, .message = message};
  lln_http_respond_openai_error(req, headers, &e);
}

void lln_http_respond_openai_error(lln_http_request *req, const char *const *headers,
                                   const lln_openai_error *e) {
  lln_buf body;
  lln_buf_init(&body);
  lln_openai_error_json_ex(&body, e);
  lln_http_respond_error_body(req, e->status, headers, body.data, body.len);
  lln_buf_free(&body);
}

void lln_http_respond_error_body(lln_http_request *req, int status, const char *const *headers,
                                 const char *body, size_t len) {
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
  lln_http_respond(req, status, "application/json", all, body, len);
}

void lln_http_stream_begin(lln_http_request *req, int status, const char *content_type,
                           const char *const *headers) {
  req_impl *r = (req_impl *)req;
  r->streaming = 1;
  if (r->http10)
    r->keep_alive = 0; /* no chunked encoding: the end of the body is the close */
  if (!r->c)
    return;
  conn *c = r->c;
  if (c->closing)
    return;
  /* gathered: the head goes out with the first events */
  static const char chunked[] = "Transfer-Encoding: chunked\r\n";
  put_head(&c->out, r, status, content_type, headers,
           head_need(status, content_type, headers) + sizeof chunked - 1 + 2);
  if (!r->http10)
    lln_buf_append(&c->out, chunked, sizeof chunked - 1);
  lln_buf_append(&c->out, "\r\n", 2);
  gathered(c);
}

size_t lln_http_stream_writev(lln_http_request *req, const uv_buf_t *parts, size_t n) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  if (!c || c->closing || r->head)
    return 0;
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += parts[i].len;
  if (len == 0)
    return 0;
  lln_buf_reserve(&c->out, len + 32);
  if (!r->http10) {
    lln_buf_put_hex(&c->out, len);
    lln_buf_append(&c->out, "\r\n", 2);
  }
  for (size_t i = 0; i < n; i++)
    lln_buf_append(&c->out, parts[i].base, parts[i].len);
  if (!r->http10)
    lln_buf_append(&c->out, "\r\n", 2);
  gathered(c);
  return c->closing ? 0 : lln__http_held(c);
}

size_t lln_http_stream_write(lln_http_request *req, const char *data, size_t len) {
  uv_buf_t part = uv_buf_init((char *)data, (unsigned)len);
  return lln_http_stream_writev(req, &part, 1);
}

void lln_http_abort(lln_http_request *req) {
  req_impl *r = (req_impl *)req;
  conn *c = r->c;
  lln__http_req_free(r);
  if (!c)
    return;
  /* what was written still goes out; then the connection ends with the
   * response unfinished (a chunked body without its last chunk) */
  c->handling = NULL;
  c->done = 1;
  lln__http_conn_write(c, "", 0, NULL, 0, 1);
}

void lln_http_stream_end(lln_http_request *req) {
  req_impl *r = (req_impl *)req;
  if (r->c && !r->c->closing) {
    if (r->http10) {
      lln__http_conn_write(r->c, "", 0, NULL, 0, 1);
    } else if (r->head) {
      lln__http_conn_write(r->c, "", 0, NULL, 0, !r->keep_alive);
    } else if (r->keep_alive) {
      lln_buf_append(&r->c->out, "0\r\n\r\n", 5); /* goes out with the last events */
      gathered(r->c);
    } else {
      lln__http_conn_write(r->c, "0\r\n\r\n", 5, NULL, 0, 1);
    }
  }
  request_done(r);
}
