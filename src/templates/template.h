/* template: the one grammar for variables in configuration strings,
 * compiled once, at load, into segments: literal text and variable
 * references.
 *
 * Grammar ("dollar" syntax): "$NAME" and "${NAME}" reference NAME, a whole
 * identifier ([A-Za-z_][A-Za-z0-9_]*, so "$KEY_ID" never means "$KEY");
 * "$secrets.S.V" (or "${secrets.S.V}") is one name, its two parts may hold
 * '-'; "$$" is a literal '$'; a '$' that starts no reference ("$5", "$ ",
 * "${x-y}", "${NAME" without '}') is literal text.
 *
 * Life of a template:
 *   1. lln_tmpl_compile: the text becomes segments; escapes are resolved.
 *   2. lln_tmpl_bind (load time): each reference is offered to a callback
 *      that gives its value (environment, --env-file, secrets, vault): the
 *      value becomes LITERAL text, merged with its neighbours; or keeps it
 *      (request variables such as $INPUT); or reports it missing.
 *   3. lln_tmpl_render (per call): literal segments are copied, the
 *      remaining references are looked up and appended through an escape
 *      function. Nothing is ever scanned again: a bound value or a request
 *      value containing "$INPUT" or "$$" stays exactly that text.
 *
 * Other grammars plug in as a syntax: {{VAR}} prompt templates compile with
 * LLN_TMPL_BRACES (same segments, same bind and render); a condition lexer
 * can compile the text of a string operand the same way and render it per
 * request. Templates are immutable after bind, so request threads share
 * them without locks. */
#ifndef LLN_TEMPLATES_TEMPLATE_H
#define LLN_TEMPLATES_TEMPLATE_H

#include <stddef.h>

#include "util/buf.h"

/* Longest variable name; a longer reference is literal text (a condition
 * refuses it). */
#define LLN_TMPL_MAX_NAME 255

typedef enum {
  LLN_TMPL_DOLLAR, /* $NAME ${NAME} $secrets.S.V, "$$" = '$'; an unset variable renders "" */
  LLN_TMPL_BRACES  /* {{NAME}} (blanks around NAME trimmed), nothing else is special; an
                      unknown variable renders as written */
} lln_tmpl_syntax;

typedef enum { LLN_TMPL_LITERAL, LLN_TMPL_VAR } lln_tmpl_kind;

typedef struct lln_tmpl_seg {
  lln_tmpl_kind kind;
  char *text; /* literal bytes, or the variable's name; NUL-terminated */
  size_t len;
  char *raw; /* a variable as written ("$X", "${X}", "{{ X }}"); NULL for literal text */
} lln_tmpl_seg;

typedef struct lln_tmpl {
  lln_tmpl_seg *segs;
  size_t n;
  lln_tmpl_syntax syntax;
} lln_tmpl;

/* The dollar syntax's reference at `p` (which points at '$'): its length,
 * with the name at p + *name_off, *name_len bytes; 0 when no reference
 * starts there ("$$", "$5", "${x"). For lexers of other languages that
 * share the variable syntax (conditions), so names mean the same there. */
size_t lln_tmpl_dollar_ref(const char *p, size_t *name_off, size_t *name_len);

/* Compiles `src` (NULL = empty). Never fails; free with lln_tmpl_free. */
lln_tmpl *lln_tmpl_compile(const char *src, lln_tmpl_syntax syntax);
void lln_tmpl_free(lln_tmpl *t);

/* What a bind callback decides for one reference. */
typedef enum {
  LLN_TMPL_KEEP,   /* stays a reference, filled per call */
  LLN_TMPL_VALUE,  /* *value (not NULL) becomes literal text */
  LLN_TMPL_MISSING /* not set: kept as written (as literal text) and counted */
} lln_tmpl_bind_result;

typedef lln_tmpl_bind_result (*lln_tmpl_binder)(void *ctx, const char *name, const char **value);
/* Escapes a value as it is appended (JSON string, URL, header...); NULL
 * appends it as is. */
typedef void (*lln_tmpl_escape)(lln_buf *out, const char *value, size_t len);

/* Binds load-time values: every reference goes through `binder`; values
 * are appended through `escape` (NULL = as is) into literal text. Returns
 * how many references were missing; the first one's name goes to `missing`
 * (when not NULL). A missing reference becomes literal text as written, so
 * a later call never looks it up. */
int lln_tmpl_bind(lln_tmpl *t, lln_tmpl_binder binder, void *ctx, lln_tmpl_escape escape, char *missing,
                  size_t missing_size);

/* Looks a request variable up by name; NULL = unset (renders as ""). */
typedef const char *(*lln_tmpl_lookup)(void *ctx, const char *name, size_t len);

/* Appends the template to `out` (always left NUL-terminated, never NULL
 * data): literal segments as they are, each remaining reference's value
 * through `escape`. `lookup` NULL renders references as "". */
void lln_tmpl_render(const lln_tmpl *t, lln_tmpl_lookup lookup, void *ctx, lln_tmpl_escape escape,
                     lln_buf *out);

/* Appends the template in its own syntax, so that compiling the result
 * gives the same template: literal '$' written "$$", references "${NAME}". */
void lln_tmpl_format(const lln_tmpl *t, lln_buf *out);

/* Number of references left (0 = the template is plain text). */
size_t lln_tmpl_var_count(const lln_tmpl *t);

/* Puts `text` in front of the template as literal text. */
void lln_tmpl_prepend(lln_tmpl *t, const char *text, size_t len);

/* Escapes for where a value lands, usable at bind and at render: */
void lln_tmpl_escape_json(lln_buf *out, const char *v, size_t len); /* inside a JSON string literal */
void lln_tmpl_escape_url(lln_buf *out, const char *v,
                         size_t len); /* percent-encoded (RFC 3986 unreserved kept) */
void lln_tmpl_escape_header(lln_buf *out, const char *v, size_t len); /* control characters become spaces */

#endif
