/* url: turns a model's configured base URL into its chat-completions
 * endpoint. Owns only that string rule (docs/CONFIG.md "models"); it does no
 * percent-decoding or normalisation beyond what the rule needs, because curl
 * is the one that parses the result for real. */
#include "config/url_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

char *lln_url_chat_completions(const char *base) {
  if (!base)
    return NULL;
  /* Config values are hand-typed: forgive surrounding blanks, but nothing in the middle. */
  while (is_space(*base))
    base++;
  size_t n = strlen(base);
  while (n && is_space(base[n - 1]))
    n--;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)base[i];
    if (ch <= 0x20 || ch == 0x7f)
      return NULL;
  }

  size_t scheme_len;
  const char *scheme;
  if (n >= 7 && strncasecmp(base, "http://", 7) == 0) {
    scheme = "http://";
    scheme_len = 7;
  } else if (n >= 8 && strncasecmp(base, "https://", 8) == 0) {
    scheme = "https://";
    scheme_len = 8;
  } else {
    return NULL;
  }

  const char *end = base + n;
  const char *auth = base + scheme_len;
  const char *p = auth;
  while (p < end && *p != '/' && *p != '?' && *p != '#')
    p++;
  const char *auth_end = p;

  /* The host is what is left of the authority without "user@" and ":port";
   * a bracketed IPv6 literal keeps its colons. */
  const char *host = auth;
  for (const char *q = auth; q < auth_end; q++)
    if (*q == '@')
      host = q + 1;
  const char *host_end = auth_end;
  if (host < auth_end && *host == '[') {
    const char *close = memchr(host, ']', (size_t)(auth_end - host));
    if (!close || close == host + 1)
      return NULL;
    host_end = close + 1;
    if (host_end < auth_end && *host_end != ':')
      return NULL;
  } else {
    const char *colon = memchr(host, ':', (size_t)(auth_end - host));
    if (colon)
      host_end = colon;
  }
  if (host_end == host)
    return NULL;

  const char *path = auth_end;
  const char *path_end = path;
  while (path_end < end && *path_end != '?' && *path_end != '#')
    path_end++;
  const char *query = path_end;
  const char *query_end = query;
  if (query < end && *query == '?') {
    while (query_end < end && *query_end != '#')
      query_end++;
    if (query_end - query == 1) /* a bare "?" carries nothing */
      query_end = query;
  }
  /* The fragment is never sent to a server, so it is dropped. */

  while (path_end > path && path_end[-1] == '/')
    path_end--;
  size_t path_len = (size_t)(path_end - path);
  const char *suffix = "/v1/chat/completions";
  if (path_len >= 3 && memcmp(path_end - 3, "/v1", 3) == 0)
    suffix = "/chat/completions";

  size_t auth_len = (size_t)(auth_end - auth);
  size_t suffix_len = strlen(suffix);
  size_t query_len = (size_t)(query_end - query);
  char *out = malloc(scheme_len + auth_len + path_len + suffix_len + query_len + 1);
  if (!out)
    return NULL;
  char *w = out;
  memcpy(w, scheme, scheme_len);
  w += scheme_len;
  memcpy(w, auth, auth_len);
  w += auth_len;
  memcpy(w, path, path_len);
  w += path_len;
  memcpy(w, suffix, suffix_len);
  w += suffix_len;
  memcpy(w, query, query_len);
  w += query_len;
  *w = '\0';
  return out;
}
