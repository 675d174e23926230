/* cond: lexer, recursive-descent parser and evaluator for "if" expressions.
 * Parsing does all the checking (including compiling literal regular
 * expressions) so that a bad condition fails `validate` with a column rather
 * than misrouting requests later. Evaluation only reads the tree. */
#include "conditions/cond.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "templates/template.h"

/* Bounds recursion in the parser and evaluator: a hostile or generated
 * condition must not be able to exhaust the stack. */
#define MAX_DEPTH 64

typedef enum { N_VAR, N_STR, N_BOOL, N_NOT, N_AND, N_OR, N_CMP } node_kind;
typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_CONTAINS, OP_MATCHES } cmp_op;

typedef struct node node;
struct node {
  node_kind kind;
  union {
    struct {
      char *name;
      size_t len;
    } var;
    struct {
      char *s;
      /* Literals are classified once here instead of on every request. */
      int is_num;
      double num;
    } str;
    int b;
    node *child;
    /* && and || are n-ary so a long chain is a flat loop, not a deep tree. */
    struct {
      node **v;
      size_t n;
    } list;
    struct {
      cmp_op op;
      node *l, *r;
      regex_t *re;       /* set when the pattern is a literal */
      int never_matches; /* a pattern bound at load that is unsafe or invalid */
    } cmp;
  } u;
};

struct lln_cond {
  node *root;
};

typedef enum {
  T_EOF,
  T_ERR,
  T_LPAREN,
  T_RPAREN,
  T_NOT,
  T_AND,
  T_OR,
  T_EQ,
  T_NE,
  T_LT,
  T_LE,
  T_GT,
  T_GE,
  T_CONTAINS,
  T_MATCHES,
  T_TRUE,
  T_FALSE,
  T_VAR,
  T_STR,
  T_NUM
} tok_kind;

typedef struct {
  tok_kind kind;
  size_t pos, len;
  size_t name_pos, name_len; /* T_VAR only */
} token;

typedef struct {
  const char *src;
  size_t len, pos;
  token tok, prev;
  int have_prev;
  int depth;
  int failed;
  char *err;
  size_t err_size;
  int err_col;
} parser;

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  /* Same policy as util/buf: allocation failure is not survivable anyway. */
  if (!p)
    abort();
  return p;
}

static char *xstrndup(const char *s, size_t n) {
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Only the first error is kept: later ones are usually consequences of it. */
__attribute__((format(printf, 3, 4))) static void fail(parser *p, size_t pos, const char *fmt, ...) {
  if (p->failed)
    return;
  p->failed = 1;
  p->err_col = (int)pos + 1;
  if (p->err && p->err_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->err_size, fmt, ap);
    va_end(ap);
  }
}

/* Describes a token for a message; long tokens are cut so one bad string
 * literal does not swamp the message. */
static const char *describe(const parser *p, const token *t, char *buf, size_t size) {
  if (t->kind == T_EOF)
    return "end of condition";
  if (t->len > 24)
    snprintf(buf, size, "'%.24s...'", p->src + t->pos);
  else
    snprintf(buf, size, "'%.*s'", (int)t->len, p->src + t->pos);
  return buf;
}

static int is_ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_ident(char c) { return is_ident_start(c) || is_digit(c); }

/* Decimal only: strtod alone would also take hex, "inf", "nan" and leading
 * blanks, which would turn header values like "nan" or " 7" into numbers. */
static int is_decimal(const char *s, size_t n) {
  size_t i = 0, digits = 0;
  if (i < n && (s[i] == '+' || s[i] == '-'))
    i++;
  while (i < n && is_digit(s[i]))
    i++, digits++;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && is_digit(s[i]))
      i++, digits++;
  }
  if (!digits)
    return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    if (i >= n || !is_digit(s[i]))
      return 0;
    while (i < n && is_digit(s[i]))
      i++;
  }
  return i == n;
}

static int parse_num(const char *s, double *out) {
  size_t n = strlen(s);
  if (!is_decimal(s, n))
    return 0;
  char *end;
  *out = strtod(s, &end);
  /* A locale with another decimal point would stop early: then it is text. */
  return end == s + n;
}

static void lex_word(parser *p, token *t) {
  static const struct {
    const char *word;
    tok_kind kind;
  } words[] = {{"contains", T_CONTAINS}, {"matches", T_MATCHES}, {"true", T_TRUE}, {"false", T_FALSE}};
  static const struct {
    const char *word, *op;
  } hints[] = {{"and", "&&"}, {"or", "||"}, {"not", "!"}, {"eq", "=="},       {"ne", "!="},       {"lt", "<"},
               {"le", "<="},  {"gt", ">"},  {"ge", ">="}, {"in", "contains"}, {"like", "matches"}};
  size_t i = t->pos;
  while (i < p->len && is_ident(p->src[i]))
    i++;
  t->len = i - t->pos;
  const char *w = p->src + t->pos;
  for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
    if (strlen(words[k].word) == t->len && memcmp(words[k].word, w, t->len) == 0) {
      t->kind = words[k].kind;
      return;
    }
  }
  t->kind = T_ERR;
  for (size_t k = 0; k < sizeof hints / sizeof hints[0]; k++) {
    if (strlen(hints[k].word) == t->len && strncasecmp(hints[k].word, w, t->len) == 0) {
      fail(p, t->pos, "unknown word '%.*s': did you mean '%s'?", (int)t->len, w, hints[k].op);
      return;
    }
  }
  fail(p, t->pos, "unknown word '%.*s': quote text (\"%.*s\") and write variables with '$' ($%.*s)",
       (int)t->len, w, (int)t->len, w, (int)t->len, w);
}

/* A variable reference is whatever the template engine's dollar syntax
 * takes (templates/template.h: "$NAME", "${NAME}", "$secrets.S.V"), so a
 * name means the same in a condition as in any other configuration string.
 * When no reference starts here, the same characters are looked at again
 * only to say what is wrong. */
static void lex_var(parser *p, token *t) {
  const char *s = p->src;
  size_t off, name_len, len = lln_tmpl_dollar_ref(s + t->pos, &off, &name_len);
  if (len) {
    t->kind = T_VAR;
    t->name_pos = t->pos + off;
    t->name_len = name_len;
    t->len = len;
    return;
  }
  t->kind = T_ERR;
  size_t i = t->pos + 1;
  int braced = i < p->len && s[i] == '{';
  if (braced)
    i++;
  if (i >= p->len || !is_ident_start(s[i])) {
    fail(p, t->pos, "expected a variable name after '%s' (a letter or '_', then letters, digits or '_')",
         braced ? "${" : "$");
    return;
  }
  size_t name = i;
  while (i < p->len && is_ident(s[i]))
    i++;
  if (i - name == 7 && strncmp(s + name, "secrets", 7) == 0) /* "secrets.S.V" is one name */
    while (i < p->len && (is_ident(s[i]) || s[i] == '.' || s[i] == '-'))
      i++;
  if (!braced || i - name > LLN_TMPL_MAX_NAME)
    fail(p, name, "variable name longer than %d bytes", LLN_TMPL_MAX_NAME);
  else
    fail(p, i, "expected '}' to close '${' at column %zu", t->pos + 1);
}

static void lex_string(parser *p, token *t) {
  char q = p->src[t->pos];
  size_t i = t->pos + 1;
  while (i < p->len && p->src[i] != q)
    i += p->src[i] == '\\' ? 2 : 1;
  if (i >= p->len) {
    t->kind = T_ERR;
    fail(p, t->pos, "unterminated string: add a closing %c", q);
    return;
  }
  t->kind = T_STR;
  t->len = i + 1 - t->pos;
}

static void lex_number(parser *p, token *t) {
  const char *s = p->src;
  size_t i = t->pos;
  if (s[i] == '-')
    i++;
  /* Take the whole run so "10abc" or "1.2.3" is reported as one bad number
   * rather than a number followed by a puzzling second token. */
  while (i < p->len && (is_ident(s[i]) || s[i] == '.' ||
                        ((s[i] == '+' || s[i] == '-') && i > t->pos && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
    i++;
  t->len = i - t->pos;
  if (t->len == 1 && s[t->pos] == '-') {
    t->kind = T_ERR;
    fail(p, t->pos, "'-' must be followed by a number");
    return;
  }
  if (!is_decimal(s + t->pos, t->len)) {
    t->kind = T_ERR;
    fail(p, t->pos, "invalid number '%.*s'", (int)t->len, s + t->pos);
    return;
  }
  t->kind = T_NUM;
}

static void lex(parser *p) {
  const char *s = p->src;
  while (p->pos < p->len && (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r'))
    p->pos++;
  token *t = &p->tok;
  memset(t, 0, sizeof *t);
  t->pos = p->pos;
  if (p->pos >= p->len) {
    t->kind = T_EOF;
    return;
  }
  char c = s[p->pos], d = p->pos + 1 < p->len ? s[p->pos + 1] : '\0';
  t->len = 1;
  switch (c) {
  case '(': t->kind = T_LPAREN; break;
  case ')': t->kind = T_RPAREN; break;
  case '!':
    t->kind = d == '=' ? T_NE : T_NOT;
    t->len = d == '=' ? 2 : 1;
    break;
  case '<':
    t->kind = d == '=' ? T_LE : T_LT;
    t->len = d == '=' ? 2 : 1;
    break;
  case '>':
    t->kind = d == '=' ? T_GE : T_GT;
    t->len = d == '=' ? 2 : 1;
    break;
  case '=':
    if (d == '=') {
      t->kind = T_EQ, t->len = 2;
    } else {
      t->kind = T_ERR;
      fail(p, t->pos,
           d == '~' ? "'=~' is not an operator: use 'matches'"
                    : "'=' is not an operator: use '==' to compare");
    }
    break;
  case '&':
  case '|':
    if (d == c) {
      t->kind = c == '&' ? T_AND : T_OR, t->len = 2;
    } else {
      t->kind = T_ERR;
      fail(p, t->pos, "'%c' is not an operator: use '%c%c'", c, c, c);
    }
    break;
  case '$': lex_var(p, t); break;
  case '"':
  case '\'': lex_string(p, t); break;
  default:
    if (is_ident_start(c))
      lex_word(p, t);
    else if (is_digit(c) || c == '-' || (c == '.' && is_digit(d)))
      lex_number(p, t);
    else if (c > ' ' && c < 0x7f)
      t->kind = T_ERR, fail(p, t->pos, "unexpected character '%c'", c);
    else
      t->kind = T_ERR, fail(p, t->pos, "unexpected byte 0x%02x", (unsigned char)c);
  }
  p->pos = t->pos + t->len;
}

static void advance(parser *p) {
  p->prev = p->tok;
  p->have_prev = 1;
  lex(p);
}

/* Unknown escapes keep their backslash so regular expressions such as
 * "^v1\.2" need no doubled backslashes. */
static char *decode_string(const char *s, size_t n) {
  char *out = xmalloc(n + 1), *o = out;
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

static node *new_node(node_kind kind) {
  node *n = xmalloc(sizeof *n);
  memset(n, 0, sizeof *n);
  n->kind = kind;
  return n;
}

static void free_node(node *n) {
  if (!n)
    return;
  switch (n->kind) {
  case N_VAR: free(n->u.var.name); break;
  case N_STR: free(n->u.str.s); break;
  case N_BOOL: break;
  case N_NOT: free_node(n->u.child); break;
  case N_AND:
  case N_OR:
    for (size_t i = 0; i < n->u.list.n; i++)
      free_node(n->u.list.v[i]);
    free(n->u.list.v);
    break;
  case N_CMP:
    free_node(n->u.cmp.l);
    free_node(n->u.cmp.r);
    if (n->u.cmp.re) {
      regfree(n->u.cmp.re);
      free(n->u.cmp.re);
    }
    break;
  }
  free(n);
}

static int is_cmp(tok_kind k) { return k >= T_EQ && k <= T_MATCHES; }

static int enter(parser *p, size_t pos) {
  if (++p->depth > MAX_DEPTH) {
    fail(p, pos, "condition is nested too deeply (more than %d levels of '(' and '!')", MAX_DEPTH);
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
      fail(p, p->tok.pos, "expected ')' to close '(' at column %zu, found %s", t.pos + 1,
           describe(p, &p->tok, buf, sizeof buf));
      free_node(n);
      return NULL;
    }
    p->depth--;
    advance(p);
    return n; /* parentheses only group, so "($X) == 1" compares $X itself */
  }
  case T_VAR:
    n = new_node(N_VAR);
    n->u.var.name = xstrndup(p->src + t.name_pos, t.name_len);
    n->u.var.len = t.name_len;
    break;
  case T_STR:
  case T_NUM:
    n = new_node(N_STR);
    n->u.str.s =
        t.kind == T_STR ? decode_string(p->src + t.pos + 1, t.len - 2) : xstrndup(p->src + t.pos, t.len);
    n->u.str.is_num = parse_num(n->u.str.s, &n->u.str.num);
    break;
  case T_TRUE:
  case T_FALSE:
    n = new_node(N_BOOL);
    n->u.b = t.kind == T_TRUE;
    break;
  case T_ERR: return NULL; /* the lexer already said why */
  default: {
    char buf[40], pbuf[40];
    if (t.kind == T_EOF && !p->have_prev)
      fail(p, t.pos, "empty condition");
    else if (p->have_prev)
      fail(p, t.pos, "expected a value after %s, found %s", describe(p, &p->prev, pbuf, sizeof pbuf),
           describe(p, &t, buf, sizeof buf));
    else
      fail(p, t.pos, "expected a value, found %s", describe(p, &t, buf, sizeof buf));
    return NULL;
  }
  }
  advance(p);
  return n;
}

static const char *literal_text(const node *n) {
  if (n->kind == N_STR)
    return n->u.str.s;
  if (n->kind == N_BOOL)
    return n->u.b ? "true" : "false";
  return NULL;
}

/* glibc's regcomp copies a repeated subexpression once per repetition, so
 * "a++++...+" or "(a{1,1000}){1,1000}" cost it gigabytes. A pattern is
 * refused unless its repetition stays linear: at most MAX_PATTERN bytes, no
 * quantifier applied to a quantified atom or to a group holding one, and
 * {m,n} bounds up to MAX_REPEAT. Returns NULL when the pattern is fine, else
 * why not. */
#define MAX_PATTERN 512
#define MAX_REPEAT 100

static const char *pattern_problem(const char *pat) {
  if (strlen(pat) > MAX_PATTERN)
    return "the pattern is longer than 512 bytes";
  int depth = 0;
  int group_has_quant[64] = {0};
  int prev_quantified = 0;  /* the atom before is already repeated */
  int prev_group_quant = 0; /* the atom before is a group holding a quantifier */
  for (const char *c = pat; *c; c++) {
    int quantifier = *c == '*' || *c == '+' || *c == '?' || *c == '{';
    if (quantifier) {
      if (prev_quantified || prev_group_quant)
        return "repetition of a repetition (such as a++ or (a+)*) is not allowed";
      if (*c == '{') {
        char *end;
        long lo = strtol(c + 1, &end, 10), hi = lo;
        if (*end == ',')
          hi = end[1] == '}' ? MAX_REPEAT + 1 : strtol(end + 1, &end, 10);
        if (lo > MAX_REPEAT || hi > MAX_REPEAT)
          return "a {m,n} bound above 100 is not allowed";
        const char *close = strchr(c, '}');
        if (close)
          c = close;
      }
      if (depth > 0)
        group_has_quant[depth < 64 ? depth : 63] = 1;
      prev_quantified = 1;
      prev_group_quant = 0;
      continue;
    }
    prev_quantified = 0;
    prev_group_quant = 0;
    if (*c == '\\' && c[1]) {
      c++;
    } else if (*c == '[') {
      /* a bracket expression is one atom; ']' first is a literal */
      const char *e = c + 1;
      if (*e == '^')
        e++;
      if (*e == ']')
        e++;
      while (*e && *e != ']')
        e++;
      c = *e ? e : e - 1;
    } else if (*c == '(') {
      if (++depth >= 64)
        return "the pattern nests too deeply";
      group_has_quant[depth] = 0;
    } else if (*c == ')' && depth > 0) {
      prev_group_quant = group_has_quant[depth];
      depth--;
      if (prev_group_quant && depth > 0)
        group_has_quant[depth] = 1;
    }
  }
  return NULL;
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
    free_node(l);
    return NULL;
  }
  node *n = new_node(N_CMP);
  n->u.cmp.op = (cmp_op)(op.kind - T_EQ);
  n->u.cmp.l = l;
  n->u.cmp.r = r;
  if (is_cmp(p->tok.kind)) {
    fail(p, p->tok.pos, "comparisons cannot be chained: join them with '&&' or '||'");
    free_node(n);
    return NULL;
  }
  const char *pattern = literal_text(r);
  if (n->u.cmp.op == OP_MATCHES && pattern) {
    const char *problem = pattern_problem(pattern);
    if (problem) {
      fail(p, rpos, "unsafe regular expression: %s", problem);
      free_node(n);
      return NULL;
    }
    n->u.cmp.re = xmalloc(sizeof(regex_t));
    int rc = regcomp(n->u.cmp.re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char msg[128];
      regerror(rc, n->u.cmp.re, msg, sizeof msg);
      /* regcomp leaves nothing to regfree on failure. */
      free(n->u.cmp.re);
      n->u.cmp.re = NULL;
      fail(p, rpos, "invalid regular expression: %s", msg);
      free_node(n);
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
    fail(p, p->tok.pos,
         "'!' at column %zu applies only to the value right after it: write '!(a %.*s b)' to negate the "
         "comparison",
         bang.pos + 1, (int)p->tok.len, p->src + p->tok.pos);
    free_node(child);
    return NULL;
  }
  p->depth--;
  node *n = new_node(N_NOT);
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
  node *list = new_node(kind);
  size_t cap = 0;
  list_push(list, first, &cap);
  while (p->tok.kind == op) {
    advance(p);
    node *next = operand(p);
    if (!next) {
      free_node(list);
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
  lex(&p);
  node *root = parse_or(&p);
  if (root && p.tok.kind != T_EOF) {
    char buf[40];
    if (p.tok.kind == T_RPAREN)
      fail(&p, p.tok.pos, "unmatched ')'");
    else
      fail(&p, p.tok.pos, "expected '&&', '||' or end of condition, found %s",
           describe(&p, &p.tok, buf, sizeof buf));
  }
  if (p.failed || !root) {
    free_node(root);
    if (err_col)
      *err_col = p.err_col;
    return -1;
  }
  lln_cond *c = xmalloc(sizeof *c);
  c->root = root;
  *out = c;
  if (err_col)
    *err_col = 0;
  return 0;
}

/* ---- binding load-time values ---- */

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
  const char *pattern = literal_text(n->u.cmp.r);
  if (n->u.cmp.op != OP_MATCHES || n->u.cmp.re || !pattern)
    return;
  regex_t *re = xmalloc(sizeof *re);
  if (pattern_problem(pattern) || regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
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
    n->u.str.s = xstrndup(value, strlen(value));
    n->u.str.is_num = parse_num(n->u.str.s, &n->u.str.num);
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

/* ---- evaluation ---- */

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
  return parse_num(text, out);
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
    if (pattern_problem(b) || regcomp(&re, b, REG_EXTENDED | REG_NOSUB) != 0)
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

void lln_cond_free(lln_cond *c) {
  if (!c)
    return;
  free_node(c->root);
  free(c);
}
