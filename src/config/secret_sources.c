/* secret_sources: the "secrets" object: each secret's keys read once at load
 * from the environment, an env-file or a vault KV v2 secret, and stored as
 * "secrets.S.V" values for substitution. Errors name the secret and say what
 * to fix; a value is never shown. */
#include <stdlib.h>
#include <string.h>

#include "config/envfile_int.h"
#include "config/keys.h"
#include "config/loader_int.h"
#include "config/vault_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

static void add_secret(lln_config *cfg, const char *name, const char *var, const char *value) {
  cfg->secrets = realloc(cfg->secrets, (cfg->n_secrets + 1) * sizeof *cfg->secrets);
  if (!cfg->secrets)
    abort();
  lln_buf ref;
  lln_buf_init(&ref);
  lln_buf_printf(&ref, "secrets.%s.%s", name, var);
  cfg->secrets[cfg->n_secrets++] = (lln_secret_value){lln_buf_steal(&ref), lln_xstrdup(value)};
}

/* Adds one key of a vault secret's data; objects, arrays and null have no
 * text form and are an error naming the key (never the value). */
static void add_vault_value(lln_loader *L, const char *name, const char *key, const cJSON *value,
                            const char *path, lln_diag_severity sev) {
  char *text = lln_vault_text(value);
  if (!text && (cJSON_IsString(value) || cJSON_IsBool(value) || cJSON_IsNumber(value)))
    abort();
  if (text)
    add_secret(L->cfg, name, key, text);
  else
    lln_loader_report(L, sev, path, "secret \"%s\": vault key %s is %s, not a string, number or bool", name,
                      key,
                      cJSON_IsObject(value)  ? "an object"
                      : cJSON_IsArray(value) ? "an array"
                                             : "null");
  free(text);
}

/* At most this many keys of one secret are read ("variable" plus
 * "variables"); the rest of a longer list is ignored. */
#define MAX_SECRET_KEYS 64

/* The keys a secret names: "variable" first, then the strings of
 * "variables". Returns how many went into keys (room for MAX_SECRET_KEYS). */
static size_t secret_keys(const char *one, const cJSON *vars, const char **keys) {
  size_t n = 0;
  if (one)
    keys[n++] = one;
  const cJSON *v;
  cJSON_ArrayForEach(v, vars) {
    if (cJSON_IsString(v) && n < MAX_SECRET_KEYS)
      keys[n++] = v->valuestring;
  }
  return n;
}

/* What a "source": "vault" secret says where to read. */
typedef struct vault_spec {
  const char *address, *path, *token_env, *one;
  const cJSON *vars;
} vault_spec;

/* Reads and checks a vault secret's fields; returns 0 when they are usable. */
static int read_vault_spec(lln_loader *L, const char *name, const cJSON *spec, const char *path,
                           vault_spec *v) {
  v->address = lln_loader_string(L, spec, "address", path);
  v->path = lln_loader_string(L, spec, "path", path);
  v->token_env = lln_loader_string(L, spec, "token-env", path);
  if (!v->token_env)
    v->token_env = lln_loader_string(L, spec, "token_env", path);
  v->one = lln_loader_string(L, spec, "variable", path);
  v->vars = cJSON_GetObjectItemCaseSensitive(spec, "variables");
  if (!v->address || !v->path || !v->token_env) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "secret \"%s\": a vault source needs %s", name,
                      !v->address ? "an \"address\" (e.g. \"http://127.0.0.1:8200\")"
                      : !v->path  ? "a \"path\" (e.g. \"secret/data/llmnet\")"
                                  : "a \"token-env\" (the variable holding the token, e.g. \"VAULT_TOKEN\")");
    return -1;
  }
  if (v->vars && !cJSON_IsArray(v->vars)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "secret \"%s\": \"variables\" must be an array of key names",
                      name);
    return -1;
  }
  return 0;
}

/* Substitutes the address and path and reads the secret's data; returns it
 * (NULL, reported, when it cannot be read) and the substituted path in
 * *sub_path (the caller frees both). */
static cJSON *fetch_vault_secret(lln_loader *L, const char *name, const vault_spec *v, const char *token,
                                 const char *path, lln_diag_severity sev, char **sub_path) {
  lln_buf what;
  lln_buf_init(&what);
  lln_buf_printf(&what, "secret \"%s\": address", name);
  int ok_a, ok_p;
  char *addr = lln_loader_substitute_ok(L, v->address, path, what.data, &ok_a);
  lln_buf_reset(&what);
  lln_buf_printf(&what, "secret \"%s\": path", name);
  *sub_path = lln_loader_substitute_ok(L, v->path, path, what.data, &ok_p);
  lln_buf_free(&what);
  char err[1024];
  cJSON *kv = ok_a && ok_p ? lln_vault_read(addr, *sub_path, token, err, sizeof err) : NULL;
  if (ok_a && ok_p && !kv)
    lln_loader_report(L, sev, path, "secret \"%s\": %s", name, err);
  free(addr);
  return kv;
}

/* Adds the keys of the secret's data `kv` that the spec names, or all of
 * them when it names none. */
static void add_vault_keys(lln_loader *L, const char *name, const vault_spec *v, const cJSON *kv,
                           const char *sub_path, const char *path, lln_diag_severity sev) {
  if (!v->one && !v->vars) {
    const cJSON *item;
    cJSON_ArrayForEach(item, kv) add_vault_value(L, name, item->string, item, path, sev);
    if (!kv->child)
      lln_loader_report(L, LLN_DIAG_WARNING, path, "secret \"%s\": the vault secret at \"%s\" has no keys",
                        name, sub_path);
    return;
  }
  const char *keys[MAX_SECRET_KEYS];
  size_t n = secret_keys(v->one, v->vars, keys);
  for (size_t i = 0; i < n; i++) {
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(kv, keys[i]);
    if (value)
      add_vault_value(L, name, keys[i], value, path, sev);
    else
      lln_loader_report(L, sev, path, "secret \"%s\": %s is not a key of the vault secret at \"%s\"", name,
                        keys[i], sub_path);
  }
}

/* "source": "vault": one KV v2 read (vault.c); `variables` picks keys, all
 * keys when absent. Failures are errors at run, warnings at validate. */
static void load_vault_secret(lln_loader *L, const char *name, const cJSON *spec, const char *path,
                              lln_diag_severity sev) {
  vault_spec v;
  if (read_vault_spec(L, name, spec, path, &v) != 0)
    return;
  const char *token = lln_loader_lookup(L, v.token_env);
  if (!token || !token[0]) {
    lln_loader_report(L, sev, path,
                      "secret \"%s\": the vault token variable %s is %s (export it or pass --env-file FILE)",
                      name, v.token_env, token ? "empty" : "not set");
    return;
  }
  char *sub_path;
  cJSON *kv = fetch_vault_secret(L, name, &v, token, path, sev, &sub_path);
  if (kv)
    add_vault_keys(L, name, &v, kv, sub_path, path, sev);
  cJSON_Delete(kv);
  free(sub_path);
}

/* Loads the env-file a secret names into *file; a relative path is read
 * beside the composition, not from the cwd. Returns 0 when it loaded. */
static int open_secret_env_file(lln_loader *L, const char *name, const cJSON *spec, const char *path,
                                lln_diag_severity sev, lln_envfile *file) {
  const char *fpath = lln_loader_string(L, spec, "path", path);
  if (!fpath) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "secret \"%s\": an env-file source needs a \"path\"", name);
    return -1;
  }
  char err[512];
  lln_buf full;
  lln_buf_init(&full);
  const char *slash = strrchr(L->cfg->path, '/');
  if (fpath[0] != '/' && fpath[0] != '~' && slash)
    lln_buf_append(&full, L->cfg->path, (size_t)(slash - L->cfg->path + 1));
  lln_buf_puts(&full, fpath);
  int loaded = lln_envfile_load(file, full.data, err, sizeof err);
  lln_buf_free(&full);
  if (loaded != 0) {
    lln_loader_report(L, sev, path, "secret \"%s\": %s", name, err);
    return -1;
  }
  return 0;
}

/* "source": "env" or "env-file": each named variable, from the environment
 * or from the file. */
static void load_env_secret(lln_loader *L, const char *name, const cJSON *spec, const char *path,
                            const char *one, int from_file, lln_diag_severity sev) {
  lln_envfile file = {0};
  if (from_file && open_secret_env_file(L, name, spec, path, sev, &file) != 0)
    return;
  const char *names[MAX_SECRET_KEYS];
  size_t n = secret_keys(one, cJSON_GetObjectItemCaseSensitive(spec, "variables"), names);
  if (n == 0)
    lln_loader_report(L, LLN_DIAG_ERROR, path, "secret \"%s\" names no \"variable\" or \"variables\"", name);
  for (size_t i = 0; i < n; i++) {
    const char *value = from_file ? lln_envfile_get(&file, names[i]) : lln_loader_lookup(L, names[i]);
    if (value)
      add_secret(L->cfg, name, names[i], value);
    else
      lln_loader_report(L, sev, path, "secret \"%s\": %s is not set%s", name, names[i],
                        from_file ? " in its env-file" : " in the environment");
  }
  lln_envfile_free(&file);
}

static void load_secret(lln_loader *L, const char *name, const cJSON *spec, const char *path) {
  static const char *const known[] = {"source",    "variable",  "variables", "path", "address",
                                      "token-env", "token_env", "mount",     NULL};
  if (!cJSON_IsObject(spec)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "secret \"%s\" must be an object", name);
    return;
  }
  lln_loader_check_keys(L, spec, path, known);
  const char *source = lln_loader_string(L, spec, "source", path);
  lln_diag_severity missing_sev = L->opts->mode == LLN_LOAD_RUN ? LLN_DIAG_ERROR : LLN_DIAG_WARNING;
  const char *one = lln_loader_string(L, spec, "variable", path);
  if (!source) {
    lln_loader_report(L, LLN_DIAG_ERROR, path, "secret \"%s\" needs a \"source\" (env, env-file or vault)",
                      name);
  } else if (strcmp(source, "env") == 0 || strcmp(source, "env-file") == 0) {
    load_env_secret(L, name, spec, path, one, strcmp(source, "env-file") == 0, missing_sev);
  } else if (strcmp(source, "vault") == 0) {
    load_vault_secret(L, name, spec, path, missing_sev);
  } else {
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "secret \"%s\": unknown source \"%s\" (env, env-file or vault)", name, source);
  }
}

void lln_loader_secrets(lln_loader *L, const cJSON *secrets) {
  if (!secrets)
    return;
  if (!cJSON_IsObject(secrets)) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/secrets", "\"secrets\" must be an object");
    return;
  }
  const cJSON *s;
  cJSON_ArrayForEach(s, secrets) {
    lln_buf path;
    lln_buf_init(&path);
    lln_buf_puts(&path, "/secrets");
    lln_pointer_append(&path, s->string);
    load_secret(L, s->string, s, path.data);
    lln_buf_free(&path);
  }
}
