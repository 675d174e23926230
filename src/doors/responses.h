/* responses: the OpenAI Responses API door (POST /v1/responses). A
 * request's input items, instructions, function tools, tool_choice,
 * text.format, max_output_tokens, temperature, top_p and stream become a
 * chat completion request; previous_response_id prepends the conversation
 * of a response llmnet answered (kept in server.store for
 * LLN_RESPONSES_TTL_MS, up to LLN_STORE_MAX_VALUE bytes); the answer
 * becomes a response object, the stream the Responses event sequence.
 * Built-in tools llmnet cannot run (web search, file search, computer use,
 * code interpreter, image generation, MCP, local shell) are a 400 naming
 * them. */
#ifndef LLN_DOORS_RESPONSES_H
#define LLN_DOORS_RESPONSES_H

#include <cjson/cJSON.h>

#include "doors/door.h"

/* How long an answered response's conversation is kept for
 * previous_response_id: one hour, from its answer. */
#define LLN_RESPONSES_TTL_MS (60L * 60 * 1000)
/* Stored responses kept at once (per store; the oldest is dropped first). */
#define LLN_RESPONSES_MAX_KEPT 10000
/* The store key prefix of a kept response (Redis puts its "llmnet:" before it). */
#define LLN_RESPONSES_KEY_PREFIX "response:"

typedef struct lln_responses_state lln_responses_state;

extern const lln_door lln_door_responses;

/* The store keys a Responses `body` needs: its previous_response_id's,
 * then those of the responses its item_reference items point into. 0 when
 * none, 1 with `out` filled, -1 with `err` filled. */
int lln_responses_lookup(const cJSON *body, lln_door_lookup *out, lln_door_error *err);
/* The parser alone (fuzzed, unit-tested): the chat completion request for
 * a Responses `body`, `stored[i]` being what lln_responses_lookup's key[i]
 * held (n_stored may be 0), built in the current JSON scope; NULL with
 * `err` filled for a request it cannot take. `st` may be NULL. */
cJSON *lln_responses_to_chat(lln_responses_state *st, const cJSON *body, const lln_door_stored *stored,
                             size_t n_stored, lln_door_error *err);
/* A zeroed state (free with lln_responses_state_free), for tests. */
lln_responses_state *lln_responses_state_new(void);
void lln_responses_state_free(lln_responses_state *st);

#endif
