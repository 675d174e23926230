/* explain: what a request would do in a composition, told without calling
 * any model (`llmnet explain`): at each node, every target with its
 * condition, whether it holds and the variable values it read; whether the
 * router model is needed, with the exact prompt it would get. Models'
 * answers are unknown, so a condition that reads one "depends on the
 * answer", and a router's choice is shown as the step each candidate would
 * take next. The walk asks the flow's own rules (decide_int.h, vars.h);
 * for a whole conversation (--messages) it also tells the turn's kind,
 * the session, and what decides a routing step before the router model:
 * a pin, a tool turn on the session's handler, the decision cache, or no
 * user text at all (route_input_int.h, the run's own rules). */
#ifndef LLN_PIPELINE_EXPLAIN_H
#define LLN_PIPELINE_EXPLAIN_H

#include <cjson/cJSON.h>
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
  const char *prompt;         /* one user message, when messages is NULL */
  const cJSON *messages;      /* the conversation (an OpenAI messages array), or NULL */
  const char *const *headers; /* "Name: value" request headers */
  size_t n_headers;
  const char *door; /* the API the request comes through: chat (NULL), responses or messages */
} lln_explain_request;

typedef struct lln_explain_header {
  char *name, *value;
} lln_explain_header;

/* The state of the request being explained; `vars` moves along the walk. */
typedef struct lln_explain {
  const lln_config *cfg;
  const char *door; /* as given, or NULL: chat */
  lln_vars vars;
  int answered;                /* some model has answered: its text is unknown */
  const lln_node *answered_by; /* the last node that answered */
  time_t now;
  char *prompt;
  lln_explain_header *headers; /* as given */
  size_t n_headers;
  lln_var_header *header_vars; /* those some node's UseHeaderKeys exposes */
  size_t n_header_vars;
  cJSON *messages;   /* the conversation (a copy; one user message for a prompt) */
  int from_messages; /* given as a conversation, not a prompt */
  int turn;          /* its lln_turn_kind (route_input_int.h) */
  char *session;     /* x-session-id, else the fingerprint, else NULL (no user message) */
  int session_given; /* session came from an x-session-id header */
  char *bad_session; /* an x-session-id given but not usable (then the fingerprint is used) */
} lln_explain;

/* Longest --messages file read. */
#define LLN_EXPLAIN_MAX_MESSAGES_FILE (16 * 1024 * 1024)

/* Reads a conversation for explain: a JSON file holding an OpenAI messages
 * array, or an object with one under "messages". Returns the array
 * (caller frees with cJSON_Delete), or NULL with a message in `err`
 * naming the file and the fix. */
cJSON *lln_explain_read_messages(const char *path, char *err, size_t err_size);

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
