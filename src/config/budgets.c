/* budgets: the top-level "budgets" ({"NAME": {"rpm": N, "rpd": N,
 * "usd-per-day": X, "queue": N, "max-wait": S}}) and a models entry's
 * "budget" naming one: an account's quota that every entry naming it
 * spends together (docs/CONFIG.md "Budgets"). */
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "config/loader_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* A budget's name goes into store keys and metric labels. */
#define BUDGET_NAME_MAX 64
#define BUDGETS_MAX 256
#define BUDGET_RPM_MAX 1e6
#define BUDGET_RPD_MAX 1e9
#define BUDGET_USD_MAX 1e6
#define BUDGET_QUEUE_MAX 1e6
#define BUDGET_MAX_WAIT_MAX_S 86400
/* "sync": how often the provider is asked, in seconds. */
#define BUDGET_SYNC_EVERY_DEFAULT_S 300
#define BUDGET_SYNC_EVERY_MIN_S 1
#define BUDGET_SYNC_EVERY_MAX_S 86400

static int name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > BUDGET_NAME_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return 0;
  }
  return 1;
}

/* One number of a budget: absent keeps *out; otherwise it must be a number
 * in [0, max] (whole when `whole`). */
static void budget_number(lln_loader *L, const cJSON *obj, const char *key, const char *path, double max,
                          int whole, const char *unit, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v)
    return;
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_printf(&p, "%s/%s", path, key);
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
      (whole && v->valuedouble != (double)(long)v->valuedouble))
    lln_loader_report(L, LLN_DIAG_ERROR, p.data, "budget \"%s\": \"%s\" must be %s from 0 to %g (%s)",
                      obj->string, key, whole ? "a whole number" : "a number", max, unit);
  else
    *out = v->valuedouble;
  lln_buf_free(&p);
}

/* "sync": {"url": U, "api-key": K, "every": S}. */
static void load_sync(lln_loader *L, lln_budget *b, const cJSON *sync, const char *budget_path) {
  static const char *const known[] = {"url", "api-key", "every", NULL};
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_printf(&p, "%s/sync", budget_path);
  if (!cJSON_IsObject(sync)) {
    lln_loader_report(
        L, LLN_DIAG_ERROR, p.data,
        "budget \"%s\": \"sync\" must be an object such as {\"url\": "
        "\"https://openrouter.ai/api/v1/key\", \"api-key\": \"$OPENROUTER_API_KEY\", \"every\": 300}",
        b->name);
    lln_buf_free(&p);
    return;
  }
  lln_loader_check_keys(L, sync, p.data, known);
  char what[160];
  const char *url = lln_loader_string(L, sync, "url", p.data);
  if (!url) {
    lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                      "budget \"%s\": \"sync\" needs a \"url\", such as \"https://openrouter.ai/api/v1/key\"",
                      b->name);
  } else {
    snprintf(what, sizeof what, "budget \"%s\": sync url", b->name);
    int resolved = 1;
    b->sync_url = lln_loader_substitute_ok(L, url, p.data, what, &resolved);
    if (resolved && strncmp(b->sync_url, "http://", 7) != 0 && strncmp(b->sync_url, "https://", 8) != 0)
      lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                        "budget \"%s\": the sync \"url\" must start with http:// or https://", b->name);
  }
  const char *key = lln_loader_string(L, sync, "api-key", p.data);
  if (key) {
    snprintf(what, sizeof what, "budget \"%s\": sync api-key", b->name);
    b->sync_key = lln_loader_substitute(L, key, p.data, what);
    lln_loader_header_value_ok(L, b->sync_key, p.data, what);
  }
  double every = BUDGET_SYNC_EVERY_DEFAULT_S;
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(sync, "every");
  if (e && (!cJSON_IsNumber(e) || e->valuedouble < BUDGET_SYNC_EVERY_MIN_S ||
            e->valuedouble > BUDGET_SYNC_EVERY_MAX_S))
    lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                      "budget \"%s\": sync \"every\" must be a number of seconds from %d to %d", b->name,
                      BUDGET_SYNC_EVERY_MIN_S, BUDGET_SYNC_EVERY_MAX_S);
  else if (e)
    every = e->valuedouble;
  b->sync_every_ms = (long)(every * 1000.0);
  lln_buf_free(&p);
}

static void load_budget(lln_loader *L, lln_budget *b, const cJSON *j, const char *path) {
  static const char *const known[] = {"rpm", "rpd", "usd-per-day", "queue", "max-wait", "sync", NULL};
  b->queue = LLN_RATE_LIMIT_DEFAULT_QUEUE;
  b->max_wait_ms = LLN_RATE_LIMIT_DEFAULT_MAX_WAIT_MS;
  if (!cJSON_IsObject(j)) {
    lln_loader_report(
        L, LLN_DIAG_ERROR, path,
        "budget \"%s\" must be an object such as {\"rpm\": 20, \"rpd\": 50, \"usd-per-day\": 5}", b->name);
    return;
  }
  lln_loader_check_keys(L, j, path, known);
  double rpm = 0, rpd = 0, usd = 0, queue = b->queue, wait = (double)b->max_wait_ms / 1000.0;
  budget_number(L, j, "rpm", path, BUDGET_RPM_MAX, 1, "requests per minute; 0 or absent: no limit", &rpm);
  budget_number(L, j, "rpd", path, BUDGET_RPD_MAX, 1, "requests per UTC day; 0 or absent: no limit", &rpd);
  budget_number(L, j, "usd-per-day", path, BUDGET_USD_MAX, 0, "US dollars per UTC day; 0 or absent: no limit",
                &usd);
  budget_number(L, j, "queue", path, BUDGET_QUEUE_MAX, 1, "requests that may wait for the budget", &queue);
  budget_number(L, j, "max-wait", path, BUDGET_MAX_WAIT_MAX_S, 0, "seconds a request may wait", &wait);
  b->rpm = (int)rpm;
  b->rpd = (int)rpd;
  b->usd_per_day = usd;
  b->queue = (int)queue;
  b->max_wait_ms = (long)(wait * 1000.0);
  const cJSON *sync = cJSON_GetObjectItemCaseSensitive(j, "sync");
  if (sync)
    load_sync(L, b, sync, path);
  if (!b->rpm && !b->rpd && !(b->usd_per_day > 0))
    lln_loader_report(
        L, LLN_DIAG_WARNING, path,
        "budget \"%s\" has no limit: it counts calls but never refuses one; give it \"rpm\", \"rpd\" "
        "or \"usd-per-day\"",
        b->name);
}

void lln_loader_budgets(lln_loader *L, const cJSON *budgets) {
  lln_config *cfg = L->cfg;
  if (!budgets)
    return;
  if (!cJSON_IsObject(budgets)) {
    lln_loader_report(
        L, LLN_DIAG_ERROR, "/budgets",
        "\"budgets\" must be an object of named budgets, such as {\"openrouter-free\": {\"rpm\": "
        "20, \"rpd\": 50}}");
    return;
  }
  int n = cJSON_GetArraySize(budgets);
  if (n > BUDGETS_MAX) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/budgets", "at most %d budgets; this document has %d", BUDGETS_MAX,
                      n);
    return;
  }
  cfg->budgets = calloc((size_t)n + 1, sizeof *cfg->budgets);
  if (!cfg->budgets)
    abort();
  const cJSON *j;
  cJSON_ArrayForEach(j, budgets) {
    lln_buf p;
    lln_buf_init(&p);
    lln_buf_printf(&p, "/budgets");
    lln_pointer_append(&p, j->string);
    if (!name_ok(j->string)) {
      lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                        "budget name \"%.80s\" must be 1 to %d letters, digits, '-', '_' or '.'", j->string,
                        BUDGET_NAME_MAX);
    } else {
      lln_budget *b = &cfg->budgets[cfg->n_budgets];
      b->name = lln_xstrdup(j->string);
      b->index = (int)cfg->n_budgets++;
      load_budget(L, b, j, p.data);
    }
    lln_buf_free(&p);
  }
}

/* "a", "b" and "c": the budgets a "budget" may name. */
static void budget_names(const lln_config *cfg, lln_buf *out) {
  for (size_t i = 0; i < cfg->n_budgets; i++)
    lln_buf_printf(out, "%s\"%s\"",
                   i == 0                    ? ""
                   : i + 1 == cfg->n_budgets ? " or "
                                             : ", ",
                   cfg->budgets[i].name);
}

void lln_loader_model_budget(lln_loader *L, lln_model *model, const cJSON *m, const char *path) {
  model->budget = NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "budget");
  if (!v)
    return;
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_printf(&p, "%s/budget", path);
  const lln_config *cfg = L->cfg;
  if (!cJSON_IsString(v)) {
    lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                      "model \"%s\": \"budget\" must be the name of one of the top-level \"budgets\"",
                      model->key);
  } else {
    for (size_t i = 0; i < cfg->n_budgets; i++) {
      if (strcmp(cfg->budgets[i].name, v->valuestring) == 0)
        model->budget = &cfg->budgets[i];
    }
    if (!model->budget && cfg->n_budgets == 0) {
      lln_loader_report(
          L, LLN_DIAG_ERROR, p.data,
          "model \"%s\": budget \"%.80s\" is not declared: add it to the top-level \"budgets\", "
          "e.g. \"budgets\": {\"%.80s\": {\"rpm\": 20, \"rpd\": 50}}",
          model->key, v->valuestring, v->valuestring);
    } else if (!model->budget) {
      lln_buf names;
      lln_buf_init(&names);
      budget_names(cfg, &names);
      lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                        "model \"%s\": budget \"%.80s\" is not declared in the top-level \"budgets\"; it "
                        "declares %s",
                        model->key, v->valuestring, names.data);
      lln_buf_free(&names);
    }
  }
  lln_buf_free(&p);
}

void lln_config_free_budgets(lln_config *cfg) {
  for (size_t i = 0; i < cfg->n_budgets; i++) {
    free(cfg->budgets[i].name);
    free(cfg->budgets[i].sync_url);
    free(cfg->budgets[i].sync_key);
  }
  free(cfg->budgets);
  cfg->budgets = NULL;
  cfg->n_budgets = 0;
}
