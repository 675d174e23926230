/* loader: state shared by the files that turn a composition document into
 * an lln_config (config.c: document, substitution, models; secret_sources.c:
 * secrets; server.c: server; nodes.c: the architecture graph). Internal to
 * src/config. */
#ifndef LLN_CONFIG_LOADER_H
#define LLN_CONFIG_LOADER_H

#include "config/config.h"
#include "config/envfile_int.h"
#include "config/jsonc.h"

typedef struct lln_loader {
  lln_config *cfg;
  lln_diags *diags;
  const lln_load_options *opts;
  lln_jsonc_doc doc;
  lln_envfile env_file;
} lln_loader;

/* Adds a problem placed at the JSON pointer `path` (its line:col when the
 * path exists in the file). */
void lln_loader_report(lln_loader *L, lln_diag_severity sev, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Warns about members of `obj` not in `known` (NULL-terminated), with a
 * "did you mean" suggestion when one is close. */
void lln_loader_check_keys(lln_loader *L, const cJSON *obj, const char *path, const char *const *known);
/* Reports one unknown member: its JSON pointer, its name and the closest
 * known key (NULL when none is close). */
typedef void (*lln_loader_unknown_key_fn)(lln_loader *L, const char *pointer, const char *key,
                                          const char *best, void *ud);
/* Calls `report` for each member of `obj` not in `known` (NULL-terminated),
 * so a caller picks its own severity and words; returns how many. */
size_t lln_loader_each_unknown_key(lln_loader *L, const cJSON *obj, const char *path,
                                   const char *const *known, lln_loader_unknown_key_fn report, void *ud);
/* A string member, NULL when absent; reports a type error when present but
 * not a string (or null when allow_null). */
const char *lln_loader_string(lln_loader *L, const cJSON *obj, const char *key, const char *path);

/* Substitutes one configuration value. `what` names it for messages
 * ("model 'x': api-key"). An unset reference is an error at run and a
 * warning at validate; the value is then kept as written. free() it. */
char *lln_loader_substitute(lln_loader *L, const char *value, const char *path, const char *what);
/* lln_loader_substitute, also setting *ok to whether every reference resolved. */
char *lln_loader_substitute_ok(lln_loader *L, const char *value, const char *path, const char *what, int *ok);
/* secret_sources.c: the "secrets" object, read before anything substitutes. */
void lln_loader_secrets(lln_loader *L, const cJSON *secrets);
/* server.c: the "server" object. */
void lln_loader_server(lln_loader *L, const cJSON *server);
/* routing.c: the top-level "routing" (cfg->routing, defaults filled in),
 * read before the nodes; then each node's settings in effect, its own
 * "routing" (may be NULL) over the top-level ones, once targets are linked. */
void lln_loader_routing(lln_loader *L, const cJSON *routing);
void lln_loader_node_routing(lln_loader *L, lln_node *n, const cJSON *routing);
/* 1 when `value`, substituted, can go into a header line (no CR or LF);
 * else reports an error naming `what` (never the value) and returns 0. */
int lln_loader_header_value_ok(lln_loader *L, const char *value, const char *path, const char *what);

int lln_loader_nodes(lln_loader *L, const cJSON *arch);
/* embeddings.c: a models entry's "embeddings", "model-id" and "default";
 * then, once the nodes are read, the checks across entries and nodes. */
void lln_loader_model_embeddings(lln_loader *L, lln_model *model, const cJSON *m, const char *path);
void lln_loader_embeddings_check(lln_loader *L);
/* price.c: a models entry's "price". */
void lln_loader_model_price(lln_loader *L, lln_model *model, const cJSON *m, const char *path);
/* budgets.c: the top-level "budgets", read before the models; then a models
 * entry's "budget" naming one; freeing them. */
void lln_loader_budgets(lln_loader *L, const cJSON *budgets);
void lln_loader_model_budget(lln_loader *L, lln_model *model, const cJSON *m, const char *path);
void lln_config_free_budgets(lln_config *cfg);
/* runner.c: a models entry of a runner type (command, llama-cpp, ollama,
 * vllm, docker): its lln_runner_spec and its own address. */
void lln_loader_model_runner(lln_loader *L, lln_model *model, const cJSON *m, const char *path);
/* response_cache.c: the top-level "response-cache", and a node's own
 * "response-cache" (`value` may be NULL: not set). */
void lln_loader_response_cache(lln_loader *L, const cJSON *cache);
void lln_loader_node_response_cache(lln_loader *L, lln_node *n, const cJSON *value, const char *path);
/* nodes.c: parses an "if" condition and binds its "$secrets.S.V" (a missing
 * one: an error at run, a warning at validate); `what` names it in messages
 * ("node \"x\": condition"). NULL when it does not parse (reported). */
lln_cond *lln_loader_condition(lln_loader *L, const char *src, const char *path, const char *what);
/* The value of an environment variable, --env-file entry or loaded
 * "secrets.S.V"; NULL when unset. */
const char *lln_loader_lookup(lln_loader *L, const char *name);
/* functions.c: the "functions" object, a node's "hooks", and freeing both. */
void lln_loader_functions(lln_loader *L, const cJSON *functions);
void lln_loader_hooks(lln_loader *L, lln_node *n, const cJSON *hooks, const char *path);
void lln_config_free_functions(lln_config *cfg);

#endif
