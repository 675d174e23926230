/* budgets: the top-level "budgets" ({"NAME": {"rpm": N, "rpd": N,
 * "usd-per-day": X}}) and a models entry's "budget" naming one: an
 * account's quota that every entry naming it spends together (docs/CONFIG.md
 * "Budgets"). */
#include <stdlib.h>

#include "config/loader_int.h"

void lln_loader_budgets(lln_loader *L, const cJSON *budgets) {
  (void)L, (void)budgets; /* TODO(budgets): parse and check */
}

void lln_loader_model_budget(lln_loader *L, lln_model *model, const cJSON *m, const char *path) {
  (void)L, (void)m, (void)path;
  model->budget = NULL; /* TODO(budgets): look the name up */
}

void lln_config_free_budgets(lln_config *cfg) {
  for (size_t i = 0; i < cfg->n_budgets; i++)
    free(cfg->budgets[i].name);
  free(cfg->budgets);
  cfg->budgets = NULL;
  cfg->n_budgets = 0;
}
