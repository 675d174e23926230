/* subst: load-time value substitution of "$NAME", "${NAME}" and
 * "$secrets.SECRET.VAR" inside configuration strings ("$$" is a literal $). */
#ifndef LLN_CONFIG_SUBST_H
#define LLN_CONFIG_SUBST_H

#include <stddef.h>

#include "util/buf.h"

/* Resolves a reference: `name` is "NAME" or "secrets.SECRET.VAR". Returns
 * NULL when it is not set. */
typedef const char *(*lln_subst_lookup)(void *ctx, const char *name);

/* Appends `in` with every reference replaced to `out`. Returns 0, or -1
 * with the first unresolved reference copied into `missing` (then the
 * reference is left as written in `out`). */
int lln_subst(const char *in, lln_subst_lookup lookup, void *ctx, lln_buf *out, char *missing,
              size_t missing_size);

/* 1 when `in` contains at least one reference. */
int lln_subst_has_ref(const char *in);

#endif
