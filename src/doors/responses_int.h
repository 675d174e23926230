/* responses_int: the Responses door's per-request state, shared by its
 * request translator (responses.c) and its answer and stream translators
 * (responses_out.c). Internal to src/doors. */
#ifndef LLN_DOORS_RESPONSES_INT_H
#define LLN_DOORS_RESPONSES_INT_H

#include <cjson/cJSON.h>

#include "doors/responses.h"
#include "util/buf.h"

/* Function calls one streamed answer may make (more: the rest are dropped
 * from the Responses events with a warning). */
#define LLN_RESPONSES_MAX_CALLS 64
/* Bytes of an id we make (resp_, msg_, fc_ + 32 hex). */
#define LLN_RESPONSES_ID_MAX 48

typedef struct lln__resp_call {
  int output_index;
  char id[LLN_RESPONSES_ID_MAX];
  lln_buf call_id, name, args;
} lln__resp_call;

struct lln_responses_state {
  char id[LLN_RESPONSES_ID_MAX];
  double created_at;
  lln_buf echo;    /* ,"instructions":...,"metadata":... : request fields the response object repeats */
  lln_buf history; /* the conversation's chat messages without instructions, comma-separated */
  lln_buf keep;    /* the stored value: {"messages":[history..., the answer]} */
  char keep_key[128];
  int no_store; /* "store": false */
  /* the answer, as it streams (or from the chat.completion) */
  char model[128];
  int seq;       /* sequence_number of the next event */
  int started;   /* response.created sent */
  int ended;     /* response.completed or response.failed sent */
  int failed;    /* response.failed sent */
  int n_outputs; /* output items opened */
  int msg_index; /* the message item's output_index, -1 none */
  int msg_open;  /* its content part is open */
  char msg_id[LLN_RESPONSES_ID_MAX];
  lln_buf text;
  lln__resp_call calls[LLN_RESPONSES_MAX_CALLS];
  int n_calls;
  char finish[32];
  double usage_in, usage_out, usage_total, usage_cached;
  double usage_cost; /* llmnet's summed usage.cost (US dollars), when has_cost */
  int has_cost;
};

/* A fresh id: prefix + 32 hex digits from getrandom (unguessable: the
 * response id is the key to a stored conversation). Its output items are
 * named after it: msg_HEX and fc_HEX_K (its K-th function call), so an
 * item_reference finds the response that holds the item. */
void lln__resp_new_id(char *out, size_t size, const char *prefix);
/* Appends the response object: status "completed", "incomplete",
 * "in_progress" or "failed" (with `error` JSON or NULL), output items
 * from the state. */
void lln__resp_object(lln_responses_state *st, const char *status, const char *error_json, lln_buf *out);
/* Keeps the request fields the response object repeats (absent ones as
 * OpenAI shows them) and the requested model. */
void lln__resp_keep_echo(lln_responses_state *st, const cJSON *body);
/* Appends the assistant chat message for the answer in the state. */
void lln__resp_assistant_message(const lln_responses_state *st, lln_buf *out);

#endif
