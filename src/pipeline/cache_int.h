/* cache_int: the response cache inside a run (docs/CONFIG.md "Response
 * cache"). cache.c looks the request up before any routing call and stores
 * a successful answer that may be kept; cache_stream.c assembles a relayed
 * stream into the completion a later request can get; cache_replay.c turns
 * a stored entry back into the run's answer. run.c, respond.c and
 * stream.c call these at one place each. Internal to src/pipeline. */
#ifndef LLN_PIPELINE_CACHE_INT_H
#define LLN_PIPELINE_CACHE_INT_H

#include "pipeline/run_state_int.h"
#include "store/store.h"
#include "util/buf.h"

/* The most tool calls a streamed answer may hold and still be cached. */
#define LLN_CACHE_MAX_TOOL_CALLS 32
/* An entry (the answer, its route and trace) above this is not stored. */
#define LLN_CACHE_MAX_ENTRY LLN_STORE_MAX_VALUE
/* The store key's prefix ("llmnet:rc:" in Redis). */
#define LLN_CACHE_KEY_PREFIX "rc:"

typedef struct lln__cache_tool_call {
  lln_buf id, type, name, args;
} lln__cache_tool_call;

/* A relayed stream as it is assembled (cache_stream.c). */
typedef struct lln__cache_stream {
  lln_buf content, refusal;
  lln__cache_tool_call calls[LLN_CACHE_MAX_TOOL_CALLS];
  size_t n_calls;
  char finish_reason[32];
  size_t bytes;
  int unusable; /* too large, too many tool calls, or not one choice */
} lln__cache_stream;

struct lln__cache_run {
  struct lln_response_cache *handle; /* retained until the run is released */
  const char *status;                /* "hit", "miss" or "bypass" */
  const char **report;               /* lln_run_params.cache_status */
  int no_store;                      /* Cache-Control: no-store */
  char key[80];                      /* "rc:<64 hex>" */
  uint64_t started_ns;
  const lln_node *start;
  void (*go)(lln_run *r, const lln_node *n);
  lln__cache_stream *stream; /* NULL until the first relayed chunk */
};

/* cache.c: looks the request up (or bypasses the cache) and then either
 * answers from the stored entry or goes on with go(r, start). */
void lln__cache_lookup(lln_run *r, const lln_run_params *p, const lln_node *start,
                       void (*go)(lln_run *r, const lln_node *n));
/* 1 when the Cache-Control value (or NULL) holds the directive `name`
 * (a whole comma-separated token, any case); explain_spend.c asks too. */
int lln__cache_control_has(const char *value, const char *name);
/* "hit", "miss", "bypass", or NULL when the run has no cache. */
const char *lln__cache_status(const lln_run *r);
/* The answer `resp` (a chat.completion, stamped or not) goes out: kept
 * when it may be (every hop at temperature 0, no node opted out, ...). */
void lln__cache_keep(lln_run *r, const cJSON *resp);
/* A relayed stream ended well: its assembled completion is kept. */
void lln__cache_keep_stream(lln_run *r);
/* Frees what the run's cache part holds (release in run.c). */
void lln__cache_free(lln_run *r);
/* Writes the entry for completion `c` and puts it in the store. */
void lln__cache_put(lln_run *r, cJSON *completion);

/* cache_stream.c: one relayed chunk (stream.c's on_event). */
void lln__cache_stream_chunk(lln_run *r, const cJSON *chunk);
/* The assembled completion (the run's JSON scope), or NULL. */
cJSON *lln__cache_stream_completion(lln_run *r);
void lln__cache_stream_free(lln__cache_stream *s);

/* cache_replay.c: the entry `value` becomes the run's answer (final,
 * output, usage, route and a "cache" hop); 0, or -1 when it does not
 * parse as an entry (then nothing was changed). */
int lln__cache_restore(lln_run *r, const char *value, size_t len);

#endif
