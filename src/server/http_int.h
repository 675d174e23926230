/* http_int: what the HTTP server's two halves share: connections and
 * requests (http.c reads and parses them, http_write.c queues responses on
 * them). Internal to src/server/http*.c. */
#ifndef LLN_SERVER_HTTP_INT_H
#define LLN_SERVER_HTTP_INT_H

#include <llhttp.h>

#include "server/http.h"
#include "util/buf.h"

/* After our side finished, what the client still sends is read and dropped
 * this long (so a refusal is not destroyed by a reset). */
#define LINGER_MS 5000
/* Response bytes queued on a connection (not yet taken by the kernel) past
 * which its next pipelined requests are not parsed and the socket is not
 * read: a client that sends without reading cannot grow our memory. */
#define MAX_QUEUED_OUTPUT (1024 * 1024)
/* A streamed response's chunks are gathered per connection and handed to
 * the socket once per loop turn (before the loop waits for I/O), or as
 * soon as this many bytes are gathered: one write for many small events.
 * Below LLN_HTTP_DRAINED, so a connection whose writes all completed
 * counts as drained whatever it has gathered. */
#define OUT_FLUSH_BYTES (16 * 1024)
/* A gathering buffer grown past this (by one large event) is freed once
 * sent, not kept for the connection's next events (nor is any buffer once
 * the response is complete). */
#define OUT_KEEP_BYTES (64 * 1024)

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
  int head;    /* HEAD: the response carries its headers but no body */
  int refused; /* the admit check said no: the body is not read */
  int streaming;
} req_impl;

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uint64_t deadline;      /* loop time (ms) the idle, header or body deadline passes (lln__http_arm) */
  uint64_t timer_due;     /* when `timer` fires, while deadline_timer */
  int deadline_timer;     /* `timer` runs for the deadline (not the linger or a failed write) */
  uv_timer_t write_timer; /* runs while response bytes wait to be written */
  uint64_t bytes_queued;  /* response bytes ever queued on the connection */
  uint64_t written_mark;  /* bytes the kernel had taken when write_timer started */
  lln_buf out;            /* streamed output gathered this loop turn (< OUT_FLUSH_BYTES between writes) */
  uv_prepare_t flush;     /* sends `out` before the loop waits for I/O */
  size_t held;            /* bytes held by write requests not yet completed, their structs included */
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
  lln_http_admit admit;
  void *ctx;
  conn *conns;
  size_t n_conns;
  int port;
  int closing;
  int draining;
  int close_each; /* every response says Connection: close (a drain is announced) */
  int listener_closed;
  void (*on_empty)(void *ud);
  void *on_empty_ud;
  int open_handles;
  uv_timer_t trim_timer; /* gives freed memory back after a large request (http.c) */
  int trim_closed;
};

typedef struct write_req {
  uv_write_t w;
  conn *c;
  size_t size; /* what it adds to conn.held */
  int close_after;
  char data[];
} write_req;

/* http.c */
req_impl *lln__http_req_new(conn *c);
void lln__http_req_free(req_impl *r);
void lln__http_conn_close(conn *c);
/* A request or response of this many bytes or more asks for freed memory
 * to go back to the system (malloc_trim) shortly after it ends. */
#define LLN_HTTP_TRIM_AFTER_BYTES ((size_t)1 << 20)
void lln__http_trim_later(lln_http_server *s);
/* Parses and dispatches what was read, while the connection may. */
void lln__http_process(conn *c);
/* The connection's timer (idle, header or body deadline) set to `ms`. */
void lln__http_arm(conn *c, unsigned ms);
/* Reads again (the linger after our side finished). */
void lln__http_read_start(conn *c);

/* http_write.c */
/* Response bytes in libuv's queue: not yet taken by the kernel. */
size_t lln__http_queued(conn *c);
/* Memory the connection's output holds: what is gathered and every write
 * request until its completion callback (libuv's queue size leaves out
 * bytes written at once whose callback has not run, and the requests). */
size_t lln__http_held(conn *c);
/* Over MAX_QUEUED_OUTPUT: the connection's next requests wait. */
int lln__http_output_full(conn *c);
/* Queues a+b after whatever the connection has gathered; with close_after
 * the connection shuts down once they are written. */
void lln__http_conn_write(conn *c, const char *a, size_t alen, const char *b, size_t blen, int close_after);

#endif
