/* call_headers: the headers every call to a model entry carries (see
 * call_headers.h). Built per call in one allocation, without printf: the
 * lines are the model's fixed ones plus the request's ids. */
#include "upstream/call_headers.h"

#include <stdlib.h>
#include <string.h>

#define AUTH_PREFIX "Authorization: Bearer "
#define REQUEST_ID_PREFIX "X-Request-Id: "
#define SESSION_PREFIX "X-Session-Id: "

/* Appends prefix + value + NUL at *at and records the line in out[(*k)++]. */
static void put_line(char **out, size_t *k, char **at, const char *prefix, size_t plen, const char *value,
                     size_t vlen) {
  out[(*k)++] = *at;
  memcpy(*at, prefix, plen);
  memcpy(*at + plen, value, vlen);
  (*at)[plen + vlen] = '\0';
  *at += plen + vlen + 1;
}

char **lln_call_headers(const lln_model *ep, const char *request_id, const char *session) {
  size_t nh = 0, bytes = 0;
  while (ep->headers && ep->headers[nh])
    bytes += strlen(ep->headers[nh++]) + 1;
  int auth = ep->api_key && *ep->api_key;
  size_t key_len = auth ? strlen(ep->api_key) : 0;
  size_t id_len = strlen(request_id);
  size_t session_len = session ? strlen(session) : 0;
  if (auth)
    bytes += sizeof AUTH_PREFIX + key_len;
  bytes += sizeof REQUEST_ID_PREFIX + id_len;
  if (session)
    bytes += sizeof SESSION_PREFIX + session_len;
  size_t slots = nh + 4; /* auth, request id, session, NULL */
  char **out = malloc(slots * sizeof(char *) + bytes);
  if (!out)
    abort();
  char *at = (char *)(out + slots);
  size_t k = 0;
  if (auth)
    put_line(out, &k, &at, AUTH_PREFIX, sizeof AUTH_PREFIX - 1, ep->api_key, key_len);
  put_line(out, &k, &at, REQUEST_ID_PREFIX, sizeof REQUEST_ID_PREFIX - 1, request_id, id_len);
  if (session) /* OpenRouter keeps a conversation's provider prompt cache warm by it */
    put_line(out, &k, &at, SESSION_PREFIX, sizeof SESSION_PREFIX - 1, session, session_len);
  for (size_t i = 0; i < nh; i++)
    put_line(out, &k, &at, "", 0, ep->headers[i], strlen(ep->headers[i]));
  out[k] = NULL;
  return out;
}

void lln_call_headers_free(char **headers) { free(headers); }
