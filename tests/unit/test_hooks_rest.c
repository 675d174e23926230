/* test_hooks_rest: src/hooks/rest.c (through lln_fn_start) against a tiny
 * HTTP server in a thread on 127.0.0.1 (port chosen by the kernel) that
 * records the request it got: method and target with URL-encoded values,
 * headers that a CR/LF in a value could not split, a JSON body that decodes
 * back to the exact value; then failures (500, timeout, refused, cancel). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lookup_vars.h"
#include "loopback.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hooks/function.h"
#include "upstream/client.h"

/* ---- recording server ---- */

typedef enum { SRV_OK, SRV_ERROR, SRV_HANG } srv_mode;

#define OK_BODY "{\"result\":\"fine\"}"
#define ERROR_BODY "{\"error\":\"boom\"}"

typedef struct {
  srv_mode mode;
  int listen_fd;
  int stop_pipe[2];
  int port;
  pthread_t thread;
  /* read by the test only after server_stop joined the thread */
  int requests;
  char request[65536]; /* the last request: head and body */
  size_t head_len, body_len;
} test_server;

static int wait_readable(test_server *s, int fd) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_pipe[0], .events = POLLIN}};
  for (;;) {
    int n = poll(p, 2, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || (p[1].revents & POLLIN))
      return 0;
    return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
  }
}

static int read_request(test_server *s, int fd) {
  size_t len = 0, need = 0, cap = sizeof s->request - 1;
  for (;;) {
    if (!need) {
      s->request[len] = '\0';
      char *end = strstr(s->request, "\r\n\r\n");
      if (end) {
        size_t body = 0;
        char *cl = strcasestr(s->request, "\r\ncontent-length:");
        if (cl && cl < end)
          body = strtoul(cl + 17, NULL, 10);
        s->head_len = (size_t)(end + 4 - s->request);
        s->body_len = body;
        need = s->head_len + body;
      }
    }
    if (need && len >= need)
      break;
    if (len >= cap || !wait_readable(s, fd))
      return -1;
    ssize_t n = recv(fd, s->request + len, cap - len, 0);
    if (n <= 0)
      return -1;
    len += (size_t)n;
  }
  s->request[len] = '\0';
  s->requests++;
  return 0;
}

static void send_str(int fd, const char *str) {
  size_t len = strlen(str);
  while (len) {
    ssize_t n = send(fd, str, len, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    str += n;
    len -= (size_t)n;
  }
}

static void respond(test_server *s, int fd) {
  char head[256];
  switch (s->mode) {
  case SRV_OK:
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             strlen(OK_BODY));
    send_str(fd, head);
    send_str(fd, OK_BODY);
    break;
  case SRV_ERROR:
    snprintf(head, sizeof head,
             "HTTP/1.1 500 Internal Server Error\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             strlen(ERROR_BODY));
    send_str(fd, head);
    send_str(fd, ERROR_BODY);
    break;
  case SRV_HANG:
    /* never answers; waits for the client to give up */
    while (wait_readable(s, fd)) {
      char tmp[256];
      if (recv(fd, tmp, sizeof tmp, 0) <= 0)
        break;
    }
    break;
  }
}

static void *server_main(void *arg) {
  test_server *s = arg;
  while (wait_readable(s, s->listen_fd)) {
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
      continue;
    if (read_request(s, fd) == 0)
      respond(s, fd);
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

/* The value of header `name` in the recorded head (first match), or NULL. */
static const char *header(const test_server *s, const char *name, char *out, size_t cap) {
  size_t nlen = strlen(name);
  const char *p = strstr(s->request, "\r\n");
  const char *end = s->request + s->head_len;
  while (p && p + 2 < end) {
    p += 2;
    const char *eol = strstr(p, "\r\n");
    if (!eol || eol > end)
      break;
    if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
      const char *v = p + nlen + 1;
      while (*v == ' ')
        v++;
      snprintf(out, cap, "%.*s", (int)(eol - v), v);
      return out;
    }
    p = eol;
  }
  return NULL;
}

static int count_headers(const test_server *s, const char *name) {
  int n = 0;
  size_t nlen = strlen(name);
  for (const char *p = s->request; (p = strstr(p, "\r\n")) && p < s->request + s->head_len; p += 2)
    if (strncasecmp(p + 2, name, nlen) == 0 && p[2 + nlen] == ':')
      n++;
  return n;
}

/* ---- variables ---- */

#define TRICKY "He said \"hi\"\nthen \\left\r\ttab \x01 caf\xc3\xa9 $INPUT $secrets.k.v"

static const var VARS[] = {
    {"INPUT", TRICKY}, {"NODE", "router"}, {"QUERY", "a b&c=d/e?f#g%"}, {"HDR", "x\r\nEvil: 1"}, {NULL, NULL},
};

static const char *lookup(void *ctx, const char *name, size_t len) {
  (void)ctx;
  return var_find(VARS, name, len);
}

/* ---- loop and call helpers ---- */

typedef struct {
  int done;
  int ok;
  char output[4096];
  char error[512];
  int has_error;
} outcome;

static void on_done(void *ud, const lln_fn_result *r) {
  outcome *o = ud;
  o->done++;
  o->ok = r->ok;
  assert_non_null(r->output);
  snprintf(o->output, sizeof o->output, "%s", r->output);
  o->has_error = r->error != NULL;
  snprintf(o->error, sizeof o->error, "%s", r->error ? r->error : "");
}

#define URL_CAP 512

typedef struct {
  uv_loop_t loop;
  lln_upstream *up;
  char url[URL_CAP]; /* the function's url while a call runs */
} fixture;

static void fixture_init(fixture *f) {
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(lln_upstream_init(&f->up, &f->loop), 0);
}

static void noop_timer(uv_timer_t *t) { (void)t; }

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
  for (int i = 0; i < 20; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
}

static lln_function rest_fn(const char *url) {
  lln_function fn;
  memset(&fn, 0, sizeof fn);
  fn.name = "rest-fn";
  fn.type = LLN_FN_REST;
  fn.url = (char *)url;
  return fn;
}

/* Starts fn on a fresh fixture, its url http://127.0.0.1:port + path;
 * returns what lln_fn_start did. */
static lln_fn_call *start_at(fixture *f, lln_function *fn, int port, const char *path, outcome *o) {
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d%s", port, path);
  fn->url = f->url;
  fixture_init(f);
  lln_fn_request req = {
      .loop = &f->loop, .upstream = f->up, .fn = fn, .lookup = lookup, .done = on_done, .ud = o};
  return lln_fn_start(&req);
}

/* Runs fn against a fresh server in `mode`; the server is stopped (and its
 * recording readable) on return. */
static void call(test_server *s, srv_mode mode, lln_function *fn, const char *path, outcome *o, int ms) {
  server_start(s, mode);
  fixture f;
  assert_non_null(start_at(&f, fn, s->port, path, o));
  run_until(&f, &o->done, ms);
  fixture_close(&f);
  server_stop(s);
  fn->url = NULL;
}

/* ---- tests ---- */

static test_server srv; /* large: kept off the stack */

static void test_get_with_encoded_query(void **state) {
  (void)state;
  lln_function fn = rest_fn(NULL);
  outcome o = {0};
  call(&srv, SRV_OK, &fn, "/hook/$NODE?q=$QUERY&n=${NODE}&lit=$$x", &o, 5000);
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_false(o.has_error);
  assert_string_equal(o.output, OK_BODY);
  assert_int_equal(srv.requests, 1);
  const char *want = "GET /hook/router?q=a%20b%26c%3Dd%2Fe%3Ff%23g%25&n=router&lit=$x HTTP/1.1\r\n";
  assert_memory_equal(srv.request, want, strlen(want));
  assert_int_equal(srv.body_len, 0);
  char v[256];
  assert_null(header(&srv, "Content-Type", v, sizeof v)); /* no body, no content type */
}

static void test_post_json_body_round_trips(void **state) {
  (void)state;
  lln_function fn = rest_fn(NULL);
  fn.body = "{\"text\": \"$INPUT\", \"node\": \"$NODE\", \"len\": 3}";
  outcome o = {0};
  call(&srv, SRV_OK, &fn, "/post", &o, 5000);
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_memory_equal(srv.request, "POST /post HTTP/1.1\r\n", 21);
  char v[256];
  assert_non_null(header(&srv, "Content-Type", v, sizeof v));
  assert_string_equal(v, "application/json");
  assert_int_equal(count_headers(&srv, "Content-Type"), 1);
  cJSON *doc = cJSON_ParseWithLength(srv.request + srv.head_len, srv.body_len);
  assert_non_null(doc);
  cJSON *text = cJSON_GetObjectItemCaseSensitive(doc, "text");
  assert_true(cJSON_IsString(text));
  assert_string_equal(text->valuestring, TRICKY);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "node")->valuestring, "router");
  assert_int_equal(cJSON_GetObjectItemCaseSensitive(doc, "len")->valueint, 3);
  cJSON_Delete(doc);
}

static void test_headers_cannot_be_injected(void **state) {
  (void)state;
  lln_function fn = rest_fn(NULL);
  char *headers[] = {"X-Input: $HDR", "X-Node: $NODE", "content-type: text/plain; charset=utf-8", NULL};
  fn.headers = headers;
  fn.body = "plain $NODE";
  fn.method = "PUT";
  outcome o = {0};
  call(&srv, SRV_OK, &fn, "/h", &o, 5000);
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_memory_equal(srv.request, "PUT /h HTTP/1.1\r\n", 17);
  char v[256];
  assert_non_null(header(&srv, "X-Input", v, sizeof v));
  assert_string_equal(v, "x  Evil: 1");
  assert_null(header(&srv, "Evil", v, sizeof v));
  assert_int_equal(count_headers(&srv, "Evil"), 0);
  assert_non_null(header(&srv, "X-Node", v, sizeof v));
  assert_string_equal(v, "router");
  /* the function's own content type, and no second one */
  assert_int_equal(count_headers(&srv, "Content-Type"), 1);
  assert_non_null(header(&srv, "Content-Type", v, sizeof v));
  assert_string_equal(v, "text/plain; charset=utf-8");
  assert_int_equal(srv.body_len, strlen("plain router"));
  assert_string_equal(srv.request + srv.head_len, "plain router");
}

static void test_explicit_method_without_body(void **state) {
  (void)state;
  lln_function fn = rest_fn(NULL);
  fn.method = "DELETE";
  outcome o = {0};
  call(&srv, SRV_OK, &fn, "/item/$NODE", &o, 5000);
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_memory_equal(srv.request, "DELETE /item/router HTTP/1.1\r\n", 30);
}

static void test_http_error_status(void **state) {
  (void)state;
  lln_function fn = rest_fn(NULL);
  fn.body = "{}";
  outcome o = {0};
  call(&srv, SRV_ERROR, &fn, "/fail", &o, 5000);
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_string_equal(o.error, "HTTP 500");
  assert_string_equal(o.output, ERROR_BODY); /* the body is kept for whoever logs it */
}

static void test_timeout(void **state) {
  (void)state;
  lln_function fn = rest_fn(NULL);
  fn.timeout_ms = 300;
  outcome o = {0};
  uint64_t t0 = uv_hrtime();
  call(&srv, SRV_HANG, &fn, "/slow", &o, 5000);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_string_equal(o.error, "timed out after 0.3 s");
  assert_true(ms >= 250.0 && ms < 4000.0);
  assert_int_equal(srv.requests, 1);
}

static void test_connection_refused(void **state) {
  (void)state;
  int port = 0;
  int fd = loopback_listen(&port);
  assert_true(fd >= 0);
  close(fd); /* nothing listens there now */
  lln_function fn = rest_fn(NULL);
  outcome o = {0};
  fixture f;
  assert_non_null(start_at(&f, &fn, port, "/x?v=$NODE", &o));
  run_until(&f, &o.done, 5000);
  fixture_close(&f);
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_memory_equal(o.error, "cannot connect: ", 16);
  assert_true(strlen(o.error) > 16);
}

/* A call in flight at a server that never answers (srv, started here). */
static lln_fn_call *start_hanging(fixture *f, lln_function *fn, const char *path, outcome *o) {
  server_start(&srv, SRV_HANG);
  lln_fn_call *c = start_at(f, fn, srv.port, path, o);
  assert_non_null(c);
  run_until(f, NULL, 100);
  return c;
}

static void test_cancel(void **state) {
  (void)state;
  lln_function fn = rest_fn(NULL);
  outcome o = {0};
  fixture f;
  lln_fn_call *c = start_hanging(&f, &fn, "/cancel", &o);
  lln_fn_cancel(c);
  run_until(&f, NULL, 100);
  fixture_close(&f);
  server_stop(&srv);
  assert_int_equal(o.done, 0);
}

/* A detached call still running when its loop closes (an observe hook at
 * shutdown) is told why it ends, so its owner can free what it holds, and
 * nothing of it is left (ASan/valgrind runs would report it). */
static void test_loop_close_settles_running_calls(void **state) {
  (void)state;
  lln_function fn = rest_fn(NULL);
  outcome o = {0};
  fixture f;
  start_hanging(&f, &fn, "/observe", &o);
  lln_fn_loop_close(&f.loop);
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_string_equal(o.error, LLN_FN_SHUTDOWN_ERROR);
  lln_fn_loop_close(&f.loop); /* twice is harmless */
  assert_int_equal(o.done, 1);
  fixture_close(&f);
  server_stop(&srv);
}

static void test_cannot_start(void **state) {
  (void)state;
  lln_function fn = rest_fn("http://127.0.0.1:1/");
  outcome o = {0};
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  /* no HTTP client given */
  lln_fn_request req = {.loop = &loop, .fn = &fn, .lookup = lookup, .done = on_done, .ud = &o};
  assert_null(lln_fn_start(&req));
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_true(o.has_error);
  /* no URL */
  fn.url = NULL;
  fixture f;
  fixture_init(&f);
  req.upstream = f.up;
  assert_null(lln_fn_start(&req));
  assert_int_equal(o.done, 2);
  assert_string_equal(o.error, "the rest function has no url");
  fixture_close(&f);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_with_encoded_query),
      cmocka_unit_test(test_post_json_body_round_trips),
      cmocka_unit_test(test_headers_cannot_be_injected),
      cmocka_unit_test(test_explicit_method_without_body),
      cmocka_unit_test(test_http_error_status),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_loop_close_settles_running_calls),
      cmocka_unit_test(test_cannot_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
