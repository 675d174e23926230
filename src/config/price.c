/* price: a models entry's "price" ({"prompt": X, "completion": Y,
 * "cached-prompt": Z}, US dollars per million tokens), which computes a
 * call's cost when the upstream reports none (docs/CONFIG.md "Cost"). */
#include "config/loader_int.h"

void lln_loader_model_price(lln_loader *L, lln_model *model, const cJSON *m, const char *path) {
  (void)L, (void)path;
  model->price.set = 0;
  (void)cJSON_GetObjectItemCaseSensitive(m, "price"); /* TODO(cost): parse and check */
}
