/* eval: `llmnet eval CONFIG CASES.jsonl`, routing measured on labelled
 * conversations. Every case runs only the routing decision (a route-only,
 * stateless pipeline run against the configured router model, within the
 * composition's rate limits), and the report says how often the chosen
 * handler was the expected one, what was confused with what, how long the
 * router took, the tokens it spent and how each case was decided. */
#ifndef LLN_SERVER_EVAL_H
#define LLN_SERVER_EVAL_H

#include <stdio.h>

/* Cases run at once unless --concurrency says otherwise. */
#define LLN_EVAL_DEFAULT_CONCURRENCY 4
/* Most cases run at once: each holds a router call open. */
#define LLN_EVAL_MAX_CONCURRENCY 256

typedef struct lln_eval_options {
  const char *config;
  const char *cases;
  const char *env_file; /* or NULL */
  int json;             /* --format json */
  int concurrency;      /* 1..LLN_EVAL_MAX_CONCURRENCY */
  int progress;         /* draw a progress bar on stderr */
} lln_eval_options;

/* `llmnet eval CONFIG CASES.jsonl [options]` (argv[0] is "eval"): parses
 * the options and runs; returns the exit status (2 on bad usage). */
int lln_eval_main(int argc, char **argv);

/* Runs the evaluation and prints the report on `out`, problems on `err`.
 * Returns the exit status: 0 when it ran (whatever the accuracy), 1 when
 * the composition or the cases file has errors. */
int lln_eval_run(const lln_eval_options *o, FILE *out, FILE *err);

#endif
