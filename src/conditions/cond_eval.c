/* cond_eval: lln_cond_eval, the per-request evaluation of a parsed condition.
 * It only reads the tree, so many threads may evaluate one condition at once. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "conditions/cond_int.h"

typedef struct {
  lln_cond_lookup lookup;
  void *ctx;
} env;

static const char *lookup_var(const env *e, const node *n) {
  const char *v = e->lookup ? e->lookup(e->ctx, n->u.var.name, n->u.var.len) : NULL;
  return v ? v : "";
}

static int truth(const node *n, const env *e);

/* The text a node stands for as a comparison operand. */
static const char *value_of(const node *n, const env *e) {
  switch (n->kind) {
  case N_VAR: return lookup_var(e, n);
  case N_STR: return n->u.str.s;
  default: return truth(n, e) ? "true" : "false";
  }
}

static int number_of(const node *n, const char *text, double *out) {
  if (n->kind == N_STR) {
    *out = n->u.str.num;
    return n->u.str.is_num;
  }
  return lln__cond_parse_num(text, out);
}

static int eval_cmp(const node *n, const env *e) {
  const node *l = n->u.cmp.l, *r = n->u.cmp.r;
  const char *a = value_of(l, e), *b = value_of(r, e);
  switch (n->u.cmp.op) {
  case OP_CONTAINS: return strstr(a, b) != NULL;
  case OP_MATCHES: {
    if (n->u.cmp.never_matches)
      return 0;
    if (n->u.cmp.re)
      return regexec(n->u.cmp.re, a, 0, NULL, 0) == 0;
    /* A pattern from a variable can only be checked now; a bad one must not
     * make the condition hold. */
    regex_t re;
    if (lln__cond_pattern_problem(b) || regcomp(&re, b, REG_EXTENDED | REG_NOSUB) != 0)
      return 0;
    int ok = regexec(&re, a, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
  }
  default: break;
  }
  double x, y;
  int c;
  if (number_of(l, a, &x) && number_of(r, b, &y))
    c = (x > y) - (x < y);
  else
    c = strcmp(a, b);
  switch (n->u.cmp.op) {
  case OP_EQ: return c == 0;
  case OP_NE: return c != 0;
  case OP_LT: return c < 0;
  case OP_LE: return c <= 0;
  case OP_GT: return c > 0;
  case OP_GE: return c >= 0;
  default: return 0;
  }
}

static int truth(const node *n, const env *e) {
  switch (n->kind) {
  case N_VAR: return lookup_var(e, n)[0] != '\0';
  case N_STR: return n->u.str.s[0] != '\0';
  case N_BOOL: return n->u.b;
  case N_NOT: return !truth(n->u.child, e);
  case N_AND:
    for (size_t i = 0; i < n->u.list.n; i++)
      if (!truth(n->u.list.v[i], e))
        return 0;
    return 1;
  case N_OR:
    for (size_t i = 0; i < n->u.list.n; i++)
      if (truth(n->u.list.v[i], e))
        return 1;
    return 0;
  case N_CMP: return eval_cmp(n, e);
  }
  return 0;
}

int lln_cond_eval(const lln_cond *c, lln_cond_lookup lookup, void *ctx) {
  if (!c)
    return 0;
  env e = {lookup, ctx};
  return truth(c->root, &e);
}
