/* call_headers: the headers every call to a model entry carries (see
 * call_headers.h). */
#include "upstream/call_headers.h"

#include <stdlib.h>

#include "util/buf.h"
#include "util/xalloc.h"

char **lln_call_headers(const lln_model *ep, const char *request_id, const char *session) {
  size_t nh = 0;
  while (ep->headers && ep->headers[nh])
    nh++;
  char **out = calloc(nh + 5, sizeof(char *));
  if (!out)
    abort();
  size_t k = 0;
  lln_buf h;
  lln_buf_init(&h);
  if (ep->api_key && *ep->api_key) {
    lln_buf_printf(&h, "Authorization: Bearer %s", ep->api_key);
    out[k++] = lln_buf_steal(&h);
  }
  lln_buf_printf(&h, "X-Request-Id: %s", request_id);
  out[k++] = lln_buf_steal(&h);
  if (session) {
    /* OpenRouter keeps a conversation's provider prompt cache warm by it */
    lln_buf_printf(&h, "X-Session-Id: %s", session);
    out[k++] = lln_buf_steal(&h);
  }
  for (size_t i = 0; i < nh; i++)
    out[k++] = lln_xstrdup(ep->headers[i]);
  lln_buf_free(&h);
  return out;
}

void lln_call_headers_free(char **headers) {
  for (size_t i = 0; headers && headers[i]; i++)
    free(headers[i]);
  free(headers);
}
