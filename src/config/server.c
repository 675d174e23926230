/* server: the "server" object: limits, CORS, the log format, the store
 * (server.store, alias rate-limit-store) and the inbound api-keys (refused when one substitutes to nothing,
 * since an empty key would let an empty bearer token in). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/loader_int.h"
#include "config/subst_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

typedef struct ref_names {
  lln_loader *L;
  lln_buf names;
} ref_names;

static const char *collect_ref(void *ctx, const char *name) {
  ref_names *r = ctx;
  lln_buf_printf(&r->names, "%s$%s", r->names.len ? ", " : "", name);
  return lln_loader_lookup(r->L, name);
}

/* A key that substitutes to nothing (or to blanks) would let "Bearer "
 * with an empty token in: refused, naming the variables it came from. */
static void check_api_key(lln_loader *L, size_t index, const char *written, const char *key) {
  const char *p = key;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p)
    return;
  ref_names r = {.L = L};
  lln_buf_init(&r.names);
  lln_buf out;
  lln_buf_init(&out);
  lln_subst(written, collect_ref, &r, &out, NULL, 0);
  char path[64];
  snprintf(path, sizeof path, "/server/api-keys/%zu", index);
  if (r.names.len)
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "server: api-keys[%zu] is %s once substituted: %s %s set but %s; set it to a key, "
                      "or remove the entry (any token would match an empty key)",
                      index, *key ? "only whitespace" : "empty", r.names.data,
                      strchr(r.names.data, ',') ? "are" : "is", *key ? "blank" : "empty");
  else
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "server: api-keys[%zu] is only whitespace; write the key itself, or remove the entry",
                      index);
  lln_buf_free(&out);
  lln_buf_free(&r.names);
}

static void load_cors(lln_loader *L, const cJSON *cors) {
  static const char *const known[] = {"allow-origins", NULL};
  lln_server_settings *s = &L->cfg->server;
  if (!cors || cJSON_IsFalse(cors))
    return;
  const cJSON *origins = NULL;
  if (cJSON_IsObject(cors)) {
    lln_loader_check_keys(L, cors, "/server/cors", known);
    origins = cJSON_GetObjectItemCaseSensitive(cors, "allow-origins");
  } else if (!cJSON_IsTrue(cors)) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/server/cors",
                      "\"cors\" is true (any origin) or {\"allow-origins\": [\"https://...\"]}");
    return;
  }
  s->cors_origins = calloc((size_t)cJSON_GetArraySize(origins) + 2, sizeof(char *));
  if (!s->cors_origins)
    abort();
  if (!origins || (cJSON_IsString(origins) && strcmp(origins->valuestring, "*") == 0)) {
    s->cors_origins[s->n_cors_origins++] = lln_xstrdup("*");
    return;
  }
  const cJSON *o;
  cJSON_ArrayForEach(o, origins) {
    if (cJSON_IsString(o) && *o->valuestring)
      s->cors_origins[s->n_cors_origins++] = lln_xstrdup(o->valuestring);
    else
      lln_loader_report(L, LLN_DIAG_ERROR, "/server/cors", "\"allow-origins\" holds origin strings");
  }
  if (!cJSON_IsArray(origins))
    lln_loader_report(L, LLN_DIAG_ERROR, "/server/cors",
                      "\"allow-origins\" must be \"*\" or an array of origins");
}

/* "api-keys": the keys inbound requests must present, substituted and
 * checked (never empty or blank, never a line break). */
static void load_api_keys(lln_loader *L, const cJSON *keys) {
  lln_server_settings *s = &L->cfg->server;
  if (keys) {
    if (!cJSON_IsArray(keys)) {
      lln_loader_report(L, LLN_DIAG_ERROR, "/server/api-keys", "\"api-keys\" must be an array of strings");
      return;
    }
    s->api_keys = calloc((size_t)cJSON_GetArraySize(keys) + 1, sizeof(char *));
    if (!s->api_keys)
      abort();
    const cJSON *k;
    size_t index = 0;
    cJSON_ArrayForEach(k, keys) {
      char path[64], what[64];
      if (!cJSON_IsString(k) || !*k->valuestring) {
        snprintf(path, sizeof path, "/server/api-keys/%zu", index++);
        lln_loader_report(L, LLN_DIAG_ERROR, path, "each api key must be a non-empty string");
        continue;
      }
      snprintf(path, sizeof path, "/server/api-keys/%zu", index);
      snprintf(what, sizeof what, "server: api-keys[%zu]", index);
      char *value = lln_loader_substitute(L, k->valuestring, path, what);
      check_api_key(L, index, k->valuestring, value);
      lln_loader_header_value_ok(L, value, path, what);
      s->api_keys[s->n_api_keys++] = value;
      index++;
    }
  }
}

/* "store" ("memory" or "redis://...", $VAR substituted), or its old name
 * "rate-limit-store"; not both. */
static void load_store(lln_loader *L, const cJSON *server, lln_server_settings *s) {
  const char *store = lln_loader_string(L, server, "store", "/server");
  const char *alias = lln_loader_string(L, server, "rate-limit-store", "/server");
  if (store && alias) {
    lln_loader_report(
        L, LLN_DIAG_ERROR, "/server/rate-limit-store",
        "\"server.store\" and \"server.rate-limit-store\" are both set; \"rate-limit-store\" is "
        "the old name of \"store\": keep \"store\" and remove \"rate-limit-store\"");
    return;
  }
  const char *key = store ? "store" : "rate-limit-store";
  const char *value = store ? store : alias;
  if (!value)
    return;
  char path[40], what[40];
  snprintf(path, sizeof path, "/server/%s", key);
  snprintf(what, sizeof what, "server: %s", key);
  int resolved = 0;
  char *v = lln_loader_substitute_ok(L, value, path, what, &resolved);
  /* an unset $VAR has been reported; the value is then checked at run */
  if (resolved && strcmp(v, "memory") != 0 && strncmp(v, "redis://", 8) != 0) {
    /* not echoed: a mistyped URL may carry a password */
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "\"%s\" is \"memory\" or \"redis://[USER:PASSWORD@]HOST:PORT[/DB]\"", key);
    free(v);
    return;
  }
  s->store = v;
}

void lln_loader_server(lln_loader *L, const cJSON *server) {
  static const char *const known[] = {
      "workers",          "api-keys",        "cors",           "max-body-bytes", "max-concurrent",
      "max-connections",  "request-timeout", "shutdown-grace", "log-format",     "max-hops",
      "rate-limit-store", "store",           "store-max-mib",  "write-timeout",  NULL};
  lln_server_settings *s = &L->cfg->server;
  s->workers = 0;
  s->max_body_bytes = 8 * 1024 * 1024;
  s->max_concurrent = 1024;
  s->max_connections = 10000;
  s->request_timeout_ms = 300000;
  s->shutdown_grace_ms = 30000;
  s->write_timeout_ms = 60000;
  s->max_hops = 10;
  if (!server)
    return;
  if (!cJSON_IsObject(server)) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/server", "\"server\" must be an object");
    return;
  }
  lln_loader_check_keys(L, server, "/server", known);
  struct {
    const char *key;
    double min, max;
  } nums[] = {{"workers", 0, 256},         {"max-body-bytes", 1024, 1024.0 * 1024 * 1024},
              {"max-concurrent", 0, 1e6},  {"request-timeout", 0.001, 86400},
              {"max-hops", 1, 100},        {"max-connections", 0, 1e6},
              {"shutdown-grace", 0, 3600}, {"write-timeout", 0.001, 3600},
              {"store-max-mib", 1, 65536}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(server, nums[i].key);
    if (!v)
      continue;
    if (!cJSON_IsNumber(v) || v->valuedouble < nums[i].min || v->valuedouble > nums[i].max) {
      char path[64];
      snprintf(path, sizeof path, "/server/%s", nums[i].key);
      lln_loader_report(L, LLN_DIAG_ERROR, path, "\"%s\" must be a number from %g to %g", nums[i].key,
                        nums[i].min, nums[i].max);
      continue;
    }
    double d = v->valuedouble;
    switch (i) {
    case 0: s->workers = (int)d; break;
    case 1: s->max_body_bytes = (size_t)d; break;
    case 2: s->max_concurrent = (int)d; break;
    case 3: s->request_timeout_ms = (long)(d * 1000); break;
    case 4: s->max_hops = (int)d; break;
    case 5: s->max_connections = (int)d; break;
    case 6: s->shutdown_grace_ms = (long)(d * 1000); break;
    case 7: s->write_timeout_ms = (long)(d * 1000); break;
    case 8: s->store_max_bytes = (size_t)d * 1024 * 1024; break;
    }
  }
  load_cors(L, cJSON_GetObjectItemCaseSensitive(server, "cors"));
  const char *log_format = lln_loader_string(L, server, "log-format", "/server");
  if (log_format && strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0)
    lln_loader_report(L, LLN_DIAG_ERROR, "/server/log-format", "\"log-format\" is \"text\" or \"json\"");
  else if (log_format)
    s->log_format = lln_xstrdup(log_format);
  load_store(L, server, s);
  if (s->store_max_bytes && s->store && strcmp(s->store, "memory") != 0)
    lln_loader_report(
        L, LLN_DIAG_WARNING, "/server/store-max-mib",
        "\"store-max-mib\" bounds only the in-process store; a Redis store is bounded by the "
        "Redis server's own maxmemory: remove \"store-max-mib\" or set \"store\" to \"memory\"");
  load_api_keys(L, cJSON_GetObjectItemCaseSensitive(server, "api-keys"));
}
