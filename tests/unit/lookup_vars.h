/* lookup_vars: a table of variables ({name, value} pairs ending in
 * {NULL, NULL}) and the lookup by a name given with its length, the way
 * templates and hook functions ask for $NAME. For unit tests. */
#ifndef LLN_TEST_LOOKUP_VARS_H
#define LLN_TEST_LOOKUP_VARS_H

#include <stddef.h>
#include <string.h>

typedef struct {
  const char *name, *value;
} var;

/* The value of `name` (len bytes, not NUL-terminated) in `vars`, or NULL. */
static inline const char *var_find(const var *vars, const char *name, size_t len) {
  for (const var *v = vars; v->name; v++)
    if (strlen(v->name) == len && memcmp(v->name, name, len) == 0)
      return v->value;
  return NULL;
}

/* var_find as a lookup callback: ctx is the table. */
static inline const char *var_lookup(void *ctx, const char *name, size_t len) {
  return var_find(ctx, name, len);
}

#endif
