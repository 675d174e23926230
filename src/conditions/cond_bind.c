/* cond_bind: lln_cond_bind, which replaces variable references with their
 * load-time values once after parsing, and compiles a `matches` pattern that
 * became a literal that way. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conditions/cond_int.h"

typedef struct {
  lln_tmpl_binder binder;
  void *ctx;
  char *missing;
  size_t missing_size;
  int n_missing;
} binding;

/* A pattern that became a literal at bind is compiled now, once, like one
 * written in the condition; one that is unsafe or does not compile never
 * matches (as a bad pattern from a request variable), without a regcomp
 * per request. */
static void bind_pattern(node *n) {
  const char *pattern = lln__cond_literal_text(n->u.cmp.r);
  if (n->u.cmp.op != OP_MATCHES || n->u.cmp.re || !pattern)
    return;
  regex_t *re = lln__cond_xmalloc(sizeof *re);
  if (lln__cond_pattern_problem(pattern) || regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
    free(re);
    n->u.cmp.never_matches = 1;
    return;
  }
  n->u.cmp.re = re;
}

static void bind_var(node *n, binding *b) {
  const char *value = NULL;
  lln_tmpl_bind_result r = b->binder(b->ctx, n->u.var.name, &value);
  if (r == LLN_TMPL_VALUE && value) {
    /* the value becomes a string literal: compared, never scanned */
    free(n->u.var.name);
    n->kind = N_STR;
    n->u.str.s = lln__cond_xstrndup(value, strlen(value));
    n->u.str.is_num = lln__cond_parse_num(n->u.str.s, &n->u.str.num);
  } else if (r != LLN_TMPL_KEEP) {
    if (b->n_missing++ == 0 && b->missing && b->missing_size)
      snprintf(b->missing, b->missing_size, "%s", n->u.var.name);
  }
}

/* The tree is at most MAX_DEPTH deep (the parser refused deeper). */
static void bind_node(node *n, binding *b) {
  switch (n->kind) {
  case N_VAR: bind_var(n, b); break;
  case N_STR:
  case N_BOOL: break;
  case N_NOT: bind_node(n->u.child, b); break;
  case N_AND:
  case N_OR:
    for (size_t i = 0; i < n->u.list.n; i++)
      bind_node(n->u.list.v[i], b);
    break;
  case N_CMP:
    bind_node(n->u.cmp.l, b);
    bind_node(n->u.cmp.r, b);
    bind_pattern(n);
    break;
  }
}

int lln_cond_bind(lln_cond *c, lln_tmpl_binder binder, void *ctx, char *missing, size_t missing_size) {
  if (missing && missing_size)
    missing[0] = '\0';
  if (!c || !binder)
    return 0;
  binding b = {binder, ctx, missing, missing_size, 0};
  bind_node(c->root, &b);
  return b.n_missing;
}
