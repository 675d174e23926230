/* xalloc: the one copy of the abort-on-failure string helpers and string
 * vectors (a child's environment among them). */
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

char *lln_xstrdup(const char *s) {
  char *p = strdup(s ? s : "");
  if (!p)
    abort();
  return p;
}

void lln_strv_free(char **v) {
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

extern char **environ;

/* The length of the name of "NAME=value" (all of it without '='). */
static size_t name_len(const char *entry) {
  const char *eq = strchr(entry, '=');
  return eq ? (size_t)(eq - entry) : strlen(entry);
}

static int named_in(const char *entry, char *const *own, size_t n) {
  size_t len = name_len(entry);
  for (size_t i = 0; i < n; i++)
    if (name_len(own[i]) == len && memcmp(entry, own[i], len) == 0)
      return 1;
  return 0;
}

char **lln_strv_env_with(char **own, size_t n) {
  size_t n_env = 0;
  while (environ[n_env])
    n_env++;
  char **env = calloc(n_env + n + 1, sizeof *env);
  if (!env)
    abort();
  size_t k = 0;
  for (size_t i = 0; i < n_env; i++)
    if (!named_in(environ[i], own, n))
      env[k++] = lln_xstrdup(environ[i]);
  for (size_t i = 0; i < n; i++)
    env[k++] = own[i];
  return env;
}
