/* anthropic: the Anthropic Messages API door's translators, pure functions
 * over cJSON. A /v1/messages request becomes the chat completion request the
 * pipeline runs; its chat.completion answer, its chat.completion.chunk
 * stream (with [DONE] and error events) and its errors become Anthropic's
 * message, event stream and error shapes. No sockets, no pipeline state. */
#ifndef LLN_DOORS_ANTHROPIC_H
#define LLN_DOORS_ANTHROPIC_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "doors/door.h"
#include "util/buf.h"

/* Longest error message the request translator writes (it names the field
 * path, e.g. "messages.2.content.0.source.type", and the fix). */
#define LLN_ANTHROPIC_ERR_MAX 320

/* Translates a Messages request into a chat completion request (a new tree
 * made with the cJSON allocator in scope). NULL with `err` filled on a
 * request Anthropic would refuse with 400 invalid_request_error. */
cJSON *lln_anthropic_request(const cJSON *in, char *err, size_t err_size);

/* Translates a chat.completion answer into an Anthropic message (new tree).
 * `request` is the Messages request (its model is the fallback model and
 * its stop_sequences tell a stop sequence from a natural end). */
cJSON *lln_anthropic_response(const cJSON *chat, const cJSON *request);

/* Anthropic's error type for an HTTP status: invalid_request_error,
 * authentication_error, permission_error, not_found_error,
 * request_too_large, rate_limit_error, overloaded_error (503, 529) or
 * api_error. */
const char *lln_anthropic_error_type(int status);
/* Appends {"type":"error","error":{"type":...,"message":...}}; the message
 * is scrubbed of secrets like every error a client reads. */
void lln_anthropic_error_json(lln_buf *out, const char *type, const char *message);

/* A stream being translated: feed it the run's events one by one. */
typedef struct lln_anthropic_stream {
  char id[80];         /* msg_... */
  char model[200];     /* the request's model until the upstream names its own */
  int started;         /* message_start sent */
  int ended;           /* message_stop or error sent: nothing more goes out */
  int next_index;      /* the next content block's index */
  int open;            /* 0 none, 1 a text block, 2 a tool_use block is open */
  int tool_chat_index; /* the chat tool_calls index of the open tool_use block */
  char tool_id[128];   /* and its id ("" when the upstream gave none) */
  char stop_reason[24];
  long input_tokens, output_tokens;
  const cJSON *stop_sequences; /* the request's, to tell a stop sequence; may be NULL */
  char stop_sequence[200];
} lln_anthropic_stream;

/* `request` is the Messages request (model, stop_sequences); it must
 * outlive the stream. `request_id` makes the message id; NULL: the first
 * chunk's id does. */
void lln_anthropic_stream_init(lln_anthropic_stream *s, const cJSON *request, const char *request_id);
/* One event of the run's stream (a chunk, "[DONE]" or an OpenAI error
 * object): appends the Anthropic events it makes ("event: X\ndata: {...}\n\n")
 * to `out`. Returns 1 when the stream ended (message_stop or error), else 0. */
int lln_anthropic_stream_event(lln_anthropic_stream *s, const char *data, size_t len, lln_buf *out);
/* The keep-alive sent while routing runs (SDKs skip ping events wherever
 * they come). */
#define LLN_ANTHROPIC_PING "event: ping\ndata: {\"type\":\"ping\"}\n\n"
/* Ends the stream with an error event (never message_stop). */
void lln_anthropic_stream_fail(lln_anthropic_stream *s, int status, const char *message, lln_buf *out);

/* The door: POST /v1/messages (src/server/doors_table.c). */
extern const lln_door lln_door_anthropic;

#endif
