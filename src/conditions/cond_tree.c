/* cond_tree: the parse tree of a condition: allocating, freeing and reading
 * literal nodes, and freeing a whole condition (lln_cond_free). */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "conditions/cond_int.h"

void *lln__cond_xmalloc(size_t n) {
  void *p = malloc(n);
  /* Same policy as util/buf: allocation failure is not survivable anyway. */
  if (!p)
    abort();
  return p;
}

char *lln__cond_xstrndup(const char *s, size_t n) {
  char *p = lln__cond_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

node *lln__cond_new_node(node_kind kind) {
  node *n = lln__cond_xmalloc(sizeof *n);
  memset(n, 0, sizeof *n);
  n->kind = kind;
  return n;
}

void lln__cond_free_node(node *n) {
  if (!n)
    return;
  switch (n->kind) {
  case N_VAR: free(n->u.var.name); break;
  case N_STR: free(n->u.str.s); break;
  case N_BOOL: break;
  case N_NOT: lln__cond_free_node(n->u.child); break;
  case N_AND:
  case N_OR:
    for (size_t i = 0; i < n->u.list.n; i++)
      lln__cond_free_node(n->u.list.v[i]);
    free(n->u.list.v);
    break;
  case N_CMP:
    lln__cond_free_node(n->u.cmp.l);
    lln__cond_free_node(n->u.cmp.r);
    if (n->u.cmp.re) {
      regfree(n->u.cmp.re);
      free(n->u.cmp.re);
    }
    break;
  }
  free(n);
}

const char *lln__cond_literal_text(const node *n) {
  if (n->kind == N_STR)
    return n->u.str.s;
  if (n->kind == N_BOOL)
    return n->u.b ? "true" : "false";
  return NULL;
}

void lln_cond_free(lln_cond *c) {
  if (!c)
    return;
  lln__cond_free_node(c->root);
  free(c);
}
