/* models_api: GET /v1/models (the model objects llmnet serves: "llmnet",
 * the entry, and every node that answers with a model) and
 * GET /v1/models/{id} (one of them, or OpenAI's 404 model_not_found). */
#include "server/models_api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/openai_error.h"
#include "util/percent.h"
#include "util/utf8.h"

/* Longest model id GET /v1/models/{id} looks up (decoded bytes). */
#define MAX_MODEL_ID_BYTES 256

/* The model objects llmnet serves: "llmnet" (the entry) and every node
 * that answers with a model. */
static int model_served(const lln_config *cfg, const char *id) {
  if (strcmp(id, "llmnet") == 0)
    return 1;
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    if (cfg->nodes[i].adapter == LLN_ADAPTER_OPENAI && strcmp(cfg->nodes[i].name, id) == 0)
      return 1;
  }
  return 0;
}

static void model_object(lln_buf *b, const char *id, long created) {
  lln_buf_puts(b, "{\"id\":");
  lln_buf_json_string(b, id, strlen(id));
  lln_buf_printf(b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"llmnet\"}", created);
}

void lln__models_list(const lln_config *cfg, lln_http_request *req, const char *const *headers) {
  lln_buf b;
  lln_buf_init(&b);
  long now = (long)time(NULL);
  lln_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
  model_object(&b, "llmnet", now);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *n = &cfg->nodes[i];
    if (n->adapter != LLN_ADAPTER_OPENAI)
      continue;
    lln_buf_putc(&b, ',');
    model_object(&b, n->name, now);
  }
  lln_buf_puts(&b, "]}");
  lln_http_respond(req, 200, "application/json", headers, b.data, b.len);
  lln_buf_free(&b);
}

/* GET /v1/models/{id}: one model object, or OpenAI's 404 model_not_found. */
void lln__models_one(const lln_config *cfg, lln_http_request *req, const char *const *headers,
                     const char *raw_id) {
  size_t raw_len = strlen(raw_id);
  char *id = malloc(raw_len + 1);
  if (!id)
    abort();
  int malformed;
  size_t id_len = lln_percent_decode(raw_id, raw_len, id, &malformed);
  lln_buf b;
  lln_buf_init(&b);
  int ok = !malformed && id_len < MAX_MODEL_ID_BYTES && lln_utf8_valid(id, id_len, NULL);
  if (ok && model_served(cfg, id)) {
    model_object(&b, id, (long)time(NULL));
    lln_http_respond(req, 200, "application/json", headers, b.data, b.len);
  } else {
    char msg[MAX_MODEL_ID_BYTES + 160];
    snprintf(msg, sizeof msg,
             "The model '%s' does not exist; GET /v1/models lists the models llmnet serves (llmnet and its "
             "nodes)",
             ok ? id : "(not a valid model id)");
    lln_openai_error e = {.status = 404, .message = msg, .param = "model", .code = "model_not_found"};
    lln_http_respond_openai_error(req, headers, &e);
  }
  lln_buf_free(&b);
  free(id);
}
