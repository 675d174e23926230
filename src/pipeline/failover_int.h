/* failover: what happens after a failed upstream call, as one pure function
 * of the node visit's attempt record and the failure: retry the model id,
 * try the node's next model id, send a failed routing to the default
 * target, let a fallback node answer, or fail the request with a status and
 * an x-should-retry verdict. The flow (run.c) only executes the decision;
 * `llmnet explain` asks the same function what answers when a node fails. */
#ifndef LLN_PIPELINE_FAILOVER_H
#define LLN_PIPELINE_FAILOVER_H

#include <stddef.h>

#include "config/config.h"

/* One node visit's place in its failure policy. */
typedef struct lln_attempt {
  const lln_node *node;     /* whose model is called (the router node for a routing call) */
  int routing;              /* a routing call: when it gives up, the default target is taken */
  size_t model_index;       /* into node->model_ids */
  int retries_done;         /* for this model id */
  const lln_node *fb_owner; /* the node whose fallback list brought this visit, or NULL */
  size_t fb_next;           /* the next position in fb_owner->fallbacks */
} lln_attempt;

typedef enum {
  LLN_FAILURE_HTTP,         /* the upstream answered with an error status (or a bad body) */
  LLN_FAILURE_TIMEOUT,      /* the upstream did not answer in time */
  LLN_FAILURE_TRANSPORT,    /* no connection, reset, broken transfer */
  LLN_FAILURE_CIRCUIT_OPEN, /* llmnet's breaker for this model id is open: no call made */
  LLN_FAILURE_RATE_LIMITED  /* llmnet's own rate limit for the endpoint: no call made */
} lln_failure_kind;

typedef struct lln_failure {
  lln_failure_kind kind;
  int http_status;    /* LLN_FAILURE_HTTP: the upstream's status (2xx: a body that is no answer) */
  int retryable;      /* the same call may succeed again (lln_retryable) */
  long hint_ms;       /* the wait the upstream (or llmnet's limiter) asked for; -1 none */
  long backoff_ms;    /* llmnet's own wait before the next retry */
  long remaining_ms;  /* until the request's deadline */
  int upstream_calls; /* calls this request has sent upstream so far */
} lln_failure;

/* How the client status relates to the upstream's. */
typedef enum {
  LLN_REFUSAL_NONE,
  LLN_REFUSAL_REQUEST, /* 400, 413, 422: the client's request is at fault; passed through */
  LLN_REFUSAL_MODEL,   /* 404: the upstream does not know the model id; passed through */
  LLN_REFUSAL_ACCOUNT  /* 401, 402, 403: llmnet's account with the provider; 502 */
} lln_refusal;

lln_refusal lln_failover_refusal(int http_status);

typedef enum {
  LLN_FO_RETRY,      /* the same model id again after delay_ms */
  LLN_FO_NEXT_MODEL, /* the node's next model id (next.model_index) */
  LLN_FO_DEFAULT,    /* routing failed: the default target answers */
  LLN_FO_FALLBACK,   /* `fallback` answers; its visit starts from `next` */
  LLN_FO_FAIL        /* the request ends with `status` */
} lln_failover_kind;

typedef struct lln_failover {
  lln_failover_kind kind;
  lln_attempt next;         /* RETRY, NEXT_MODEL: the record to go on with; FALLBACK: its fb_* */
  long delay_ms;            /* RETRY */
  const lln_node *fallback; /* FALLBACK */
  int status;               /* FAIL: the client's HTTP status */
  int should_retry;         /* FAIL: the x-should-retry header */
  int pass_retry_after;     /* FAIL: tell the client when to come back (429, 503) */
} lln_failover;

/* The client status a failure maps to when nothing else answers. */
int lln_failover_status(const lln_failure *f);

/* The one decision after a failed call. Pure: same inputs, same answer. */
lln_failover lln_failover_decide(const lln_attempt *a, const lln_failure *f);

/* The attempt record of a visit to `n` reached the ordinary way (fb_owner
 * NULL), or by the fallback decision `via`. */
lln_attempt lln_attempt_start(const lln_node *n, int routing, const lln_failover *via);

#endif
