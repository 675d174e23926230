/* vars: the variables conditions and templates see (docs/CONFIG.md
 * "Variables"), computed from one request's state in one place, so the flow
 * and `llmnet explain` give every variable the same value. The owner of a
 * request fills in the borrowed fields, then calls lln_vars_set_target before
 * each evaluation. */
#ifndef LLN_PIPELINE_VARS_H
#define LLN_PIPELINE_VARS_H

#include <stddef.h>
#include <time.h>

#include "config/config.h"

/* A request header exposed as a variable by some node's UseHeaderKeys. */
typedef struct lln_var_header {
  const char *name; /* as written in UseHeaderKeys */
  const char *value;
} lln_var_header;

typedef struct lln_vars {
  /* borrowed from the request's owner */
  const char *initial_input; /* the last user message's text */
  const char *input;         /* what the current node received */
  const char *output;        /* the last answer's text; NULL before any */
  const char *request_id;
  const char *route_decision; /* the last node routed to; NULL before any */
  const lln_node *node;       /* the node deciding: PREV_NODE, PREV_LAYER */
  int hops;                   /* nodes passed so far */
  const lln_var_header *headers;
  size_t n_headers;

  /* formatted by lln_vars_set_target */
  const char *eval_node; /* NODE: the candidate being considered */
  char hop_str[16], layer_str[16], prev_layer_str[16], ts_str[24], len_str[24], wc_str[24];
} lln_vars;

/* Formats the derived variables for deciding whether `target` (NODE,
 * CURRENT_LAYER) is a candidate; `target` may be NULL. */
void lln_vars_set_target(lln_vars *v, const lln_node *target, time_t now);
/* An lln_cond_lookup over an lln_vars (`vars`); NULL when unset. */
const char *lln_vars_lookup(void *vars, const char *name, size_t len);
/* Same, for a NUL-terminated name (templates). */
const char *lln_vars_get(const lln_vars *v, const char *name);
/* INPUT / CURRENT_INPUT: the last answer once there is one, else the input.
 * This is also what the router model reads as the user message. */
const char *lln_vars_current_input(const lln_vars *v);
/* 1 for the variables whose value is the last answer's (or derived from it)
 * once a model has answered: INPUT, CURRENT_INPUT, OUTPUT, INPUT_LENGTH,
 * WORD_COUNT. */
int lln_vars_from_output(const char *name, size_t len);

/* Looks up a request header by name (case-insensitive); NULL when absent. */
typedef const char *(*lln_vars_header_fn)(void *ctx, const char *name);
/* The header variables of a request: for every key of every node's
 * UseHeaderKeys (file order) that the request has. Returns the count and an
 * array in *out (free() it; NULL when empty); values are borrowed from the
 * header source. */
size_t lln_vars_collect_headers(const lln_config *cfg, lln_vars_header_fn header, void *ctx,
                                lln_var_header **out);

#endif
