/* test_hooks_shell: src/hooks/shell.c (through lln_fn_start) running real
 * programs on a libuv loop: argv elements stay whole and literal, stdin,
 * exit status, env and cwd, output caps, and that a timeout or a cancel kills
 * the child's whole process group. Each test ends with uv_loop_close == 0, so
 * a handle left open fails it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks/function.h"

#include "lookup_vars.h"

#define EVIL "it's \"quoted\" ; rm -rf / `id` $(id) & $HOME | x > y"

static const var VARS[] = {
    {"INPUT", EVIL},
    {"NODE", "router"},
    {"SECRETISH", "$secrets.x.y $INPUT"},
    {NULL, NULL},
};

static const char *lookup(void *ctx, const char *name, size_t len) {
  (void)ctx;
  return var_find(VARS, name, len);
}

/* ---- a call's observable outcome ---- */

typedef struct {
  int done;
  int ok;
  char *output;
  size_t output_len;
  char *error;
} outcome;

static void on_done(void *ud, const lln_fn_result *r) {
  outcome *o = ud;
  o->done++;
  o->ok = r->ok;
  assert_non_null(r->output);
  assert_int_equal(strlen(r->output), r->output_len); /* NUL-terminated where promised */
  free(o->output);
  o->output = malloc(r->output_len + 1);
  memcpy(o->output, r->output, r->output_len + 1);
  o->output_len = r->output_len;
  free(o->error);
  o->error = r->error ? strdup(r->error) : NULL;
  if (r->ok)
    assert_null(r->error);
  else
    assert_non_null(r->error);
}

static void outcome_free(outcome *o) {
  free(o->output);
  free(o->error);
}

/* ---- loop helpers ---- */

static void noop_timer(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag is set or ms pass; a ticking timer keeps a stuck
 * call from blocking the test forever. */
static void run_until(uv_loop_t *loop, const int *flag, int ms) {
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, noop_timer, 10, 10);
  uv_update_time(loop);
  uint64_t deadline = uv_now(loop) + (uint64_t)ms;
  while ((!flag || !*flag) && uv_now(loop) < deadline)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

/* Every handle a call opened must be closed within a few loop turns. */
static void loop_finish(uv_loop_t *loop) {
  for (int i = 0; i < 50 && uv_loop_alive(loop); i++)
    uv_run(loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(loop), 0);
}

static lln_function shell_fn(const char *command, char **args) {
  lln_function fn;
  memset(&fn, 0, sizeof fn);
  fn.name = "test-fn";
  fn.type = LLN_FN_SHELL;
  fn.command = (char *)command;
  fn.args = args;
  return fn;
}

/* Runs fn to completion; returns what lln_fn_start returned (as a flag). */
static int run_fn(const lln_function *fn, const char *payload, outcome *o, int ms) {
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  lln_fn_request req = {.loop = &loop,
                        .fn = fn,
                        .payload = payload,
                        .lookup = lookup,
                        .lookup_ctx = NULL,
                        .done = on_done,
                        .ud = o};
  lln_fn_call *c = lln_fn_start(&req);
  run_until(&loop, &o->done, ms);
  loop_finish(&loop);
  return c != NULL;
}

/* ---- process checks ---- */

/* Gone, or a zombie waiting for init (killed all the same). */
static int process_gone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH)
    return 1;
  char path[64], stat[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 1;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = '\0';
  const char *paren = strrchr(stat, ')');
  return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static int wait_gone(pid_t pid, int ms) {
  for (int waited = 0; waited < ms; waited += 10) {
    if (process_gone(pid))
      return 1;
    usleep(10000);
  }
  return process_gone(pid);
}

static pid_t read_pidfile(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  int pid = 0;
  if (fscanf(f, "%d", &pid) != 1)
    pid = 0;
  fclose(f);
  return (pid_t)pid;
}

static void make_pidfile_path(char *out, size_t cap) {
  snprintf(out, cap, "/tmp/lln_test_hooks_shell_%d_XXXXXX", (int)getpid());
  int fd = mkstemp(out);
  assert_true(fd >= 0);
  close(fd);
  unlink(out); /* the child creates it; until then "not there yet" */
}

/* A shell that leaves `sleep 30` in its background, writes that child's
 * pid to `pidfile` (whole, through a rename) and waits for it. */
typedef struct {
  char pidfile[128], script[512];
  char *args[3];
  lln_function fn;
  uv_loop_t loop;
  pid_t bg;
} sleeper;

/* Starts the shell on a fresh loop (fn.timeout_ms = timeout_ms) and runs
 * the loop until the background pid is known (s->bg). */
static lln_fn_call *sleeper_start(sleeper *s, int timeout_ms, outcome *o) {
  make_pidfile_path(s->pidfile, sizeof s->pidfile);
  snprintf(s->script, sizeof s->script, "sleep 30 & echo $$! > %s.tmp; mv %s.tmp %s; wait", s->pidfile,
           s->pidfile, s->pidfile);
  s->args[0] = "-c";
  s->args[1] = s->script;
  s->args[2] = NULL;
  s->fn = shell_fn("/bin/sh", s->args);
  s->fn.timeout_ms = timeout_ms;
  assert_int_equal(uv_loop_init(&s->loop), 0);
  lln_fn_request req = {
      .loop = &s->loop, .fn = &s->fn, .payload = "{}", .lookup = lookup, .done = on_done, .ud = o};
  lln_fn_call *c = lln_fn_start(&req);
  assert_non_null(c);
  s->bg = 0;
  for (int i = 0; i < 300 && !s->bg; i++) {
    run_until(&s->loop, NULL, 10);
    s->bg = read_pidfile(s->pidfile);
  }
  assert_true(s->bg > 0);
  return c;
}

/* ---- tests ---- */

static void test_argv_elements_are_literal(void **state) {
  (void)state;
  char *args[] = {"$INPUT", NULL};
  lln_function fn = shell_fn("/bin/echo", args);
  outcome o = {0};
  assert_true(run_fn(&fn, NULL, &o, 5000));
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_string_equal(o.output, EVIL "\n");
  outcome_free(&o);
}

static void test_each_arg_is_one_element(void **state) {
  (void)state;
  /* printf repeats its format per argument: one "<...>" per argv element */
  char *args[] = {"<%s>", "$INPUT", "${NODE}!", "$SECRETISH", "$$INPUT", "$NOPE", NULL};
  lln_function fn = shell_fn("/usr/bin/printf", args);
  outcome o = {0};
  assert_true(run_fn(&fn, NULL, &o, 5000));
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_string_equal(o.output, "<" EVIL "><router!><$secrets.x.y $INPUT><$INPUT><>");
  outcome_free(&o);
}

static void test_stdin_payload(void **state) {
  (void)state;
  lln_function fn = shell_fn("cat", NULL); /* found on PATH */
  outcome o = {0};
  const char *payload = "{\"input\":\"hi \\\"there\\\"\",\"node\":\"router\"}";
  assert_true(run_fn(&fn, payload, &o, 5000));
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_string_equal(o.output, payload);
  outcome_free(&o);
}

static void test_large_payload_round_trip(void **state) {
  (void)state;
  /* larger than a pipe buffer both ways: writing and reading must overlap */
  size_t n = 600 * 1024;
  char *payload = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    payload[i] = (char)('a' + i % 26);
  payload[n] = '\0';
  lln_function fn = shell_fn("/bin/cat", NULL);
  outcome o = {0};
  assert_true(run_fn(&fn, payload, &o, 10000));
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_int_equal(o.output_len, n);
  assert_memory_equal(o.output, payload, n);
  free(payload);
  outcome_free(&o);
}

static void test_child_ignoring_stdin(void **state) {
  (void)state;
  /* the write fails with EPIPE; that must neither kill us nor fail the call */
  size_t n = 1024 * 1024;
  char *payload = malloc(n + 1);
  memset(payload, 'x', n);
  payload[n] = '\0';
  lln_function fn = shell_fn("/bin/true", NULL);
  outcome o = {0};
  assert_true(run_fn(&fn, payload, &o, 5000));
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_int_equal(o.output_len, 0);
  free(payload);
  outcome_free(&o);
}

static void test_exit_status(void **state) {
  (void)state;
  char *args[] = {"-c", "echo partial; echo 'something broke' >&2; exit 3", NULL};
  lln_function fn = shell_fn("/bin/sh", args);
  outcome o = {0};
  assert_true(run_fn(&fn, NULL, &o, 5000));
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_string_equal(o.error, "exited with status 3");
  assert_string_equal(o.output, "partial\n");
  outcome_free(&o);
}

static void test_killed_by_signal(void **state) {
  (void)state;
  char *args[] = {"-c", "kill -TERM $$$$", NULL}; /* "$$" is how a literal '$' is written */
  lln_function fn = shell_fn("/bin/sh", args);
  outcome o = {0};
  assert_true(run_fn(&fn, NULL, &o, 5000));
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_string_equal(o.error, "killed by signal 15");
  outcome_free(&o);
}

static void test_env_and_cwd(void **state) {
  (void)state;
  setenv("LLN_TEST_INHERITED", "inherited", 1);
  setenv("FOO", "from-parent", 1);
  /* the shell's own variables are written "$$NAME": a bare "$NAME" is a request variable */
  char *args[] = {"-c", "echo $$FOO; pwd; echo $$LLN_TEST_INHERITED; echo \"$$WHERE\"", NULL};
  char *env[] = {"FOO=bar", "WHERE=$NODE: $INPUT", NULL};
  lln_function fn = shell_fn("/bin/sh", args);
  fn.env = env;
  fn.cwd = "/tmp";
  outcome o = {0};
  assert_true(run_fn(&fn, NULL, &o, 5000));
  unsetenv("LLN_TEST_INHERITED");
  unsetenv("FOO");
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_string_equal(o.output, "bar\n/tmp\ninherited\nrouter: " EVIL "\n");
  outcome_free(&o);
}

static void test_timeout_kills_the_group(void **state) {
  (void)state;
  char pidfile[128], script[512];
  make_pidfile_path(pidfile, sizeof pidfile);
  snprintf(script, sizeof script, "sleep 30 & echo $$! > %s; wait", pidfile);
  char *args[] = {"-c", script, NULL};
  lln_function fn = shell_fn("/bin/sh", args);
  fn.timeout_ms = 300;
  outcome o = {0};
  uint64_t t0 = uv_hrtime();
  assert_true(run_fn(&fn, NULL, &o, 10000));
  double elapsed_ms = (double)(uv_hrtime() - t0) / 1e6;
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_string_equal(o.error, "timed out after 0.3 s (killed)");
  assert_true(elapsed_ms >= 250.0);
  assert_true(elapsed_ms < 5000.0);
  pid_t bg = read_pidfile(pidfile);
  unlink(pidfile);
  assert_true(bg > 0);
  assert_true(wait_gone(bg, 2000));
  outcome_free(&o);
}

static void test_cancel_kills_without_done(void **state) {
  (void)state;
  sleeper s;
  outcome o = {0};
  lln_fn_call *c = sleeper_start(&s, 0, &o);
  lln_fn_cancel(c);
  run_until(&s.loop, NULL, 500);
  loop_finish(&s.loop);
  unlink(s.pidfile);
  assert_int_equal(o.done, 0);
  assert_true(wait_gone(s.bg, 2000));
  outcome_free(&o);
}

/* A detached call (an observe hook) still running when the loop closes:
 * its process group is killed and its done reports the shutdown. */
static void test_loop_close_kills_and_reports(void **state) {
  (void)state;
  sleeper s;
  outcome o = {0};
  sleeper_start(&s, 60000, &o);
  lln_fn_loop_close(&s.loop);
  run_until(&s.loop, &o.done, 2000);
  loop_finish(&s.loop);
  unlink(s.pidfile);
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_string_equal(o.error, LLN_FN_SHUTDOWN_ERROR);
  assert_true(wait_gone(s.bg, 2000));
  outcome_free(&o);
}

static void test_output_cap(void **state) {
  (void)state;
  lln_function fn = shell_fn("yes", NULL); /* endless output */
  outcome o = {0};
  assert_true(run_fn(&fn, NULL, &o, 10000));
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_string_equal(o.error, "output exceeds 1 MiB (killed)");
  assert_int_equal(o.output_len, 1u << 20);
  outcome_free(&o);
}

static void test_large_stderr_does_not_block(void **state) {
  (void)state;
  /* far beyond the stderr cap: the rest is drained, not left to block the child */
  char *args[] = {"-c", "head -c 300000 /dev/zero | tr '\\0' e >&2; echo done", NULL};
  lln_function fn = shell_fn("/bin/sh", args);
  outcome o = {0};
  assert_true(run_fn(&fn, NULL, &o, 10000));
  assert_int_equal(o.done, 1);
  assert_true(o.ok);
  assert_string_equal(o.output, "done\n");
  outcome_free(&o);
}

static void test_no_such_program(void **state) {
  (void)state;
  const char *commands[] = {"/nonexistent/llmnet-test-program", "llmnet-test-no-such-program"};
  for (size_t i = 0; i < 2; i++) {
    lln_function fn = shell_fn(commands[i], NULL);
    outcome o = {0};
    assert_false(run_fn(&fn, "{}", &o, 1000));
    assert_int_equal(o.done, 1);
    assert_false(o.ok);
    assert_non_null(strstr(o.error, "cannot run"));
    assert_non_null(strstr(o.error, commands[i]));
    outcome_free(&o);
  }
}

static void test_bad_cwd(void **state) {
  (void)state;
  lln_function fn = shell_fn("/bin/true", NULL);
  fn.cwd = "/nonexistent/llmnet-dir";
  outcome o = {0};
  assert_false(run_fn(&fn, NULL, &o, 1000));
  assert_int_equal(o.done, 1);
  assert_false(o.ok);
  assert_non_null(strstr(o.error, "/nonexistent/llmnet-dir"));
  outcome_free(&o);
}

static void test_unsupported_types(void **state) {
  (void)state;
  lln_fn_type types[] = {LLN_FN_GRPC};
  const char *want[] = {"the grpc function type is not supported by this build"};
  for (size_t i = 0; i < 1; i++) {
    lln_function fn = shell_fn("/bin/true", NULL);
    fn.type = types[i];
    outcome o = {0};
    assert_false(run_fn(&fn, NULL, &o, 100));
    assert_int_equal(o.done, 1);
    assert_false(o.ok);
    assert_string_equal(o.error, want[i]);
    outcome_free(&o);
  }
  lln_fn_cancel(NULL); /* a no-op, not a crash */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_argv_elements_are_literal),
      cmocka_unit_test(test_each_arg_is_one_element),
      cmocka_unit_test(test_stdin_payload),
      cmocka_unit_test(test_large_payload_round_trip),
      cmocka_unit_test(test_child_ignoring_stdin),
      cmocka_unit_test(test_exit_status),
      cmocka_unit_test(test_killed_by_signal),
      cmocka_unit_test(test_env_and_cwd),
      cmocka_unit_test(test_timeout_kills_the_group),
      cmocka_unit_test(test_cancel_kills_without_done),
      cmocka_unit_test(test_loop_close_kills_and_reports),
      cmocka_unit_test(test_output_cap),
      cmocka_unit_test(test_large_stderr_does_not_block),
      cmocka_unit_test(test_no_such_program),
      cmocka_unit_test(test_bad_cwd),
      cmocka_unit_test(test_unsupported_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
