/* sinks: the composition's `ws` nodes. When a response has gone out,
 * every ws node whose `if` holds receives it as JSON (request id, route,
 * model, content) over a WebSocket, fire and forget: a sink that is down
 * or slow never delays or fails a request. Internal to src/pipeline. */
#ifndef LLN_PIPELINE_SINKS_H
#define LLN_PIPELINE_SINKS_H

#include "pipeline/run_state_int.h"

/* The most of an answer's text a sink receives; a longer answer is cut (at
 * a UTF-8 character boundary) and the message says "truncated": true. */
#define LLN_SINK_MAX_TEXT ((size_t)1 << 20)

/* 1 when the composition has ws nodes (streams then keep their text). */
int lln_sinks_present(const lln_config *cfg);
/* Appends a streamed piece of the answer to `text`, keeping no more than
 * LLN_SINK_MAX_TEXT + 1 bytes (the extra byte says "there was more"). */
void lln_sinks_keep_text(lln_buf *text, const char *piece);
/* Sends the final answer `content` from `model` to each sink that wants it. */
void lln_sinks_fire(lln_run *r, const char *model, const char *content);

#endif
