/* run_state: the state of one run, shared by run.c (the flow), stream.c
 * (the final hop as an event stream), hooks.c, call_body.c and the other
 * src/pipeline parts. The run is a handful of parts: what it owns and
 * knows (top), the call in flight, the tickets it holds, the hooks, the
 * stream and the timers. Internal to src/pipeline. */
#ifndef LLN_PIPELINE_RUN_STATE_H
#define LLN_PIPELINE_RUN_STATE_H

#include <time.h>

#include "hooks/function.h"
#include "pipeline/failover_int.h"
#include "pipeline/route_input_int.h"
#include "pipeline/run.h"
#include "pipeline/vars.h"
#include "upstream/breaker.h"
#include "upstream/sse.h"
#include "util/arena.h"
#include "util/buf.h"

typedef enum { CALL_ROUTE, CALL_ANSWER } call_kind;

struct lln_store_op; /* store/store.h */

struct lln_run {
  /* Owns the run itself and everything built for it: the client's parsed
   * request, upstream bodies, parsed answers, the trace, the id, inputs and
   * candidate lists. Each entry point opens its JSON scope
   * (LLN_JSON_SCOPE(r->arena), util/json_alloc.h); release() in run.c
   * frees it in one call. `scratch` holds one relayed stream chunk's trees
   * and is reset after each read (stream.c). */
  lln_arena *arena;
  lln_arena scratch;
  const lln_run_stream_sink *sink;
  const lln_config *cfg;
  lln_upstream *up;
  uv_loop_t *loop;
  cJSON *request;
  const cJSON *messages;
  char *request_id;
  char *initial_input;
  char *input;  /* what the current node receives */
  char *output; /* the last answer's text, NULL before any */
  cJSON *final; /* the last answer's upstream response */
  const lln_node *node;
  const lln_node *prev;
  const char *route_decision;
  int hops;
  lln_buf route;
  cJSON *trace;
  long usage[3]; /* prompt, completion, total */
  int have_usage;
  double cost_usd; /* every hop's cost summed (cost_run.c) */
  int cost_known;  /* some hop had a cost */
  lln_var_header *header_vars;
  size_t n_header_vars;

  lln_model_table *models;
  lln_ratelimit *ratelimit;
  lln_vars vars; /* what conditions and templates see; see lln_run_vars() */

  /* The call in flight: the node whose model is asked, how it was reached
   * and the body being sent. Owned by run.c (start_call, the failure
   * policy, the body and headers sent); stream.c also uses `node` and sets
   * `streaming`. */
  struct {
    lln_upstream_call *upstream; /* the upstream call; a ticket, see stop_work */
    call_kind kind;
    const lln_node *node;       /* the node whose model is asked */
    const lln_node *route_from; /* for routing calls */
    const lln_node **cands;
    size_t n_cands;
    lln_attempt att;    /* where the call stands in its failure policy (failover_int.h) */
    lln_failover via;   /* how the node being visited was reached: a fallback or not */
    int via_fallback;   /* `via` holds the fallback decision that led here */
    int upstream_calls; /* calls sent so far, for x-should-retry */
    cJSON *json;        /* the body of the call in preparation, model id set per attempt */
    lln_buf body;       /* its text as sent */
    char **headers;
    int streaming; /* the call in flight relays its events (stream.c) */
  } call;

  /* Tickets: what the run holds and must settle or cancel. admit.c takes
   * these (a rate-limit answer, a queue place, a breaker probe); stop_work()
   * (run.c) cancels every one of them, with `call.upstream` (the upstream
   * call) and `hooks.call` (a hook job); each is NULL/0 once settled. A new
   * kind of ticket goes here and into stop_work. */
  struct {
    lln_ratelimit_take *rl_take;   /* a rate-limit answer pending */
    int rl_waiting;                /* a place in the endpoint's rate-limit queue */
    lln_breaker *probe;            /* the half-open probe this run's call holds */
    int rl_granted;                /* the call in preparation has its rate-limit slot */
    struct lln_store_op *store_op; /* a pin or decision-cache answer pending (route_flow.c) */
  } tickets;

  /* Routing: the conversation this request belongs to and how the choices
   * among several candidates are made (pin, decision cache, router call).
   * Owned by route_flow.c (the decision) and route_call.c (the streamed
   * router call); lln_run_finish reports decided, input, decision_ms,
   * session and router_calls with every result. */
  struct {
    struct lln_store *store;  /* pins and the decision cache, or NULL */
    int route_only;           /* stop before the first answering call */
    int stateless;            /* neither read nor write pins or the cache */
    char *session;            /* x-session-id or the fingerprint (arena); NULL: none (yet) */
    int fingerprinted;        /* lln__route_session looked for the fingerprint */
    lln_turn_kind turn;       /* what the newest message is */
    const char *decided;      /* how the last choice was made, or NULL */
    char *input;              /* what the router reads (read) for the current choice (arena) */
    double decision_ms;       /* time spent deciding, every choice of the run */
    uint64_t started_ns;      /* uv_hrtime() when the current choice began */
    uint64_t call_started_ms; /* loop time the router call in flight was sent */
    int router_calls;         /* router calls sent (retries and failovers included) */
    const lln_node *from;     /* the routing node of the current choice */
    char *pin_key;            /* "llmnet:pin:<node>:<sha of session>" (arena), or NULL */
    char *cache_key;          /* "llmnet:route:<key>" (arena), or NULL */
    lln_buf reply;            /* the router's reply text so far */
    lln_buf raw;              /* the router call's body as received (an upstream answering JSON) */
    lln_sse_reader sse;       /* the router call's event stream */
    int sse_ready;            /* `sse` is initialised */
    int events;               /* completion chunks read from the router's stream */
    cJSON *usage;             /* the router stream's usage (heap) */
  } routing;

  /* Hooks: the pre/post hook chain of the node being visited. Only hooks.c
   * uses these, except `input`, which call_body.c and run.c read. */
  struct {
    const lln_node *node;
    int post;
    size_t index;
    void (*next)(lln_run *r);
    lln_fn_call *call; /* a hook job; a ticket, see stop_work */
    char *input;       /* a pre hook's transform: the node's input instead */
  } hooks;

  /* The final hop as an event stream. Owned by stream.c; run.c only reads
   * `events`, sets `keep_text`, clears `paused` on resume and stops and
   * closes `keepalive`. */
  struct {
    int started; /* the event-stream head went out */
    int events;  /* events relayed to the client */
    int done;    /* the upstream sent [DONE] */
    int paused;
    int include_usage;
    cJSON *usage;  /* the final hop's usage event */
    int keep_text; /* ws sinks want the streamed answer's text */
    lln_buf text;
    char *model;
    lln_buf head; /* a spliced event's opening, up to "model": (stream_splice.c) */
    double created;
    uint64_t call_started_ms;
    lln_sse_reader sse;
    uv_timer_t keepalive;
  } stream;

  /* Timers of the run. Owned by run.c; stream.c counts its keepalive in
   * `open`. */
  struct {
    uint64_t deadline_at; /* loop time (ms) the whole request must end by */
    uv_timer_t deadline;
    uv_timer_t retry;
    int started; /* deadline and keepalive are initialised */
    int open;
  } timers;

  struct lln__cache_run *cache; /* the response cache's part (cache_int.h), NULL without one */

  /* The result, reported once by lln_run_finish (run.c). */
  lln_run_done done;
  void *ud;
  int finished;
  lln_buf result_body;
};

/* Reports the result to the caller once; stops timers and the call. */
void lln_run_finish(lln_run *r, const lln_run_result *res);
/* Appends a hop to the trace and returns it. */
cJSON *lln_run_trace_hop(lln_run *r, const lln_node *node, const char *role, const char *model_id, double ms);
/* Adds a response's usage to the run's sums and to `hop`. */
void lln_run_add_usage(lln_run *r, const cJSON *resp, cJSON *hop);
/* A new object with OpenAI's field order (id, object, created, model) and
 * the run's id, taking every other member of `upstream`. */
cJSON *lln_run_stamp(const lln_run *r, cJSON *upstream, const char *object, time_t created);
/* The variables as of now (run.c), for conditions, templates and hooks. */
lln_vars *lln_run_vars(lln_run *r);
/* Ends the run with an error response (or an error event once streaming):
 * not worth a client's retry (x-should-retry: false). */
void lln_run_fail(lln_run *r, int status, const char *message);
/* The same with every field of the client's error given. */
void lln_run_fail_with(lln_run *r, const lln_run_error *e);
/* The model id the call in flight asks for. */
const char *lln_run_model_id(const lln_run *r);
/* Settles a finished (or early-cancelled) call: the breaker and the
 * upstream-call metrics. */
void lln_run_call_ended(lln_run *r, const lln_upstream_response *resp);
/* Sends the call being prepared (run.c), once admit.c lets it go. */
void lln_run_start_call(lln_run *r);
/* Calls lln_run_start_call again after `ms` on the run's retry timer:
 * llmnet's backoff, or a wait for a rate-limit slot. */
void lln_run_retry_in(lln_run *r, uint64_t ms);
/* Carries out what failover.c decides for a failed (or refused) call. */
void lln_run_after_failure(lln_run *r, const lln_failure *f, const lln_run_error *e);
/* Goes on to `target`, chosen after the current node; `how` is the
 * decided label (single, condition, pin, cache, router, default, ...). */
void lln_run_go_to(lln_run *r, const lln_node *target, const char *how);
/* The "llmnet" extension object: request id, route and hops so far. */
cJSON *lln_run_extension(const lln_run *r);

#endif
