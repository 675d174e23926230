/* main: the llmnet command line: run (the default), validate, mock. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "config/describe.h"
#include "mock/mock.h"
#include "server/gateway.h"
#include "util/log.h"

static void usage(FILE *out) {
  fprintf(out,
          "llmnet %s: an OpenAI-compatible gateway that routes each request through a network of LLMs\n"
          "\n"
          "usage:\n"
          "  llmnet [run] CONFIG [options]   serve the composition in CONFIG\n"
          "  llmnet validate CONFIG          check CONFIG; list every problem (exit 0 ok, 1 errors)\n"
          "  llmnet mock [options]           an OpenAI-compatible upstream simulator (llmnet mock --help)\n"
          "  llmnet --help | --version\n"
          "\n"
          "run options:\n"
          "  --port N            listen on port N (default: the entry node's bind-port, else 8080)\n"
          "  --bind-addr ADDR    listen address (default: the entry node's bind-addr, else 127.0.0.1)\n"
          "  --env-file FILE     read variables for $NAME substitution from a dotenv FILE\n"
          "  --dry-run           print the resolved pipeline and exit\n"
          "  --watch             reload CONFIG when the file changes (SIGHUP always reloads)\n"
          "  --log-level LEVEL   debug, info, warn, error or off (default info)\n"
          "\n"
          "validate options:\n"
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
} cli;

static int parse_port(const char *s, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end || v < 0 || v > 65535)
    return -1;
  *out = (int)v;
  return 0;
}

/* Parses options shared by run and validate; returns 0, or 2 on bad usage. */
static int parse_options(int argc, char **argv, cli *c, int allow_run_options) {
  static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                       {"bind-addr", required_argument, NULL, 'b'},
                                       {"env-file", required_argument, NULL, 'e'},
                                       {"dry-run", no_argument, NULL, 'd'},
                                       {"watch", no_argument, NULL, 'w'},
                                       {"log-level", required_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  c->port = -1;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (!allow_run_options && ch != 'e' && ch != 'h' && ch != 'l' && ch != '?') {
      fprintf(stderr, "llmnet validate: option %s applies to run only\n", argv[optind - 1]);
      return 2;
    }
    switch (ch) {
    case 'p':
      if (parse_port(optarg, &c->port) != 0) {
        fprintf(stderr, "llmnet: --port needs a number from 0 to 65535, not \"%s\"\n", optarg);
        return 2;
      }
      break;
    case 'b': c->bind_addr = optarg; break;
    case 'e': c->env_file = optarg; break;
    case 'd': c->dry_run = 1; break;
    case 'w': c->watch = 1; break;
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

static int cmd_validate(int argc, char **argv) {
  cli c = {0};
  int rc = parse_options(argc, argv, &c, 0);
  if (rc)
    return rc;
  lln_load_options lo = {.mode = LLN_LOAD_VALIDATE, .env_file = c.env_file};
  lln_config cfg;
  lln_diags d;
  lln_diags_init(&d, c.config);
  int ok = lln_config_load(&cfg, c.config, &lo, &d) == 0;
  lln_diags_print(&d, stdout);
  printf("%s: %s, %zu error%s, %zu warning%s\n", c.config, ok ? "valid" : "invalid", d.errors,
         d.errors == 1 ? "" : "s", d.warnings, d.warnings == 1 ? "" : "s");
  lln_diags_free(&d);
  if (ok)
    lln_config_free(&cfg);
  return ok ? 0 : 1;
}

typedef struct running {
  lln_gateway gateway;
  uv_loop_t *loop;
  const char *config_path;
  lln_load_options load;
  uv_signal_t sigint, sigterm, sighup;
  uv_timer_t grace, debounce;
  uv_fs_event_t watch;
  int watching;
  int stopping;
  long grace_ms;
} running;

static void close_handles(running *r) {
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
  uv_close((uv_handle_t *)&r->sighup, NULL);
  uv_close((uv_handle_t *)&r->grace, NULL);
  uv_close((uv_handle_t *)&r->debounce, NULL);
  if (r->watching)
    uv_close((uv_handle_t *)&r->watch, NULL);
}

static void stop_now(running *r) {
  if (r->stopping == 2)
    return;
  r->stopping = 2;
  lln_gateway_close(&r->gateway);
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

/* First SIGTERM/SIGINT: stop accepting and let requests in flight finish
 * within server.shutdown-grace. A second one stops at once. */
static void on_stop_signal(uv_signal_t *s, int signum) {
  running *r = s->data;
  const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
  if (r->stopping) {
    LLN_WARN("second %s: stopping now", name);
    stop_now(r);
    return;
  }
  r->stopping = 1;
  long grace = r->grace_ms;
  LLN_INFO("%s: draining %zu request%s in flight (grace %.0f s)", name, r->gateway.in_flight,
           r->gateway.in_flight == 1 ? "" : "s", (double)grace / 1000.0);
  uv_timer_start(&r->grace, on_grace_over, (uint64_t)grace, 0);
  lln_gateway_drain(&r->gateway, on_drained, r);
}

/* A new composition is validated in full before it replaces the running
 * one; a broken file leaves the old one serving. */
static void reload(running *r, const char *why) {
  if (r->stopping)
    return;
  lln_config cfg;
  lln_diags d;
  lln_diags_init(&d, r->config_path);
  int failed = lln_config_load(&cfg, r->config_path, &r->load, &d) != 0;
  lln_diags_print(&d, stderr);
  lln_diags_free(&d);
  if (failed) {
    LLN_ERROR("reload (%s) refused: %s has errors; the previous composition keeps serving", why, r->config_path);
    return;
  }
  LLN_INFO("reloaded %s (%s): %zu nodes, entry \"%s\"", r->config_path, why, cfg.n_nodes, cfg.entry->name);
  lln_gateway_reload(&r->gateway, &cfg);
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
  char err[256];
  size_t n_nodes = cfg->n_nodes;
  char entry_name[256];
  snprintf(entry_name, sizeof entry_name, "%s", cfg->entry->name);
  if (lln_gateway_start(&r.gateway, &loop, cfg, addr, port, err, sizeof err) != 0) {
    fprintf(stderr, "llmnet: %s\n", err);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 1;
  }
  uv_signal_init(&loop, &r.sigint);
  uv_signal_init(&loop, &r.sigterm);
  uv_signal_init(&loop, &r.sighup);
  uv_timer_init(&loop, &r.grace);
  uv_timer_init(&loop, &r.debounce);
  r.sigint.data = r.sigterm.data = r.sighup.data = r.grace.data = r.debounce.data = &r;
  uv_signal_start(&r.sigint, on_stop_signal, SIGINT);
  uv_signal_start(&r.sigterm, on_stop_signal, SIGTERM);
  uv_signal_start(&r.sighup, on_sighup, SIGHUP);
  if (c->watch && start_watch(&r) != 0)
    LLN_WARN("--watch: cannot watch %s; SIGHUP still reloads", c->config);
  printf("llmnet listening on http://%s:%d (entry node \"%s\", %zu nodes)\n", addr, lln_gateway_port(&r.gateway),
         entry_name, n_nodes);
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
  lln_diags_print(&d, stderr);
  lln_diags_free(&d);
  if (failed) {
    fprintf(stderr, "llmnet: %s has errors; nothing started (llmnet validate %s lists them)\n", c.config, c.config);
    return 1;
  }
  const char *addr = c.bind_addr ? c.bind_addr : cfg.entry->bind_addr ? cfg.entry->bind_addr : "127.0.0.1";
  int port = c.port >= 0 ? c.port : cfg.entry->bind_port ? cfg.entry->bind_port : 8080;
  if (c.dry_run) {
    lln_config_describe(&cfg, addr, port, stdout);
    lln_config_free(&cfg);
    return 0;
  }
  /* the address outlives cfg, which the gateway takes over */
  char addr_copy[256];
  snprintf(addr_copy, sizeof addr_copy, "%s", addr);
  return serve(&cfg, &c, addr_copy, port);
}

int main(int argc, char **argv) {
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
    printf("llmnet %s\n", LLN_VERSION);
    return 0;
  }
  if (strcmp(cmd, "mock") == 0)
    return lln_mock_main(argc - 1, argv + 1);
  if (strcmp(cmd, "validate") == 0)
    return cmd_validate(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  return cmd_run(argc, argv);
}
