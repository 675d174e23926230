/* keys: edit distance for "did you mean" and JSON pointer escaping. */
#include "config/keys.h"

#include <ctype.h>
#include <string.h>

int lln_key_known(const char *key, const char *const *known) {
  for (size_t i = 0; known[i]; i++) {
    if (strcmp(key, known[i]) == 0)
      return 1;
  }
  return 0;
}

static char fold(char c) {
  c = (char)tolower((unsigned char)c);
  return c == '_' ? '-' : c;
}

static int distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return 99;
  int row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int best = diag + (fold(a[i - 1]) != fold(b[j - 1]));
      if (row[j] + 1 < best)
        best = row[j] + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      diag = row[j];
      row[j] = best;
    }
  }
  return row[lb];
}

const char *lln_key_suggest(const char *key, const char *const *known) {
  const char *best = NULL;
  int best_d = 3;
  int len = (int)strlen(key);
  for (size_t i = 0; known[i]; i++) {
    int d = distance(key, known[i]);
    /* a distance as long as the key itself says nothing: "x" is not "id" */
    if (d < best_d && d < len)
      best = known[i], best_d = d;
  }
  return best;
}

void lln_pointer_append(lln_buf *p, const char *token) {
  lln_buf_putc(p, '/');
  for (const char *c = token; *c; c++) {
    if (*c == '~')
      lln_buf_puts(p, "~0");
    else if (*c == '/')
      lln_buf_puts(p, "~1");
    else
      lln_buf_putc(p, *c);
  }
}
