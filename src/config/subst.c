/* subst: references are whole identifiers: "$KEY_ID" never resolves "$KEY"
 * and leaves "_ID" behind. */
#include "config/subst_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int ident_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static int ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Length of the reference name after '$' (or inside braces), 0 if none.
 * "secrets.A.B" takes its dotted form; other names stop at the first
 * non-identifier character. */
static size_t ref_len(const char *p) {
  if (!ident_start(*p))
    return 0;
  size_t n = 0;
  while (ident_char(p[n]))
    n++;
  if (n == 7 && strncmp(p, "secrets", 7) == 0 && p[n] == '.') {
    for (int part = 0; part < 2; part++) {
      if (p[n] != '.' || !ident_start(p[n + 1]))
        return part == 0 ? 7 : n;
      n++;
      while (ident_char(p[n]) || p[n] == '-')
        n++;
    }
  }
  return n;
}

int lln_subst_has_ref(const char *in) {
  for (const char *p = strchr(in, '$'); p; p = strchr(p + 2, '$')) {
    if (p[1] == '$') {
      if (!p[2])
        return 0;
      continue;
    }
    /* Same rule as lln_subst: "${NAME" without '}' is literal text. */
    const char *name = p[1] == '{' ? p + 2 : p + 1;
    size_t n = ref_len(name);
    if (n && (p[1] != '{' || name[n] == '}'))
      return 1;
    if (!p[1])
      return 0;
  }
  return 0;
}

int lln_subst(const char *in, lln_subst_lookup lookup, void *ctx, lln_buf *out, char *missing,
              size_t missing_size) {
  int rc = 0;
  const char *p = in;
  while (*p) {
    const char *d = strchr(p, '$');
    if (!d) {
      lln_buf_puts(out, p);
      break;
    }
    lln_buf_append(out, p, (size_t)(d - p));
    if (d[1] == '$') {
      lln_buf_putc(out, '$');
      p = d + 2;
      continue;
    }
    int braced = d[1] == '{';
    const char *name = d + 1 + braced;
    size_t n = ref_len(name);
    if (n == 0 || (braced && name[n] != '}')) {
      lln_buf_putc(out, '$');
      p = d + 1;
      continue;
    }
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(n < sizeof key ? n : sizeof key - 1), name);
    const char *value = lookup(ctx, key);
    const char *end = name + n + braced;
    if (value) {
      lln_buf_puts(out, value);
    } else {
      if (rc == 0 && missing)
        snprintf(missing, missing_size, "%s", key);
      rc = -1;
      lln_buf_append(out, d, (size_t)(end - d));
    }
    p = end;
  }
  if (!out->data) /* reserve alone leaves the new storage unterminated */
    lln_buf_append(out, "", 0);
  return rc;
}
