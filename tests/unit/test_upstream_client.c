/* test_upstream_client: src/upstream/client.c against a tiny scripted HTTP/1.1
 * server that runs in a thread on 127.0.0.1 (port chosen by the kernel). Each
 * test owns its loop, its lln_upstream and its server, and checks that every
 * libuv handle is closed at the end (uv_loop_close == 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream/client.h"

/* ---- scripted server ---- */

typedef enum {
  SRV_OK,            /* 200 with a JSON body, keep-alive */
  SRV_TOO_MANY,      /* 429 with retry-after and a body */
  SRV_INFO_THEN_OK,  /* a 100 carrying Retry-After, then a plain 200 */
  SRV_HANG,          /* reads the request, never answers */
  SRV_STREAM,        /* chunked SSE, one event every few ms */
  SRV_STREAM_ERROR,  /* 500 with a body, for a streaming caller */
  SRV_OK_THEN_CLOSE, /* 200 keep-alive, then closes the idle connection */
  SRV_OK_CONN_CLOSE, /* 200 with Connection: close */
} srv_mode;

#define OK_BODY "{\"ok\":true}"
#define TOO_MANY_BODY "{\"error\":\"slow down\"}"
#define ERROR_BODY "{\"error\":\"boom\"}"
#define STREAM_EVENTS 6
#define MAX_REQUEST (4u << 20)

typedef struct {
  srv_mode mode;
  int listen_fd;
  int stop_pipe[2];
  int port;
  pthread_t thread;
  /* Read by the test only after server_stop joined the thread. */
  int accepts;
  int requests;
  char last_request[8192];
  size_t last_body_len;
  char lines[4096]; /* every request line, each ending in \n */
  size_t lines_len;
} test_server;

static const char *stream_event(int i, char *out, size_t cap) {
  if (i == STREAM_EVENTS - 1)
    snprintf(out, cap, "data: [DONE]\n\n");
  else
    snprintf(out, cap, "data: {\"n\":%d}\n\n", i);
  return out;
}

static void stream_expected(char *out, size_t cap) {
  out[0] = '\0';
  for (int i = 0; i < STREAM_EVENTS; i++) {
    char ev[64];
    strncat(out, stream_event(i, ev, sizeof ev), cap - strlen(out) - 1);
  }
}

/* 1 when fd is readable, 0 when the server is told to stop or the wait ran out. */
static int wait_readable(test_server *s, int fd, int timeout_ms) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_pipe[0], .events = POLLIN}};
  for (;;) {
    int n = poll(p, 2, timeout_ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || (p[1].revents & POLLIN))
      return 0;
    return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
  }
}

static int send_all(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_str(int fd, const char *s) { return send_all(fd, s, strlen(s)); }

/* Reads one request (head and Content-Length body); 0 on success, -1 on EOF
 * or stop. Keeps the first bytes of it in last_request. */
static int read_request(test_server *s, int fd) {
  size_t cap = MAX_REQUEST;
  char *buf = malloc(cap + 1);
  size_t len = 0;
  size_t need = 0;
  int rc = -1;
  for (;;) {
    if (!need) {
      buf[len] = '\0';
      char *end = strstr(buf, "\r\n\r\n");
      if (end) {
        size_t body = 0;
        char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl && cl < end)
          body = strtoul(cl + 17, NULL, 10);
        need = (size_t)(end + 4 - buf) + body;
        s->last_body_len = body;
      }
    }
    if (need && len >= need) {
      rc = 0;
      break;
    }
    if (len >= cap || !wait_readable(s, fd, -1))
      break;
    ssize_t n = recv(fd, buf + len, cap - len, 0);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  if (rc == 0) {
    size_t keep = len < sizeof s->last_request - 1 ? len : sizeof s->last_request - 1;
    memcpy(s->last_request, buf, keep);
    s->last_request[keep] = '\0';
    size_t line = strcspn(buf, "\r");
    if (s->lines_len + line + 2 < sizeof s->lines) {
      memcpy(s->lines + s->lines_len, buf, line);
      s->lines_len += line;
      s->lines[s->lines_len++] = '\n';
      s->lines[s->lines_len] = '\0';
    }
    s->requests++;
  }
  free(buf);
  return rc;
}

static int respond(test_server *s, int fd) {
  char head[256];
  switch (s->mode) {
  case SRV_OK:
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             strlen(OK_BODY));
    return send_str(fd, head) || send_str(fd, OK_BODY);
  case SRV_TOO_MANY:
    snprintf(head, sizeof head,
             "HTTP/1.1 429 Too Many Requests\r\nretry-after:   7 \r\nContent-Length: %zu\r\n\r\n",
             strlen(TOO_MANY_BODY));
    return send_str(fd, head) || send_str(fd, TOO_MANY_BODY);
  case SRV_INFO_THEN_OK:
    snprintf(head, sizeof head,
             "HTTP/1.1 100 Continue\r\nRetry-After: 9\r\n\r\n"
             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
             strlen(OK_BODY));
    return send_str(fd, head) || send_str(fd, OK_BODY);
  case SRV_OK_THEN_CLOSE:
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", strlen(OK_BODY));
    if (send_str(fd, head) || send_str(fd, OK_BODY))
      return -1;
    return -1; /* server_main closes the connection the client pooled */
  case SRV_OK_CONN_CLOSE:
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
             strlen(OK_BODY));
    if (send_str(fd, head) || send_str(fd, OK_BODY))
      return -1;
    return -1;
  case SRV_STREAM_ERROR:
    snprintf(head, sizeof head, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: %zu\r\n\r\n",
             strlen(ERROR_BODY));
    return send_str(fd, head) || send_str(fd, ERROR_BODY);
  case SRV_STREAM:
    if (send_str(fd,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"))
      return -1;
    for (int i = 0; i < STREAM_EVENTS; i++) {
      char ev[64], chunk[96];
      stream_event(i, ev, sizeof ev);
      snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", strlen(ev), ev);
      if (send_str(fd, chunk))
        return -1;
      if (wait_readable(s, s->stop_pipe[0], 15)) /* a pause between events, cut short by stop */
        return -1;
    }
    return send_str(fd, "0\r\n\r\n");
  case SRV_HANG:
    /* Swallow whatever comes until the client gives up and closes. */
    while (wait_readable(s, fd, -1)) {
      char tmp[256];
      if (recv(fd, tmp, sizeof tmp, 0) <= 0)
        break;
    }
    return -1;
  }
  return -1;
}

static void *server_main(void *arg) {
  test_server *s = arg;
  while (wait_readable(s, s->listen_fd, -1)) {
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
      continue;
    s->accepts++;
    while (read_request(s, fd) == 0 && respond(s, fd) == 0) {
    }
    close(fd);
  }
  return NULL;
}

static void server_start(test_server *s, srv_mode mode) {
  memset(s, 0, sizeof *s);
  s->mode = mode;
  s->listen_fd = loopback_listen(&s->port);
  assert_true(s->listen_fd >= 0);
  assert_int_equal(pipe(s->stop_pipe), 0);
  assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(test_server *s) {
  assert_int_equal(write(s->stop_pipe[1], "x", 1), 1);
  pthread_join(s->thread, NULL);
  close(s->listen_fd);
  close(s->stop_pipe[0]);
  close(s->stop_pipe[1]);
}

static void server_url(const test_server *s, const char *path, char *out, size_t cap) {
  snprintf(out, cap, "http://127.0.0.1:%d%s", s->port, path);
}

/* ---- loop helpers ---- */

typedef struct {
  uv_loop_t loop;
  lln_upstream *up;
} fixture;

static void fixture_init(fixture *f) {
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(lln_upstream_init(&f->up, &f->loop), 0);
  assert_non_null(f->up);
}

static void noop_timer(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag is set or ms pass; a ticking timer keeps a stuck
 * loop from blocking forever so a broken client fails instead of hanging. */
static void run_until(fixture *f, const int *flag, int ms) {
  uv_timer_t tick;
  uv_timer_init(&f->loop, &tick);
  uv_timer_start(&tick, noop_timer, 10, 10);
  uv_update_time(&f->loop);
  uint64_t deadline = uv_now(&f->loop) + (uint64_t)ms;
  while ((!flag || !*flag) && uv_now(&f->loop) < deadline)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void fixture_close(fixture *f) {
  lln_upstream_close(f->up);
  for (int i = 0; i < 10; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- a call's observable outcome ---- */

typedef struct {
  int done;
  lln_up_result result;
  long status;
  char body[4096];
  size_t body_len;
  char retry_after[64];
  int has_retry_after;
  int has_error;
  double elapsed_ms;
  /* streaming */
  lln_upstream_call *call;
  fixture *f;
  char streamed[4096];
  size_t streamed_len;
  int data_calls;
  int pause_every;    /* on_data returns 1 every time */
  int resume_inline;  /* ...after calling lln_upstream_resume itself */
  int cancel_in_data; /* on_data cancels its own call */
  int paused;
  int data_while_paused;
  int pauses;
  uv_timer_t resume_timer;
  /* re-entrancy: what on_done / on_data do to other calls */
  const lln_upstream_request *start_next;
  lln_upstream_call *next_call;
  lln_upstream_call *cancel_other;
} outcome;

static void on_done(void *ud, const lln_upstream_response *r) {
  outcome *o = ud;
  o->done++;
  o->result = r->result;
  o->status = r->status;
  o->body_len = r->body_len;
  assert_non_null(r->body); /* never NULL, even when empty */
  snprintf(o->body, sizeof o->body, "%s", r->body);
  o->has_retry_after = r->retry_after != NULL;
  if (r->retry_after)
    snprintf(o->retry_after, sizeof o->retry_after, "%s", r->retry_after);
  o->has_error = r->error != NULL;
  o->elapsed_ms = r->elapsed_ms;
  if (o->start_next)
    o->next_call = lln_upstream_start(o->f->up, o->start_next);
  if (o->cancel_other)
    lln_upstream_cancel(o->cancel_other);
}

static void on_resume_timer(uv_timer_t *t) {
  outcome *o = t->data;
  o->paused = 0;
  lln_upstream_resume(o->call);
}

static int on_data(void *ud, const char *data, size_t len) {
  outcome *o = ud;
  o->data_calls++;
  if (o->paused)
    o->data_while_paused++;
  if (o->streamed_len + len < sizeof o->streamed) {
    memcpy(o->streamed + o->streamed_len, data, len);
    o->streamed_len += len;
    o->streamed[o->streamed_len] = '\0';
  }
  if (o->start_next && !o->next_call) {
    o->next_call = lln_upstream_start(o->f->up, o->start_next);
    o->start_next = NULL;
  }
  if (o->cancel_in_data) {
    lln_upstream_cancel(o->call);
    return 0;
  }
  if (!o->pause_every)
    return 0;
  if (o->resume_inline) {
    lln_upstream_resume(o->call);
    return 1;
  }
  o->paused = 1;
  o->pauses++;
  uv_timer_start(&o->resume_timer, on_resume_timer, 20, 0);
  return 1;
}

static lln_upstream_request make_request(const char *url, outcome *o) {
  lln_upstream_request req;
  memset(&req, 0, sizeof req);
  req.url = url;
  req.body = "{\"model\":\"m\"}";
  req.body_len = strlen(req.body);
  req.timeout_ms = 5000;
  req.connect_timeout_ms = 2000;
  req.on_done = on_done;
  req.ud = o;
  return req;
}

/* ---- tests ---- */

static void test_ok_with_body(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_OK);
  char url[128];
  server_url(&s, "/v1/chat/completions?x=1", url, sizeof url);

  outcome o = {0};
  /* The client must copy everything: these go away right after start. */
  char *body = strdup("{\"model\":\"gpt\",\"messages\":[]}");
  char hdr[] = "X-Test: one";
  const char *headers[] = {hdr, "Authorization: Bearer k", NULL};
  lln_upstream_request req = make_request(url, &o);
  req.body = body;
  req.body_len = strlen(body);
  req.headers = headers;
  assert_non_null(lln_upstream_start(f.up, &req));
  memset(body, 'Z', strlen(body));
  free(body);
  memset(hdr, 'Z', sizeof hdr - 1);

  run_until(&f, &o.done, 3000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.result, LLN_UP_OK);
  assert_int_equal(o.status, 200);
  assert_string_equal(o.body, OK_BODY);
  assert_int_equal(o.body_len, strlen(OK_BODY));
  assert_false(o.has_retry_after);
  assert_false(o.has_error);
  assert_true(o.elapsed_ms >= 0.0);
  fixture_close(&f);
  server_stop(&s);

  const char *r = s.last_request;
  assert_true(strncmp(r, "POST /v1/chat/completions?x=1 HTTP/1.1\r\n", 40) == 0);
  assert_non_null(strstr(r, "\r\nX-Test: one\r\n"));
  assert_non_null(strstr(r, "\r\nAuthorization: Bearer k\r\n"));
  assert_non_null(strstr(r, "\r\nContent-Type: application/json\r\n"));
  assert_non_null(strstr(r, "\r\nAccept-Encoding: "));
  assert_null(strcasestr(r, "\r\nExpect:"));
  char *end = strstr(r, "\r\n\r\n");
  assert_non_null(end);
  assert_string_equal(end + 4, "{\"model\":\"gpt\",\"messages\":[]}");
}

static void test_request_shape(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_OK);
  char url[128];
  server_url(&s, "/v1/models", url, sizeof url);

  /* A caller's own Content-Type wins over the JSON default. */
  outcome o1 = {0};
  const char *headers[] = {"content-type: text/plain", NULL};
  lln_upstream_request req = make_request(url, &o1);
  req.headers = headers;
  req.body = "hi";
  req.body_len = 2;
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o1.done, 3000);
  assert_int_equal(o1.done, 1);
  char first[sizeof s.last_request];
  /* The server thread is idle between requests; the response already came back. */
  snprintf(first, sizeof first, "%s", s.last_request);

  outcome o2 = {0};
  req = make_request(url, &o2);
  req.method = "GET";
  req.body = NULL;
  req.body_len = 0;
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o2.done, 3000);
  assert_int_equal(o2.done, 1);
  assert_int_equal(o2.status, 200);
  fixture_close(&f);
  server_stop(&s);

  assert_true(strncmp(first, "POST /v1/models HTTP/1.1\r\n", 26) == 0);
  assert_non_null(strstr(first, "\r\ncontent-type: text/plain\r\n"));
  assert_null(strstr(first, "application/json"));
  assert_true(strncmp(s.last_request, "GET /v1/models HTTP/1.1\r\n", 25) == 0);
  assert_null(strcasestr(s.last_request, "content-type"));
  assert_null(strcasestr(s.last_request, "content-length"));
}

static void test_large_body_sent_without_expect(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_OK);
  char url[128];
  server_url(&s, "/v1/chat/completions", url, sizeof url);
  /* Big enough that curl would otherwise ask "Expect: 100-continue" and wait. */
  size_t n = 3u << 19;
  char *body = malloc(n);
  assert_non_null(body);
  memset(body, 'a', n);
  outcome o = {0};
  lln_upstream_request req = make_request(url, &o);
  req.body = body;
  req.body_len = n;
  assert_non_null(lln_upstream_start(f.up, &req));
  free(body);
  run_until(&f, &o.done, 3000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.status, 200);
  fixture_close(&f);
  server_stop(&s);
  assert_null(strcasestr(s.last_request, "\r\nExpect:"));
  assert_int_equal(s.last_body_len, n);
}

static void test_error_status_keeps_body_and_retry_after(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_TOO_MANY);
  char url[128];
  server_url(&s, "/v1/chat/completions", url, sizeof url);
  outcome o = {0};
  lln_upstream_request req = make_request(url, &o);
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o.done, 3000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.result, LLN_UP_OK);
  assert_int_equal(o.status, 429);
  assert_string_equal(o.body, TOO_MANY_BODY);
  assert_true(o.has_retry_after);
  assert_string_equal(o.retry_after, "7");
  assert_false(o.has_error);
  fixture_close(&f);
  server_stop(&s);
}

/* A request's own max_body (quota.c's bound on a provider's answer) ends
 * a call whose collected body is longer, as the 64 MiB default does. */
static void test_max_body_bounds_collected_body(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_OK);
  char url[128];
  server_url(&s, "/v1/key", url, sizeof url);
  outcome o = {0};
  lln_upstream_request req = make_request(url, &o);
  req.method = "GET";
  req.max_body = strlen(OK_BODY) - 1;
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o.done, 3000);
  assert_int_equal(o.done, 1);
  assert_int_not_equal(o.result, LLN_UP_OK);
  assert_true(o.has_error);
  assert_true(o.body_len < strlen(OK_BODY));
  fixture_close(&f);
  server_stop(&s);
}

static void test_retry_after_reset_by_new_status_line(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_INFO_THEN_OK);
  char url[128];
  server_url(&s, "/", url, sizeof url);
  outcome o = {0};
  lln_upstream_request req = make_request(url, &o);
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o.done, 3000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.result, LLN_UP_OK);
  assert_int_equal(o.status, 200);
  assert_string_equal(o.body, OK_BODY);
  assert_false(o.has_retry_after);
  fixture_close(&f);
  server_stop(&s);
}

static void test_total_timeout(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_HANG);
  char url[128];
  server_url(&s, "/", url, sizeof url);
  outcome o = {0};
  lln_upstream_request req = make_request(url, &o);
  req.timeout_ms = 300;
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o.done, 3000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.result, LLN_UP_TIMEOUT);
  assert_int_equal(o.status, 0);
  assert_true(o.has_error);
  assert_string_equal(o.body, "");
  assert_int_equal(o.body_len, 0);
  assert_true(o.elapsed_ms >= 250.0);
  fixture_close(&f);
  server_stop(&s);
  assert_int_equal(s.requests, 1);
}

static void test_connection_refused(void **state) {
  (void)state;
  int port = 0;
  int fd = loopback_listen(&port);
  assert_true(fd >= 0);
  close(fd); /* nothing listens there now */
  fixture f;
  fixture_init(&f);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
  outcome o = {0};
  lln_upstream_request req = make_request(url, &o);
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o.done, 3000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.result, LLN_UP_CONNECT);
  assert_int_equal(o.status, 0);
  assert_true(o.has_error);
  fixture_close(&f);
}

static void stream_run(outcome *o, int pause_every, int resume_inline) {
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_STREAM);
  char url[128];
  server_url(&s, "/v1/chat/completions", url, sizeof url);
  o->f = &f;
  o->pause_every = pause_every;
  o->resume_inline = resume_inline;
  uv_timer_init(&f.loop, &o->resume_timer);
  o->resume_timer.data = o;
  lln_upstream_request req = make_request(url, o);
  req.on_data = on_data;
  o->call = lln_upstream_start(f.up, &req);
  assert_non_null(o->call);
  run_until(&f, &o->done, 3000);
  uv_close((uv_handle_t *)&o->resume_timer, NULL);
  fixture_close(&f);
  server_stop(&s);
}

static void test_stream_pause_and_resume(void **state) {
  (void)state;
  outcome o = {0};
  stream_run(&o, 1, 0);
  char want[1024];
  stream_expected(want, sizeof want);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.result, LLN_UP_OK);
  assert_int_equal(o.status, 200);
  assert_int_equal(o.body_len, 0); /* the body went to on_data */
  assert_true(o.pauses >= 2);
  assert_int_equal(o.data_while_paused, 0);
  /* Every byte exactly once and in order, although curl re-offers paused bytes. */
  assert_string_equal(o.streamed, want);
}

static void test_stream_resume_inside_on_data(void **state) {
  (void)state;
  outcome o = {0};
  stream_run(&o, 1, 1);
  char want[1024];
  stream_expected(want, sizeof want);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.status, 200);
  assert_string_equal(o.streamed, want);
}

static void test_stream_error_status_is_collected(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_STREAM_ERROR);
  char url[128];
  server_url(&s, "/v1/chat/completions", url, sizeof url);
  outcome o = {0};
  lln_upstream_request req = make_request(url, &o);
  req.on_data = on_data;
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o.done, 3000);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.status, 500);
  assert_int_equal(o.data_calls, 0);
  assert_string_equal(o.body, ERROR_BODY);
  fixture_close(&f);
  server_stop(&s);
}

static void test_cancel_in_flight(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_HANG);
  char url[128];
  server_url(&s, "/", url, sizeof url);
  outcome o = {0};
  lln_upstream_request req = make_request(url, &o);
  lln_upstream_call *c = lln_upstream_start(f.up, &req);
  assert_non_null(c);
  run_until(&f, NULL, 100);
  lln_upstream_cancel(c);
  run_until(&f, NULL, 100);
  assert_int_equal(o.done, 0);
  fixture_close(&f);
  server_stop(&s);
  assert_int_equal(s.requests, 1); /* it really was in flight */
}

static void test_cancel_from_on_data(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_STREAM);
  char url[128];
  server_url(&s, "/", url, sizeof url);
  outcome o = {0};
  o.cancel_in_data = 1;
  lln_upstream_request req = make_request(url, &o);
  req.on_data = on_data;
  o.call = lln_upstream_start(f.up, &req);
  assert_non_null(o.call);
  run_until(&f, NULL, 200);
  assert_int_equal(o.data_calls, 1);
  assert_int_equal(o.done, 0);
  fixture_close(&f);
  server_stop(&s);
}

static void test_start_from_on_data(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server stream, ok;
  server_start(&stream, SRV_STREAM);
  server_start(&ok, SRV_OK);
  char url1[128], url2[128];
  server_url(&stream, "/", url1, sizeof url1);
  server_url(&ok, "/", url2, sizeof url2);
  outcome o1 = {0}, o2 = {0};
  o1.f = &f;
  lln_upstream_request req2 = make_request(url2, &o2);
  o1.start_next = &req2;
  lln_upstream_request req1 = make_request(url1, &o1);
  req1.on_data = on_data;
  o1.call = lln_upstream_start(f.up, &req1);
  assert_non_null(o1.call);
  run_until(&f, &o1.done, 3000);
  run_until(&f, &o2.done, 3000);
  assert_non_null(o1.next_call);
  assert_int_equal(o1.done, 1);
  assert_int_equal(o2.done, 1);
  assert_int_equal(o2.status, 200);
  assert_string_equal(o2.body, OK_BODY);
  fixture_close(&f);
  server_stop(&stream);
  server_stop(&ok);
}

static void test_sequential_calls_reuse_connection(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_OK);
  char url[128];
  server_url(&s, "/v1/chat/completions", url, sizeof url);
  outcome o1 = {0}, o2 = {0};
  lln_upstream_request req2 = make_request(url, &o2);
  o1.f = &f;
  o1.start_next = &req2; /* started from inside on_done */
  lln_upstream_request req1 = make_request(url, &o1);
  assert_non_null(lln_upstream_start(f.up, &req1));
  run_until(&f, &o1.done, 3000);
  assert_non_null(o1.next_call);
  run_until(&f, &o2.done, 3000);
  assert_int_equal(o1.done, 1);
  assert_int_equal(o2.done, 1);
  assert_int_equal(o2.status, 200);
  assert_string_equal(o2.body, OK_BODY);
  fixture_close(&f);
  server_stop(&s);
  assert_int_equal(s.requests, 2);
  assert_int_equal(s.accepts, 1);
}

/* Loop turns in `ms` with a 10 ms tick: a few dozen when the loop sleeps,
 * many thousands when some handle spins. */
static int loop_turns(fixture *f, int ms) {
  uv_timer_t tick;
  uv_timer_init(&f->loop, &tick);
  uv_timer_start(&tick, noop_timer, 10, 10);
  uv_update_time(&f->loop);
  uint64_t deadline = uv_now(&f->loop) + (uint64_t)ms;
  int turns = 0;
  while (uv_now(&f->loop) < deadline) {
    uv_run(&f->loop, UV_RUN_ONCE);
    turns++;
  }
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  return turns;
}

/* The upstream closes each keep-alive connection once it answered: the
 * pooled socket must neither spin the loop while it sits idle nor break the
 * next call, which curl makes on a fresh connection. */
static void test_peer_closes_pooled_connection(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_OK_THEN_CLOSE);
  char url[128];
  server_url(&s, "/v1/chat/completions", url, sizeof url);
  for (int i = 0; i < 4; i++) {
    outcome o = {0};
    lln_upstream_request req = make_request(url, &o);
    assert_non_null(lln_upstream_start(f.up, &req));
    run_until(&f, &o.done, 3000);
    assert_int_equal(o.done, 1);
    assert_int_equal(o.result, LLN_UP_OK);
    assert_int_equal(o.status, 200);
    assert_string_equal(o.body, OK_BODY);
    int turns = loop_turns(&f, 100);
    assert_true(turns < 1000); /* ~10 expected; a readable dead socket would give 10^4+ */
  }
  fixture_close(&f);
  server_stop(&s);
  assert_int_equal(s.requests, 4);
  assert_int_equal(s.accepts, 4);
}

/* A pooled connection stays in the pool across calls with idle gaps. */
static void test_pooled_connection_reused_after_idle(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_OK);
  char url[128];
  server_url(&s, "/", url, sizeof url);
  for (int i = 0; i < 3; i++) {
    outcome o = {0};
    lln_upstream_request req = make_request(url, &o);
    assert_non_null(lln_upstream_start(f.up, &req));
    run_until(&f, &o.done, 3000);
    assert_int_equal(o.status, 200);
    assert_true(loop_turns(&f, 50) < 1000);
  }
  fixture_close(&f);
  server_stop(&s);
  assert_int_equal(s.requests, 3);
  assert_int_equal(s.accepts, 1);
}

/* One easy handle serves the calls in turn (a GET, then POSTs): what one
 * call set must not leak into the next (method, body, headers, timeout). */
static void test_handle_reuse_resets_options(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server get_srv, post_srv, slow_srv;
  server_start(&get_srv, SRV_OK);
  server_start(&post_srv, SRV_OK);
  server_start(&slow_srv, SRV_STREAM); /* ~90 ms to answer */
  char url1[128], url2[128], url3[128];
  server_url(&get_srv, "/a", url1, sizeof url1);
  server_url(&post_srv, "/b", url2, sizeof url2);
  server_url(&slow_srv, "/c", url3, sizeof url3);

  outcome o1 = {0}, o2 = {0}, o3 = {0};
  lln_upstream_request req = make_request(url1, &o1);
  req.method = "GET";
  req.body = NULL;
  req.body_len = 0;
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o1.done, 3000);
  assert_int_equal(o1.status, 200);

  const char *headers[] = {"X-One: 1", NULL};
  req = make_request(url2, &o2);
  req.headers = headers;
  req.timeout_ms = 60;
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o2.done, 3000);
  assert_int_equal(o2.status, 200);

  req = make_request(url3, &o3);
  req.body = "{}";
  req.body_len = 2;
  req.timeout_ms = 0; /* none: the previous call's 60 ms must not apply */
  assert_non_null(lln_upstream_start(f.up, &req));
  run_until(&f, &o3.done, 3000);
  assert_int_equal(o3.result, LLN_UP_OK);
  assert_int_equal(o3.status, 200);

  fixture_close(&f);
  server_stop(&get_srv);
  server_stop(&post_srv);
  server_stop(&slow_srv);
  assert_true(strncmp(get_srv.last_request, "GET /a HTTP/1.1\r\n", 17) == 0);
  assert_null(strcasestr(get_srv.last_request, "content-length"));
  assert_true(strncmp(post_srv.last_request, "POST /b HTTP/1.1\r\n", 18) == 0);
  assert_non_null(strstr(post_srv.last_request, "\r\nX-One: 1\r\n"));
  assert_non_null(strstr(post_srv.last_request, "\r\nContent-Type: application/json\r\n"));
  assert_int_equal(post_srv.last_body_len, strlen("{\"model\":\"m\"}"));
  assert_true(strncmp(slow_srv.last_request, "POST /c HTTP/1.1\r\n", 18) == 0);
  assert_null(strstr(slow_srv.last_request, "X-One"));
  assert_int_equal(slow_srv.last_body_len, 2);
}

/* More URLs in flight at once than the loop keeps parsed (8), then as many
 * new ones on the same easy handles: each call reaches its own path. */
#define MANY_URLS 11
static void test_many_urls(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server s;
  server_start(&s, SRV_OK_CONN_CLOSE); /* one connection at a time, none pooled */
  for (int round = 0; round < 2; round++) {
    char urls[MANY_URLS][128];
    outcome o[MANY_URLS];
    memset(o, 0, sizeof o);
    for (int i = 0; i < MANY_URLS; i++) {
      char path[32];
      snprintf(path, sizeof path, "/r%d/p%d", round, i);
      server_url(&s, path, urls[i], sizeof urls[i]);
      lln_upstream_request req = make_request(urls[i], &o[i]);
      assert_non_null(lln_upstream_start(f.up, &req));
    }
    for (int i = 0; i < MANY_URLS; i++) {
      run_until(&f, &o[i].done, 5000);
      assert_int_equal(o[i].status, 200);
    }
  }
  fixture_close(&f);
  server_stop(&s);
  assert_int_equal(s.requests, 2 * MANY_URLS);
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < MANY_URLS; i++) {
      char line[64];
      snprintf(line, sizeof line, "POST /r%d/p%d HTTP/1.1\n", round, i);
      assert_non_null(strstr(s.lines, line));
    }
}

static void test_cancel_other_from_on_done(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server ok, hang;
  server_start(&ok, SRV_OK);
  server_start(&hang, SRV_HANG);
  char url1[128], url2[128];
  server_url(&hang, "/", url1, sizeof url1);
  server_url(&ok, "/", url2, sizeof url2);
  outcome slow = {0}, fast = {0};
  lln_upstream_request req1 = make_request(url1, &slow);
  lln_upstream_call *slow_call = lln_upstream_start(f.up, &req1);
  assert_non_null(slow_call);
  fast.cancel_other = slow_call;
  lln_upstream_request req2 = make_request(url2, &fast);
  assert_non_null(lln_upstream_start(f.up, &req2));
  run_until(&f, &fast.done, 3000);
  run_until(&f, NULL, 100);
  assert_int_equal(fast.done, 1);
  assert_int_equal(slow.done, 0);
  fixture_close(&f);
  server_stop(&ok);
  server_stop(&hang);
}

static void test_close_with_call_in_flight(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  test_server hang, stream;
  server_start(&hang, SRV_HANG);
  server_start(&stream, SRV_STREAM);
  char url1[128], url2[128];
  server_url(&hang, "/", url1, sizeof url1);
  server_url(&stream, "/", url2, sizeof url2);
  outcome o1 = {0}, o2 = {0};
  lln_upstream_request req1 = make_request(url1, &o1);
  assert_non_null(lln_upstream_start(f.up, &req1));
  /* The second one is paused (its resume timer is never armed) when the close comes. */
  lln_upstream_request req2 = make_request(url2, &o2);
  req2.on_data = on_data;
  o2.pause_every = 1;
  o2.f = &f;
  uv_timer_init(&f.loop, &o2.resume_timer);
  o2.resume_timer.data = &o2;
  o2.call = lln_upstream_start(f.up, &req2);
  assert_non_null(o2.call);
  run_until(&f, NULL, 100);
  uv_timer_stop(&o2.resume_timer);
  uv_close((uv_handle_t *)&o2.resume_timer, NULL);
  assert_true(o2.pauses >= 1);
  fixture_close(&f); /* asserts every handle is closed */
  assert_int_equal(o1.done, 0);
  assert_int_equal(o2.done, 0);
  server_stop(&hang);
  server_stop(&stream);
}

static void test_bad_arguments(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  outcome o = {0};
  lln_upstream_request req = make_request(NULL, &o);
  assert_null(lln_upstream_start(f.up, &req));
  lln_upstream_cancel(NULL);
  lln_upstream_resume(NULL);
  fixture_close(&f);
  assert_int_equal(o.done, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ok_with_body),
      cmocka_unit_test(test_request_shape),
      cmocka_unit_test(test_large_body_sent_without_expect),
      cmocka_unit_test(test_error_status_keeps_body_and_retry_after),
      cmocka_unit_test(test_max_body_bounds_collected_body),
      cmocka_unit_test(test_retry_after_reset_by_new_status_line),
      cmocka_unit_test(test_total_timeout),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_stream_pause_and_resume),
      cmocka_unit_test(test_stream_resume_inside_on_data),
      cmocka_unit_test(test_stream_error_status_is_collected),
      cmocka_unit_test(test_cancel_in_flight),
      cmocka_unit_test(test_cancel_from_on_data),
      cmocka_unit_test(test_start_from_on_data),
      cmocka_unit_test(test_sequential_calls_reuse_connection),
      cmocka_unit_test(test_cancel_other_from_on_done),
      cmocka_unit_test(test_peer_closes_pooled_connection),
      cmocka_unit_test(test_handle_reuse_resets_options),
      cmocka_unit_test(test_many_urls),
      cmocka_unit_test(test_pooled_connection_reused_after_idle),
      cmocka_unit_test(test_close_with_call_in_flight),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
