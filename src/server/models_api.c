/* models_api: GET /v1/models (the model objects llmnet serves: "llmnet",
 * the entry; every node that answers with a model; every models entry with
 * "embeddings": true), each with an "llmnet" extension naming its kind and
 * the doors that take it, and GET /v1/models/{id} (one of them, or
 * OpenAI's 404 model_not_found). */
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

/* The doors a chat model answers through, and the embeddings door. */
static const char CHAT_DOORS[] = "[\"/v1/chat/completions\",\"/v1/responses\",\"/v1/messages\"]";
static const char EMBED_DOOR[] = "[\"/v1/embeddings\"]";

/* What a model object stands for, and so which doors accept its id. */
typedef enum { KIND_PIPELINE, KIND_NODE, KIND_EMBEDDINGS } model_kind;

static int chat_node(const lln_node *n) { return n->adapter == LLN_ADAPTER_OPENAI; }

/* A models entry with "embeddings": true that no node's name hides. */
static int embeddings_entry(const lln_config *cfg, const lln_model *m) {
  return m->embeddings && !lln_config_node(cfg, m->key);
}

/* The kind of `id`, or -1 when llmnet serves no model by that name. */
static int model_served(const lln_config *cfg, const char *id, const char **endpoints) {
  if (strcmp(id, "llmnet") == 0) {
    *endpoints = CHAT_DOORS;
    return KIND_PIPELINE;
  }
  const lln_node *n = lln_config_node(cfg, id);
  if (n && chat_node(n)) {
    *endpoints = n->endpoint && n->endpoint->embeddings ? EMBED_DOOR : CHAT_DOORS;
    return KIND_NODE;
  }
  const lln_model *m = lln_config_embeddings_model(cfg, id);
  if (m && embeddings_entry(cfg, m)) {
    *endpoints = EMBED_DOOR;
    return KIND_EMBEDDINGS;
  }
  return -1;
}

/* {"id", "object": "model", "created", "owned_by", "llmnet": {"kind",
 * "endpoints"}}: the extension says which doors take the id. */
static void model_object(lln_buf *b, const lln_config *cfg, const char *id, long created) {
  static const char *const kinds[] = {"pipeline", "node", "embeddings"};
  const char *endpoints = CHAT_DOORS;
  int kind = model_served(cfg, id, &endpoints);
  lln_buf_puts(b, "{\"id\":");
  lln_buf_json_string(b, id, strlen(id));
  lln_buf_printf(b,
                 ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"llmnet\",\"llmnet\":{\"kind\":\"%s\"",
                 created, kinds[kind < 0 ? 0 : kind]);
  if (kind == KIND_EMBEDDINGS && lln_config_embeddings_default(cfg) == lln_config_embeddings_model(cfg, id))
    lln_buf_puts(b, ",\"default\":true");
  lln_buf_printf(b, ",\"endpoints\":%s}}", endpoints);
}

void lln__models_list(const lln_config *cfg, lln_http_request *req, const char *const *headers) {
  lln_buf b;
  lln_buf_init(&b);
  long now = (long)time(NULL);
  lln_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
  model_object(&b, cfg, "llmnet", now);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    if (!chat_node(&cfg->nodes[i]))
      continue;
    lln_buf_putc(&b, ',');
    model_object(&b, cfg, cfg->nodes[i].name, now);
  }
  for (size_t i = 0; i < cfg->n_models; i++) {
    if (!embeddings_entry(cfg, &cfg->models[i]))
      continue;
    lln_buf_putc(&b, ',');
    model_object(&b, cfg, cfg->models[i].key, now);
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
  const char *endpoints;
  if (ok && model_served(cfg, id, &endpoints) >= 0) {
    model_object(&b, cfg, id, (long)time(NULL));
    lln_http_respond(req, 200, "application/json", headers, b.data, b.len);
  } else {
    char msg[MAX_MODEL_ID_BYTES + 160];
    snprintf(msg, sizeof msg,
             "The model '%s' does not exist; GET /v1/models lists the models llmnet serves (llmnet, its "
             "nodes and its embeddings models)",
             ok ? id : "(not a valid model id)");
    lln_openai_error e = {.status = 404, .message = msg, .param = "model", .code = "model_not_found"};
    lln_http_respond_openai_error(req, headers, &e);
  }
  lln_buf_free(&b);
  free(id);
}
