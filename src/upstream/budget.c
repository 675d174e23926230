/* budget: see budget.h. */
#include "upstream/budget.h"

void lln_budget_stats_json(cJSON *out, const lln_config *cfg) { (void)out, (void)cfg; /* TODO(budgets) */ }
