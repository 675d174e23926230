/* describe: the resolved pipeline in words, for `llmnet run --dry-run`. */
#ifndef LLN_CONFIG_DESCRIBE_H
#define LLN_CONFIG_DESCRIBE_H

#include <stdio.h>

#include "config/config.h"

/* Prints models (keys masked, with price and budget), the budgets, the
 * response cache, nodes with their layer, endpoint, model ids,
 * conditions and targets, and where the server would listen. */
void lln_config_describe(const lln_config *cfg, const char *addr, int port, FILE *out);

#endif
