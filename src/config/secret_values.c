/* secret_values: walking a composition for the values the scrubber must
 * hide. A header value is a secret unless its name is one of the plainly
 * descriptive ones below, so a custom "X-Api-Token" is covered without a
 * list of every provider's naming. */
#include "config/secret_values_int.h"

#include <string.h>
#include <strings.h>

#include "util/secrets.h"

static int descriptive_header(const char *line) {
  static const char *const names[] = {
      "content-type",   "accept",     "accept-encoding", "user-agent", "http-referer", "referer", "x-title",
      "content-length", "connection", "origin",          NULL};
  const char *colon = strchr(line, ':');
  size_t n = colon ? (size_t)(colon - line) : strlen(line);
  for (const char *const *p = names; *p; p++)
    if (strlen(*p) == n && strncasecmp(line, *p, n) == 0)
      return 1;
  return 0;
}

static void add_headers(char *const *headers) {
  for (char *const *h = headers; h && *h; h++)
    if (!descriptive_header(*h))
      lln_secrets_add_header(*h);
}

static int credential_name(const char *entry) {
  static const char *const words[] = {"KEY", "TOKEN", "SECRET", "PASSWORD", "PASS", "AUTH", NULL};
  const char *eq = strchr(entry, '=');
  size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
  for (const char *const *w = words; *w; w++) {
    size_t wl = strlen(*w);
    for (size_t i = 0; i + wl <= n; i++)
      if (strncasecmp(entry + i, *w, wl) == 0)
        return 1;
  }
  return 0;
}

/* Query parameters of a URL whose names say they carry a credential
 * ("?key=...", "&access_token=..."): their values are secrets. */
static void add_url_credentials(const char *url) {
  const char *q = url ? strchr(url, '?') : NULL;
  while (q && *q) {
    const char *param = q + 1;
    const char *end = param + strcspn(param, "&#");
    const char *eq = memchr(param, '=', (size_t)(end - param));
    if (eq && eq + 1 < end) {
      char name[64];
      size_t n = (size_t)(eq - param) < sizeof name - 1 ? (size_t)(eq - param) : sizeof name - 1;
      memcpy(name, param, n);
      name[n] = '\0';
      if (credential_name(name))
        lln_secrets_add(eq + 1, (size_t)(end - eq - 1));
    }
    q = *end == '&' ? end : NULL;
  }
}

void lln_config_register_secrets(const lln_config *cfg) {
  for (size_t i = 0; i < cfg->n_models; i++) {
    const lln_model *m = &cfg->models[i];
    if (m->api_key)
      lln_secrets_add(m->api_key, strlen(m->api_key));
    add_headers(m->headers);
    add_url_credentials(m->chat_url);
  }
  for (size_t i = 0; i < cfg->n_secrets; i++)
    if (cfg->secrets[i].value)
      lln_secrets_add(cfg->secrets[i].value, strlen(cfg->secrets[i].value));
  for (size_t i = 0; i < cfg->server.n_api_keys; i++)
    lln_secrets_add(cfg->server.api_keys[i], strlen(cfg->server.api_keys[i]));
  for (size_t i = 0; i < cfg->n_functions; i++) {
    const lln_function *f = &cfg->functions[i];
    add_headers(f->headers);
    add_url_credentials(f->url);
    for (char *const *e = f->env; e && *e; e++) {
      const char *eq = strchr(*e, '=');
      if (eq && credential_name(*e))
        lln_secrets_add(eq + 1, strlen(eq + 1));
    }
  }
}
