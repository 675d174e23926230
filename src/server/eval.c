/* eval: runs `llmnet eval`'s cases. Each case is a route-only, stateless
 * pipeline run (lln_run_start with route_only and stateless) on a loop of
 * its own, with the upstream client, per-model breakers and queues, the
 * store (server.store) and the rate limiter built as the gateway builds them, so the router is called
 * exactly as a served request would call it and a composition's rate
 * limits hold (a refused case is a failure with its error). At most
 * `concurrency` cases run at once. */
#include "server/eval.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "pipeline/run.h"
#include "server/eval_int.h"
#include "store/store.h"
#include "upstream/client.h"
#include "upstream/model_state.h"
#include "upstream/ratelimit.h"
#include "upstream/runners.h"
#include "util/arena.h"
#include "util/json_alloc.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Columns of the progress bar's bar. */
#define PROGRESS_WIDTH 30

typedef struct eval {
  const lln_config *cfg;
  uv_loop_t *loop;
  lln_upstream *upstream;
  lln_model_table *models;
  lln_store *store; /* server.store: the rate limiter counts in it (a stateless run keeps no pins there) */
  lln_ratelimit *ratelimit;
  lln_eval_cases *cases;
  size_t next;     /* the next case to start */
  size_t finished; /* cases whose run has answered */
  int running;
  int concurrency;
  int starting; /* inside start_more: an answer given synchronously does not start more */
  int progress;
  FILE *err;
} eval;

typedef struct slot {
  eval *ev;
  lln_eval_case *c;
  lln_run *run;
  int finished;
  char request_id[32];
} slot;

static const char *case_header(void *ctx, const char *name) {
  const lln_eval_case *c = ((slot *)ctx)->c;
  for (size_t i = 0; i < c->n_headers; i++)
    if (strcasecmp(c->headers[i].name, name) == 0)
      return c->headers[i].value;
  return NULL;
}

static void draw_progress(eval *ev) {
  if (!ev->progress)
    return;
  size_t n = ev->cases->n, done = ev->finished;
  size_t filled = n ? done * PROGRESS_WIDTH / n : PROGRESS_WIDTH;
  fprintf(ev->err, "\r  eval [");
  for (size_t i = 0; i < PROGRESS_WIDTH; i++)
    fputc(i < filled ? '#' : '.', ev->err);
  fprintf(ev->err, "] %zu/%zu", done, n);
  if (done == n)
    fprintf(ev->err, "\r\033[K");
  fflush(ev->err);
}

static char *dup_or_null(const char *s) { return s ? lln_xstrdup(s) : NULL; }

/* The router's reply or error, from the last routing hop of the trace. */
static void read_trace(lln_eval_case *c, const cJSON *hops) {
  const cJSON *hop, *last = NULL;
  cJSON_ArrayForEach(hop, hops) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(hop, "role");
    if (cJSON_IsString(role) && strcmp(role->valuestring, "router") == 0)
      last = hop;
  }
  if (!last)
    return;
  const cJSON *reply = cJSON_GetObjectItemCaseSensitive(last, "reply");
  const cJSON *error = cJSON_GetObjectItemCaseSensitive(last, "error");
  const cJSON *reason = cJSON_GetObjectItemCaseSensitive(last, "reason");
  if (cJSON_IsString(reply))
    c->reply = lln_xstrdup(reply->valuestring);
  if (!c->error && cJSON_IsString(error))
    c->error = lln_xstrdup(error->valuestring);
  if (cJSON_IsString(reason))
    c->reason = lln_xstrdup(reason->valuestring);
}

static void record(lln_eval_case *c, const lln_run_result *res) {
  c->status = res->status;
  if (res->status < 400 && res->route && *res->route) {
    const char *last = strrchr(res->route, '>');
    last = last ? last + 1 : res->route;
    while (*last == ' ')
      last++;
    c->chose = lln_xstrdup(last);
  }
  c->decided = dup_or_null(res->decided);
  c->error = res->status >= 400 ? dup_or_null(res->error ? res->error : "the run failed") : NULL;
  c->decision_ms = res->decision_ms;
  c->tokens = res->tokens;
  c->router_calls = res->router_calls;
  if (res->hops)
    read_trace(c, res->hops);
}

static void start_more(eval *ev);

static void on_run_done(void *ud, const lln_run_result *res) {
  slot *s = ud;
  eval *ev = s->ev;
  record(s->c, res);
  s->finished = 1;
  ev->finished++;
  ev->running--;
  draw_progress(ev);
  if (s->run) {
    lln_run_free(s->run);
    free(s);
  }
  if (!ev->starting)
    start_more(ev);
}

static void start_one(eval *ev, lln_eval_case *c) {
  slot *s = calloc(1, sizeof *s);
  if (!s)
    abort();
  s->ev = ev;
  s->c = c;
  snprintf(s->request_id, sizeof s->request_id, "eval-%ld", c->line);
  lln_arena *arena = lln_arena_create();
  cJSON *body;
  {
    LLN_JSON_SCOPE(arena);
    body = cJSON_Parse(c->body);
  }
  lln_run_params p = {
      .cfg = ev->cfg,
      .upstream = ev->upstream,
      .loop = ev->loop,
      .arena = arena,
      .request = body,
      .request_id = s->request_id,
      .header = case_header,
      .header_ctx = s,
      .done = on_run_done,
      .models = ev->models,
      .ratelimit = ev->ratelimit,
      .store = ev->store,
      .route_only = 1,
      .stateless = 1,
      .ud = s,
  };
  ev->running++;
  lln_run *run = lln_run_start(&p);
  if (s->finished) {
    lln_run_free(run);
    free(s);
  } else {
    s->run = run;
  }
}

static void start_more(eval *ev) {
  ev->starting = 1;
  while (ev->running < ev->concurrency && ev->next < ev->cases->n)
    start_one(ev, &ev->cases->items[ev->next++]);
  ev->starting = 0;
}

/* Runs every case on a loop of its own; returns 0, or -1 with `err` told
 * (the rate limiter's store could not be set up). */
static int run_cases(const lln_eval_options *o, const lln_config *cfg, lln_eval_cases *cs, FILE *err) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  eval ev = {.cfg = cfg,
             .loop = &loop,
             .cases = cs,
             .concurrency = o->concurrency,
             .progress = o->progress,
             .err = err};
  char store_err[256];
  if (lln_store_create_bounded(&ev.store, &loop, cfg->server.store, cfg->server.store_max_bytes, store_err,
                               sizeof store_err) != 0) {
    fprintf(err, "llmnet eval: %s: server.store: %s\n", cfg->path, store_err);
    uv_loop_close(&loop);
    return -1;
  }
  if (lln_ratelimit_create(&ev.ratelimit, ev.store) != 0 || lln_upstream_init(&ev.upstream, &loop) != 0) {
    fprintf(err,
            "llmnet eval: cannot set up the rate limiter and the HTTP client (out of memory, or curl)\n");
    lln_ratelimit_close(ev.ratelimit);
    lln_store_close(ev.store);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return -1;
  }
  ev.models = lln_model_table_new(cfg);
  draw_progress(&ev);
  start_more(&ev);
  /* the loop ends when every case has answered and nothing is pending */
  while (ev.finished < cs->n) {
    if (uv_run(&loop, UV_RUN_ONCE) == 0 && !uv_loop_alive(&loop) && ev.finished < cs->n) {
      fprintf(err, "llmnet eval: %zu cases never answered (a bug: please report it)\n", cs->n - ev.finished);
      break;
    }
  }
  lln_upstream_close(ev.upstream);
  lln_ratelimit_close(ev.ratelimit);
  lln_store_close(ev.store);
  uv_run(&loop, UV_RUN_DEFAULT);
  lln_model_table_free(ev.models);
  uv_loop_close(&loop);
  return 0;
}

int lln_eval_run(const lln_eval_options *o, FILE *out, FILE *err) {
  lln_load_options lo = {.mode = LLN_LOAD_RUN, .env_file = o->env_file};
  lln_config cfg;
  lln_diags d;
  lln_diags_init(&d, o->config);
  int failed = lln_config_load(&cfg, o->config, &lo, &d) != 0;
  if (failed) {
    lln_diags_print(&d, err);
    fprintf(err, "llmnet eval: %s has errors (llmnet validate %s lists them)\n", o->config, o->config);
  }
  lln_diags_free(&d);
  if (failed)
    return 1;
  lln_eval_cases cs;
  int rc = 1;
  if (lln_eval_cases_read(&cs, o->cases, &cfg, err) != 0) {
    fprintf(err, "llmnet eval: %s has errors; no case was run\n", o->cases);
  } else {
    lln_runners_apply(&cfg); /* its local model servers, for the cases' calls */
    int ran = run_cases(o, &cfg, &cs, err);
    lln_runners_stop_all();
    if (ran == 0) {
      if (o->json)
        lln_eval_report_json(&cs, &cfg, out);
      else
        lln_eval_report_text(&cs, &cfg, o->cases, out);
      rc = 0;
    }
    lln_eval_cases_free(&cs);
  }
  lln_config_free(&cfg);
  return rc;
}

/* ---- the command line ---- */

static void eval_usage(FILE *out) {
  fprintf(out,
          "usage: llmnet eval CONFIG CASES.jsonl [--format text|json] [--concurrency N] [--env-file FILE]\n"
          "                   [--log-level LEVEL]   (default error: the report lists what went wrong)\n"
          "  CASES.jsonl: one case a line, {\"prompt\": \"...\", \"expect\": \"NODE\"} or "
          "{\"messages\": [...], \"expect\": \"NODE\"},\n"
          "  optionally with \"session\" (an x-session-id), \"headers\" ({\"Name\": \"value\"}) and "
          "\"note\".\n"
          "  Runs only the routing decision of each case (no handler is called), within the composition's\n"
          "  rate limits, and prints accuracy, a confusion table, router latency and tokens.\n"
          "  Exit status: 0 when it ran (whatever the accuracy), 1 on errors in CONFIG or CASES, 2 on usage "
          "errors.\n");
}

int lln_eval_main(int argc, char **argv) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, 'f'},   {"concurrency", required_argument, NULL, 'c'},
      {"env-file", required_argument, NULL, 'e'}, {"log-level", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
  lln_eval_options o = {.concurrency = LLN_EVAL_DEFAULT_CONCURRENCY};
  const char *format = "text";
  int log_level_given = 0;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'f': format = optarg; break;
    case 'e': o.env_file = optarg; break;
    case 'c': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (!*optarg || *end || v < 1 || v > LLN_EVAL_MAX_CONCURRENCY) {
        fprintf(stderr, "llmnet eval: --concurrency needs a number from 1 to %d, not \"%s\"\n",
                LLN_EVAL_MAX_CONCURRENCY, optarg);
        return 2;
      }
      o.concurrency = (int)v;
      break;
    }
    case 'l': {
      lln_log_level level;
      if (lln_log_parse_level(optarg, &level) != 0) {
        fprintf(stderr, "llmnet eval: --log-level is one of debug, info, warn, error, off; not \"%s\"\n",
                optarg);
        return 2;
      }
      lln_log_set_level(level);
      log_level_given = 1;
      break;
    }
    case 'h': eval_usage(stdout); exit(0);
    default: eval_usage(stderr); return 2;
    }
  }
  o.json = strcmp(format, "json") == 0;
  if (!o.json && strcmp(format, "text") != 0) {
    fprintf(stderr, "llmnet eval: --format is text or json, not \"%s\"\n", format);
    return 2;
  }
  if (argc - optind != 2) {
    fprintf(stderr, "llmnet eval: %s\n",
            argc - optind < 2 ? "which composition and which cases file?" : "too many arguments");
    eval_usage(stderr);
    return 2;
  }
  o.config = argv[optind];
  o.cases = argv[optind + 1];
  /* each routing fallback would log a warning the report already lists */
  if (!log_level_given)
    lln_log_set_level(LLN_LOG_ERROR);
  o.progress = isatty(STDERR_FILENO);
  return lln_eval_run(&o, stdout, stderr);
}
