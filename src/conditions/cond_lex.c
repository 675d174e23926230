/* cond_lex: the lexer of "if" conditions: turns the source into tokens one at
 * a time for the parser, and says what is wrong (with a column) when a word,
 * variable, string, number or operator is not one the language has. Also the
 * language's notion of a decimal number, shared with the evaluator. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conditions/cond_int.h"
#include "templates/template.h"

/* Only the first error is kept: later ones are usually consequences of it. */
void lln__cond_fail(parser *p, size_t pos, const char *fmt, ...) {
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
const char *lln__cond_describe(const parser *p, const token *t, char *buf, size_t size) {
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

int lln__cond_parse_num(const char *s, double *out) {
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
      lln__cond_fail(p, t->pos, "unknown word '%.*s': did you mean '%s'?", (int)t->len, w, hints[k].op);
      return;
    }
  }
  lln__cond_fail(p, t->pos, "unknown word '%.*s': quote text (\"%.*s\") and write variables with '$' ($%.*s)",
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
    lln__cond_fail(p, t->pos,
                   "expected a variable name after '%s' (a letter or '_', then letters, digits or '_')",
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
    lln__cond_fail(p, name, "variable name longer than %d bytes", LLN_TMPL_MAX_NAME);
  else
    lln__cond_fail(p, i, "expected '}' to close '${' at column %zu", t->pos + 1);
}

static void lex_string(parser *p, token *t) {
  char q = p->src[t->pos];
  size_t i = t->pos + 1;
  while (i < p->len && p->src[i] != q)
    i += p->src[i] == '\\' ? 2 : 1;
  if (i >= p->len) {
    t->kind = T_ERR;
    lln__cond_fail(p, t->pos, "unterminated string: add a closing %c", q);
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
    lln__cond_fail(p, t->pos, "'-' must be followed by a number");
    return;
  }
  if (!is_decimal(s + t->pos, t->len)) {
    t->kind = T_ERR;
    lln__cond_fail(p, t->pos, "invalid number '%.*s'", (int)t->len, s + t->pos);
    return;
  }
  t->kind = T_NUM;
}

void lln__cond_lex(parser *p) {
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
      lln__cond_fail(p, t->pos,
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
      lln__cond_fail(p, t->pos, "'%c' is not an operator: use '%c%c'", c, c, c);
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
      t->kind = T_ERR, lln__cond_fail(p, t->pos, "unexpected character '%c'", c);
    else
      t->kind = T_ERR, lln__cond_fail(p, t->pos, "unexpected byte 0x%02x", (unsigned char)c);
  }
  p->pos = t->pos + t->len;
}
