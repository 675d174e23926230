/* shared: a loaded composition held by several worker threads at once; the
 * last holder frees it. Reloads hand every worker the new one while
 * requests in flight keep the one they started with. State that must live
 * exactly as long as the composition (the per-model breakers, owned by the
 * server) rides along as an attachment, so config knows nothing of it. */
#ifndef LLN_CONFIG_SHARED_H
#define LLN_CONFIG_SHARED_H

#include "config/config.h"

typedef struct lln_shared_config lln_shared_config;

/* Takes over `cfg`; the caller holds the first reference. */
lln_shared_config *lln_shared_config_new(lln_config *cfg);
const lln_config *lln_shared_config_get(const lln_shared_config *sc);
/* Hands `state` to the composition: `release(state)` runs when the last
 * holder lets go. One attachment; set it before sharing. */
void lln_shared_config_attach(lln_shared_config *sc, void *state, void (*release)(void *state));
void *lln_shared_config_attachment(const lln_shared_config *sc);
void lln_shared_config_retain(lln_shared_config *sc);
void lln_shared_config_release(lln_shared_config *sc);

#endif
