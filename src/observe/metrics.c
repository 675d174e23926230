/* metrics: one registry for the process, guarded by a mutex. Updates are a
 * hash lookup and an add (well under a microsecond); scrapes copy nothing
 * and hold the lock while rendering. */
#include "observe/metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 4
#define TABLE_SIZE 4096 /* series; label values come from the composition */

static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,   0.5,     1,      2.5,   5,      10,    30,   60,    120};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

const lln_metric LLN_M_REQUESTS = {"llmnet_requests_total",
                                   "Client requests answered, by entry node and HTTP status.",
                                   LLN_COUNTER,
                                   {"entry", "status", NULL}};
const lln_metric LLN_M_REQUEST_SECONDS = {"llmnet_request_duration_seconds",
                                          "Time from a chat request's arrival to the end of its response.",
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
                                  "(single, condition, router, default).",
                                  LLN_COUNTER,
                                  {"from", "to", "decided", NULL}};
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
const lln_metric LLN_M_RATE_LIMIT_WAITS = {"llmnet_rate_limit_waits_total",
                                           "Requests held back by a model's rate limit, by model.",
                                           LLN_COUNTER,
                                           {"model", NULL}};
const lln_metric LLN_M_RATE_LIMIT_REFUSED = {"llmnet_rate_limit_refusals_total",
                                             "Requests refused with 429 by a model's rate limit, by model.",
                                             LLN_COUNTER,
                                             {"model", NULL}};
const lln_metric LLN_M_IN_FLIGHT = {
    "llmnet_in_flight_requests", "Chat requests being answered.", LLN_GAUGE, {NULL}};
const lln_metric LLN_M_CONNECTIONS = {
    "llmnet_open_connections", "Open client connections.", LLN_GAUGE, {NULL}};
const lln_metric LLN_M_RELOADS = {"llmnet_config_reloads_total",
                                  "Composition reloads by result (ok, refused).",
                                  LLN_COUNTER,
                                  {"result", NULL}};

static const lln_metric *const families[] = {&LLN_M_REQUESTS,         &LLN_M_REQUEST_SECONDS,
                                             &LLN_M_UPSTREAM_CALLS,   &LLN_M_UPSTREAM_SECONDS,
                                             &LLN_M_ROUTING,          &LLN_M_TOKENS,
                                             &LLN_M_RETRIES,          &LLN_M_FALLBACKS,
                                             &LLN_M_RATE_LIMIT_WAITS, &LLN_M_RATE_LIMIT_REFUSED,
                                             &LLN_M_IN_FLIGHT,        &LLN_M_CONNECTIONS,
                                             &LLN_M_RELOADS};

typedef struct series {
  const lln_metric *family;
  char *key; /* label values joined with \x1f */
  char *values[MAX_LABELS];
  double value; /* counter / gauge; histogram sum */
  uint64_t count;
  uint64_t bucket[N_BUCKETS]; /* observations <= buckets[i] (not cumulative) */
  struct series *next_in_family;
} series;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static series *table[TABLE_SIZE];
static series *first[sizeof families / sizeof families[0]];
static series *last[sizeof families / sizeof families[0]];

static size_t n_labels(const lln_metric *m) {
  size_t n = 0;
  while (n < MAX_LABELS && m->labels[n])
    n++;
  return n;
}

static size_t family_index(const lln_metric *m) {
  for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
    if (families[i] == m)
      return i;
  }
  abort();
}

static uint64_t hash(const lln_metric *m, const char *key) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)m;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return h;
}

/* The series for these label values, created on first use; NULL when the
 * table is full (the update is dropped rather than growing without end). */
static series *find(const lln_metric *m, const char *const *values) {
  size_t n = n_labels(m);
  lln_buf key;
  lln_buf_init(&key);
  lln_buf_append(&key, "", 0);
  for (size_t i = 0; i < n; i++) {
    if (i)
      lln_buf_putc(&key, '\x1f');
    lln_buf_puts(&key, values[i] ? values[i] : "");
  }
  uint64_t h = hash(m, key.data);
  for (size_t probe = 0; probe < TABLE_SIZE; probe++) {
    series **slot = &table[(h + probe) % TABLE_SIZE];
    if (*slot && (*slot)->family == m && strcmp((*slot)->key, key.data) == 0) {
      lln_buf_free(&key);
      return *slot;
    }
    if (!*slot) {
      series *s = calloc(1, sizeof *s);
      if (!s)
        abort();
      s->family = m;
      s->key = lln_buf_steal(&key);
      for (size_t i = 0; i < n; i++) {
        s->values[i] = strdup(values[i] ? values[i] : "");
        if (!s->values[i])
          abort();
      }
      size_t f = family_index(m);
      if (last[f])
        last[f]->next_in_family = s;
      else
        first[f] = s;
      last[f] = s;
      *slot = s;
      return s;
    }
  }
  lln_buf_free(&key);
  return NULL;
}

void lln_metric_add(const lln_metric *m, const char *const *values, double delta) {
  pthread_mutex_lock(&lock);
  series *s = find(m, values);
  if (s)
    s->value += delta;
  pthread_mutex_unlock(&lock);
}

void lln_metric_set(const lln_metric *m, const char *const *values, double value) {
  pthread_mutex_lock(&lock);
  series *s = find(m, values);
  if (s)
    s->value = value;
  pthread_mutex_unlock(&lock);
}

void lln_metric_observe(const lln_metric *m, const char *const *values, double seconds) {
  pthread_mutex_lock(&lock);
  series *s = find(m, values);
  if (s) {
    s->value += seconds;
    s->count++;
    for (size_t i = 0; i < N_BUCKETS; i++) {
      if (seconds <= buckets[i]) {
        s->bucket[i]++;
        break;
      }
    }
  }
  pthread_mutex_unlock(&lock);
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

void lln_metrics_render(lln_buf *out) {
  pthread_mutex_lock(&lock);
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
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
  pthread_mutex_unlock(&lock);
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
  pthread_mutex_lock(&lock);
  for (series *s = first[family_index(&LLN_M_UPSTREAM_CALLS)]; s; s = s->next_in_family) {
    if (strcmp(s->values[0], node) != 0)
      continue;
    out->calls += s->value;
    if (strcmp(s->values[2], "ok") != 0)
      out->errors += s->value;
  }
  for (series *s = first[family_index(&LLN_M_TOKENS)]; s; s = s->next_in_family) {
    if (strcmp(s->values[0], node) == 0)
      out->tokens += s->value;
  }
  for (series *s = first[family_index(&LLN_M_UPSTREAM_SECONDS)]; s; s = s->next_in_family) {
    if (strcmp(s->values[0], node) == 0) {
      out->p50_seconds = quantile(s, 0.5);
      out->p99_seconds = quantile(s, 0.99);
    }
  }
  pthread_mutex_unlock(&lock);
}

void lln_metrics_reset(void) {
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < TABLE_SIZE; i++) {
    series *s = table[i];
    if (!s)
      continue;
    for (size_t k = 0; k < MAX_LABELS; k++)
      free(s->values[k]);
    free(s->key);
    free(s);
    table[i] = NULL;
  }
  memset(first, 0, sizeof first);
  memset(last, 0, sizeof last);
  pthread_mutex_unlock(&lock);
}
