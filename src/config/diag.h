/* diag: the problems found in a composition, each with its place in the
 * file, printed as "FILE:LINE:COL: error: message". */
#ifndef LLN_CONFIG_DIAG_H
#define LLN_CONFIG_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { LLN_DIAG_ERROR, LLN_DIAG_WARNING, LLN_DIAG_NOTE } lln_diag_severity;

typedef struct lln_diag {
  lln_diag_severity severity;
  int line, col; /* 0 when the problem has no place in the file */
  char *message;
} lln_diag;

typedef struct lln_diags {
  char *file;
  lln_diag *items;
  size_t count, cap;
  size_t errors, warnings;
} lln_diags;

void lln_diags_init(lln_diags *d, const char *file);
void lln_diags_free(lln_diags *d);
void lln_diags_add(lln_diags *d, lln_diag_severity sev, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* lln_diags_add for callers that format their own variadic messages. */
void lln_diags_vadd(lln_diags *d, lln_diag_severity sev, int line, int col, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
void lln_diags_print(const lln_diags *d, FILE *out);
/* Prints one JSON object for editors and CI: {"file", "valid", "errors",
 * "warnings", "diagnostics": [{"severity", "line", "column", "message"}]},
 * line and column null when the problem has no place in the file. */
void lln_diags_print_json(const lln_diags *d, int valid, FILE *out);

#endif
