/* anthropic_door: POST /v1/messages as a door (doors/door.h): the Messages
 * request translated into the chat request the run takes, and the run's
 * answer, stream events, keep-alives and errors translated back into
 * Anthropic's shapes by the translators of anthropic_*.c. */
#include <stdio.h>

#include "doors/anthropic.h"
#include "util/json_alloc.h"
#include "util/json_print.h"

typedef struct anthropic_state {
  const cJSON *request; /* the client's Messages body, in the run's arena */
  lln_anthropic_stream stream;
} anthropic_state;

static cJSON *to_chat(void *state, cJSON *body, const lln_door_stored *stored, size_t n_stored,
                      lln_door_error *err) {
  (void)stored, (void)n_stored;
  anthropic_state *st = state;
  cJSON *chat = lln_anthropic_request(body, err->message, sizeof err->message);
  if (!chat) {
    err->status = 400;
    return NULL;
  }
  st->request = body;
  lln_anthropic_stream_init(&st->stream, body, NULL);
  return chat;
}

static void answer(void *state, const cJSON *chat, lln_buf *out) {
  anthropic_state *st = state;
  LLN_JSON_HEAP();
  cJSON *msg = lln_anthropic_response(chat, st->request);
  lln_json_print(msg, out);
  cJSON_Delete(msg);
}

static void event(void *state, const char *data, size_t len, lln_buf *out) {
  anthropic_state *st = state;
  /* in the run's scope: a chunk's trees go with its scratch arena */
  lln_anthropic_stream_event(&st->stream, data, len, out);
}

static void error(void *state, const lln_openai_error *e, lln_buf *out) {
  (void)state;
  lln_anthropic_error_json(out, lln_anthropic_error_type(e->status), e->message);
}

const lln_door lln_door_anthropic = {
    .name = "messages",
    .state_size = sizeof(anthropic_state),
    .to_chat = to_chat,
    .answer = answer,
    .event = event,
    .error = error,
    .keepalive = LLN_ANTHROPIC_PING,
};
