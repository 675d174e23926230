/* vault: reading one secret from a HashiCorp Vault KV v2 engine over its HTTP
 * API (GET ADDRESS/v1/PATH with X-Vault-Token), for "source": "vault"
 * secrets. Blocking: it runs while a composition loads (before serving, or
 * on the thread pool for a reload), and can be cancelled from any thread. */
#ifndef LLN_CONFIG_VAULT_H
#define LLN_CONFIG_VAULT_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Reads the secret at `path` (as written, e.g. "secret/data/llmnet") from the
 * Vault at `address` (http:// or https://). Returns the secret's key/value
 * object (the response's data.data), to be freed with cJSON_Delete, or NULL
 * with a message in `err`. The message never contains the token or a secret
 * value. */
cJSON *lln_vault_read(const char *address, const char *path, const char *token, char *err, size_t err_size);

/* The text of one value of that object: a string as is, a number or a bool
 * as written in JSON. NULL for null, objects and arrays. free() it. */
char *lln_vault_text(const cJSON *value);

#endif
