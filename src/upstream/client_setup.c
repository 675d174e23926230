/* upstream client setup: the options of an easy handle for one call: the
 * ones every call shares (set when the handle is made), the URL parsed once
 * per loop, the request headers in one allocation, method, body, timeouts. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "upstream/client_int.h"

static int has_header(const char *const *headers, const char *name) {
  size_t n = strlen(name);
  for (; headers && *headers; headers++)
    if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
      return 1;
  return 0;
}

#define CONTENT_TYPE_JSON "Content-Type: application/json"
/* 100-continue costs a round trip (or a 1 s wait) on every large body. */
#define NO_EXPECT "Expect:"

/* The header list curl sends: its nodes (the struct is public) and a copy of
 * every line in one allocation, where curl_slist_append would take two per
 * line. */
static int build_headers(lln_upstream_call *c, const lln_upstream_request *req, int content_type) {
  size_t n = 0, bytes = 0;
  for (const char *const *p = req->headers; p && *p; p++, n++)
    bytes += strlen(*p) + 1;
  const char *extra[3];
  size_t n_extra = 0;
  if (content_type)
    extra[n_extra++] = CONTENT_TYPE_JSON;
  extra[n_extra++] = NO_EXPECT;
  const char *ae = lln__up_accept_encoding();
  if (ae && !has_header(req->headers, "Accept-Encoding"))
    extra[n_extra++] = ae;
  for (size_t i = 0; i < n_extra; i++)
    bytes += strlen(extra[i]) + 1;
  size_t nodes = n + n_extra;
  struct curl_slist *list = malloc(nodes * sizeof *list + bytes);
  if (!list)
    return -1;
  char *at = (char *)(list + nodes);
  for (size_t i = 0; i < nodes; i++) {
    const char *line = i < n ? req->headers[i] : extra[i - n];
    size_t len = strlen(line);
    memcpy(at, line, len + 1);
    list[i].data = at;
    list[i].next = i + 1 < nodes ? &list[i + 1] : NULL;
    at += len + 1;
  }
  c->headers = list;
  return 0;
}

/* Sets an option on the handle `e` while every earlier one succeeded (`rc`). */
#define SET(opt, val)                                                                                        \
  do {                                                                                                       \
    if (rc == CURLE_OK)                                                                                      \
      rc = curl_easy_setopt(e, opt, val);                                                                    \
  } while (0)

/* What every call on a handle sets alike: set once when the handle is
 * created (or after curl_easy_reset), not per call. */
CURLcode lln__up_easy_constants(lln_upstream *u, CURL *e, int no_proxy_env) {
  CURLcode rc = CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_HEADERFUNCTION, lln__up_header_cb);
  SET(CURLOPT_WRITEFUNCTION, lln__up_write_cb);
  if (u->share)
    SET(CURLOPT_SHARE, u->share);
  SET(CURLOPT_OPENSOCKETFUNCTION, lln__up_open_socket);
  SET(CURLOPT_OPENSOCKETDATA, (void *)u);
  SET(CURLOPT_CLOSESOCKETFUNCTION, lln__up_close_socket);
  SET(CURLOPT_CLOSESOCKETDATA, (void *)u);
  if (no_proxy_env) {
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOPROXY, "");
  }
  return rc;
}

/* The parsed `url`, with a reference taken for the call; NULL when it is
 * not cached and every entry is in use (the call then passes the string). */
static url_entry *url_take(lln_upstream *u, const char *url) {
  for (int i = 0; i < URL_CACHE; i++)
    if (u->urls[i].url && strcmp(u->urls[i].url, url) == 0) {
      u->urls[i].refs++;
      return &u->urls[i];
    }
  url_entry *e = NULL;
  for (int i = 0; i < URL_CACHE && !e; i++) {
    int k = (u->next_url + i) % URL_CACHE;
    if (u->urls[k].refs == 0) {
      e = &u->urls[k];
      u->next_url = (k + 1) % URL_CACHE;
    }
  }
  if (!e)
    return NULL;
  /* the flags curl itself parses CURLOPT_URL with */
  CURLU *h = curl_url();
  char *copy = strdup(url);
  if (!h || !copy ||
      curl_url_set(h, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    curl_url_cleanup(h);
    free(copy);
    return NULL;
  }
  curl_url_cleanup(e->h);
  free(e->url);
  e->url = copy;
  e->h = h;
  e->refs = 1;
  return e;
}

void lln__up_urls_free(lln_upstream *u) {
  for (int i = 0; i < URL_CACHE; i++) {
    curl_url_cleanup(u->urls[i].h);
    free(u->urls[i].url);
    u->urls[i].h = NULL;
    u->urls[i].url = NULL;
  }
}

int lln__up_call_setup(lln_upstream_call *c, const lln_upstream_request *req) {
  CURL *e = c->easy;
  const char *method = req->method ? req->method : "POST";
  int has_body = req->body != NULL || strcasecmp(method, "POST") == 0;
  if (has_body) {
    c->body = malloc(req->body_len + 1);
    if (!c->body)
      return -1;
    if (req->body_len)
      memcpy(c->body, req->body, req->body_len);
    c->body[req->body_len] = '\0';
  }

  if (build_headers(c, req, has_body && !has_header(req->headers, "Content-Type")) != 0)
    return -1;

  CURLcode rc = CURLE_OK;
  c->url = url_take(c->u, req->url);
  if (c->url) {
    SET(CURLOPT_CURLU, c->url->h);
  } else {
    SET(CURLOPT_CURLU, (CURLU *)NULL); /* a reused handle may carry one */
    SET(CURLOPT_URL, req->url);
  }
  if (strcasecmp(method, "POST") == 0) {
    SET(CURLOPT_POST, 1L);
  } else if (strcasecmp(method, "GET") == 0 && !has_body) {
    SET(CURLOPT_HTTPGET, 1L);
  } else if (strcasecmp(method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else {
    SET(CURLOPT_CUSTOMREQUEST, method);
  }
  if (has_body) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    SET(CURLOPT_POSTFIELDS, c->body);
  }
  SET(CURLOPT_HTTPHEADER, c->headers);
  /* 0 = none / curl's default: a reused handle may carry an earlier call's */
  SET(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L);
  SET(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 0L);
  SET(CURLOPT_PRIVATE, (void *)c);
  SET(CURLOPT_ERRORBUFFER, c->errbuf);
  SET(CURLOPT_HEADERDATA, (void *)c);
  SET(CURLOPT_WRITEDATA, (void *)c);
  return rc == CURLE_OK ? 0 : -1;
}
