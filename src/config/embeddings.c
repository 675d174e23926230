/* embeddings: the keys of a models entry that POST /v1/embeddings reads
 * ("embeddings", "model-id", "default") and their checks across the
 * composition: one default at most, and a warning for a chat node whose
 * model is an embeddings model (docs/CONFIG.md "Embeddings models"). */
#include <string.h>

#include "config/keys.h"
#include "config/loader_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* A boolean key of a models entry; an error naming the entry when it is
 * there but not true or false. */
static int model_bool(lln_loader *L, const lln_model *model, const cJSON *m, const char *name,
                      const char *path) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);
  if (!v)
    return 0;
  if (!cJSON_IsBool(v)) {
    lln_buf p;
    lln_buf_init(&p);
    lln_buf_printf(&p, "%s/%s", path, name);
    lln_loader_report(L, LLN_DIAG_ERROR, p.data, "model \"%s\": \"%s\" must be true or false", model->key,
                      name);
    lln_buf_free(&p);
    return 0;
  }
  return cJSON_IsTrue(v);
}

void lln_loader_model_embeddings(lln_loader *L, lln_model *model, const cJSON *m, const char *path) {
  model->embeddings = model_bool(L, model, m, "embeddings", path);
  model->embeddings_default = model_bool(L, model, m, "default", path);
  if (model->embeddings_default && !model->embeddings)
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "model \"%s\": \"default\": true makes it the default embeddings model, but it has no "
                      "\"embeddings\": true; add it, or remove \"default\"",
                      model->key);
  const char *id = lln_loader_string(L, m, "model-id", path);
  if (id && !*id)
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "model \"%s\": \"model-id\" is empty; give the upstream's model id or remove the key",
                      model->key);
  else if (id)
    model->model_id = lln_xstrdup(id);
  if (id && !model->embeddings)
    lln_loader_report(L, LLN_DIAG_WARNING, path,
                      "model \"%s\": \"model-id\" is only read for embeddings; chat nodes send their "
                      "model-override or their name. Add \"embeddings\": true or remove it",
                      model->key);
}

void lln_loader_embeddings_check(lln_loader *L) {
  lln_config *cfg = L->cfg;
  const lln_model *first_default = NULL;
  lln_buf p;
  lln_buf_init(&p);
  for (size_t i = 0; i < cfg->n_models; i++) {
    const lln_model *m = &cfg->models[i];
    if (!m->embeddings_default || !m->embeddings)
      continue; /* one without "embeddings" is reported on its own */
    if (first_default) {
      lln_buf_reset(&p);
      lln_buf_puts(&p, "/models");
      lln_pointer_append(&p, m->key);
      lln_buf_puts(&p, "/default");
      lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                        "models \"%s\" and \"%s\" are both the default embeddings model; keep \"default\": "
                        "true on one",
                        first_default->key, m->key);
    } else {
      first_default = m;
    }
  }
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *n = &cfg->nodes[i];
    if (n->adapter != LLN_ADAPTER_OPENAI || !n->endpoint || !n->endpoint->embeddings)
      continue;
    lln_buf_reset(&p);
    lln_buf_printf(&p, "/architecture/%d", n->index);
    lln_loader_report(L, LLN_DIAG_WARNING, p.data,
                      "node \"%s\" uses model \"%s\", which has \"embeddings\": true: chat completions sent "
                      "to it will likely fail. POST /v1/embeddings reaches the model by its key; give the "
                      "node a chat model",
                      n->name, n->endpoint->key);
  }
  lln_buf_free(&p);
}

const lln_model *lln_config_embeddings_model(const lln_config *cfg, const char *key) {
  for (size_t i = 0; i < cfg->n_models; i++)
    if (cfg->models[i].embeddings && strcmp(cfg->models[i].key, key) == 0)
      return &cfg->models[i];
  return NULL;
}

const lln_model *lln_config_embeddings_default(const lln_config *cfg) {
  for (size_t i = 0; i < cfg->n_models; i++)
    if (cfg->models[i].embeddings_default && cfg->models[i].embeddings)
      return &cfg->models[i];
  return NULL;
}
