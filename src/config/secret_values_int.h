/* secret_values: which values of a loaded composition are secrets, handed
 * to the process-wide scrubber (util/secrets.h) when the composition loads. */
#ifndef LLN_CONFIG_SECRET_VALUES_H
#define LLN_CONFIG_SECRET_VALUES_H

#include "config/config.h"

/* Registers the composition's secret values: every model's api-key and
 * header values (except the plainly descriptive headers listed in
 * secret_values.c), every loaded `secrets` (Vault) value, the inbound
 * server.api-keys, function header values, and function env values whose
 * name says KEY, TOKEN, SECRET, PASSWORD, PASS or AUTH. */
void lln_config_register_secrets(const lln_config *cfg);

#endif
