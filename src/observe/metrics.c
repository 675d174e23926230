/* metrics: a registry per thread, so workers never wait on each other to
 * count: an update takes only its own thread's (uncontended) lock, a hash
 * lookup and an add. A scrape merges every thread's registry into one view.
 * Gauges are process-wide values set just before a scrape. */
#include "observe/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define MAX_LABELS 4
/* Series per thread (and in a scrape's merged view); label values come from
 * the composition. A build may raise it with -DLLN_METRICS_SERIES=N. */
#ifndef LLN_METRICS_SERIES
#define LLN_METRICS_SERIES 4096
#endif
#define TABLE_SIZE LLN_METRICS_SERIES
#define DROPPED_NAME "llmnet_metrics_dropped_updates_total"

static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,   0.5,     1,      2.5,   5,      10,    30,   60,    120};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

const lln_metric LLN_M_REQUESTS = {"llmnet_requests_total",
                                   "Client requests answered, by entry node, HTTP status and door (the API "
                                   "the request came through: chat, responses, messages, embeddings).",
                                   LLN_COUNTER,
                                   {"entry", "status", "door", NULL}};
const lln_metric LLN_M_REQUEST_SECONDS = {
    "llmnet_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by entry node.",
    LLN_HISTOGRAM,
    {"entry", NULL}};
const lln_metric LLN_M_UPSTREAM_CALLS = {
    "llmnet_upstream_calls_total",
    "Upstream model calls by node, model id and outcome (ok, 4xx, 429, 5xx, timeout, connection_error).",
    LLN_COUNTER,
    {"node", "model", "outcome", NULL}};
const lln_metric LLN_M_UPSTREAM_SECONDS = {
    "llmnet_upstream_duration_seconds", "Upstream call latency by node.", LLN_HISTOGRAM, {"node", NULL}};
const lln_metric LLN_M_ROUTING = {"llmnet_routing_decisions_total",
                                  "Routing decisions by source and target node and how they were made "
                                  "(single, condition, pin, cache, router, default, no-input, ambiguous).",
                                  LLN_COUNTER,
                                  {"from", "to", "decided", NULL}};
const lln_metric LLN_M_ROUTER_AVOIDED = {
    "llmnet_router_calls_avoided_total",
    "Routing choices made without a router call, by routing node and reason (pin, cache, no-input).",
    LLN_COUNTER,
    {"node", "reason", NULL}};
const lln_metric LLN_M_DECISION_SECONDS = {
    "llmnet_routing_decision_duration_seconds",
    "Time a routing node took to choose among several candidates (pin and cache reads, the router call), "
    "by routing node and how it decided.",
    LLN_HISTOGRAM,
    {"node", "decided", NULL}};
const lln_metric LLN_M_TOKENS = {"llmnet_tokens_total",
                                 "Tokens reported by upstreams, by node, model and direction.",
                                 LLN_COUNTER,
                                 {"node", "model", "direction", NULL}};
const lln_metric LLN_M_RETRIES = {"llmnet_upstream_retries_total",
                                  "Upstream calls retried, by node and model.",
                                  LLN_COUNTER,
                                  {"node", "model", NULL}};
const lln_metric LLN_M_FALLBACKS = {
    "llmnet_fallbacks_total",
    "Failures answered by a fallback model id or node, by node and what took over.",
    LLN_COUNTER,
    {"node", "to", NULL}};
const lln_metric LLN_M_ROUTE_FALLBACKS = {
    "llmnet_route_fallbacks_total",
    "Requests sent to a routing node's default target because routing failed, by node and reason "
    "(router_failed, router_reply, no_router).",
    LLN_COUNTER,
    {"node", "reason", NULL}};
const lln_metric LLN_M_RATE_LIMIT_WAITS = {"llmnet_rate_limit_waits_total",
                                           "Requests held back by a model's rate limit, by model.",
                                           LLN_COUNTER,
                                           {"model", NULL}};
const lln_metric LLN_M_COST = {
    "llmnet_cost_usd_total",
    "What upstream calls cost in US dollars (usage.cost as reported, or computed from "
    "the model's price), by node, model id and source.",
    LLN_COUNTER,
    {"node", "model", "source", NULL}};
const lln_metric LLN_M_CACHE = {"llmnet_response_cache_requests_total",
                                "Requests looked up in the response cache, by result (hit, miss, bypass).",
                                LLN_COUNTER,
                                {"result", NULL}};
const lln_metric LLN_M_CACHE_BYTES = {"llmnet_response_cache_bytes",
                                      "Bytes the in-process response cache holds (entries and bookkeeping).",
                                      LLN_GAUGE,
                                      {NULL}};
const lln_metric LLN_M_CACHE_SERVED = {
    "llmnet_response_cache_served_bytes_total",
    "Bytes of stored entries that answered requests from the response cache.",
    LLN_COUNTER,
    {NULL}};
const lln_metric LLN_M_BUDGET_WAITS = {"llmnet_budget_waits_total",
                                       "Calls held back because a budget is spent, by budget.",
                                       LLN_COUNTER,
                                       {"budget", NULL}};
const lln_metric LLN_M_BUDGET_REFUSED = {
    "llmnet_budget_refusals_total",
    "Calls refused (429, or a fallback) because a budget is spent, by budget.",
    LLN_COUNTER,
    {"budget", NULL}};
const lln_metric LLN_M_RATE_LIMIT_REFUSED = {"llmnet_rate_limit_refusals_total",
                                             "Requests refused with 429 by a model's rate limit, by model.",
                                             LLN_COUNTER,
                                             {"model", NULL}};
const lln_metric LLN_M_HOOK_RUNS = {"llmnet_hook_runs_total",
                                    "Hook function runs by node, function and outcome (ok, failed, skipped).",
                                    LLN_COUNTER,
                                    {"node", "function", "outcome", NULL}};
const lln_metric LLN_M_IN_FLIGHT = {
    "llmnet_in_flight_requests", "Chat requests being answered.", LLN_GAUGE, {NULL}};
const lln_metric LLN_M_CONNECTIONS = {
    "llmnet_open_connections", "Open client connections.", LLN_GAUGE, {NULL}};
const lln_metric LLN_M_RELOADS = {"llmnet_config_reloads_total",
                                  "Composition reloads by result (ok, refused).",
                                  LLN_COUNTER,
                                  {"result", NULL}};
const lln_metric LLN_M_RUNNER_STATE = {
    "llmnet_runner_state",
    "1 for the state each runner is in (starting, ready, restarting, failed), 0 for the others.",
    LLN_GAUGE,
    {"runner", "state", NULL}};
const lln_metric LLN_M_RUNNER_RESTARTS = {
    "llmnet_runner_restarts_total",
    "Runner restarts after it exited or did not become ready, by runner.",
    LLN_COUNTER,
    {"runner", NULL}};

static const lln_metric *const families[] = {&LLN_M_REQUESTS,
                                             &LLN_M_REQUEST_SECONDS,
                                             &LLN_M_UPSTREAM_CALLS,
                                             &LLN_M_UPSTREAM_SECONDS,
                                             &LLN_M_ROUTING,
                                             &LLN_M_TOKENS,
                                             &LLN_M_RETRIES,
                                             &LLN_M_FALLBACKS,
                                             &LLN_M_RATE_LIMIT_WAITS,
                                             &LLN_M_RATE_LIMIT_REFUSED,
                                             &LLN_M_HOOK_RUNS,
                                             &LLN_M_IN_FLIGHT,
                                             &LLN_M_CONNECTIONS,
                                             &LLN_M_RELOADS,
                                             &LLN_M_ROUTE_FALLBACKS,
                                             &LLN_M_ROUTER_AVOIDED,
                                             &LLN_M_DECISION_SECONDS,
                                             &LLN_M_COST,
                                             &LLN_M_CACHE,
                                             &LLN_M_CACHE_BYTES,
                                             &LLN_M_CACHE_SERVED,
                                             &LLN_M_BUDGET_WAITS,
                                             &LLN_M_BUDGET_REFUSED,
                                             &LLN_M_RUNNER_STATE,
                                             &LLN_M_RUNNER_RESTARTS};

typedef struct series {
  const lln_metric *family;
  char *key; /* label values joined with \x1f */
  char *values[MAX_LABELS];
  double value; /* counter / gauge; histogram sum */
  uint64_t count;
  uint64_t bucket[N_BUCKETS]; /* observations <= buckets[i] (not cumulative) */
  struct series *next_in_family;
} series;

#define N_FAMILIES (sizeof families / sizeof families[0])

typedef struct registry {
  pthread_mutex_t lock; /* taken by its thread to update, by a scrape to read */
  series *table[TABLE_SIZE];
  series *first[N_FAMILIES];
  series *last[N_FAMILIES];
  struct registry *next;
} registry;

static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER; /* the list and the gauges */
static registry *all;
static registry gauges = {.lock = PTHREAD_MUTEX_INITIALIZER};
static _Thread_local registry *mine;

static size_t n_labels(const lln_metric *m) {
  size_t n = 0;
  while (n < MAX_LABELS && m->labels[n])
    n++;
  return n;
}

static size_t family_index(const lln_metric *m) {
  for (size_t i = 0; i < N_FAMILIES; i++) {
    if (families[i] == m)
      return i;
  }
  abort();
}

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t hash(const lln_metric *m, const char *key) {
  uint64_t h = FNV_OFFSET ^ (uint64_t)(uintptr_t)m;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ *p) * FNV_PRIME;
  return h;
}

/* The label values joined with \x1f into `key` (cut at `size`: a value
 * goes in whole or, with every later one, not at all); returns
 * hash(m, key), computed on the way. */
static uint64_t join_values(const lln_metric *m, const char *const *values, char *key, size_t size) {
  uint64_t h = FNV_OFFSET ^ (uint64_t)(uintptr_t)m;
  size_t n = n_labels(m), used = 0;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *v = (const unsigned char *)(values[i] ? values[i] : "");
    size_t start = used, limit = size - (i ? 1 : 2);
    uint64_t h_start = h;
    if (i) {
      if (start + 2 > size)
        break;
      key[used++] = '\x1f';
      h = (h ^ 0x1f) * FNV_PRIME;
    }
    for (; *v && used < limit; v++) {
      key[used++] = (char)*v;
      h = (h ^ *v) * FNV_PRIME;
    }
    if (*v || used > limit) { /* does not fit */
      used = start;
      h = h_start;
      break;
    }
  }
  key[used] = '\0';
  return h;
}

/* The series of `m` with `key` in `reg`, created on first use; NULL when
 * the table is full (the update is dropped rather than growing without
 * end). `values` may be NULL when the series exists or is copied from
 * `from`. */
static series *find(registry *reg, const lln_metric *m, const char *key, uint64_t h,
                    const char *const *values) {
  for (size_t probe = 0; probe < TABLE_SIZE; probe++) {
    series **slot = &reg->table[(h + probe) % TABLE_SIZE];
    if (*slot && (*slot)->family == m && strcmp((*slot)->key, key) == 0)
      return *slot;
    if (!*slot) {
      series *s = calloc(1, sizeof *s);
      if (!s || !(s->key = strdup(key)))
        abort();
      s->family = m;
      for (size_t i = 0; i < n_labels(m); i++) {
        s->values[i] = strdup(values[i] ? values[i] : "");
        if (!s->values[i])
          abort();
      }
      size_t f = family_index(m);
      if (reg->last[f])
        reg->last[f]->next_in_family = s;
      else
        reg->first[f] = s;
      reg->last[f] = s;
      *slot = s;
      return s;
    }
  }
  return NULL;
}

/* Updates of series that found no room, across the process; the first is
 * logged once with what to do about it. */
static atomic_ullong dropped;
static atomic_flag dropped_logged = ATOMIC_FLAG_INIT;

static void count_dropped(const lln_metric *m) {
  atomic_fetch_add(&dropped, 1);
  if (atomic_flag_test_and_set(&dropped_logged))
    return;
  lln_log(LLN_LOG_WARN,
          "metrics: the series table is full (%d series per worker thread); a new series of %s was dropped, "
          "and every later one is counted in " DROPPED_NAME ". Label values come from node names, model ids "
          "and statuses: use fewer model_override ids or nodes, or build with -DLLN_METRICS_SERIES=%d",
          TABLE_SIZE, m->name, TABLE_SIZE * 4);
}

static registry *this_thread(void) {
  if (mine)
    return mine;
  mine = calloc(1, sizeof *mine);
  if (!mine)
    abort();
  pthread_mutex_init(&mine->lock, NULL);
  pthread_mutex_lock(&all_lock);
  mine->next = all;
  all = mine;
  pthread_mutex_unlock(&all_lock);
  return mine;
}

static void update(const lln_metric *m, const char *const *values, double v, int observe) {
  char key[1024];
  uint64_t h = join_values(m, values, key, sizeof key);
  registry *reg = this_thread();
  pthread_mutex_lock(&reg->lock);
  series *s = find(reg, m, key, h, values);
  if (!s)
    count_dropped(m);
  if (s && !observe) {
    s->value += v;
  } else if (s) {
    s->value += v;
    s->count++;
    for (size_t i = 0; i < N_BUCKETS; i++) {
      if (v <= buckets[i]) {
        s->bucket[i]++;
        break;
      }
    }
  }
  pthread_mutex_unlock(&reg->lock);
}

void lln_metric_add(const lln_metric *m, const char *const *values, double delta) {
  update(m, values, delta, 0);
}

void lln_metric_observe(const lln_metric *m, const char *const *values, double seconds) {
  update(m, values, seconds, 1);
}

void lln_metric_set(const lln_metric *m, const char *const *values, double value) {
  char key[1024];
  uint64_t h = join_values(m, values, key, sizeof key);
  pthread_mutex_lock(&gauges.lock);
  series *s = find(&gauges, m, key, h, values);
  if (s)
    s->value = value;
  else
    count_dropped(m);
  pthread_mutex_unlock(&gauges.lock);
}

static void free_registry_series(registry *reg) {
  for (size_t i = 0; i < TABLE_SIZE; i++) {
    series *s = reg->table[i];
    if (!s)
      continue;
    for (size_t k = 0; k < MAX_LABELS; k++)
      free(s->values[k]);
    free(s->key);
    free(s);
    reg->table[i] = NULL;
  }
  memset(reg->first, 0, sizeof reg->first);
  memset(reg->last, 0, sizeof reg->last);
}

/* Every thread's registry and the gauges summed into `view` (series in the
 * order they first appeared). Call with all_lock held. */
static void merge(registry *view) {
  registry *sources[2] = {&gauges, NULL};
  for (int pass = 0; pass < 2; pass++) {
    for (registry *reg = pass == 0 ? sources[0] : all; reg; reg = pass == 0 ? NULL : reg->next) {
      pthread_mutex_lock(&reg->lock);
      for (size_t f = 0; f < N_FAMILIES; f++) {
        for (series *s = reg->first[f]; s; s = s->next_in_family) {
          series *t = find(view, s->family, s->key, hash(s->family, s->key), (const char *const *)s->values);
          if (!t)
            continue;
          t->value += s->value;
          t->count += s->count;
          for (size_t i = 0; i < N_BUCKETS; i++)
            t->bucket[i] += s->bucket[i];
        }
      }
      pthread_mutex_unlock(&reg->lock);
    }
  }
}

static void put_label_value(lln_buf *out, const char *v) {
  for (; *v; v++) {
    if (*v == '\\' || *v == '"')
      lln_buf_putc(out, '\\'), lln_buf_putc(out, *v);
    else if (*v == '\n')
      lln_buf_puts(out, "\\n");
    else
      lln_buf_putc(out, *v);
  }
}

/* {a="x",b="y"} plus an optional extra label (le for buckets). */
static void put_labels(lln_buf *out, const series *s, const char *extra_name, const char *extra_value) {
  size_t n = n_labels(s->family);
  if (n == 0 && !extra_name)
    return;
  lln_buf_putc(out, '{');
  for (size_t i = 0; i < n; i++) {
    lln_buf_printf(out, "%s%s=\"", i ? "," : "", s->family->labels[i]);
    put_label_value(out, s->values[i]);
    lln_buf_putc(out, '"');
  }
  if (extra_name)
    lln_buf_printf(out, "%s%s=\"%s\"", n ? "," : "", extra_name, extra_value);
  lln_buf_putc(out, '}');
}

static const char *type_name(lln_metric_kind k) {
  return k == LLN_COUNTER ? "counter" : k == LLN_GAUGE ? "gauge" : "histogram";
}

/* Every worker's series merged into one view, read without holding the
 * lock afterwards; freed with snapshot_free. */
static registry *snapshot(void) {
  registry *view = calloc(1, sizeof *view);
  if (!view)
    abort();
  pthread_mutex_lock(&all_lock);
  merge(view);
  pthread_mutex_unlock(&all_lock);
  return view;
}

static void snapshot_free(registry *view) {
  free_registry_series(view);
  free(view);
}

void lln_metrics_render(lln_buf *out) {
  registry *view = snapshot();
  series **first = view->first;
  for (size_t f = 0; f < N_FAMILIES; f++) {
    const lln_metric *m = families[f];
    lln_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, type_name(m->kind));
    if (!first[f] && m->kind != LLN_HISTOGRAM && n_labels(m) == 0)
      lln_buf_printf(out, "%s 0\n", m->name);
    for (series *s = first[f]; s; s = s->next_in_family) {
      if (m->kind != LLN_HISTOGRAM) {
        lln_buf_puts(out, m->name);
        put_labels(out, s, NULL, NULL);
        lln_buf_printf(out, " %.10g\n", s->value);
        continue;
      }
      uint64_t cumulative = 0;
      char le[32];
      for (size_t i = 0; i < N_BUCKETS; i++) {
        cumulative += s->bucket[i];
        snprintf(le, sizeof le, "%g", buckets[i]);
        lln_buf_printf(out, "%s_bucket", m->name);
        put_labels(out, s, "le", le);
        lln_buf_printf(out, " %llu\n", (unsigned long long)cumulative);
      }
      lln_buf_printf(out, "%s_bucket", m->name);
      put_labels(out, s, "le", "+Inf");
      lln_buf_printf(out, " %llu\n%s_sum", (unsigned long long)s->count, m->name);
      put_labels(out, s, NULL, NULL);
      lln_buf_printf(out, " %.10g\n%s_count", s->value, m->name);
      put_labels(out, s, NULL, NULL);
      lln_buf_printf(out, " %llu\n", (unsigned long long)s->count);
    }
  }
  lln_buf_printf(out,
                 "# HELP " DROPPED_NAME " Metric updates dropped because the series table (%d per thread) "
                 "was full\n# TYPE " DROPPED_NAME " counter\n" DROPPED_NAME " %llu\n",
                 TABLE_SIZE, (unsigned long long)atomic_load(&dropped));
  snapshot_free(view);
}

/* The q-quantile of a histogram, interpolated inside its bucket. */
static double quantile(const series *s, double q) {
  if (s->count == 0)
    return -1;
  double rank = q * (double)s->count, seen = 0, lower = 0;
  for (size_t i = 0; i < N_BUCKETS; i++) {
    if (seen + (double)s->bucket[i] >= rank && s->bucket[i] > 0)
      return lower + (buckets[i] - lower) * ((rank - seen) / (double)s->bucket[i]);
    seen += (double)s->bucket[i];
    lower = buckets[i];
  }
  return buckets[N_BUCKETS - 1];
}

void lln_metrics_node_stats(const char *node, lln_node_stats *out) {
  memset(out, 0, sizeof *out);
  out->p50_seconds = out->p99_seconds = -1;
  out->decision_p50_seconds = out->decision_p99_seconds = -1;
  registry *view = snapshot();
  for (series *s = view->first[family_index(&LLN_M_UPSTREAM_CALLS)]; s; s = s->next_in_family) {
    if (strcmp(s->values[0], node) != 0)
      continue;
    out->calls += s->value;
    if (strcmp(s->values[2], "ok") != 0)
      out->errors += s->value;
  }
  for (series *s = view->first[family_index(&LLN_M_TOKENS)]; s; s = s->next_in_family) {
    if (strcmp(s->values[0], node) == 0)
      out->tokens += s->value;
  }
  for (series *s = view->first[family_index(&LLN_M_UPSTREAM_SECONDS)]; s; s = s->next_in_family) {
    if (strcmp(s->values[0], node) == 0) {
      out->p50_seconds = quantile(s, 0.5);
      out->p99_seconds = quantile(s, 0.99);
    }
  }
  /* the node's decisions, whatever decided them, in one histogram */
  series all_decisions = {.family = &LLN_M_DECISION_SECONDS};
  for (series *s = view->first[family_index(&LLN_M_DECISION_SECONDS)]; s; s = s->next_in_family) {
    if (strcmp(s->values[0], node) != 0)
      continue;
    all_decisions.count += s->count;
    all_decisions.value += s->value;
    for (size_t i = 0; i < N_BUCKETS; i++)
      all_decisions.bucket[i] += s->bucket[i];
  }
  out->decisions = (double)all_decisions.count;
  out->decision_p50_seconds = quantile(&all_decisions, 0.5);
  out->decision_p99_seconds = quantile(&all_decisions, 0.99);
  snapshot_free(view);
}

void lln_metrics_edges(void (*cb)(void *ud, const char *from, const char *to, const char *decided, double n),
                       void *ud) {
  registry *view = snapshot();
  for (series *s = view->first[family_index(&LLN_M_ROUTING)]; s; s = s->next_in_family)
    cb(ud, s->values[0], s->values[1], s->values[2], s->value);
  snapshot_free(view);
}

void lln_metrics_doors(void (*cb)(void *ud, const char *door, const char *status, double n), void *ud) {
  registry *view = snapshot();
  for (series *s = view->first[family_index(&LLN_M_REQUESTS)]; s; s = s->next_in_family)
    cb(ud, s->values[2], s->values[1], s->value);
  snapshot_free(view);
}

void lln_metrics_each(const lln_metric *m, void (*cb)(void *ud, const char *const *values, double value),
                      void *ud) {
  registry *view = snapshot();
  for (series *s = view->first[family_index(m)]; s; s = s->next_in_family)
    cb(ud, (const char *const *)s->values, s->value);
  snapshot_free(view);
}
