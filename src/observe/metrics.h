/* metrics: the process's counters, gauges and histograms, rendered in the
 * Prometheus text exposition format. Label values come from the
 * composition (node names, model ids) and small fixed sets (outcomes,
 * statuses), never from request content, so series stay bounded. Safe to
 * update from several threads. */
#ifndef LLN_OBSERVE_METRICS_H
#define LLN_OBSERVE_METRICS_H

#include <stddef.h>

#include "util/buf.h"

typedef enum { LLN_COUNTER, LLN_GAUGE, LLN_HISTOGRAM } lln_metric_kind;

typedef struct lln_metric {
  const char *name;
  const char *help;
  lln_metric_kind kind;
  const char *labels[4]; /* label names, NULL-terminated */
} lln_metric;

/* The families llmnet exports. */
extern const lln_metric LLN_M_REQUESTS;           /* entry, status, door */
extern const lln_metric LLN_M_REQUEST_SECONDS;    /* entry */
extern const lln_metric LLN_M_UPSTREAM_CALLS;     /* node, model, outcome */
extern const lln_metric LLN_M_UPSTREAM_SECONDS;   /* node */
extern const lln_metric LLN_M_ROUTING;            /* from, to, decided */
extern const lln_metric LLN_M_TOKENS;             /* node, model, direction */
extern const lln_metric LLN_M_RETRIES;            /* node, model */
extern const lln_metric LLN_M_FALLBACKS;          /* node, to */
extern const lln_metric LLN_M_ROUTE_FALLBACKS;    /* node, reason */
extern const lln_metric LLN_M_ROUTER_AVOIDED;     /* node, reason (pin, cache, no-input) */
extern const lln_metric LLN_M_DECISION_SECONDS;   /* node, decided */
extern const lln_metric LLN_M_RATE_LIMIT_WAITS;   /* model */
extern const lln_metric LLN_M_RATE_LIMIT_REFUSED; /* model */
extern const lln_metric LLN_M_HOOK_RUNS;          /* node, function, outcome */
extern const lln_metric LLN_M_IN_FLIGHT;          /* (none) */
extern const lln_metric LLN_M_CONNECTIONS;        /* (none) */
extern const lln_metric LLN_M_RELOADS;            /* result */
extern const lln_metric LLN_M_COST;               /* node, model, source (reported, computed) */
extern const lln_metric LLN_M_CACHE;              /* result (hit, miss, bypass) */
extern const lln_metric LLN_M_CACHE_BYTES;        /* (none): a gauge */
extern const lln_metric LLN_M_CACHE_SERVED;       /* (none) */
extern const lln_metric LLN_M_BUDGET_WAITS;       /* budget */
extern const lln_metric LLN_M_BUDGET_REFUSED;     /* budget */
extern const lln_metric LLN_M_RUNNER_STATE;       /* runner, state: a gauge (1 for the current state) */
extern const lln_metric LLN_M_RUNNER_RESTARTS;    /* runner */

/* `values` holds one value per label name of the family, in order. */
void lln_metric_add(const lln_metric *m, const char *const *values, double delta);
void lln_metric_set(const lln_metric *m, const char *const *values, double value);
void lln_metric_observe(const lln_metric *m, const char *const *values, double seconds);

void lln_metrics_render(lln_buf *out);

/* Per-node figures for the status page, from the upstream families and,
 * for a routing node, its decisions among several candidates. */
typedef struct lln_node_stats {
  double calls, errors, tokens;
  double p50_seconds, p99_seconds;                   /* estimated from the histogram; -1 without data */
  double decisions;                                  /* choices among several candidates */
  double decision_p50_seconds, decision_p99_seconds; /* -1 without data */
} lln_node_stats;
void lln_metrics_node_stats(const char *node, lln_node_stats *out);

/* Every routing edge taken so far: from, to, how it was decided and how
 * many requests took it (llmnet_routing_decisions_total). */
void lln_metrics_edges(void (*cb)(void *ud, const char *from, const char *to, const char *decided, double n),
                       void *ud);

/* Every series of llmnet_requests_total by door and status (summed over
 * entry nodes by the caller), for the status page. */
void lln_metrics_doors(void (*cb)(void *ud, const char *door, const char *status, double n), void *ud);

/* Every series of family `m` as the process sees it now (all threads
 * merged): its label values, in the family's label order, and its value
 * (a histogram's: the sum of its observations). */
void lln_metrics_each(const lln_metric *m, void (*cb)(void *ud, const char *const *values, double value),
                      void *ud);

#endif
