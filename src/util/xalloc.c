/* xalloc: the one copy of the abort-on-failure string helpers. */
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
