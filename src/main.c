/* main: the llmnet command line: run (the default), validate, graph, explain; eval and mock have their own
 * mains (server/eval.c, mock/mock.c); --version is version.c. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "config/config.h"
#include "config/describe.h"
#include "config/graph.h"
#include "config/listen.h"
#include "config/runner.h"
#include "mock/mock.h"
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "pipeline/explain.h"
#include "server/eval.h"
#include "server/workers.h"
#include "upstream/model_state.h"
#include "upstream/runners.h"
#include "util/buf.h"
#include "util/json_alloc.h"
#include "util/log.h"
#include "version.h"

static void usage(FILE *out) {
  fprintf(
      out,
      "llmnet %s: an OpenAI-compatible gateway that routes each request through a network of LLMs\n"
      "\n"
      "usage:\n"
      "  llmnet [run] CONFIG [options]   serve the composition in CONFIG\n"
      "  llmnet validate CONFIG          check CONFIG; list every problem (exit 0 ok, 1 errors)\n"
      "  llmnet graph CONFIG             print the topology as a Mermaid, Graphviz or SVG picture\n"
      "  llmnet explain CONFIG PROMPT    show, without calling any model, where PROMPT would go\n"
      "  llmnet explain CONFIG --messages FILE.json\n"
      "                                  the same for a whole conversation (an OpenAI messages array)\n"
      "  llmnet eval CONFIG CASES.jsonl  measure routing on labelled cases: accuracy, confusion, latency\n"
      "  llmnet mock [options]           an OpenAI-compatible upstream simulator (llmnet mock --help)\n"
      "  llmnet --help | --version\n"
      "\n"
      "run options:\n"
      "  --port N            listen on port N (default: $LLMNET_PORT, else the entry node's bind-port,\n"
      "                      else 8080)\n"
      "  --bind-addr ADDR    listen address (default: $LLMNET_BIND_ADDR, else the entry node's bind-addr,\n"
      "                      else 127.0.0.1)\n"
      "  --env-file FILE     read variables for $NAME substitution from a dotenv FILE\n"
      "  --dry-run           print the resolved pipeline and exit\n"
      "  --watch             reload CONFIG when the file changes (SIGHUP always reloads)\n"
      "  --log-level LEVEL   debug, info, warn, error or off (default info)\n"
      "  --log-format FMT    text (default) or json: one JSON object per log line\n"
      "  --log-content       also log the user's message text (off by default)\n"
      "\n"
      "validate options:\n"
      "  --env-file FILE     as for run\n"
      "  --format FORMAT     text (default) or json (one object, for editors and CI)\n"
      "\n"
      "graph options:\n"
      "  --format FORMAT     mermaid (default), dot, or svg (runs Graphviz's dot)\n"
      "  --env-file FILE     as for run\n"
      "\n"
      "explain options:\n"
      "  --messages FILE     a conversation to explain: an OpenAI messages array, or {\"messages\": [...]}\n"
      "  --prompt TEXT       the same as PROMPT: one user message\n"
      "  --header \"NAME: VALUE\"   a request header (UseHeaderKeys variables, x-session-id); repeatable\n"
      "  --door DOOR         the API the request comes through: chat (default), responses or messages;\n"
      "                      every door is translated into a chat request before the same pipeline\n"
      "  --env-file FILE     as for run\n"
      "\n"
      "eval options (CASES.jsonl: one {\"prompt\"|\"messages\", \"expect\": \"NODE\"} a line):\n"
      "  --format FORMAT     text (default) or json (one object)\n"
      "  --concurrency N     cases routed at once (default 4, at most 256)\n"
      "  --log-level LEVEL   as for run; default error (the report lists each failure)\n"
      "  --env-file FILE     as for run\n",
      LLN_VERSION);
}

typedef struct cli {
  const char *config;
  const char *env_file;
  const char *bind_addr;
  int port;
  int dry_run;
  int watch;
  const char *format;     /* validate: text or json */
  const char *log_format; /* --log-format; else server.log-format */
} cli;

/* Parses options shared by run and validate; returns 0, or 2 on bad usage. */
static int parse_options(int argc, char **argv, cli *c, int allow_run_options) {
  static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                       {"bind-addr", required_argument, NULL, 'b'},
                                       {"env-file", required_argument, NULL, 'e'},
                                       {"dry-run", no_argument, NULL, 'd'},
                                       {"watch", no_argument, NULL, 'w'},
                                       {"log-level", required_argument, NULL, 'l'},
                                       {"log-format", required_argument, NULL, 'j'},
                                       {"log-content", no_argument, NULL, 'c'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  c->port = -1;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (!allow_run_options && ch != 'e' && ch != 'h' && ch != 'l' && ch != 'f' && ch != '?') {
      fprintf(stderr, "llmnet validate: option %s applies to run only\n", argv[optind - 1]);
      return 2;
    }
    if (allow_run_options && ch == 'f') {
      fprintf(stderr, "llmnet: --format applies to validate and graph, not run\n");
      return 2;
    }
    switch (ch) {
    case 'p':
      if (lln_listen_parse_port(optarg, &c->port) != 0) {
        fprintf(stderr, "llmnet: --port needs a number from 0 to 65535, not \"%s\"\n", optarg);
        return 2;
      }
      break;
    case 'b': c->bind_addr = optarg; break;
    case 'e': c->env_file = optarg; break;
    case 'd': c->dry_run = 1; break;
    case 'w': c->watch = 1; break;
    case 'f': c->format = optarg; break;
    case 'c': lln_access_log_content(1); break;
    case 'j':
      if (lln_log_set_format(optarg) != 0) {
        fprintf(stderr, "llmnet: --log-format is text or json, not \"%s\"\n", optarg);
        return 2;
      }
      c->log_format = optarg;
      break;
    case 'l': {
      lln_log_level level;
      if (lln_log_parse_level(optarg, &level) != 0) {
        fprintf(stderr, "llmnet: --log-level is one of debug, info, warn, error, off; not \"%s\"\n", optarg);
        return 2;
      }
      lln_log_set_level(level);
      break;
    }
    case 'h': usage(stdout); exit(0);
    default: fprintf(stderr, "llmnet: try llmnet --help\n"); return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "llmnet: which composition file? usage: llmnet [run|validate] CONFIG\n");
    return 2;
  }
  c->config = argv[optind++];
  if (optind < argc) {
    fprintf(stderr, "llmnet: unexpected argument \"%s\"\n", argv[optind]);
    return 2;
  }
  return 0;
}

/* validate: the command line each runner entry would run. */
static void print_runners(const lln_config *cfg) {
  for (size_t i = 0; i < cfg->n_models; i++) {
    if (!cfg->models[i].runner)
      continue;
    lln_buf b;
    lln_buf_init(&b);
    lln_runner_describe(cfg->models[i].runner, &b);
    printf("runner %s (%s): %s\n", cfg->models[i].key, cfg->models[i].type, b.data);
    lln_buf_free(&b);
  }
}

static int cmd_validate(int argc, char **argv) {
  cli c = {0};
  int rc = parse_options(argc, argv, &c, 0);
  if (rc)
    return rc;
  int json = c.format && strcmp(c.format, "json") == 0;
  if (c.format && !json && strcmp(c.format, "text") != 0) {
    fprintf(stderr, "llmnet validate: --format is text or json, not \"%s\"\n", c.format);
    return 2;
  }
  lln_load_options lo = {.mode = LLN_LOAD_VALIDATE, .env_file = c.env_file};
  lln_config cfg;
  lln_diags d;
  lln_diags_init(&d, c.config);
  int ok = lln_config_load(&cfg, c.config, &lo, &d) == 0;
  if (json) {
    lln_diags_print_json(&d, ok, stdout);
  } else {
    lln_diags_print(&d, stdout);
    if (ok)
      print_runners(&cfg);
    printf("%s: %s, %zu error%s, %zu warning%s\n", c.config, ok ? "valid" : "invalid", d.errors,
           d.errors == 1 ? "" : "s", d.warnings, d.warnings == 1 ? "" : "s");
  }
  lln_diags_free(&d);
  if (ok)
    lln_config_free(&cfg);
  return ok ? 0 : 1;
}

/* Loads CONFIG for a command that only reads it (graph, explain): no secret
 * or variable needs to be set. Diagnostics are printed only when it fails:
 * `validate` is the place for warnings. */
static int load_for_reading(const char *cmd, const char *path, const char *env_file, lln_config *cfg) {
  lln_load_options lo = {.mode = LLN_LOAD_VALIDATE, .env_file = env_file};
  lln_diags d;
  lln_diags_init(&d, path);
  int failed = lln_config_load(cfg, path, &lo, &d) != 0;
  if (failed) {
    lln_diags_print(&d, stderr);
    fprintf(stderr, "llmnet %s: %s has errors (llmnet validate %s lists them)\n", cmd, path, path);
  }
  lln_diags_free(&d);
  return failed ? 1 : 0;
}

static int cmd_graph(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"env-file", required_argument, NULL, 'e'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *format = "mermaid", *env_file = NULL;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'f': format = optarg; break;
    case 'e': env_file = optarg; break;
    case 'h': usage(stdout); exit(0);
    default: fprintf(stderr, "llmnet: try llmnet --help\n"); return 2;
    }
  }
  int svg = strcmp(format, "svg") == 0;
  if (!svg && strcmp(format, "mermaid") != 0 && strcmp(format, "dot") != 0) {
    fprintf(stderr, "llmnet graph: --format is mermaid, dot or svg, not \"%s\"\n", format);
    return 2;
  }
  if (argc - optind != 1) {
    fprintf(stderr,
            "llmnet graph: usage: llmnet graph CONFIG [--format mermaid|dot|svg] [--env-file FILE]\n");
    return 2;
  }
  lln_config cfg;
  if (load_for_reading("graph", argv[optind], env_file, &cfg) != 0)
    return 1;
  lln_buf out;
  lln_buf_init(&out);
  lln_graph_write(&cfg, strcmp(format, "mermaid") == 0 ? LLN_GRAPH_MERMAID : LLN_GRAPH_DOT, &out);
  lln_config_free(&cfg);
  int rc = 0;
  if (svg) {
    char err[512];
    fflush(stdout);
    if (lln_graph_svg(out.data, "dot", STDOUT_FILENO, err, sizeof err) != 0) {
      fprintf(stderr, "llmnet graph: %s\n", err);
      rc = 1;
    }
  } else {
    fwrite(out.data, 1, out.len, stdout);
  }
  lln_buf_free(&out);
  return rc;
}

static const char EXPLAIN_USAGE[] =
    "llmnet explain: usage: llmnet explain CONFIG (\"PROMPT\" | --prompt \"PROMPT\" | "
    "--messages FILE.json) [--header \"NAME: VALUE\"]... [--env-file FILE]\n";

/* explain's request: PROMPT, --prompt or --messages (exactly one). Returns
 * 0, or the exit status of a usage (2) or file (1) error, told. */
static int explain_input(int argc, char **argv, const char *prompt, const char *messages_file,
                         lln_explain_request *req, cJSON **messages) {
  int positional = argc - optind - 1;
  if (positional < 0 || positional > 1 || positional + !!prompt + !!messages_file != 1) {
    fputs(EXPLAIN_USAGE, stderr);
    return 2;
  }
  req->prompt = positional ? argv[optind + 1] : prompt;
  if (messages_file) {
    char err[512];
    *messages = lln_explain_read_messages(messages_file, err, sizeof err);
    if (!*messages) {
      fprintf(stderr, "llmnet explain: %s\n", err);
      return 1;
    }
    req->messages = *messages;
  }
  return 0;
}

static int cmd_explain(int argc, char **argv) {
  static const struct option opts[] = {{"header", required_argument, NULL, 'H'},
                                       {"env-file", required_argument, NULL, 'e'},
                                       {"messages", required_argument, NULL, 'm'},
                                       {"prompt", required_argument, NULL, 'p'},
                                       {"door", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *env_file = NULL, *prompt = NULL, *messages_file = NULL, *door = NULL;
  const char **headers = calloc((size_t)argc + 1, sizeof *headers);
  if (!headers)
    abort();
  size_t n_headers = 0;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "hH:", opts, NULL)) != -1) {
    switch (ch) {
    case 'H': headers[n_headers++] = optarg; break;
    case 'e': env_file = optarg; break;
    case 'm': messages_file = optarg; break;
    case 'p': prompt = optarg; break;
    case 'd':
      if (strcmp(optarg, "chat") != 0 && strcmp(optarg, "responses") != 0 &&
          strcmp(optarg, "messages") != 0) {
        fprintf(stderr, "llmnet explain: --door %s is not a door; use chat, responses or messages\n", optarg);
        free(headers);
        return 2;
      }
      door = optarg;
      break;
    case 'h':
      free(headers);
      usage(stdout);
      exit(0);
    default:
      free(headers);
      fprintf(stderr, "llmnet: try llmnet --help\n");
      return 2;
    }
  }
  lln_explain_request req = {.headers = headers, .n_headers = n_headers, .door = door};
  cJSON *messages = NULL;
  int rc = explain_input(argc, argv, prompt, messages_file, &req, &messages);
  lln_config cfg;
  if (rc == 0 && load_for_reading("explain", argv[optind], env_file, &cfg) != 0)
    rc = 1;
  else if (rc == 0) {
    lln_explain e;
    char err[512];
    if (lln_explain_init(&e, &cfg, &req, err, sizeof err) != 0) {
      fprintf(stderr, "llmnet explain: %s\n", err);
      rc = 2;
    } else {
      lln_buf out;
      lln_buf_init(&out);
      lln_explain_write(&e, &out);
      fwrite(out.data, 1, out.len, stdout);
      lln_buf_free(&out);
      lln_explain_free(&e);
    }
    lln_config_free(&cfg);
  }
  cJSON_Delete(messages);
  free(headers);
  return rc;
}

typedef struct reload_job reload_job;

typedef struct running {
  lln_workers *workers;
  reload_job *reloading;    /* the reload being loaded off the loop, or NULL */
  const char *reload_again; /* asked for while one was loading: run once more after it */
  uv_loop_t *loop;
  const char *config_path;
  lln_load_options load;
  uv_signal_t sigint, sigterm, sighup;
  uv_timer_t grace, debounce, delay;
  uv_fs_event_t watch;
  int watching;
  int stopping;
  long grace_ms;
  long delay_ms; /* server.drain-delay */
} running;

/* A composition for the workers, with the per-model breakers and queues
 * that live exactly as long as it. */
static lln_shared_config *share(lln_config *cfg) {
  lln_shared_config *sc = lln_shared_config_new(cfg);
  lln_shared_config_attach(sc, lln_model_table_new(lln_shared_config_get(sc)), lln_model_table_release);
  return sc;
}

static void close_handles(running *r) {
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
  uv_close((uv_handle_t *)&r->sighup, NULL);
  uv_close((uv_handle_t *)&r->grace, NULL);
  uv_close((uv_handle_t *)&r->debounce, NULL);
  uv_close((uv_handle_t *)&r->delay, NULL);
  if (r->watching)
    uv_close((uv_handle_t *)&r->watch, NULL);
}

static void stop_now(running *r) {
  if (r->stopping == 2)
    return;
  r->stopping = 2;
  lln_workers_stop(r->workers);
  lln_runners_stop_all(); /* after the requests that used them */
  close_handles(r);
}

static void on_drained(void *ud) {
  LLN_INFO("every request has finished; exiting");
  stop_now(ud);
}

static void on_grace_over(uv_timer_t *t) {
  LLN_WARN("shutdown grace period over; closing the connections still open");
  stop_now(t->data);
}

/* After a second signal the workers get this long to close (they end
 * detached hook processes and calls at once); a worker stuck past it does
 * not keep the process alive. */
#define LLN_STOP_NOW_TIMEOUT_S 5

static void on_stop_timeout(int signum) {
  (void)signum;
  static const char msg[] = "llmnet: the workers did not stop within 5 s of the second signal; exiting\n";
  ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)n;
  _exit(1);
}

/* Stops accepting and lets the requests in flight finish within
 * server.shutdown-grace. */
static void start_drain(running *r, const char *why) {
  LLN_INFO("%s: draining the requests in flight (grace %g s)", why, (double)r->grace_ms / 1000.0);
  uv_timer_start(&r->grace, on_grace_over, (uint64_t)r->grace_ms, 0);
  lln_workers_drain(r->workers);
}

static void on_delay_over(uv_timer_t *t) { start_drain(t->data, "server.drain-delay over"); }

/* First SIGTERM/SIGINT: GET /ready answers 503 at once; requests are still
 * accepted for server.drain-delay (a load balancer's checks see it and stop
 * sending), then the drain. A second one stops at once. */
static void on_stop_signal(uv_signal_t *s, int signum) {
  running *r = s->data;
  const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
  if (r->stopping) {
    LLN_WARN("second %s: stopping now", name);
    signal(SIGALRM, on_stop_timeout);
    alarm(LLN_STOP_NOW_TIMEOUT_S);
    stop_now(r);
    return;
  }
  r->stopping = 1;
  if (r->reloading) {
    lln_vault_cancel_reads(); /* a reload waiting on vault gives up now */
    LLN_INFO("%s: the reload in progress is abandoned", name);
  }
  lln_workers_unready(r->workers);
  if (r->delay_ms > 0) {
    LLN_INFO("%s: GET /ready answers 503; still serving for server.drain-delay (%g s), then draining", name,
             (double)r->delay_ms / 1000.0);
    uv_timer_start(&r->delay, on_delay_over, (uint64_t)r->delay_ms, 0);
    return;
  }
  start_drain(r, name);
}

/* A new composition is validated in full before it replaces the running
 * one; a broken file leaves the old one serving. The load (which may read
 * Vault over the network) runs on libuv's thread pool, so the control loop
 * keeps handling signals meanwhile; the result is applied back on the loop. */
struct reload_job {
  uv_work_t work;
  running *r;
  const char *why;
  lln_config cfg;
  lln_diags diags;
  int failed;
};

static void reload(running *r, const char *why);

static void reload_load(uv_work_t *w) {
  reload_job *j = w->data;
  j->failed = lln_config_load(&j->cfg, j->r->config_path, &j->r->load, &j->diags) != 0;
}

static void reload_apply(running *r, reload_job *j) {
  lln_diags_print(&j->diags, stderr);
  if (j->failed) {
    const char *labels[] = {"refused"};
    lln_metric_add(&LLN_M_RELOADS, labels, 1);
    LLN_ERROR("reload (%s) refused: %s has errors; the previous composition keeps serving", j->why,
              r->config_path);
    return;
  }
  const char *labels[] = {"ok"};
  lln_metric_add(&LLN_M_RELOADS, labels, 1);
  LLN_INFO("reloaded %s (%s): %zu nodes, entry \"%s\"", r->config_path, j->why, j->cfg.n_nodes,
           j->cfg.entry->name);
  lln_runners_apply(&j->cfg); /* stops the changed or gone ones, starts the new */
  lln_shared_config *sc = share(&j->cfg);
  lln_workers_reload(r->workers, sc);
  lln_shared_config_release(sc);
}

static void reload_done(uv_work_t *w, int status) {
  reload_job *j = w->data;
  running *r = j->r;
  r->reloading = NULL;
  if (status != 0 || r->stopping) {
    /* stopping: whatever was loaded is not applied */
    if (status == 0 && !j->failed)
      lln_config_free(&j->cfg);
    LLN_INFO("reload (%s) abandoned: llmnet is stopping", j->why);
  } else {
    reload_apply(r, j);
  }
  lln_diags_free(&j->diags);
  free(j);
  const char *again = r->reload_again;
  r->reload_again = NULL;
  if (again && !r->stopping)
    reload(r, again);
}

static void reload(running *r, const char *why) {
  if (r->stopping)
    return;
  if (r->reloading) { /* the file may have changed again since that load read it */
    r->reload_again = why;
    return;
  }
  reload_job *j = calloc(1, sizeof *j);
  if (!j)
    abort();
  j->r = r;
  j->why = why;
  j->work.data = j;
  lln_diags_init(&j->diags, r->config_path);
  r->reloading = j;
  if (uv_queue_work(r->loop, &j->work, reload_load, reload_done) != 0) {
    reload_load(&j->work); /* no thread pool: load here, as before */
    reload_done(&j->work, 0);
  }
}

static void on_sighup(uv_signal_t *s, int signum) {
  (void)signum;
  reload(s->data, "SIGHUP");
}

static void on_debounced(uv_timer_t *t) { reload(t->data, "file changed"); }

/* Editors write files in several steps (truncate, write, rename): wait for
 * them to settle before reading. */
static void on_file_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  running *r = h->data;
  (void)events;
  const char *base = strrchr(r->config_path, '/');
  base = base ? base + 1 : r->config_path;
  if (status == 0 && (!filename || strcmp(filename, base) == 0))
    uv_timer_start(&r->debounce, on_debounced, 200, 0);
}

static int start_watch(running *r) {
  char dir[4096];
  const char *slash = strrchr(r->config_path, '/');
  if (slash)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - r->config_path), r->config_path);
  else
    snprintf(dir, sizeof dir, ".");
  uv_fs_event_init(r->loop, &r->watch);
  r->watch.data = r;
  r->watching = 1;
  return uv_fs_event_start(&r->watch, on_file_event, dir[0] ? dir : "/", 0);
}

static int serve(lln_config *cfg, const cli *c, const char *addr, int port) {
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  uv_loop_init(&loop);
  running r;
  memset(&r, 0, sizeof r);
  r.loop = &loop;
  r.config_path = c->config;
  r.load = (lln_load_options){.mode = LLN_LOAD_RUN, .env_file = c->env_file};
  r.grace_ms = cfg->server.shutdown_grace_ms;
  r.delay_ms = cfg->server.drain_delay_ms;
  char err[256], entry_name[256];
  size_t n_nodes = cfg->n_nodes;
  unsigned count = (unsigned)cfg->server.workers;
  snprintf(entry_name, sizeof entry_name, "%s", cfg->entry->name);
  lln_runners_apply(cfg); /* local model servers start now; /ready waits for them */
  lln_shared_config *sc = share(cfg);
  lln_workers_options wo = {.control = &loop,
                            .config = sc,
                            .addr = addr,
                            .port = port,
                            .count = count,
                            .on_drained = on_drained,
                            .ud = &r};
  int rc = lln_workers_start(&r.workers, &wo, err, sizeof err);
  lln_shared_config_release(sc);
  if (rc != 0) {
    fprintf(stderr, "llmnet: %s\n", err);
    lln_runners_stop_all();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 1;
  }
  uv_signal_init(&loop, &r.sigint);
  uv_signal_init(&loop, &r.sigterm);
  uv_signal_init(&loop, &r.sighup);
  uv_timer_init(&loop, &r.grace);
  uv_timer_init(&loop, &r.debounce);
  uv_timer_init(&loop, &r.delay);
  r.sigint.data = r.sigterm.data = r.sighup.data = r.grace.data = r.debounce.data = r.delay.data = &r;
  uv_signal_start(&r.sigint, on_stop_signal, SIGINT);
  uv_signal_start(&r.sigterm, on_stop_signal, SIGTERM);
  uv_signal_start(&r.sighup, on_sighup, SIGHUP);
  if (c->watch && start_watch(&r) != 0)
    LLN_WARN("--watch: cannot watch %s; SIGHUP still reloads", c->config);
  printf("llmnet listening on http://%s:%d (entry node \"%s\", %zu nodes, %u workers)\n", addr,
         lln_workers_port(r.workers), entry_name, n_nodes, lln_workers_count(r.workers));
  fflush(stdout);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}

static int cmd_run(int argc, char **argv) {
  cli c = {0};
  int rc = parse_options(argc, argv, &c, 1);
  if (rc)
    return rc;
  lln_load_options lo = {.mode = c.dry_run ? LLN_LOAD_VALIDATE : LLN_LOAD_RUN, .env_file = c.env_file};
  lln_config cfg;
  lln_diags d;
  lln_diags_init(&d, c.config);
  int failed = lln_config_load(&cfg, c.config, &lo, &d) != 0;
  if (!failed && !c.log_format && cfg.server.log_format)
    lln_log_set_format(cfg.server.log_format);
  lln_diags_print(&d, stderr);
  lln_diags_free(&d);
  if (failed) {
    fprintf(stderr, "llmnet: %s has errors; nothing started (llmnet validate %s lists them)\n", c.config,
            c.config);
    return 1;
  }
  lln_listen at;
  char err[256];
  if (lln_listen_choose(&cfg, c.bind_addr, c.port, getenv(LLN_ENV_BIND_ADDR), getenv(LLN_ENV_PORT), &at, err,
                        sizeof err) != 0) {
    fprintf(stderr, "llmnet: %s\n", err);
    lln_config_free(&cfg);
    return 2;
  }
  if (c.dry_run) {
    lln_config_describe(&cfg, at.addr, at.port, stdout);
    lln_config_free(&cfg);
    return 0;
  }
  /* the address outlives cfg, which the gateway takes over */
  char addr_copy[256];
  snprintf(addr_copy, sizeof addr_copy, "%s", at.addr);
  return serve(&cfg, &c, addr_copy, at.port);
}

int main(int argc, char **argv) {
  /* before any cJSON allocation: requests build their trees in arenas */
  lln_json_hooks_init();
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    lln_version_print(stdout);
    return 0;
  }
  if (strcmp(cmd, "mock") == 0)
    return lln_mock_main(argc - 1, argv + 1);
  if (strcmp(cmd, "validate") == 0)
    return cmd_validate(argc - 1, argv + 1);
  if (strcmp(cmd, "graph") == 0)
    return cmd_graph(argc - 1, argv + 1);
  if (strcmp(cmd, "explain") == 0)
    return cmd_explain(argc - 1, argv + 1);
  if (strcmp(cmd, "eval") == 0)
    return lln_eval_main(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  return cmd_run(argc, argv);
}
