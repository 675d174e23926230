/* eval internals: a labelled case as read from the cases file, and its
 * outcome once its routing decision has run. eval_cases.c reads the file,
 * eval.c runs the cases, eval_report.c writes the report. Internal to
 * src/server. */
#ifndef LLN_SERVER_EVAL_INT_H
#define LLN_SERVER_EVAL_INT_H

#include <stddef.h>
#include <stdio.h>

#include "config/config.h"

/* Bytes of one line of a cases file. */
#define LLN_EVAL_MAX_LINE (4 * 1024 * 1024)
/* Bytes of a whole cases file: every case is held until the report. */
#define LLN_EVAL_MAX_FILE (256 * 1024 * 1024)
/* Lines of a cases file. */
#define LLN_EVAL_MAX_CASES 100000
/* Problems listed before the rest are only counted. */
#define LLN_EVAL_MAX_PROBLEMS 20
/* Headers one case may give. */
#define LLN_EVAL_MAX_HEADERS 32

typedef struct lln_eval_header {
  char *name, *value;
} lln_eval_header;

typedef struct lln_eval_case {
  long line;    /* 1-based line in the cases file */
  char *body;   /* the chat completion request to route: {"messages": [...]} */
  char *expect; /* the node expected to be chosen */
  lln_eval_header headers[LLN_EVAL_MAX_HEADERS]; /* "session" becomes x-session-id here */
  size_t n_headers;

  /* the outcome */
  int status;         /* the run's HTTP status (>= 400: it failed) */
  char *chose;        /* the last node of the route, or NULL */
  char *decided;      /* condition, pin, cache, router, default, no-input, ... or NULL */
  char *error;        /* the run's error, else the last router call's (failed or refused), or NULL */
  char *reply;        /* the router's reply when the trace has it, or NULL */
  char *reason;       /* why the default target was taken (router_reply, ambiguous ...), or NULL */
  double decision_ms; /* time spent deciding */
  long tokens;        /* tokens the routing calls used */
  int router_calls;
} lln_eval_case;

typedef struct lln_eval_cases {
  lln_eval_case *items;
  size_t n;
} lln_eval_cases;

/* Reads `path`: one JSON object a line, {"messages": [...], "expect":
 * "NODE"} or {"prompt": "...", "expect": "NODE"}, optionally "session"
 * (an x-session-id), "headers" ({"Name": "value"}) and "note" (ignored);
 * blank lines are skipped. Every expected node must be one of cfg's.
 * Returns 0, or -1 after listing each problem on `err` as
 * "FILE:LINE: what is wrong; how to fix it". */
int lln_eval_cases_read(lln_eval_cases *cs, const char *path, const lln_config *cfg, FILE *err);
void lln_eval_cases_free(lln_eval_cases *cs);

/* A case counts as correct when it ran, its router call (if any) did not
 * fail nor was refused, and it chose the expected node. */
int lln_eval_case_correct(const lln_eval_case *c);

/* The report of every case run, as text or as one JSON object. */
void lln_eval_report_text(const lln_eval_cases *cs, const lln_config *cfg, const char *cases_path, FILE *out);
void lln_eval_report_json(const lln_eval_cases *cs, const lln_config *cfg, FILE *out);

#endif
