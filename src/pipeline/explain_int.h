/* explain internals: the conversation side of `llmnet explain`
 * (explain_conv.c): reading a --messages file, the turn's kind and the
 * session, what the router would read and what decides a routing step
 * before the router model; the response cache and the budgets
 * (explain_spend.c). Shared with the walk in explain.c. Internal to
 * src/pipeline. */
#ifndef LLN_PIPELINE_EXPLAIN_INT_H
#define LLN_PIPELINE_EXPLAIN_INT_H

#include "pipeline/explain.h"
#include "pipeline/router.h"
#include "util/buf.h"

/* Values are shown cut to this many bytes: INITIAL_INPUT can be a page. */
#define LLN_EXPLAIN_VALUE_SHOWN 40
#define LLN_EXPLAIN_PROMPT_SHOWN 200

/* A value as a reader would type it back: numbers bare, text quoted with
 * its quotes and control characters escaped, cut on a character boundary. */
void lln__explain_put_value(lln_buf *b, const char *v, size_t max);
/* Shows text exactly, each line after a "| " gutter. */
void lln__explain_put_block(lln_buf *out, const char *indent, const char *text);

/* Sets the conversation's turn kind and session; `session_header` is the
 * x-session-id given, or NULL. */
void lln__explain_conversation(lln_explain *e, const char *session_header);
/* The lines that describe the request: its messages, the turn, the session. */
void lln__explain_write_request(const lln_explain *e, lln_buf *out);

/* What the router would read when routing at `from` (the node's routing
 * settings). Returns 1 when it holds user text, 0 when there is none. */
int lln__explain_router_input(const lln_explain *e, const lln_node *from, lln_buf *out);
/* What decides among the candidates at `from`, in order: the rules, a pin
 * (or a tool turn on the session's handler), the decision cache, then the
 * router model; `input` is what the router would read. */
void lln__explain_deciders(const lln_explain *e, const lln_node *from, const lln_route_candidate *rc,
                           size_t n, const char *input, lln_buf *out);

/* The model calls a walk found, in order: the router call and each node
 * whose model answers; `if_chosen` when it happens only if the router
 * chooses that branch. Bounded: a walk past the bound lists no more. */
#define LLN_EXPLAIN_MAX_CALLS 64
typedef struct lln__explain_call {
  const lln_node *node;
  const lln_node *routing; /* a router call (made with node's endpoint) choosing at this node; else NULL */
  int if_chosen;           /* one of the router's possible choices */
} lln__explain_call;
typedef struct lln__explain_calls {
  lln__explain_call call[LLN_EXPLAIN_MAX_CALLS];
  size_t n;
} lln__explain_calls;
void lln__explain_call_add(lln__explain_calls *c, const lln_node *n, const lln_node *routing, int if_chosen);

/* explain_spend.c: whether the response cache would be looked up (and what
 * would keep an answer out of it), written before the walk; then the
 * budgets the walk's calls would draw from, after it. */
void lln__explain_write_cache(const lln_explain *e, lln_buf *out);
void lln__explain_write_budgets(const lln_explain *e, const lln__explain_calls *c, lln_buf *out);

#endif
