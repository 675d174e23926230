/* cond: the expression language of "if" fields: parse once at load, evaluate
 * per request. A parsed condition is immutable, so many threads may evaluate
 * the same one at once.
 *
 * Grammar, loosest binding first (docs/CONFIG.md "Conditions"):
 *   or     := and ('||' and)*
 *   and    := unary ('&&' unary)*
 *   unary  := '!' unary | cmp        '!' takes only the value right after it;
 *                                    '!$A == $B' is rejected, write '!($A == $B)'
 *   cmp    := value [op value]       op: == != < <= > >= contains matches;
 *                                    comparisons do not chain
 *   value  := '(' or ')' | $NAME | ${NAME} | $secrets.S.V | "str" | 'str' | number
 *             | true | false
 *
 * A variable reference is the template engine's ("dollar" syntax,
 * templates/template.h, lln_tmpl_dollar_ref): names mean the same as in any
 * other configuration string. Quoted strings are literal text: "$INPUT" in
 * quotes is those six characters, so no text is ever scanned for variables
 * while a request is evaluated; a variable's value is only ever compared.
 *
 * Truth of a lone value: a variable when set and non-empty, a string or number
 * literal when non-empty, true/false as written. As a comparison operand an
 * unset variable is "", and a parenthesised logical expression is "true" or
 * "false". Ordering and equality are numeric when both sides are entirely
 * decimal numbers, else byte-wise (strcmp). */
#ifndef LLN_COND_H
#define LLN_COND_H

#include <stddef.h>

#include "templates/template.h"

typedef struct lln_cond lln_cond;

/* Looks up a variable by name (without '$'); returns NULL when unset. */
typedef const char *(*lln_cond_lookup)(void *ctx, const char *name, size_t name_len);

/* Parses `src`. On error returns -1, writes a message a user can act on to
 * `err` (may be NULL) and the 1-based byte column in `src` to *err_col (may be
 * NULL). On success returns 0 and stores the condition in *out. */
int lln_cond_parse(const char *src, lln_cond **out, char *err, size_t err_size, int *err_col);
/* Binds load-time values, once, after parsing: every variable reference is
 * offered to `binder` (the template engine's contract). LLN_TMPL_VALUE makes
 * it the string literal *value (classified as a number, compiled as a
 * `matches` pattern, never scanned for variables); LLN_TMPL_KEEP leaves it a
 * request variable; LLN_TMPL_MISSING leaves it too (unset, so "") and is
 * counted. Returns how many were missing, the first one's name copied to
 * `missing` (may be NULL). */
int lln_cond_bind(lln_cond *c, lln_tmpl_binder binder, void *ctx, char *missing, size_t missing_size);
/* Returns 1 when the condition holds, 0 when not. */
int lln_cond_eval(const lln_cond *c, lln_cond_lookup lookup, void *ctx);
void lln_cond_free(lln_cond *c);

#endif
