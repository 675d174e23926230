/* explain: what a request would do in a composition, told without calling
 * any model (`llmnet explain`): at each node, every target with its
 * condition, whether it holds and the variable values it read; whether the
 * router model is needed, with the exact prompt it would get. Models'
 * answers are unknown, so a condition that reads one "depends on the
 * answer", and a router's choice is shown as the step each candidate would
 * take next. The walk asks the flow's own rules (decide_int.h, vars.h). */
#ifndef LLN_PIPELINE_EXPLAIN_H
#define LLN_PIPELINE_EXPLAIN_H

#include <stddef.h>
#include <time.h>

#include "config/config.h"
#include "pipeline/vars.h"
#include "util/buf.h"

typedef enum {
  LLN_EXPLAIN_HOLDS,  /* no condition, or it holds */
  LLN_EXPLAIN_FAILS,  /* the condition is false: not a candidate */
  LLN_EXPLAIN_UNKNOWN /* it reads a model's answer, which explain cannot know */
} lln_explain_verdict;

typedef struct lln_explain_target {
  const lln_node *node;
  lln_explain_verdict verdict;
  char *values; /* what the condition read, e.g. `WORD_COUNT=3, PREV_NODE="router"`; NULL without one */
} lln_explain_target;

typedef struct lln_explain_request {
  const char *prompt;         /* the text of the request's last user message */
  const char *const *headers; /* "Name: value" request headers */
  size_t n_headers;
} lln_explain_request;

typedef struct lln_explain_header {
  char *name, *value;
} lln_explain_header;

/* The state of the request being explained; `vars` moves along the walk. */
typedef struct lln_explain {
  const lln_config *cfg;
  lln_vars vars;
  int answered;                /* some model has answered: its text is unknown */
  const lln_node *answered_by; /* the last node that answered */
  time_t now;
  char *prompt;
  lln_explain_header *headers; /* as given */
  size_t n_headers;
  lln_var_header *header_vars; /* those some node's UseHeaderKeys exposes */
  size_t n_header_vars;
} lln_explain;

/* Sets up the request before it enters the pipeline. Returns 0, or -1 with a
 * message in `err` when a header is not "Name: value". */
int lln_explain_init(lln_explain *e, const lln_config *cfg, const lln_explain_request *req, char *err,
                     size_t err_size);
void lln_explain_free(lln_explain *e);

/* The verdict on each target of `from` in the current state, in order;
 * `out` has room for from->n_targets. Returns from->n_targets; release the
 * entries with lln_explain_targets_free. */
size_t lln_explain_targets(lln_explain *e, const lln_node *from, lln_explain_target *out);
void lln_explain_targets_free(lln_explain_target *t, size_t n);

/* Walks the request from the entry node and writes the explanation. */
void lln_explain_write(lln_explain *e, lln_buf *out);

#endif
