/* cond_int.h: what the condition language's files share inside the
 * conditions module: the parse tree, the lexer's tokens and parser state, and
 * the helpers more than one stage calls (the lexer, the node tree, pattern
 * checking). Nothing outside src/conditions includes it; the API is cond.h. */
#ifndef LLN_COND_INT_H
#define LLN_COND_INT_H

#include <regex.h>
#include <stddef.h>

#include "conditions/cond.h"

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

/* Allocation failure is not survivable (same policy as util/buf): these abort. */
void *lln__cond_xmalloc(size_t n);
char *lln__cond_xstrndup(const char *s, size_t n);

/* The tree (cond_tree.c). */
node *lln__cond_new_node(node_kind kind);
void lln__cond_free_node(node *n);
/* The text of a string or boolean literal, else NULL. */
const char *lln__cond_literal_text(const node *n);

/* The lexer (cond_lex.c). */
/* Records the first error at byte `pos` of the source; later ones are dropped. */
__attribute__((format(printf, 3, 4))) void lln__cond_fail(parser *p, size_t pos, const char *fmt, ...);
/* Describes a token for a message, in `buf` or a constant. */
const char *lln__cond_describe(const parser *p, const token *t, char *buf, size_t size);
/* Reads the next token into p->tok. */
void lln__cond_lex(parser *p);
/* Stores the value of `s` in *out and returns 1 when `s` is entirely a
 * decimal number, else returns 0. */
int lln__cond_parse_num(const char *s, double *out);

/* Patterns of `matches` (cond_pattern.c). */
/* Returns NULL when the pattern is safe to compile, else why not. */
const char *lln__cond_pattern_problem(const char *pat);

#endif
