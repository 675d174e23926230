/* config: the composition file as the rest of llmnet sees it: models,
 * nodes with their candidate lists resolved, secrets loaded and server
 * settings, all validated. Immutable once loaded, so request threads share
 * it without locks. */
#ifndef LLN_CONFIG_H
#define LLN_CONFIG_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "conditions/cond.h"
#include "config/diag.h"
#include "config/function_def.h"

struct lln_budget;

/* A model's price for upstreams that report no usage.cost (docs/CONFIG.md
 * "Cost"): US dollars per million tokens. `set` 0: no price. */
typedef struct lln_price {
  int set;
  double prompt, completion;
  int has_cached; /* "cached-prompt" given: cached prompt tokens cost that instead */
  double cached_prompt;
} lln_price;

/* A local model server llmnet starts and supervises (models "type"
 * command, llama-cpp, ollama, vllm or docker; config/runner.c reads it,
 * upstream/runners.c runs it). Strings are substituted at load, except
 * the runner variables $PORT and $MODEL, replaced at each start. */
typedef struct lln_runner_spec {
  char **argv;  /* NULL-terminated; argv[0] is the program */
  char **env;   /* "NAME=value" added to llmnet's environment */
  char *cwd;    /* NULL: llmnet's */
  char *health; /* path polled until it answers 2xx */
  char *model;  /* "model": what $MODEL stands for; NULL when not set */
  long startup_timeout_ms;
  char *engine;      /* docker preset: "docker" or "podman"; NULL for a process */
  char *container;   /* docker preset: the container's name (llmnet-KEY) */
  char *fingerprint; /* all of the above: a reload restarts the runner when it changes */
} lln_runner_spec;

/* What a models entry's "rate-limit" and a budget wait with unless they
 * say otherwise: requests queued, and the longest wait. */
#define LLN_RATE_LIMIT_DEFAULT_QUEUE 100
#define LLN_RATE_LIMIT_DEFAULT_MAX_WAIT_MS 30000L

typedef struct lln_model {
  char *key;
  char *type;
  char *url;           /* base URL as written in the file: safe to show */
  char *chat_url;      /* where chat completions are sent (substituted: never shown) */
  char *api_key;       /* NULL when none; a secret: shown only through lln_mask_secret */
  char *api_key_unset; /* validate/dry-run: the first variable of api-key that is not set, else NULL */
  char **headers;      /* NULL-terminated "Name: value" lines, substituted */
  long timeout_ms;
  long connect_timeout_ms;
  long first_byte_timeout_ms; /* 0 = only the total timeout applies */
  int retries;
  int breaker_failures; /* failures in a row that open the circuit; 0 = never */
  long breaker_cooldown_ms;
  int rpm, rpd;        /* rate limits; 0 = none */
  int rl_queue;        /* requests that may wait for the limit */
  long rl_max_wait_ms; /* longer waits are refused with 429 at once */
  int index;           /* position in cfg->models */
  /* "embeddings": true: POST /v1/embeddings may name this entry by its key */
  int embeddings;
  int embeddings_default; /* "default": true: embeddings for a model named nowhere */
  char *model_id;         /* "model-id": what an embeddings call sends upstream; NULL = the request's */
  char *embeddings_url;   /* where embeddings are sent (substituted: never shown) */
  lln_price price;        /* "price" (config/price.c) */
  const struct lln_budget *budget; /* "budget": NAME (config/budgets.c), or NULL */
  lln_runner_spec *runner;         /* a local model server (config/runner.c), or NULL: external */
} lln_model;

/* A budget shared by every models entry that names it (top-level
 * "budgets", config/budgets.c): an account's quota, counted over every
 * call through any of them, router calls included (upstream/budget.c). */
typedef struct lln_budget {
  char *name;
  int index;          /* position in cfg->budgets */
  int rpm, rpd;       /* 0 = none */
  double usd_per_day; /* 0 = none */
  int queue;          /* requests that may wait for the budget */
  long max_wait_ms;   /* longer waits are refused (or fall back) at once */
  /* "sync": where the provider tells what is spent today (OpenRouter's GET
   * /api/v1/key), read at start and every sync_every_ms (upstream/quota.c).
   * Substituted; sync_url NULL: none; sync_key NULL: no Authorization. */
  char *sync_url, *sync_key;
  long sync_every_ms;
} lln_budget;

/* The exact response cache (top-level "response-cache",
 * config/response_cache.c; pipeline/cache.c). */
typedef struct lln_cache_settings {
  int enabled;         /* "response-cache" is present and not false */
  long ttl_s;          /* default 600 */
  size_t max_bytes;    /* the in-process cache's bound; default 64 MiB */
  int any_temperature; /* store answers whatever their temperature */
} lln_cache_settings;

typedef enum { LLN_ADAPTER_OPENAI, LLN_ADAPTER_OUTPUT, LLN_ADAPTER_WS } lln_adapter;

typedef struct lln_hook {
  const lln_function *function;
  int transform; /* 0 = observe: never delays the request */
  int abort;     /* on_failure "abort": a failure fails the request */
  char *if_src;
  lln_cond *cond; /* NULL = always */
} lln_hook;

typedef struct lln_node lln_node;

/* How conversations are routed (docs/CONFIG.md "Routing"): top-level
 * "routing", which a routing node's own "routing" object overrides key by
 * key. Every node holds the settings in effect for it. */
typedef enum {
  LLN_STICKY_SESSION, /* a routed session keeps its handler; no router call after the first */
  LLN_STICKY_TURN,    /* each new user turn is routed again, with the previous exchange as context */
  LLN_STICKY_OFF      /* every request is routed on its own */
} lln_sticky;

typedef struct lln_routing {
  lln_sticky sticky;      /* default LLN_STICKY_SESSION */
  long session_ttl_s;     /* idle seconds a pin lives; default 1800 */
  size_t max_input_chars; /* what the router reads at most; default 8000 */
  long cache_ttl_s;       /* decision cache; default 600; 0 = no cache */
  long cache_max_entries; /* default 10000 */
} lln_routing;

/* The defaults and bounds of "routing" (src/config/routing.c). */
#define LLN_ROUTING_SESSION_TTL_S 1800
#define LLN_ROUTING_SESSION_TTL_MAX_S (30L * 24 * 3600)
#define LLN_ROUTING_MAX_INPUT_CHARS 8000
#define LLN_ROUTING_MAX_INPUT_CHARS_MIN 200
#define LLN_ROUTING_MAX_INPUT_CHARS_MAX 200000
#define LLN_ROUTING_CACHE_TTL_S 600
#define LLN_ROUTING_CACHE_TTL_MAX_S (7L * 24 * 3600)
#define LLN_ROUTING_CACHE_MAX_ENTRIES 10000
#define LLN_ROUTING_CACHE_MAX_ENTRIES_MAX 1000000

struct lln_node {
  char *name;
  int index; /* position in the file */
  int layer; /* -1 when the node belongs to no layer */
  lln_adapter adapter;
  const lln_model *model;    /* as written; NULL when inherited or none */
  int model_undefined;       /* names a model that does not exist (reported) */
  const lln_model *endpoint; /* the one used: own or inherited */
  const lln_node *inherited_from;
  char **model_ids; /* model_override (fallbacks in order), else the node name */
  size_t n_model_ids;
  lln_node **targets; /* output-to expanded, in order */
  size_t n_targets;
  int routes_only; /* the entry node with model targets: it never answers */
  char *use_case;
  char *if_src;
  lln_cond *cond;
  cJSON *options; /* extra-options passed to the upstream body */
  char *system;
  char *prompt_template;
  /* system and prompt_template compiled at load ({{NAME}}, LLN_TMPL_BRACES):
   * render with lln_tmpl_render; NULL when the text is not set */
  lln_tmpl *t_system;
  lln_tmpl *t_prompt_template;
  char **header_keys; /* UseHeaderKeys */
  size_t n_header_keys;
  char *bind_addr;
  int bind_port; /* 0 when not set */
  char *url;     /* ws sinks */
  int is_default;
  lln_node **fallbacks; /* nodes that answer when this one's models all fail */
  size_t n_fallbacks;
  lln_hook *pre, *post; /* run around each call of this node's model, in order */
  size_t n_pre, n_post;
  lln_routing routing; /* in effect when this node routes: cfg->routing with its own "routing" over it */
  int response_cache;  /* the node's "response-cache": -1 not set, 0 false, 1 true */
};

typedef struct lln_server_settings {
  int workers;
  char **api_keys;
  size_t n_api_keys;
  size_t max_body_bytes;
  int max_concurrent;  /* chat requests in flight; more get 503 */
  int max_connections; /* open client connections; more get 503 */
  long request_timeout_ms;
  long shutdown_grace_ms; /* how long a drain waits for requests in flight */
  long drain_delay_ms;    /* after SIGTERM: /ready answers 503 and requests are still served this long */
  long write_timeout_ms;  /* queued response bytes unread this long close the connection */
  int max_hops;
  char *log_format;       /* "text" or "json"; NULL = text (the CLI wins) */
  size_t store_max_bytes; /* server.store-max-mib: the in-process store's bound; 0 = its default */
  char *store;         /* server.store (alias rate-limit-store): NULL = in process; "redis://..." = shared */
  char **cors_origins; /* NULL = no CORS headers; "*" = any origin */
  size_t n_cors_origins;
} lln_server_settings;

typedef struct lln_secret_value {
  char *ref; /* "secrets.NAME.VAR" */
  char *value;
} lln_secret_value;

typedef struct lln_config {
  char *path;
  lln_model *models;
  size_t n_models;
  lln_node *nodes;
  size_t n_nodes;
  lln_node *entry;
  const lln_node *router; /* whose endpoint routes choices after layer 0 */
  lln_server_settings server;
  lln_routing routing; /* top-level "routing" with defaults filled in */
  lln_budget *budgets; /* top-level "budgets" */
  size_t n_budgets;
  lln_cache_settings response_cache;
  lln_secret_value *secrets;
  size_t n_secrets;
  lln_function *functions;
  size_t n_functions;
} lln_config;

typedef enum {
  LLN_LOAD_RUN,     /* unset variables and secrets are errors */
  LLN_LOAD_VALIDATE /* they are warnings */
} lln_load_mode;

typedef struct lln_load_options {
  lln_load_mode mode;
  const char *env_file; /* --env-file, or NULL */
} lln_load_options;

/* Loads and validates `path`. Every problem goes into `diags`; returns 0
 * when there is no error (warnings allowed), else -1 (cfg is then freed). */
int lln_config_load(lln_config *cfg, const char *path, const lln_load_options *opts, lln_diags *diags);
void lln_config_free(lln_config *cfg);
/* Makes every Vault read in progress (a reload on the thread pool), and
 * every later one, fail at once ("cancelled"): for a reload still loading
 * when llmnet stops. Any thread. */
void lln_vault_cancel_reads(void);

const lln_node *lln_config_node(const lln_config *cfg, const char *name);
/* The models entry `key` when it has "embeddings": true, else NULL. */
const lln_model *lln_config_embeddings_model(const lln_config *cfg, const char *key);
/* The models entry with "embeddings": true and "default": true, or NULL. */
const lln_model *lln_config_embeddings_default(const lln_config *cfg);

#endif
