/* diag: collects problems so validate can list all of them at once rather
 * than stopping at the first. */
#include "config/diag.h"

#include <cjson/cJSON.h>
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

void lln_diags_vadd(lln_diags *d, lln_diag_severity sev, int line, int col, const char *fmt, va_list ap) {
  if (d->count == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 8;
    d->items = realloc(d->items, d->cap * sizeof *d->items);
    if (!d->items)
      abort();
  }
  lln_buf msg;
  lln_buf_init(&msg);
  lln_buf_vprintf(&msg, fmt, ap);
  d->items[d->count++] = (lln_diag){sev, line, col, lln_buf_steal(&msg)};
  if (sev == LLN_DIAG_ERROR)
    d->errors++;
  else if (sev == LLN_DIAG_WARNING)
    d->warnings++;
}

void lln_diags_add(lln_diags *d, lln_diag_severity sev, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lln_diags_vadd(d, sev, line, col, fmt, ap);
  va_end(ap);
}

static const char *const severity_names[] = {"error", "warning", "note"};

void lln_diags_print(const lln_diags *d, FILE *out) {
  const char *const *names = severity_names;
  for (size_t i = 0; i < d->count; i++) {
    const lln_diag *g = &d->items[i];
    if (g->line > 0)
      fprintf(out, "%s:%d:%d: %s: %s\n", d->file, g->line, g->col, names[g->severity], g->message);
    else
      fprintf(out, "%s: %s: %s\n", d->file, names[g->severity], g->message);
  }
}

void lln_diags_print_json(const lln_diags *d, int valid, FILE *out) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "file", d->file);
  cJSON_AddBoolToObject(root, "valid", valid);
  cJSON_AddNumberToObject(root, "errors", (double)d->errors);
  cJSON_AddNumberToObject(root, "warnings", (double)d->warnings);
  cJSON *list = cJSON_AddArrayToObject(root, "diagnostics");
  for (size_t i = 0; i < d->count; i++) {
    const lln_diag *g = &d->items[i];
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "severity", severity_names[g->severity]);
    if (g->line > 0) {
      cJSON_AddNumberToObject(item, "line", g->line);
      cJSON_AddNumberToObject(item, "column", g->col);
    } else {
      cJSON_AddNullToObject(item, "line");
      cJSON_AddNullToObject(item, "column");
    }
    cJSON_AddStringToObject(item, "message", g->message);
    cJSON_AddItemToArray(list, item);
  }
  char *json = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!json)
    abort();
  fprintf(out, "%s\n", json);
  free(json);
}
