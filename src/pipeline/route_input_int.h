/* route_input: what a routing decision reads of a conversation. Which kind
 * of turn a request is (a new user turn, or an agent loop going on), what
 * the router model is shown (the newest human turn, with the previous
 * exchange as context when needed, within a budget), which conversation it
 * belongs to (x-session-id or a fingerprint of its opening) and the key of
 * the decision cache. Pure rules shared by run, explain and eval, and
 * unit-tested. Internal to src/pipeline. */
#ifndef LLN_PIPELINE_ROUTE_INPUT_H
#define LLN_PIPELINE_ROUTE_INPUT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "pipeline/router.h"
#include "util/buf.h"

typedef enum {
  LLN_TURN_USER,      /* the newest message is a user's: a new turn, routed (or pinned) */
  LLN_TURN_TOOL,      /* the newest is a tool (or function) result: the agent loop goes on */
  LLN_TURN_ASSISTANT, /* the newest is the assistant's: a continuation */
  LLN_TURN_NONE       /* nothing but system/developer messages */
} lln_turn_kind;

lln_turn_kind lln_route_turn_kind(const cJSON *messages);

/* Below this many characters the newest turn alone is "short", and the
 * previous exchange is added as context even in session mode. */
#define LLN_ROUTE_SHORT_TURN_CHARS 80

/* Writes what the router reads: the newest user turn, then, when that turn
 * is short or `with_previous` is set (turn mode), the exchange before it,
 * newest first; at most `max_chars` characters in all (a single huge
 * message keeps its head and tail). Text parts of content arrays are read;
 * other parts are named ([image], [file], [audio]). Returns 1 when the
 * input holds some user text, 0 when there is none (then no router call
 * is made: the default target answers). `out` always ends up a string. */
int lln_route_input(const cJSON *messages, int with_previous, size_t max_chars, lln_buf *out);

/* What the router reads of one text (a model's answer, when a later layer
 * routes): the text within `max_chars` characters, head and tail kept as
 * lln_route_input keeps them. Returns 1 when it holds some non-space text. */
int lln_route_input_text(const char *text, size_t max_chars, lln_buf *out);

/* Longest x-session-id accepted. */
#define LLN_SESSION_ID_MAX 256
/* 1 when `id` is a usable x-session-id: 1..LLN_SESSION_ID_MAX printable
 * ASCII characters. */
int lln_session_id_valid(const char *id);

/* 64 hex digits and a NUL. */
#define LLN_HEX_DIGEST_SIZE 65
/* The fingerprint of a conversation: SHA-256 (hex) over the text of its
 * first system/developer message and of its first user message; assistant
 * turns, tool calls and their ids do not change it. Returns 0, or -1 when
 * there is no user message (no session then). */
int lln_session_fingerprint(const cJSON *messages, char out[LLN_HEX_DIGEST_SIZE]);

/* The decision cache's key: SHA-256 (hex) over the routing node's name,
 * the candidates with their use-cases and the router input normalised
 * (case folded, runs of white space made one space, trimmed). */
void lln_route_cache_key(const char *from, const lln_route_candidate *cands, size_t n, const char *input,
                         char out[LLN_HEX_DIGEST_SIZE]);

#endif
