/* decide: the rules the flow applies at each node (docs/CONFIG.md "The
 * request flow"): what entering a node does, which targets stay candidates,
 * what the number of candidates means and where a failed routing goes. The
 * flow and `llmnet explain` both ask these functions, so an explanation
 * cannot drift from what a request does. */
#ifndef LLN_PIPELINE_DECIDE_H
#define LLN_PIPELINE_DECIDE_H

#include <stddef.h>
#include <time.h>

#include "conditions/cond.h"
#include "config/config.h"
#include "pipeline/vars.h"

typedef enum {
  LLN_ENTER_RESPOND, /* an output node: the last answer leaves here */
  LLN_ENTER_ROUTE,   /* a routing entry: it only chooses, it is not called to answer */
  LLN_ENTER_ANSWER   /* its model answers, then the next node is chosen */
} lln_enter_kind;

lln_enter_kind lln_decide_enter(const lln_node *n);

/* 1 when `target` stays a candidate: it has no condition, or its condition
 * holds with `v` set up for it (NODE, CURRENT_LAYER ...). `lookup` and `ctx`
 * read the variables: lln_vars_lookup and `v`, or a wrapper around them. */
int lln_decide_target_holds(lln_vars *v, const lln_node *target, time_t now, lln_cond_lookup lookup,
                            void *ctx);

typedef enum {
  LLN_NEXT_RESPOND,       /* no candidate: the last answer is the response */
  LLN_NEXT_ANSWER_ITSELF, /* no candidate for a routing entry before any answer: it answers */
  LLN_NEXT_GO,            /* one candidate: go there without a model call */
  LLN_NEXT_ROUTE          /* several: the router model chooses */
} lln_next_kind;

/* What `n_cands` candidates left after `from` mean; `answered` says whether
 * some model has answered the request yet. */
lln_next_kind lln_decide_next(const lln_node *from, size_t n_cands, int answered);

/* Where routing goes when the router's reply names no candidate or the
 * router fails: the candidate marked "default", else the first. */
const lln_node *lln_decide_default(const lln_node *const *cands, size_t n);

/* The node whose endpoint routes a choice, or NULL when the pipeline has no
 * router model (a choice then goes to lln_decide_default). */
const lln_node *lln_decide_router(const lln_config *cfg);

/* 1 when a node's answer can only be the response (every target is an
 * output node, or it has none): the flow may then stream it. */
int lln_decide_ends_pipeline(const lln_node *n);

#endif
