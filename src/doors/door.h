/* door: one client API llmnet answers (chat completions, the Responses
 * API, Anthropic Messages, ...). Every door leads into the same pipeline:
 * it translates its API's request into the chat completion request the
 * run takes (src/pipeline/run.h), and the run's chat.completion answer,
 * its chat.completion.chunk stream events (the final "[DONE]" and the
 * {"error":...} event a failed stream ends with included) and its errors
 * back into its API's shapes. A door is pure translation: routing, pins,
 * hooks, limits, fallbacks and the trace stay in the run.
 *
 * The gateway (src/server) owns HTTP and holds a table of doors by path
 * (src/server/doors_table.c). A callback left NULL means "as chat
 * completions": the body, answer, events and errors pass through as they
 * are, without a copy (the "chat" door is all NULLs). */
#ifndef LLN_DOORS_DOOR_H
#define LLN_DOORS_DOOR_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/openai_error.h"

/* Bytes of a door's own error message (a request it cannot translate). */
#define LLN_DOOR_ERROR_MAX 600

/* Why a door refused a request: an HTTP status (400 for bad input) and a
 * message saying what is wrong and how to fix it. `param` and `code` are
 * static strings or NULL. */
typedef struct lln_door_error {
  int status;
  char message[LLN_DOOR_ERROR_MAX];
  const char *param;
  const char *code;
} lln_door_error;

/* Store reads one request may ask for before its translation. */
#define LLN_DOOR_MAX_LOOKUPS 8

/* Stored values a door reads before translating (previous_response_id,
 * item references): the gateway reads each key from server.store, one
 * after the other, and waits for the answers. */
typedef struct lln_door_lookup {
  size_t n;
  char key[LLN_DOOR_MAX_LOOKUPS][LLN_STORE_MAX_KEY];
} lln_door_lookup;

/* What one key held: status LLN_STORE_OK with the value, or the store's
 * negative code (unknown or expired key, store unreachable) and NULL. */
typedef struct lln_door_stored {
  const char *value;
  size_t len;
  int status;
} lln_door_stored;

typedef struct lln_door {
  const char *name;  /* the "door" label: metrics, access log, status page */
  size_t state_size; /* bytes of per-request state the gateway allocates zeroed (0: none) */

  /* The store keys the translation needs: 1 with `out` filled (n keys), 0
   * when none, -1 with `err` filled for a request that is bad already.
   * Optional. */
  int (*lookup)(void *state, const cJSON *body, lln_door_lookup *out, lln_door_error *err);
  /* The chat completion request for `body` (the client's parsed body),
   * built in the current JSON scope (the run's arena), or NULL with `err`
   * filled. `stored[i]` is what lookup's key[i] held (n_stored 0 when it
   * asked for nothing). May return `body` itself. Optional. */
  cJSON *(*to_chat)(void *state, cJSON *body, const lln_door_stored *stored, size_t n_stored,
                    lln_door_error *err);
  /* Appends the door's answer for the run's chat.completion (the tree the
   * run printed, lln_run_result.json). Optional. */
  void (*answer)(void *state, const cJSON *chat, lln_buf *out);
  /* Stream translation: one event the run sends (a chat.completion.chunk
   * JSON, "[DONE]", or the {"error":{...}} object a failed stream ends
   * with); appends whole SSE events ("event: ...\ndata: ...\n\n"), maybe
   * none. Optional. */
  void (*event)(void *state, const char *data, size_t len, lln_buf *out);
  /* Appends the door's error body for `e` (a response that is not a
   * stream). `state` is NULL for a refusal before the request has one
   * (401, 405, 503 at server.max-concurrent). Optional: OpenAI's
   * {"error":{...}}. */
  void (*error)(void *state, const lln_openai_error *e, lln_buf *out);
  /* The SSE text sent while routing runs (NULL: ": keep-alive\n\n"). */
  const char *keepalive;
  /* After a successful answer: 1 with `put` filled (pointers into the
   * state, valid until release) to keep something in server.store, else
   * 0. Optional. */
  int (*keep)(void *state, lln_store_put *put);
  /* Frees what the state holds (not the state itself). Optional. */
  void (*release)(void *state);
} lln_door;

/* Chat completions, as they are: the door every other door becomes. */
extern const lln_door lln_door_chat;

#endif
