/* test_hooks_ws: src/hooks/websocket.c (through lln_fn_start) against a real
 * WebSocket server: node with the `ws` package from tests/integration,
 * spawned on 127.0.0.1 at a port the kernel chooses. Covers the message
 * sent with variables expanded (text and JSON), the reply used, a server
 * that never replies (timeout), connection refused, a server closing before
 * the reply, cancel, and lln_ws_loop_close. Missing node or `ws` fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hooks/function.h"
#include "hooks/runner_int.h"

/* The server: /echo replies "got:" + the message; /silent never replies;
 * /close closes with 4001 when the message arrives; /log replies with the
 * JSON list of every message and header x-test received so far. */
static const char server_js[] =
    "const {WebSocketServer} = require(process.argv[2]);\n"
    "const got = [];\n"
    "const wss = new WebSocketServer({host: '127.0.0.1', port: 0});\n"
    "wss.on('listening', () => { console.log(wss.address().port); });\n"
    "wss.on('connection', (ws, req) => {\n"
    "  ws.on('message', (data) => {\n"
    "    const text = data.toString();\n"
    "    if (req.url === '/log') { ws.send(JSON.stringify(got)); return; }\n"
    "    got.push({path: req.url, text, header: req.headers['x-test'] || null});\n"
    "    if (req.url === '/echo') ws.send('got:' + text);\n"
    "    else if (req.url === '/close') ws.close(4001, 'bye');\n"
    "  });\n"
    "});\n"
    "process.stdin.on('end', () => process.exit(0)); process.stdin.resume();\n";

static pid_t server_pid;
static int server_port;
static int server_stdin = -1;

static int setup_server(void **state) {
  (void)state;
  char module[1024];
  snprintf(module, sizeof module, "%s/../integration/node_modules/ws", LLN_FIXTURES);
  char script[] = "/tmp/lln-ws-server-XXXXXX.cjs";
  int fd = mkstemps(script, 4);
  if (fd < 0 || write(fd, server_js, sizeof server_js - 1) != (ssize_t)(sizeof server_js - 1))
    return -1;
  close(fd);
  int out[2], in[2];
  if (pipe(out) != 0 || pipe(in) != 0)
    return -1;
  server_pid = fork();
  if (server_pid == 0) {
    dup2(out[1], 1);
    dup2(in[0], 0);
    close(out[0]);
    close(in[1]);
    execlp("node", "node", script, module, (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  close(in[0]);
  server_stdin = in[1];
  char line[32] = {0};
  size_t n = 0;
  while (n < sizeof line - 1) {
    ssize_t r = read(out[0], line + n, 1);
    if (r <= 0 || line[n] == '\n')
      break;
    n++;
  }
  close(out[0]);
  unlink(script);
  server_port = atoi(line);
  if (server_port <= 0) {
    fprintf(stderr, "the node ws server did not start (is node installed, and `ws` in %s?)\n", module);
    return -1;
  }
  return 0;
}

static int teardown_server(void **state) {
  (void)state;
  if (server_stdin >= 0)
    close(server_stdin);
  if (server_pid > 0) {
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
  }
  return 0;
}

/* ---- one call ---- */

typedef struct {
  int calls, ok;
  char output[8192];
  char error[512];
} outcome;

static void on_done(void *ud, const lln_fn_result *r) {
  outcome *o = ud;
  o->calls++;
  o->ok = r->ok;
  snprintf(o->output, sizeof o->output, "%.*s", (int)r->output_len, r->output);
  snprintf(o->error, sizeof o->error, "%s", r->error ? r->error : "");
}

static const char *lookup(void *ctx, const char *name, size_t len) {
  (void)ctx;
  if (len == 5 && memcmp(name, "INPUT", 5) == 0)
    return "say \"hi\" $NODE\n";
  if (len == 4 && memcmp(name, "NODE", 4) == 0)
    return "chat";
  if (len == 4 && memcmp(name, "EVIL", 4) == 0)
    return "x\r\nInjected: yes";
  return NULL;
}

static void run_call(const char *path, const char *message, int wait_reply, long timeout_ms, char **headers,
                     outcome *o) {
  char url[256];
  if (path[0] == 'w')
    snprintf(url, sizeof url, "%s", path);
  else
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", server_port, path);
  lln_function fn = {.name = "ws",
                     .type = LLN_FN_WEBSOCKET,
                     .url = url,
                     .message = (char *)message,
                     .headers = headers,
                     .wait_reply = wait_reply,
                     .timeout_ms = timeout_ms};
  uv_loop_t loop;
  uv_loop_init(&loop);
  memset(o, 0, sizeof *o);
  lln_fn_request req = {.loop = &loop, .fn = &fn, .lookup = lookup, .done = on_done, .ud = o, .payload = ""};
  lln_fn_call *c = lln_fn_start(&req);
  (void)c;
  while (o->calls == 0 && uv_run(&loop, UV_RUN_ONCE))
    ;
  lln_ws_loop_close(&loop);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_int_equal(o->calls, 1);
}

/* the messages the server has recorded, as JSON text */
static void server_log(outcome *o) { run_call("/log", "?", 1, 5000, NULL, o); }

static void test_text_message_expanded_and_reply_used(void **state) {
  (void)state;
  outcome o;
  run_call("/echo", "in=$INPUT node=${NODE} $$x", 1, 5000, NULL, &o);
  assert_true(o.ok);
  /* the value of $INPUT is inserted once: its "$NODE" stays literal */
  assert_string_equal(o.output, "got:in=say \"hi\" $NODE\n node=chat $x");
  assert_string_equal(o.error, "");
}

static void test_json_message_and_headers_without_reply(void **state) {
  (void)state;
  char h0[] = "X-Test: node $NODE $EVIL\r\nAlso: no";
  char *headers[] = {h0, NULL};
  outcome o;
  run_call("/json", "{\"text\":\"$INPUT\"}", 0, 5000, headers, &o);
  assert_true(o.ok);
  assert_string_equal(o.output, "");
  server_log(&o);
  assert_true(o.ok);
  /* JSON-escaped value, header control characters removed */
  assert_non_null(strstr(o.output, "{\"path\":\"/json\",\"text\":\"{\\\"text\\\":\\\"say \\\\\\\"hi\\\\\\\" "
                                   "$NODE\\\\n\\\"}\",\"header\":\"node chat x  Injected: yes  Also: no\"}"));
}

static void test_silent_server_times_out(void **state) {
  (void)state;
  outcome o;
  run_call("/silent", "hello", 1, 300, NULL, &o);
  assert_false(o.ok);
  assert_string_equal(o.error, "timed out after 0.3 s");
}

static void test_connection_refused(void **state) {
  (void)state;
  outcome o;
  run_call("ws://127.0.0.1:1/x", "hello", 1, 5000, NULL, &o);
  assert_false(o.ok);
  assert_true(strncmp(o.error, "cannot connect: ", 16) == 0);
}

static void test_server_closes_before_reply(void **state) {
  (void)state;
  outcome o;
  run_call("/close", "hello", 1, 5000, NULL, &o);
  assert_false(o.ok);
  assert_string_equal(o.error, "closed by the server before a reply (code 4001)");
  /* without wait-reply, a close after the message is fine */
  run_call("/close", "hello", 0, 5000, NULL, &o);
  assert_true(o.ok);
}

static void test_bad_url(void **state) {
  (void)state;
  outcome o;
  run_call("http://127.0.0.1/x", "hello", 0, 5000, NULL, &o);
  assert_false(o.ok);
  assert_non_null(strstr(o.error, "ws:// or wss://"));
}

static void test_cancel_and_loop_close(void **state) {
  (void)state;
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/silent", server_port);
  lln_function fn = {
      .type = LLN_FN_WEBSOCKET, .url = url, .message = "m", .wait_reply = 1, .timeout_ms = 5000};
  uv_loop_t loop;
  uv_loop_init(&loop);
  outcome a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  lln_fn_request req = {.loop = &loop, .fn = &fn, .lookup = lookup, .done = on_done, .ud = &a};
  lln_fn_call *ca = lln_fn_start(&req);
  req.ud = &b;
  lln_fn_call *cb = lln_fn_start(&req);
  assert_non_null(ca);
  assert_non_null(cb);
  for (int i = 0; i < 20; i++) /* let both connect */
    uv_run(&loop, UV_RUN_NOWAIT), usleep(10000);
  lln_fn_cancel(ca);
  lln_ws_loop_close(&loop); /* b is still running: it is told why it ends */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_int_equal(a.calls, 0);
  assert_int_equal(b.calls, 1);
  assert_false(b.ok);
  assert_string_equal(b.error, "cancelled: llmnet is shutting down");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_message_expanded_and_reply_used),
      cmocka_unit_test(test_json_message_and_headers_without_reply),
      cmocka_unit_test(test_silent_server_times_out),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_server_closes_before_reply),
      cmocka_unit_test(test_bad_url),
      cmocka_unit_test(test_cancel_and_loop_close),
  };
  return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
