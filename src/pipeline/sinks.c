/* sinks: one detached websocket call per ws node whose condition holds;
 * the call owns copies of what it sends, so the request may end first.
 * What a sink gets of the answer is bounded (LLN_SINK_MAX_TEXT), so a huge
 * stream costs its relay, not copies of itself. */
#include "pipeline/sinks_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/json_alloc.h"
#include "util/log.h"

#define SINK_TIMEOUT_MS 5000

int lln_sinks_present(const lln_config *cfg) {
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    if (cfg->nodes[i].adapter == LLN_ADAPTER_WS)
      return 1;
  }
  return 0;
}

void lln_sinks_keep_text(lln_buf *text, const char *piece) {
  if (text->len > LLN_SINK_MAX_TEXT)
    return;
  size_t n = strnlen(piece, LLN_SINK_MAX_TEXT + 1 - text->len);
  if (n)
    lln_buf_append(text, piece, n);
}

/* The length of `content` a sink gets: all of it, or LLN_SINK_MAX_TEXT
 * bytes moved back to the start of a UTF-8 character. */
static size_t sink_length(const char *content, size_t len, int *truncated) {
  *truncated = len > LLN_SINK_MAX_TEXT;
  if (!*truncated)
    return len;
  size_t n = LLN_SINK_MAX_TEXT;
  while (n > 0 && ((unsigned char)content[n] & 0xC0) == 0x80)
    n--;
  return n;
}

static void on_sink_done(void *ud, const lln_fn_result *res) {
  char *label = ud;
  if (!res->ok)
    LLN_WARN("%s: %s (the response had already gone out)", label, res->error ? res->error : "failed");
  free(label);
}

void lln_sinks_fire(lln_run *r, const char *model, const char *content) {
  lln_vars *v = lln_run_vars(r);
  int truncated = 0;
  size_t content_len = content ? sink_length(content, strlen(content), &truncated) : 0;
  for (size_t i = 0; i < r->cfg->n_nodes; i++) {
    const lln_node *n = &r->cfg->nodes[i];
    if (n->adapter != LLN_ADAPTER_WS)
      continue;
    if (n->cond) {
      lln_vars_set_target(v, n, time(NULL));
      if (!lln_cond_eval(n->cond, lln_vars_lookup, v))
        continue;
    }
    lln_buf json, msg;
    lln_buf_init(&json);
    lln_buf_init(&msg);
    lln_buf_puts(&json, "{\"request_id\":");
    lln_buf_json_string(&json, r->request_id, strlen(r->request_id));
    lln_buf_puts(&json, ",\"route\":");
    lln_buf_json_string(&json, r->route.data, r->route.len);
    lln_buf_puts(&json, ",\"model\":");
    lln_buf_json_string(&json, model ? model : "", model ? strlen(model) : 0);
    lln_buf_puts(&json, ",\"content\":");
    lln_buf_json_string(&json, content ? content : "", content_len);
    if (truncated)
      lln_buf_puts(&json, ",\"truncated\":true");
    lln_buf_putc(&json, '}');
    /* the message is sent as written: "$$" keeps every '$' of the answer
     * from being read as a request variable */
    for (size_t k = 0; k < json.len; k++) {
      if (json.data[k] == '$')
        lln_buf_putc(&msg, '$');
      lln_buf_putc(&msg, json.data[k]);
    }
    lln_function fn = {.name = n->name,
                       .type = LLN_FN_WEBSOCKET,
                       .url = n->url,
                       .message = msg.data,
                       .timeout_ms = SINK_TIMEOUT_MS};
    lln_buf label;
    lln_buf_init(&label);
    lln_buf_printf(&label, "request %s: ws sink \"%s\"", r->request_id, n->name);
    lln_fn_request req = {.loop = r->loop,
                          .upstream = r->up,
                          .fn = &fn,
                          .payload = "",
                          .lookup = lln_vars_lookup,
                          .lookup_ctx = v,
                          .done = on_sink_done,
                          .ud = lln_buf_steal(&label)};
    LLN_JSON_HEAP(); /* detached: it may outlive the run and its arena */
    lln_fn_start(&req);
    lln_buf_free(&json);
    lln_buf_free(&msg);
  }
}
