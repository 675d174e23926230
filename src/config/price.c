/* price: a models entry's "price" ({"prompt": X, "completion": Y,
 * "cached-prompt": Z}, US dollars per million tokens), which computes a
 * call's cost when the upstream reports none (docs/CONFIG.md "Cost").
 * Strict: a price that is silently wrong is worse than none, so an unknown
 * key, a missing "prompt" or "completion" and a value that is not a
 * number from 0 to LLN_PRICE_MAX are errors. */
#include <math.h>

#include "config/keys.h"
#include "config/loader_int.h"
#include "util/buf.h"

/* The highest price accepted, in US dollars per million tokens: far above
 * any model's, low enough that no token count overflows a double. */
#define LLN_PRICE_MAX 1000000.0

/* One price member into *out; 1 when it is present and good. */
static int price_number(lln_loader *L, const lln_model *model, const cJSON *price, const char *key,
                        const char *path, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(price, key);
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_puts(&p, path);
  lln_pointer_append(&p, key);
  int ok = 0;
  if (!v) {
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "model \"%s\": \"price\" needs \"%s\" (US dollars per million tokens); add it, or "
                      "remove \"price\"",
                      model->key, key);
  } else if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
             v->valuedouble > LLN_PRICE_MAX) {
    lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                      "model \"%s\": price \"%s\" must be a number of US dollars per million tokens from 0 "
                      "to %.0f (\"prompt\": 0.15 is $0.15 per million prompt tokens)",
                      model->key, key, LLN_PRICE_MAX);
  } else {
    *out = v->valuedouble;
    ok = 1;
  }
  lln_buf_free(&p);
  return ok;
}

/* Unknown members are errors: a misspelt "completion" would price every
 * answer at nothing. */
static void price_unknown_key(lln_loader *L, const char *pointer, const char *key, const char *best,
                              void *ud) {
  const lln_model *model = ud;
  lln_loader_report(L, LLN_DIAG_ERROR, pointer,
                    "model \"%s\": unknown key \"%s\" in \"price\"%s%s%s; it takes \"prompt\", "
                    "\"completion\" and \"cached-prompt\"",
                    model->key, key, best ? " (did you mean \"" : "", best ? best : "", best ? "\"?)" : "");
}

static int price_keys(lln_loader *L, const lln_model *model, const cJSON *price, const char *path) {
  static const char *const known[] = {"prompt", "completion", "cached-prompt", NULL};
  return lln_loader_each_unknown_key(L, price, path, known, price_unknown_key, (void *)model) == 0;
}

void lln_loader_model_price(lln_loader *L, lln_model *model, const cJSON *m, const char *path) {
  model->price = (lln_price){0};
  const cJSON *price = cJSON_GetObjectItemCaseSensitive(m, "price");
  if (!price || cJSON_IsNull(price))
    return;
  lln_buf p;
  lln_buf_init(&p);
  lln_buf_printf(&p, "%s/price", path);
  if (!cJSON_IsObject(price)) {
    lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                      "model \"%s\": \"price\" must be an object such as {\"prompt\": 0.15, \"completion\": "
                      "0.6} (US dollars per million tokens)",
                      model->key);
    lln_buf_free(&p);
    return;
  }
  lln_price got = {0};
  int ok = price_keys(L, model, price, p.data);
  ok &= price_number(L, model, price, "prompt", p.data, &got.prompt);
  ok &= price_number(L, model, price, "completion", p.data, &got.completion);
  if (cJSON_GetObjectItemCaseSensitive(price, "cached-prompt")) {
    got.has_cached = price_number(L, model, price, "cached-prompt", p.data, &got.cached_prompt);
    ok &= got.has_cached;
  }
  lln_buf_free(&p);
  if (!ok)
    return;
  got.set = 1;
  model->price = got;
}
