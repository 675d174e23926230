/* hint_headers: Retry-After and X-RateLimit-Reset as an upstream sends them,
 * kept only when well formed (delay-seconds, or for Retry-After an HTTP
 * date) and made only of visible ASCII, so no upstream can inject a header
 * into llmnet's response through them. */
#include "upstream/hint_headers_int.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A header value llmnet keeps may end up in its own response head, so only
 * visible ASCII and inner spaces or tabs pass: a bare CR, LF, NUL or any
 * other control or non-ASCII byte would let an upstream inject headers. */
static int visible_value(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if ((ch < 0x21 || ch > 0x7e) && ch != ' ' && ch != '\t')
      return 0;
  }
  return 1;
}

/* Delay-seconds (digits, a fraction tolerated) as Retry-After and
 * X-RateLimit-Reset carry them. */
static int numeric_value(const char *v, size_t n) {
  size_t digits = 0, dots = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] >= '0' && v[i] <= '9')
      digits++;
    else if (v[i] == '.' && dots++ == 0 && digits)
      continue;
    else
      return 0;
  }
  return digits > 0 && v[n - 1] != '.';
}

void lln__upstream_capture_hint(const char *line, size_t len, const char *name, char **out) {
  size_t name_len = strlen(name);
  if (len <= name_len || strncasecmp(line, name, name_len) != 0)
    return;
  const char *v = line + name_len;
  const char *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  if (end > v && end[-1] == '\n')
    end--;
  if (end > v && end[-1] == '\r')
    end--;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  free(*out);
  *out = NULL;
  size_t n = (size_t)(end - v);
  if (n == 0 || n > LLN_UP_MAX_HINT_HEADER || !visible_value(v, n))
    return;
  char *value = strndup(v, n);
  if (!value)
    abort();
  int is_date = name[0] == 'r' && curl_getdate(value, NULL) > 0;
  if (!numeric_value(value, n) && !is_date) {
    free(value);
    return;
  }
  *out = value;
}
