/* server: the "server" object: limits, CORS, the log format, the store
 * (server.store, alias rate-limit-store), the drain delay and the inbound
 * api-keys (refused when one substitutes to nothing, since an empty key
 * would let an empty bearer token in). Every setting takes "$VAR"
 * substitution; a number may be written as a string ("$LLMNET_WORKERS")
 * that is one once substituted. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/loader_int.h"
#include "config/subst_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* CORS origins one setting may list ("a,b,c" from a variable). */
#define LLN_SERVER_MAX_ORIGINS 256
/* The longest server.drain-delay, in seconds. */
#define LLN_SERVER_MAX_DRAIN_DELAY_S 300

typedef struct ref_names {
  lln_loader *L;
  lln_buf names;
} ref_names;

static const char *collect_ref(void *ctx, const char *name) {
  ref_names *r = ctx;
  lln_buf_printf(&r->names, "%s$%s", r->names.len ? ", " : "", name);
  return lln_loader_lookup(r->L, name);
}

/* The references `written` holds, as "$A, $B" into `names` (empty when it
 * holds none). */
static void ref_names_of(lln_loader *L, const char *written, lln_buf *names) {
  ref_names r = {.L = L};
  lln_buf_init(&r.names);
  lln_buf out;
  lln_buf_init(&out);
  lln_subst(written, collect_ref, &r, &out, NULL, 0);
  lln_buf_free(&out);
  *names = r.names;
}

/* A key that substitutes to nothing (or to blanks) would let "Bearer "
 * with an empty token in: refused, naming the variables it came from. */
static void check_api_key(lln_loader *L, size_t index, const char *written, const char *key) {
  const char *p = key;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p)
    return;
  lln_buf names;
  ref_names_of(L, written, &names);
  char path[64];
  snprintf(path, sizeof path, "/server/api-keys/%zu", index);
  if (names.len)
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "server: api-keys[%zu] is %s once substituted: %s %s set but %s; set it to a key, "
                      "or remove the entry (any token would match an empty key)",
                      index, *key ? "only whitespace" : "empty", names.data,
                      strchr(names.data, ',') ? "are" : "is", *key ? "blank" : "empty");
  else
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "server: api-keys[%zu] is only whitespace; write the key itself, or remove the entry",
                      index);
  lln_buf_free(&names);
}

/* A string setting, substituted (free() it); NULL when absent, not a
 * string (reported) or when a reference is not set (reported by the
 * substitution: an error at run, a warning at validate). */
static char *server_string(lln_loader *L, const cJSON *obj, const char *key, const char *base) {
  const char *written = lln_loader_string(L, obj, key, base);
  if (!written)
    return NULL;
  char path[96], what[96];
  snprintf(path, sizeof path, "%s/%s", base, key);
  snprintf(what, sizeof what, "server: %s", key);
  int resolved = 0;
  char *v = lln_loader_substitute_ok(L, written, path, what, &resolved);
  if (!resolved) {
    free(v);
    return NULL;
  }
  return v;
}

/* Decimal digits with an optional sign, point and exponent, blanks
 * around: strtod alone would also take "0x10", "inf" and "nan". */
static int parse_decimal(const char *s, double *out) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  if (n == 0 || strspn(s, "0123456789.+-eE") < n)
    return -1;
  char *end;
  double d = strtod(s, &end);
  if ((size_t)(end - s) != n || !isfinite(d))
    return -1;
  *out = d;
  return 0;
}

typedef struct num_setting {
  const char *key;
  double min, max;
} num_setting;

/* A number written as a string: substituted and read into *d. 1 when it
 * is one; 0 when a variable is not set (reported by the substitution) or
 * it is not a number (reported, naming the variables, never the value: a
 * mistyped name may hold a secret). `names` gets the variables it names. */
static int number_from_string(lln_loader *L, const char *written, const num_setting *n, const char *path,
                              double *d, lln_buf *names) {
  ref_names_of(L, written, names);
  char what[96];
  snprintf(what, sizeof what, "server: %s", n->key);
  int resolved = 0;
  char *text = lln_loader_substitute_ok(L, written, path, what, &resolved);
  int bad = resolved && parse_decimal(text, d) != 0;
  free(text);
  if (!resolved || !bad)
    return resolved;
  if (names->len)
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "server: \"%s\" is not a number once substituted (%s %s not hold one); set %s to a "
                      "number from %g to %g",
                      n->key, names->data, strchr(names->data, ',') ? "do" : "does", names->data, n->min,
                      n->max);
  else
    lln_loader_report(L, LLN_DIAG_ERROR, path, "\"%s\" must be a number from %g to %g", n->key, n->min,
                      n->max);
  return 0;
}

/* A number setting: a JSON number, or a string that is one once its
 * variables are substituted. 1 with *out set; 0 when absent or refused
 * (reported; a value from the environment is shown only when it is a
 * number). */
static int server_number(lln_loader *L, const cJSON *server, const num_setting *n, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(server, n->key);
  if (!v)
    return 0;
  char path[64];
  snprintf(path, sizeof path, "/server/%s", n->key);
  double d = 0;
  if (!cJSON_IsString(v) && !cJSON_IsNumber(v)) {
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "\"%s\" must be a number from %g to %g (or a \"$VAR\" string holding one)", n->key,
                      n->min, n->max);
    return 0;
  }
  lln_buf names;
  lln_buf_init(&names);
  int ok = cJSON_IsNumber(v) ? (d = v->valuedouble, 1)
                             : number_from_string(L, v->valuestring, n, path, &d, &names);
  int in_range = d >= n->min && d <= n->max;
  if (ok && !in_range && names.len)
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "server: \"%s\" is %g (from %s); it must be a number from %g to %g: set %s to one",
                      n->key, d, names.data, n->min, n->max, names.data);
  else if (ok && !in_range)
    lln_loader_report(L, LLN_DIAG_ERROR, path, "\"%s\" must be a number from %g to %g", n->key, n->min,
                      n->max);
  lln_buf_free(&names);
  if (ok && in_range)
    *out = d;
  return ok && in_range;
}

/* Appends each origin of a comma- or blank-separated list. */
static void add_origins(lln_loader *L, lln_server_settings *s, const char *list, const char *path) {
  const char *p = list;
  while (*p) {
    p += strspn(p, ", \t");
    size_t n = strcspn(p, ", \t");
    if (!n)
      break;
    if (s->n_cors_origins >= LLN_SERVER_MAX_ORIGINS) {
      lln_loader_report(L, LLN_DIAG_ERROR, path, "\"cors\" lists more than %d origins",
                        LLN_SERVER_MAX_ORIGINS);
      return;
    }
    char *o = malloc(n + 1);
    if (!o)
      abort();
    memcpy(o, p, n);
    o[n] = '\0';
    s->cors_origins[s->n_cors_origins++] = o;
    p += n;
  }
}

/* "cors" written as a string ("$LLMNET_CORS"): "true" or "*" any origin,
 * "false" or "" none, else a comma-separated list of origins. */
static void load_cors_string(lln_loader *L, lln_server_settings *s, const char *v, const char *path) {
  const char *p = v + strspn(v, " \t");
  if (!*p || strcmp(p, "false") == 0)
    return;
  if (strcmp(p, "true") == 0 || strcmp(p, "*") == 0)
    s->cors_origins[s->n_cors_origins++] = lln_xstrdup("*");
  else
    add_origins(L, s, p, path);
}

static void load_allow_origins(lln_loader *L, lln_server_settings *s, const cJSON *cors) {
  const cJSON *origins = cJSON_GetObjectItemCaseSensitive(cors, "allow-origins");
  if (!origins) {
    s->cors_origins[s->n_cors_origins++] = lln_xstrdup("*");
    return;
  }
  if (cJSON_IsString(origins)) {
    char *v = server_string(L, cors, "allow-origins", "/server/cors");
    if (v)
      load_cors_string(L, s, v, "/server/cors/allow-origins");
    free(v);
    return;
  }
  if (!cJSON_IsArray(origins)) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/server/cors",
                      "\"allow-origins\" must be \"*\" or an array of origins");
    return;
  }
  const cJSON *o;
  size_t i = 0;
  cJSON_ArrayForEach(o, origins) {
    char path[64], what[64];
    snprintf(path, sizeof path, "/server/cors/allow-origins/%zu", i);
    snprintf(what, sizeof what, "server: cors allow-origins[%zu]", i++);
    if (!cJSON_IsString(o) || !*o->valuestring) {
      lln_loader_report(L, LLN_DIAG_ERROR, "/server/cors", "\"allow-origins\" holds origin strings");
      continue;
    }
    int resolved = 0;
    char *v = lln_loader_substitute_ok(L, o->valuestring, path, what, &resolved);
    if (resolved)
      add_origins(L, s, v, path);
    free(v);
  }
}

static void load_cors(lln_loader *L, const cJSON *server) {
  static const char *const known[] = {"allow-origins", NULL};
  lln_server_settings *s = &L->cfg->server;
  const cJSON *cors = cJSON_GetObjectItemCaseSensitive(server, "cors");
  if (!cors || cJSON_IsFalse(cors))
    return;
  s->cors_origins = calloc(LLN_SERVER_MAX_ORIGINS + 1, sizeof(char *));
  if (!s->cors_origins)
    abort();
  if (cJSON_IsTrue(cors)) {
    s->cors_origins[s->n_cors_origins++] = lln_xstrdup("*");
  } else if (cJSON_IsString(cors)) {
    char *v = server_string(L, server, "cors", "/server");
    if (v)
      load_cors_string(L, s, v, "/server/cors");
    free(v);
  } else if (cJSON_IsObject(cors)) {
    lln_loader_check_keys(L, cors, "/server/cors", known);
    load_allow_origins(L, s, cors);
  } else {
    lln_loader_report(L, LLN_DIAG_ERROR, "/server/cors",
                      "\"cors\" is true (any origin), {\"allow-origins\": [\"https://...\"]} or a "
                      "\"$VAR\" string holding \"true\", \"false\" or a comma-separated list of origins");
  }
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

static const num_setting NUMS[] = {
    {"workers", 0, 256},         {"max-body-bytes", 1024, 1024.0 * 1024 * 1024},
    {"max-concurrent", 0, 1e6},  {"request-timeout", 0.001, 86400},
    {"max-hops", 1, 100},        {"max-connections", 0, 1e6},
    {"shutdown-grace", 0, 3600}, {"write-timeout", 0.001, 3600},
    {"store-max-mib", 1, 65536}, {"drain-delay", 0, LLN_SERVER_MAX_DRAIN_DELAY_S}};

static void set_number(lln_server_settings *s, size_t i, double d) {
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
  case 9: s->drain_delay_ms = (long)(d * 1000); break;
  }
}

void lln_loader_server(lln_loader *L, const cJSON *server) {
  static const char *const known[] = {"workers",
                                      "api-keys",
                                      "cors",
                                      "max-body-bytes",
                                      "max-concurrent",
                                      "max-connections",
                                      "request-timeout",
                                      "shutdown-grace",
                                      "log-format",
                                      "max-hops",
                                      "rate-limit-store",
                                      "store",
                                      "store-max-mib",
                                      "write-timeout",
                                      "drain-delay",
                                      NULL};
  lln_server_settings *s = &L->cfg->server;
  s->workers = 0;
  s->max_body_bytes = 8 * 1024 * 1024;
  s->max_concurrent = 1024;
  s->max_connections = 10000;
  s->request_timeout_ms = 300000;
  s->shutdown_grace_ms = 30000;
  s->write_timeout_ms = 60000;
  s->drain_delay_ms = 0;
  s->max_hops = 10;
  if (!server)
    return;
  if (!cJSON_IsObject(server)) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/server", "\"server\" must be an object");
    return;
  }
  lln_loader_check_keys(L, server, "/server", known);
  for (size_t i = 0; i < sizeof NUMS / sizeof NUMS[0]; i++) {
    double d;
    if (server_number(L, server, &NUMS[i], &d))
      set_number(s, i, d);
  }
  load_cors(L, server);
  char *log_format = server_string(L, server, "log-format", "/server");
  if (log_format && strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) {
    lln_loader_report(L, LLN_DIAG_ERROR, "/server/log-format", "\"log-format\" is \"text\" or \"json\"");
    free(log_format);
  } else {
    s->log_format = log_format;
  }
  load_store(L, server, s);
  if (s->store_max_bytes && s->store && strcmp(s->store, "memory") != 0)
    lln_loader_report(
        L, LLN_DIAG_WARNING, "/server/store-max-mib",
        "\"store-max-mib\" bounds only the in-process store; a Redis store is bounded by the "
        "Redis server's own maxmemory: remove \"store-max-mib\" or set \"store\" to \"memory\"");
  load_api_keys(L, cJSON_GetObjectItemCaseSensitive(server, "api-keys"));
}
