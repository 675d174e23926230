/* expand: request variables in function fields, rendered per call from
 * the field's template (templates/template.h), compiled once at load.
 * "$NAME" and "${NAME}" are replaced by whole names ($INPUT never matches
 * the front of $INPUT_LENGTH); "$$" is a literal '$'; an unset variable
 * expands to "". Values are inserted once and never scanned again, so user
 * text that contains "$secrets.x.y" or "$(...)" stays literal, and so does
 * a load-time value (environment, secret) bound into the template. */
#ifndef LLN_HOOKS_EXPAND_H
#define LLN_HOOKS_EXPAND_H

#include "hooks/function.h"
#include "templates/template.h"
#include "util/buf.h"

typedef enum {
  LLN_EXPAND_TEXT,   /* values as they are: argv elements (one element each, never split) */
  LLN_EXPAND_HEADER, /* CR, LF and other control characters become spaces: no header injection */
  LLN_EXPAND_JSON,   /* values JSON-escaped, for use inside a JSON string literal */
  LLN_EXPAND_URL     /* values percent-encoded (RFC 3986 unreserved characters kept) */
} lln_expand_mode;

/* The escape of a mode (NULL for TEXT), for binding load-time values the
 * same way. */
lln_tmpl_escape lln_expand_escape(lln_expand_mode mode);

/* Renders a compiled field. A definition built by hand (no template, e.g.
 * a ws sink) passes t = NULL and its text in `src`, compiled for this call. */
void lln_expand_field(const lln_tmpl *t, const char *src, lln_expand_mode mode, lln_fn_lookup lookup,
                      void *ctx, lln_buf *out);

/* Compiles `tmpl` and renders it once (lln_expand_field without a template). */
void lln_expand(const char *tmpl, lln_expand_mode mode, lln_fn_lookup lookup, void *ctx, lln_buf *out);

#endif
