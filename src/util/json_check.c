/* json_check: one pass over JSON text tracking only whether it is inside a
 * string, so it runs before the parser at memory bandwidth and never
 * allocates. */
#include "util/json_check.h"

static int fail(size_t at, const char *what, size_t *bad_at, const char **why) {
  if (bad_at)
    *bad_at = at;
  if (why)
    *why = what;
  return -1;
}

static int hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The escape at s[i] (a backslash inside a string); returns its length or
 * 0 when malformed, with *nul set for \u0000. */
static size_t escape_len(const unsigned char *s, size_t len, size_t i, int *nul) {
  *nul = 0;
  if (i + 1 >= len)
    return 0;
  switch (s[i + 1]) {
  case '"':
  case '\\':
  case '/':
  case 'b':
  case 'f':
  case 'n':
  case 'r':
  case 't': return 2;
  case 'u':
    if (i + 6 > len)
      return 0;
    for (size_t k = i + 2; k < i + 6; k++) {
      if (!hex(s[k]))
        return 0;
    }
    *nul = s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0';
    return 6;
  default: return 0;
  }
}

int lln_json_check(const char *text, size_t len, size_t *bad_at, const char **why) {
  const unsigned char *s = (const unsigned char *)text;
  int in_string = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = s[i];
    if (!in_string) {
      if (c == '"')
        in_string = 1;
      else if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r')
        return fail(i, "a control character outside a string (JSON allows only space, tab, CR and LF there)",
                    bad_at, why);
      continue;
    }
    if (c == '"') {
      in_string = 0;
    } else if (c < 0x20) {
      return fail(i,
                  c == 0 ? "a raw NUL byte inside a string; llmnet does not forward NUL characters"
                         : "a raw control character inside a string (escape it, e.g. \\n or \\u001f)",
                  bad_at, why);
    } else if (c == '\\') {
      int nul;
      size_t n = escape_len(s, len, i, &nul);
      if (n == 0)
        return fail(i, "a malformed escape inside a string", bad_at, why);
      if (nul)
        return fail(i, "a NUL character (\\u0000) inside a string; llmnet does not forward NUL characters",
                    bad_at, why);
      i += n - 1;
    }
  }
  return 0;
}
