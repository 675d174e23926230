/* cond_parse: the recursive-descent parser of "if" conditions (grammar in
 * cond.h). Parsing does all the checking, including compiling literal regular
 * expressions, so that a bad condition fails `validate` with a column rather
 * than misrouting requests later. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conditions/cond_int.h"

static void advance(parser *p) {
  p->prev = p->tok;
  p->have_prev = 1;
  lln__cond_lex(p);
}

/* Unknown escapes keep their backslash so regular expressions such as
 * "^v1\.2" need no doubled backslashes. */
static char *decode_string(const char *s, size_t n) {
  char *out = lln__cond_xmalloc(n + 1), *o = out;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\\' || i + 1 >= n) {
      *o++ = s[i];
      continue;
    }
    char e = s[++i];
    switch (e) {
    case '\\':
    case '"':
    case '\'': *o++ = e; break;
    case 'n': *o++ = '\n'; break;
    case 't': *o++ = '\t'; break;
    default: *o++ = '\\', *o++ = e;
    }
  }
  *o = '\0';
  return out;
}

static int is_cmp(tok_kind k) { return k >= T_EQ && k <= T_MATCHES; }

static int enter(parser *p, size_t pos) {
  if (++p->depth > MAX_DEPTH) {
    lln__cond_fail(p, pos, "condition is nested too deeply (more than %d levels of '(' and '!')", MAX_DEPTH);
    return 0;
  }
  return 1;
}

static node *parse_or(parser *p);

static node *parse_value(parser *p) {
  token t = p->tok;
  node *n;
  switch (t.kind) {
  case T_LPAREN: {
    if (!enter(p, t.pos))
      return NULL;
    advance(p);
    n = parse_or(p);
    if (!n)
      return NULL;
    if (p->tok.kind != T_RPAREN) {
      char buf[40];
      lln__cond_fail(p, p->tok.pos, "expected ')' to close '(' at column %zu, found %s", t.pos + 1,
                     lln__cond_describe(p, &p->tok, buf, sizeof buf));
      lln__cond_free_node(n);
      return NULL;
    }
    p->depth--;
    advance(p);
    return n; /* parentheses only group, so "($X) == 1" compares $X itself */
  }
  case T_VAR:
    n = lln__cond_new_node(N_VAR);
    n->u.var.name = lln__cond_xstrndup(p->src + t.name_pos, t.name_len);
    n->u.var.len = t.name_len;
    break;
  case T_STR:
  case T_NUM:
    n = lln__cond_new_node(N_STR);
    n->u.str.s = t.kind == T_STR ? decode_string(p->src + t.pos + 1, t.len - 2)
                                 : lln__cond_xstrndup(p->src + t.pos, t.len);
    n->u.str.is_num = lln__cond_parse_num(n->u.str.s, &n->u.str.num);
    break;
  case T_TRUE:
  case T_FALSE:
    n = lln__cond_new_node(N_BOOL);
    n->u.b = t.kind == T_TRUE;
    break;
  case T_ERR: return NULL; /* the lexer already said why */
  default: {
    char buf[40], pbuf[40];
    if (t.kind == T_EOF && !p->have_prev)
      lln__cond_fail(p, t.pos, "empty condition");
    else if (p->have_prev)
      lln__cond_fail(p, t.pos, "expected a value after %s, found %s",
                     lln__cond_describe(p, &p->prev, pbuf, sizeof pbuf),
                     lln__cond_describe(p, &t, buf, sizeof buf));
    else
      lln__cond_fail(p, t.pos, "expected a value, found %s", lln__cond_describe(p, &t, buf, sizeof buf));
    return NULL;
  }
  }
  advance(p);
  return n;
}

static node *parse_cmp(parser *p) {
  node *l = parse_value(p);
  if (!l || !is_cmp(p->tok.kind))
    return l;
  token op = p->tok;
  advance(p);
  size_t rpos = p->tok.pos;
  node *r = parse_value(p);
  if (!r) {
    lln__cond_free_node(l);
    return NULL;
  }
  node *n = lln__cond_new_node(N_CMP);
  n->u.cmp.op = (cmp_op)(op.kind - T_EQ);
  n->u.cmp.l = l;
  n->u.cmp.r = r;
  if (is_cmp(p->tok.kind)) {
    lln__cond_fail(p, p->tok.pos, "comparisons cannot be chained: join them with '&&' or '||'");
    lln__cond_free_node(n);
    return NULL;
  }
  const char *pattern = lln__cond_literal_text(r);
  if (n->u.cmp.op == OP_MATCHES && pattern) {
    const char *problem = lln__cond_pattern_problem(pattern);
    if (problem) {
      lln__cond_fail(p, rpos, "unsafe regular expression: %s", problem);
      lln__cond_free_node(n);
      return NULL;
    }
    n->u.cmp.re = lln__cond_xmalloc(sizeof(regex_t));
    int rc = regcomp(n->u.cmp.re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char msg[128];
      regerror(rc, n->u.cmp.re, msg, sizeof msg);
      /* regcomp leaves nothing to regfree on failure. */
      free(n->u.cmp.re);
      n->u.cmp.re = NULL;
      lln__cond_fail(p, rpos, "invalid regular expression: %s", msg);
      lln__cond_free_node(n);
      return NULL;
    }
  }
  return n;
}

static node *parse_unary(parser *p) {
  if (p->tok.kind != T_NOT)
    return parse_cmp(p);
  token bang = p->tok;
  if (!enter(p, bang.pos))
    return NULL;
  advance(p);
  node *child = p->tok.kind == T_NOT ? parse_unary(p) : parse_value(p);
  if (!child)
    return NULL;
  /* '!' binds tighter than comparisons, yet "!$A == $B" nearly always means
   * "not equal": rather than silently compare "true"/"false", make the
   * author say which one they meant. */
  if (is_cmp(p->tok.kind)) {
    lln__cond_fail(
        p, p->tok.pos,
        "'!' at column %zu applies only to the value right after it: write '!(a %.*s b)' to negate the "
        "comparison",
        bang.pos + 1, (int)p->tok.len, p->src + p->tok.pos);
    lln__cond_free_node(child);
    return NULL;
  }
  p->depth--;
  node *n = lln__cond_new_node(N_NOT);
  n->u.child = child;
  return n;
}

static void list_push(node *list, node *item, size_t *cap) {
  if (list->u.list.n == *cap) {
    *cap = *cap ? *cap * 2 : 4;
    node **v = realloc(list->u.list.v, *cap * sizeof *v);
    if (!v)
      abort();
    list->u.list.v = v;
  }
  list->u.list.v[list->u.list.n++] = item;
}

static node *parse_chain(parser *p, tok_kind op, node_kind kind, node *(*operand)(parser *)) {
  node *first = operand(p);
  if (!first || p->tok.kind != op)
    return first;
  node *list = lln__cond_new_node(kind);
  size_t cap = 0;
  list_push(list, first, &cap);
  while (p->tok.kind == op) {
    advance(p);
    node *next = operand(p);
    if (!next) {
      lln__cond_free_node(list);
      return NULL;
    }
    list_push(list, next, &cap);
  }
  return list;
}

static node *parse_and(parser *p) { return parse_chain(p, T_AND, N_AND, parse_unary); }
static node *parse_or(parser *p) { return parse_chain(p, T_OR, N_OR, parse_and); }

int lln_cond_parse(const char *src, lln_cond **out, char *err, size_t err_size, int *err_col) {
  parser p;
  memset(&p, 0, sizeof p);
  p.src = src ? src : "";
  p.len = strlen(p.src);
  p.err = err;
  p.err_size = err_size;
  if (err && err_size)
    err[0] = '\0';
  *out = NULL;
  lln__cond_lex(&p);
  node *root = parse_or(&p);
  if (root && p.tok.kind != T_EOF) {
    char buf[40];
    if (p.tok.kind == T_RPAREN)
      lln__cond_fail(&p, p.tok.pos, "unmatched ')'");
    else
      lln__cond_fail(&p, p.tok.pos, "expected '&&', '||' or end of condition, found %s",
                     lln__cond_describe(&p, &p.tok, buf, sizeof buf));
  }
  if (p.failed || !root) {
    lln__cond_free_node(root);
    if (err_col)
      *err_col = p.err_col;
    return -1;
  }
  lln_cond *c = lln__cond_xmalloc(sizeof *c);
  c->root = root;
  *out = c;
  if (err_col)
    *err_col = 0;
  return 0;
}
