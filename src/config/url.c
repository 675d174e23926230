/* url: turns a model's configured base URL into its chat-completions
 * endpoint. Owns only that string rule (docs/CONFIG.md "models"); it does no
 * percent-decoding or normalisation beyond what the rule needs, because curl
 * is the one that parses the result for real. */
#include "config/url_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

/* The pieces of a base URL that go into the endpoint, each [start, end). */
typedef struct url_parts {
  const char *scheme; /* "http://" or "https://", lower case */
  size_t scheme_len;
  const char *auth, *auth_end;   /* user@host:port */
  const char *path, *path_end;   /* without trailing slashes */
  const char *query, *query_end; /* "?..." or empty; the fragment is dropped */
} url_parts;

/* Config values are hand-typed: forgive surrounding blanks, but nothing in
 * the middle. Trims *base to *n bytes; returns 0 when a blank or control
 * byte is left inside. */
static int trim_blanks(const char **base, size_t *n) {
  while (is_space(**base))
    (*base)++;
  *n = strlen(*base);
  while (*n && is_space((*base)[*n - 1]))
    (*n)--;
  for (size_t i = 0; i < *n; i++) {
    unsigned char ch = (unsigned char)(*base)[i];
    if (ch <= 0x20 || ch == 0x7f)
      return 0;
  }
  return 1;
}

/* Returns 1 when `base` starts with http:// or https:// (any case). */
static int read_scheme(const char *base, size_t n, url_parts *u) {
  if (n >= 7 && strncasecmp(base, "http://", 7) == 0) {
    u->scheme = "http://";
    u->scheme_len = 7;
  } else if (n >= 8 && strncasecmp(base, "https://", 8) == 0) {
    u->scheme = "https://";
    u->scheme_len = 8;
  } else {
    return 0;
  }
  return 1;
}

/* The host is what is left of the authority without "user@" and ":port";
 * a bracketed IPv6 literal keeps its colons. Returns 1 when there is one. */
static int has_host(const char *auth, const char *auth_end) {
  const char *host = auth;
  for (const char *q = auth; q < auth_end; q++)
    if (*q == '@')
      host = q + 1;
  const char *host_end = auth_end;
  if (host < auth_end && *host == '[') {
    const char *close = memchr(host, ']', (size_t)(auth_end - host));
    if (!close || close == host + 1)
      return 0;
    host_end = close + 1;
    if (host_end < auth_end && *host_end != ':')
      return 0;
  } else {
    const char *colon = memchr(host, ':', (size_t)(auth_end - host));
    if (colon)
      host_end = colon;
  }
  return host_end != host;
}

/* Splits what follows the scheme into authority, path and query. */
static void split_rest(const char *end, url_parts *u) {
  const char *p = u->auth;
  while (p < end && *p != '/' && *p != '?' && *p != '#')
    p++;
  u->auth_end = u->path = p;
  u->path_end = u->path;
  while (u->path_end < end && *u->path_end != '?' && *u->path_end != '#')
    u->path_end++;
  u->query = u->query_end = u->path_end;
  if (u->query < end && *u->query == '?') {
    while (u->query_end < end && *u->query_end != '#')
      u->query_end++;
    if (u->query_end - u->query == 1) /* a bare "?" carries nothing */
      u->query_end = u->query;
  }
  /* The fragment is never sent to a server, so it is dropped. */
  while (u->path_end > u->path && u->path_end[-1] == '/')
    u->path_end--;
}

static char *put(char *w, const char *s, size_t n) {
  memcpy(w, s, n);
  return w + n;
}

/* scheme, authority, path, then the suffix, then the query. */
static char *join(const url_parts *u, const char *suffix) {
  size_t auth_len = (size_t)(u->auth_end - u->auth), path_len = (size_t)(u->path_end - u->path);
  size_t suffix_len = strlen(suffix), query_len = (size_t)(u->query_end - u->query);
  char *out = malloc(u->scheme_len + auth_len + path_len + suffix_len + query_len + 1);
  if (!out)
    return NULL;
  char *w = put(out, u->scheme, u->scheme_len);
  w = put(w, u->auth, auth_len);
  w = put(w, u->path, path_len);
  w = put(w, suffix, suffix_len);
  w = put(w, u->query, query_len);
  *w = '\0';
  return out;
}

/* `base` joined with `/v1` + what (unless its path already ends in /v1). */
static char *endpoint_url(const char *base, const char *what) {
  size_t n;
  url_parts u;
  if (!base || !trim_blanks(&base, &n) || !read_scheme(base, n, &u))
    return NULL;
  u.auth = base + u.scheme_len;
  split_rest(base + n, &u);
  if (!has_host(u.auth, u.auth_end))
    return NULL;
  size_t path_len = (size_t)(u.path_end - u.path);
  int has_v1 = path_len >= 3 && memcmp(u.path_end - 3, "/v1", 3) == 0;
  char suffix[40];
  snprintf(suffix, sizeof suffix, "%s%s", has_v1 ? "" : "/v1", what);
  return join(&u, suffix);
}

char *lln_url_chat_completions(const char *base) { return endpoint_url(base, "/chat/completions"); }

char *lln_url_embeddings(const char *base) { return endpoint_url(base, "/embeddings"); }
