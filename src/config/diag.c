/* diag: collects problems so validate can list all of them at once rather
 * than stopping at the first. */
#include "config/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

void lln_diags_init(lln_diags *d, const char *file) {
  memset(d, 0, sizeof *d);
  d->file = strdup(file ? file : "");
}

void lln_diags_free(lln_diags *d) {
  for (size_t i = 0; i < d->count; i++)
    free(d->items[i].message);
  free(d->items);
  free(d->file);
  memset(d, 0, sizeof *d);
}

void lln_diags_add(lln_diags *d, lln_diag_severity sev, int line, int col, const char *fmt, ...) {
  if (d->count == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 8;
    d->items = realloc(d->items, d->cap * sizeof *d->items);
    if (!d->items)
      abort();
  }
  lln_buf msg;
  lln_buf_init(&msg);
  va_list ap;
  va_start(ap, fmt);
  lln_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  d->items[d->count++] = (lln_diag){sev, line, col, lln_buf_steal(&msg)};
  if (sev == LLN_DIAG_ERROR)
    d->errors++;
  else if (sev == LLN_DIAG_WARNING)
    d->warnings++;
}

void lln_diags_print(const lln_diags *d, FILE *out) {
  static const char *const names[] = {"error", "warning", "note"};
  for (size_t i = 0; i < d->count; i++) {
    const lln_diag *g = &d->items[i];
    if (g->line > 0)
      fprintf(out, "%s:%d:%d: %s: %s\n", d->file, g->line, g->col, names[g->severity], g->message);
    else
      fprintf(out, "%s: %s: %s\n", d->file, names[g->severity], g->message);
  }
}
