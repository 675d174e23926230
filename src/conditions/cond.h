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
 *   value  := '(' or ')' | $NAME | ${NAME} | "str" | 'str' | number | true | false
 *
 * Truth of a lone value: a variable when set and non-empty, a string or number
 * literal when non-empty, true/false as written. As a comparison operand an
 * unset variable is "", and a parenthesised logical expression is "true" or
 * "false". Ordering and equality are numeric when both sides are entirely
 * decimal numbers, else byte-wise (strcmp). */
#ifndef LLN_COND_H
#define LLN_COND_H

#include <stddef.h>

typedef struct lln_cond lln_cond;

/* Looks up a variable by name (without '$'); returns NULL when unset. */
typedef const char *(*lln_cond_lookup)(void *ctx, const char *name, size_t name_len);

/* Parses `src`. On error returns -1, writes a message a user can act on to
 * `err` (may be NULL) and the 1-based byte column in `src` to *err_col (may be
 * NULL). On success returns 0 and stores the condition in *out. */
int lln_cond_parse(const char *src, lln_cond **out, char *err, size_t err_size, int *err_col);
/* Returns 1 when the condition holds, 0 when not. */
int lln_cond_eval(const lln_cond *c, lln_cond_lookup lookup, void *ctx);
void lln_cond_free(lln_cond *c);

#endif
