/* expand: renders a function field's template per call, escaping each
 * request value for where it lands (argv, header, JSON string, URL). The
 * grammar is the template engine's; this file only picks the escape. */
#include "hooks/expand_int.h"

lln_tmpl_escape lln_expand_escape(lln_expand_mode mode) {
  switch (mode) {
  case LLN_EXPAND_HEADER: return lln_tmpl_escape_header;
  case LLN_EXPAND_JSON: return lln_tmpl_escape_json;
  case LLN_EXPAND_URL: return lln_tmpl_escape_url;
  case LLN_EXPAND_TEXT: break;
  }
  return NULL;
}

void lln_expand_field(const lln_tmpl *t, const char *src, lln_expand_mode mode, lln_fn_lookup lookup,
                      void *ctx, lln_buf *out) {
  if (t) {
    lln_tmpl_render(t, lookup, ctx, lln_expand_escape(mode), out);
    return;
  }
  lln_tmpl *once = lln_tmpl_compile(src, LLN_TMPL_DOLLAR);
  lln_tmpl_render(once, lookup, ctx, lln_expand_escape(mode), out);
  lln_tmpl_free(once);
}

void lln_expand(const char *tmpl, lln_expand_mode mode, lln_fn_lookup lookup, void *ctx, lln_buf *out) {
  lln_expand_field(NULL, tmpl, mode, lookup, ctx, out);
}
