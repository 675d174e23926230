/* shell: the shell function runner. Runs the program directly (never through
 * /bin/sh) in a process group of its own, feeds the payload on stdin, collects
 * stdout and stderr, and kills the whole group on timeout or cancel. A call's
 * memory lives until every libuv handle it opened has closed. */
#include "hooks/runner_int.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hooks/expand_int.h"
#include "util/log.h"
#include "util/xalloc.h"

#define OUT_CAP (1u << 20)
#define ERR_CAP (64u << 10)
#define READ_CHUNK (64u << 10)
#define LOG_STDERR_MAX 300

typedef struct shell_call {
  struct lln_fn_call head;
  char *name;
  lln_fn_done done;
  void *ud;
  long timeout_ms;
  uv_process_t proc;
  uv_pipe_t in, out, err;
  uv_timer_t timer;
  uv_write_t wreq;
  char *payload;
  lln_buf out_buf, err_buf;
  char discard[4096]; /* stderr beyond ERR_CAP is read into here and dropped */
  lln_buf msg;        /* the error text handed to done */
  char fail[64];      /* why we ended it ourselves (timeout, overflow), or "" */
  int open_handles;
  int64_t exit_status;
  int term_signal;
  unsigned spawned : 1, exited : 1, out_done : 1, err_done : 1, finished : 1, cancelled : 1;
} shell_call;

static void call_free(shell_call *c) {
  lln_buf_free(&c->out_buf);
  lln_buf_free(&c->err_buf);
  lln_buf_free(&c->msg);
  free(c->payload);
  free(c->name);
  free(c);
}

static void on_close(uv_handle_t *h) {
  shell_call *c = h->data;
  if (--c->open_handles == 0)
    call_free(c);
}

static void close_handle(void *h) {
  if (!uv_is_closing((uv_handle_t *)h))
    uv_close((uv_handle_t *)h, on_close);
}

/* The child leads its own group (UV_PROCESS_DETACHED -> setsid), so one
 * signal to -pid also reaches whatever it started in the background. */
static void kill_group(shell_call *c) {
  if (c->spawned && c->proc.pid > 0)
    kill(-c->proc.pid, SIGKILL);
}

/* After a kill nothing more is read: a grandchild that escaped the group
 * could hold the pipes open forever, so only the exit is waited for. */
static void close_pipes(shell_call *c) {
  close_handle(&c->in);
  close_handle(&c->out);
  close_handle(&c->err);
  c->out_done = c->err_done = 1;
}

static void stop_with(shell_call *c, const char *why) {
  if (!c->fail[0])
    snprintf(c->fail, sizeof c->fail, "%s", why);
  kill_group(c);
  close_pipes(c);
}

static void log_failure(shell_call *c, const char *error) {
  if (!lln_log_enabled(LLN_LOG_WARN))
    return;
  /* a one-line excerpt: stderr may be long and its newlines would split the log record */
  char excerpt[LOG_STDERR_MAX + 1];
  size_t n = c->err_buf.len < LOG_STDERR_MAX ? c->err_buf.len : LOG_STDERR_MAX;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)c->err_buf.data[i];
    excerpt[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
  }
  excerpt[n] = '\0';
  while (n && excerpt[n - 1] == ' ')
    excerpt[--n] = '\0';
  if (n)
    LLN_WARN("function %s: %s; stderr: %s%s", c->name, error, excerpt,
             c->err_buf.len > LOG_STDERR_MAX ? "..." : "");
  else
    LLN_WARN("function %s: %s", c->name, error);
}

static void maybe_finish(shell_call *c) {
  if (c->finished || !c->exited || !c->out_done || !c->err_done)
    return;
  c->finished = 1;
  lln__fn_untrack(&c->head);
  uv_timer_stop(&c->timer);
  if (!c->cancelled) {
    lln_fn_result r = {0};
    if (c->fail[0])
      lln_buf_puts(&c->msg, c->fail);
    else if (c->term_signal)
      lln_buf_printf(&c->msg, "killed by signal %d", c->term_signal);
    else if (c->exit_status != 0)
      lln_buf_printf(&c->msg, "exited with status %lld", (long long)c->exit_status);
    else
      r.ok = 1;
    lln_buf_append(&c->out_buf, "", 0);
    r.output = c->out_buf.data;
    r.output_len = c->out_buf.len;
    r.error = r.ok ? NULL : c->msg.data;
    if (!r.ok)
      log_failure(c, r.error);
    c->done(c->ud, &r);
  }
  close_handle(&c->timer);
  close_handle(&c->proc);
  close_pipes(c);
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal) {
  shell_call *c = p->data;
  c->exited = 1;
  c->exit_status = exit_status;
  c->term_signal = term_signal;
  maybe_finish(c);
}

static void on_timeout(uv_timer_t *t) {
  shell_call *c = t->data;
  char why[64];
  snprintf(why, sizeof why, "timed out after %g s (killed)", (double)c->timeout_ms / 1000.0);
  stop_with(c, why);
  maybe_finish(c);
}

static void alloc_out(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  shell_call *c = h->data;
  (void)suggested;
  lln_buf_reserve(&c->out_buf, READ_CHUNK);
  *buf = uv_buf_init(c->out_buf.data + c->out_buf.len, READ_CHUNK);
}

static void read_out(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  shell_call *c = s->data;
  (void)buf;
  if (nread > 0) {
    c->out_buf.len += (size_t)nread;
    c->out_buf.data[c->out_buf.len] = '\0';
    if (c->out_buf.len > OUT_CAP) {
      c->out_buf.len = OUT_CAP;
      c->out_buf.data[OUT_CAP] = '\0';
      stop_with(c, "output exceeds 1 MiB (killed)");
      maybe_finish(c);
    }
  } else if (nread < 0) {
    close_handle(&c->out);
    c->out_done = 1;
    maybe_finish(c);
  }
}

static void alloc_err(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  shell_call *c = h->data;
  (void)suggested;
  if (c->err_buf.len >= ERR_CAP) {
    *buf = uv_buf_init(c->discard, sizeof c->discard);
    return;
  }
  size_t room = ERR_CAP - c->err_buf.len;
  if (room > sizeof c->discard)
    room = sizeof c->discard;
  lln_buf_reserve(&c->err_buf, room);
  *buf = uv_buf_init(c->err_buf.data + c->err_buf.len, (unsigned)room);
}

static void read_err(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  shell_call *c = s->data;
  if (nread > 0) {
    if (buf->base != c->discard) {
      c->err_buf.len += (size_t)nread;
      c->err_buf.data[c->err_buf.len] = '\0';
    }
  } else if (nread < 0) {
    close_handle(&c->err);
    c->err_done = 1;
    maybe_finish(c);
  }
}

static void on_written(uv_write_t *w, int status) {
  shell_call *c = w->data;
  /* EPIPE: the program exited or closed stdin without reading it all; its
   * exit status, not the write, says whether it worked. */
  if (status < 0 && status != UV_ECANCELED)
    LLN_DEBUG("function %s: stdin not fully read: %s", c->name, uv_strerror(status));
  close_handle(&c->in);
}

/* A write to a child that exited must fail with EPIPE, not kill the gateway.
 * main.c ignores SIGPIPE already; this covers embedders and tests. */
static void ignore_sigpipe(void) {
  struct sigaction old;
  if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
  }
}

static char *expand_dup(const lln_tmpl *t, const char *tmpl, const lln_fn_request *req) {
  lln_buf b;
  lln_buf_init(&b);
  lln_expand_field(t, tmpl, LLN_EXPAND_TEXT, req->lookup, req->lookup_ctx, &b);
  return lln_buf_steal(&b);
}

static size_t strv_len(char *const *v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

static char **build_argv(const lln_fn_request *req) {
  const lln_function *fn = req->fn;
  size_t n = strv_len(fn->args);
  char **argv = calloc(n + 2, sizeof *argv);
  if (!argv)
    abort();
  argv[0] = expand_dup(fn->t_command, fn->command, req);
  for (size_t i = 0; i < n; i++)
    argv[i + 1] = expand_dup(fn->t_args ? fn->t_args[i] : NULL, fn->args[i], req);
  return argv;
}

/* llmnet's environment with the function's entries added, theirs winning;
 * NULL when the function adds nothing (the child then inherits environ). */
static char **build_env(const lln_fn_request *req) {
  char *const *fn_env = req->fn->env;
  size_t m = strv_len(fn_env);
  if (!m)
    return NULL;
  char **own = calloc(m + 1, sizeof *own);
  if (!own)
    abort();
  for (size_t i = 0; i < m; i++) {
    /* only the value is a template: a variable must not pick the name */
    const char *eq = strchr(fn_env[i], '=');
    lln_buf b;
    lln_buf_init(&b);
    if (req->fn->t_env) {
      lln_expand_field(req->fn->t_env[i], NULL, LLN_EXPAND_TEXT, req->lookup, req->lookup_ctx, &b);
    } else if (eq) {
      lln_buf_append(&b, fn_env[i], (size_t)(eq - fn_env[i]) + 1);
      lln_expand(eq + 1, LLN_EXPAND_TEXT, req->lookup, req->lookup_ctx, &b);
    } else {
      lln_buf_puts(&b, fn_env[i]);
      lln_buf_putc(&b, '=');
    }
    own[i] = lln_buf_steal(&b);
    if (!own[i])
      abort();
  }
  char **env = lln_strv_env_with(own, m);
  free(own);
  return env;
}

lln_fn_call *lln_shell_start(const lln_fn_request *req) {
  const lln_function *fn = req->fn;
  if (!fn->command || !*fn->command) {
    lln_fn_result r = {.ok = 0, .output = "", .output_len = 0, .error = "the shell function has no command"};
    req->done(req->ud, &r);
    return NULL;
  }
  ignore_sigpipe();
  shell_call *c = calloc(1, sizeof *c);
  if (!c)
    abort();
  c->head.type = LLN_FN_SHELL;
  c->name = strdup(fn->name ? fn->name : "(unnamed)");
  c->done = req->done;
  c->ud = req->ud;
  c->timeout_ms = fn->timeout_ms > 0 ? fn->timeout_ms : LLN_FN_DEFAULT_TIMEOUT_MS;
  lln_buf_init(&c->out_buf);
  lln_buf_init(&c->err_buf);
  lln_buf_init(&c->msg);
  if (!c->name)
    abort();

  uv_pipe_init(req->loop, &c->in, 0);
  uv_pipe_init(req->loop, &c->out, 0);
  uv_pipe_init(req->loop, &c->err, 0);
  uv_timer_init(req->loop, &c->timer);
  c->in.data = c->out.data = c->err.data = c->timer.data = c->proc.data = c->wreq.data = c;
  c->open_handles = 5; /* in, out, err, timer and the process handle uv_spawn initialises */

  char **argv = build_argv(req);
  char **env = build_env(req);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t *)&c->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&c->out;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&c->err;
  uv_process_options_t opt;
  memset(&opt, 0, sizeof opt);
  opt.exit_cb = on_exit_cb;
  opt.file = argv[0];
  opt.args = argv;
  opt.env = env;
  opt.cwd = fn->cwd && *fn->cwd ? fn->cwd : NULL;
  opt.flags = UV_PROCESS_DETACHED;
  opt.stdio_count = 3;
  opt.stdio = stdio;
  int rc = uv_spawn(req->loop, &c->proc, &opt);
  /* uv_spawn returns after the exec (or its failure), so the strings are done with */
  lln_strv_free(argv);
  lln_strv_free(env);
  c->proc.data = c;

  if (rc != 0) {
    struct stat st;
    /* ENOENT from a missing cwd would otherwise blame the program */
    if (opt.cwd && (stat(opt.cwd, &st) != 0 || !S_ISDIR(st.st_mode)))
      lln_buf_printf(&c->msg, "cannot run %s: its cwd %s is not a directory", fn->command, opt.cwd);
    else
      lln_buf_printf(&c->msg, "cannot run %s: %s", fn->command, uv_strerror(rc));
    lln_fn_result r = {.ok = 0, .output = "", .output_len = 0, .error = c->msg.data};
    LLN_WARN("function %s: %s", c->name, c->msg.data);
    c->finished = 1; /* reported here; the handles only need closing */
    req->done(req->ud, &r);
    close_handle(&c->timer);
    close_handle(&c->proc);
    close_pipes(c);
    return NULL;
  }
  c->spawned = 1;
  lln__fn_track(&c->head, req->loop);
  uv_timer_start(&c->timer, on_timeout, (uint64_t)c->timeout_ms, 0);
  uv_read_start((uv_stream_t *)&c->out, alloc_out, read_out);
  uv_read_start((uv_stream_t *)&c->err, alloc_err, read_err);
  size_t plen = req->payload ? strlen(req->payload) : 0;
  if (plen) {
    c->payload = malloc(plen);
    if (!c->payload)
      abort();
    memcpy(c->payload, req->payload, plen);
    uv_buf_t b = uv_buf_init(c->payload, (unsigned)plen);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->in, &b, 1, on_written) != 0)
      close_handle(&c->in);
  } else {
    close_handle(&c->in);
  }
  return &c->head;
}

void lln_shell_cancel(lln_fn_call *call) {
  shell_call *c = (shell_call *)call;
  if (c->finished || c->cancelled)
    return;
  c->cancelled = 1;
  lln__fn_untrack(&c->head);
  uv_timer_stop(&c->timer);
  stop_with(c, "cancelled");
  maybe_finish(c);
}

void lln_shell_abort(lln_fn_call *call, const char *why) {
  shell_call *c = (shell_call *)call;
  if (c->finished || c->cancelled)
    return;
  uv_timer_stop(&c->timer);
  stop_with(c, why);
  maybe_finish(c);
}
