/* explain_conv: the conversation side of `llmnet explain`. It reads a
 * --messages file, tells the kind of turn the newest message makes and the
 * session the conversation belongs to, what the router model would read,
 * and what decides a routing step before the router is asked, all through
 * the rules a request follows (route_input_int.h; the order of the run's
 * route_flow: no user text, pin, decision cache, router). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/explain_int.h"
#include "pipeline/route_input_int.h"
#include "pipeline/text_int.h"
#include "util/xalloc.h"

/* Roles listed on the request line before the rest are counted. */
#define ROLES_SHOWN 12

static void fail(char *err, size_t err_size, const char *path, const char *fmt, const char *detail) {
  char what[256];
  snprintf(what, sizeof what, fmt, detail);
  snprintf(err, err_size,
           "%s: %s; give an OpenAI messages array, like [{\"role\": \"user\", \"content\": \"...\"}], or "
           "{\"messages\": [...]}",
           path, what);
}

static char *read_file(const char *path, size_t *len, char *err, size_t err_size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_size, "%s: cannot read the messages file: %s", path, strerror(errno));
    return NULL;
  }
  char *data = malloc(LLN_EXPLAIN_MAX_MESSAGES_FILE + 1);
  if (!data)
    abort();
  *len = fread(data, 1, LLN_EXPLAIN_MAX_MESSAGES_FILE + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad || *len > LLN_EXPLAIN_MAX_MESSAGES_FILE) {
    snprintf(err, err_size,
             bad ? "%s: cannot read the messages file"
                 : "%s: over %d bytes; explain a shorter "
                   "conversation",
             path, LLN_EXPLAIN_MAX_MESSAGES_FILE);
    free(data);
    return NULL;
  }
  data[*len] = '\0';
  return data;
}

cJSON *lln_explain_read_messages(const char *path, char *err, size_t err_size) {
  size_t len = 0;
  char *data = read_file(path, &len, err, err_size);
  if (!data)
    return NULL;
  cJSON *root = cJSON_ParseWithLength(data, len);
  free(data);
  if (!root) {
    fail(err, err_size, path, "not valid JSON%s", "");
    return NULL;
  }
  cJSON *messages = root;
  if (cJSON_IsObject(root)) {
    messages = cJSON_DetachItemFromObjectCaseSensitive(root, "messages");
    cJSON_Delete(root);
  }
  if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0) {
    fail(err, err_size, path, "%s", messages ? "\"messages\" is not a non-empty array" : "no \"messages\"");
    cJSON_Delete(messages);
    return NULL;
  }
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, messages) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsObject(m) || !cJSON_IsString(role) || !role->valuestring[0]) {
      char which[64];
      snprintf(which, sizeof which, "messages[%d] has no \"role\"", i);
      fail(err, err_size, path, "%s", which);
      cJSON_Delete(messages);
      return NULL;
    }
    i++;
  }
  return messages;
}

void lln__explain_conversation(lln_explain *e, const char *session_header) {
  e->turn = (int)lln_route_turn_kind(e->messages);
  if (session_header && lln_session_id_valid(session_header)) {
    e->session = lln_xstrdup(session_header);
    e->session_given = 1;
    return;
  }
  if (session_header)
    e->bad_session = lln_xstrdup(session_header);
  char hex[LLN_HEX_DIGEST_SIZE];
  if (lln_session_fingerprint(e->messages, hex) == 0)
    e->session = lln_xstrdup(hex);
}

static const char *turn_text(int turn) {
  switch ((lln_turn_kind)turn) {
  case LLN_TURN_USER: return "a new user turn (the newest message is the user's)";
  case LLN_TURN_TOOL: return "a tool result (the newest message is a tool's): the agent loop goes on";
  case LLN_TURN_ASSISTANT: return "an assistant continuation (the newest message is the assistant's)";
  case LLN_TURN_NONE: break;
  }
  return "no conversation turn (only system or developer messages)";
}

static void put_roles(const lln_explain *e, lln_buf *out) {
  int n = cJSON_GetArraySize(e->messages), i = 0;
  lln_buf_printf(out, "request: %d message%s (", n, n == 1 ? "" : "s");
  const cJSON *m;
  cJSON_ArrayForEach(m, e->messages) {
    if (i == ROLES_SHOWN) {
      lln_buf_printf(out, ", ... %d more", n - i);
      break;
    }
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    lln_buf_printf(out, "%s%s", i ? ", " : "", cJSON_IsString(role) ? role->valuestring : "?");
    i++;
  }
  lln_buf_puts(out, ")\n");
}

void lln__explain_write_request(const lln_explain *e, lln_buf *out) {
  if (e->from_messages) {
    put_roles(e, out);
    lln_buf_puts(out, "last user message ");
  } else {
    lln_buf_puts(out, "request: last user message ");
  }
  if (e->from_messages && !lln_last_user_message(e->messages)) {
    lln_buf_puts(out, "none\n");
  } else {
    lln__explain_put_value(out, e->prompt, LLN_EXPLAIN_PROMPT_SHOWN);
    size_t words = lln_word_count(e->prompt), chars = lln_utf8_length(e->prompt);
    lln_buf_printf(out, " (%zu word%s, %zu character%s)\n", words, words == 1 ? "" : "s", chars,
                   chars == 1 ? "" : "s");
  }
  lln_buf_printf(out, "turn: %s\n", turn_text(e->turn));
  if (e->bad_session)
    lln_buf_printf(out,
                   "x-session-id \"%.80s\" is not usable (1 to %d printable ASCII characters): the gateway "
                   "answers 400\n",
                   e->bad_session, LLN_SESSION_ID_MAX);
  if (e->session_given)
    lln_buf_printf(out, "session: x-session-id \"%s\" (from --header)\n", e->session);
  else if (e->session)
    lln_buf_printf(
        out,
        "session: fingerprint %s (SHA-256 of the first system/developer message and the first user "
        "message; --header \"x-session-id: ID\" names it instead)\n",
        e->session);
  else
    lln_buf_puts(out, "session: none (no user message and no x-session-id)\n");
}

int lln__explain_router_input(const lln_explain *e, const lln_node *from, lln_buf *out) {
  const lln_routing *rs = &from->routing;
  int has = lln_route_input(e->messages, rs->sticky == LLN_STICKY_TURN, rs->max_input_chars, out);
  lln_buf_reserve(out, 0);
  return has;
}

static const char *sticky_name(lln_sticky s) {
  return s == LLN_STICKY_SESSION ? "session" : s == LLN_STICKY_TURN ? "turn" : "off";
}

/* Step 2: whether a pin can decide this turn (route_flow's pin_applies). */
static void put_pin(const lln_explain *e, const lln_routing *rs, lln_buf *out) {
  const char *sticky = sticky_name(rs->sticky);
  int continuing = e->turn == LLN_TURN_TOOL || e->turn == LLN_TURN_ASSISTANT;
  lln_buf_puts(out, "     2. pin: ");
  if (rs->sticky == LLN_STICKY_OFF) {
    lln_buf_puts(out, "none (sticky: off): every request is routed on its own\n");
    return;
  }
  if (!e->session) {
    lln_buf_printf(out, "none: the conversation has no session (sticky: %s)\n", sticky);
    return;
  }
  if (rs->sticky == LLN_STICKY_TURN && !continuing) {
    lln_buf_puts(out,
                 "none for a new user turn (sticky: turn): each user turn is routed again, with the previous "
                 "exchange as context\n");
    return;
  }
  if (continuing)
    lln_buf_printf(
        out,
        "a %s turn continues on the session's handler (sticky: %s): a pin decides if this session has "
        "one, without a router call; else it is routed as below\n",
        e->turn == LLN_TURN_TOOL ? "tool" : "continuation", sticky);
  else
    lln_buf_printf(out, "a pin decides if this session has one (sticky: session); it lives %ld s idle\n",
                   rs->session_ttl_s);
}

void lln__explain_deciders(const lln_explain *e, const lln_node *from, const lln_route_candidate *rc,
                           size_t n, const char *input, lln_buf *out) {
  const lln_routing *rs = &from->routing;
  lln_buf_printf(out, "   what decides among them, in order (routing of \"%s\": sticky %s):\n", from->name,
                 sticky_name(rs->sticky));
  lln_buf_printf(
      out, "     1. rules: the targets' conditions (above) leave %zu candidates, so no rule decides\n", n);
  put_pin(e, rs, out);
  if (rs->cache_ttl_s > 0 && rs->cache_max_entries > 0) {
    char key[LLN_HEX_DIGEST_SIZE];
    lln_route_cache_key(from->name, rc, n, input, key);
    lln_buf_printf(out,
                   "     3. cache: the same routing input decided in the last %ld s reuses that decision "
                   "(key %.16s...)\n",
                   rs->cache_ttl_s, key);
  } else {
    lln_buf_puts(out, "     3. cache: off (\"decision-cache\": false)\n");
  }
  int pins = rs->sticky != LLN_STICKY_OFF && e->session,
      caches = rs->cache_ttl_s > 0 && rs->cache_max_entries > 0;
  lln_buf_printf(out, "     4. else the router model, as below%s%s%s%s\n",
                 pins || caches ? "; its choice is remembered" : "", pins ? " as the session's pin" : "",
                 pins && caches ? " and" : "", caches ? " in the decision cache" : "");
}
