/* subst: load-time substitution of a whole configuration string, as one
 * compile, bind and render of the template engine (templates/template.h):
 * the grammar lives there, not here. */
#include "config/subst_int.h"

#include "templates/template.h"

typedef struct subst_ctx {
  lln_subst_lookup lookup;
  void *ctx;
} subst_ctx;

static lln_tmpl_bind_result bind_value(void *ctx, const char *name, const char **value) {
  subst_ctx *s = ctx;
  *value = s->lookup(s->ctx, name);
  return *value ? LLN_TMPL_VALUE : LLN_TMPL_MISSING;
}

int lln_subst(const char *in, lln_subst_lookup lookup, void *ctx, lln_buf *out, char *missing,
              size_t missing_size) {
  lln_tmpl *t = lln_tmpl_compile(in, LLN_TMPL_DOLLAR);
  subst_ctx s = {lookup, ctx};
  int n_missing = lln_tmpl_bind(t, bind_value, &s, NULL, missing, missing_size);
  lln_tmpl_render(t, NULL, NULL, NULL, out);
  lln_tmpl_free(t);
  return n_missing ? -1 : 0;
}

int lln_subst_has_ref(const char *in) {
  lln_tmpl *t = lln_tmpl_compile(in, LLN_TMPL_DOLLAR);
  int has = lln_tmpl_var_count(t) > 0;
  lln_tmpl_free(t);
  return has;
}
