/* shared: a loaded composition held by several worker threads at once, with
 * the per-model state that lives as long as it; the last holder frees it. Reloads hand every worker the new
 * one while requests in flight keep the one they started with. */
#ifndef LLN_CONFIG_SHARED_H
#define LLN_CONFIG_SHARED_H

#include "config/config.h"
#include "upstream/model_state.h"

typedef struct lln_shared_config lln_shared_config;

/* Takes over `cfg`; the caller holds the first reference. */
lln_shared_config *lln_shared_config_new(lln_config *cfg);
const lln_config *lln_shared_config_get(const lln_shared_config *sc);
/* Per-model state (breakers, rate-limit queues) shared by every worker for
 * as long as this composition lives: one per cfg->models entry. */
lln_model_state *lln_shared_config_models(const lln_shared_config *sc);
void lln_shared_config_retain(lln_shared_config *sc);
void lln_shared_config_release(lln_shared_config *sc);

#endif
