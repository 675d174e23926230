/* sse: line splitting on \n, \r\n or \r as the SSE specification allows,
 * and event dispatch on blank lines. */
#include "upstream/sse.h"

#include <string.h>

void lln_sse_init(lln_sse_reader *r, lln_sse_on_event on_event, void *ud) {
  memset(r, 0, sizeof *r);
  lln_buf_init(&r->line);
  lln_buf_init(&r->data);
  r->on_event = on_event;
  r->ud = ud;
}

void lln_sse_free(lln_sse_reader *r) {
  lln_buf_free(&r->line);
  lln_buf_free(&r->data);
}

static int dispatch(lln_sse_reader *r) {
  if (!r->have_data)
    return 0;
  r->have_data = 0;
  int rc = r->on_event(r->ud, r->data.data ? r->data.data : "", r->data.len);
  lln_buf_reset(&r->data);
  return rc;
}

static int end_line(lln_sse_reader *r) {
  const char *s = r->line.data ? r->line.data : "";
  size_t n = r->line.len;
  int rc = 0;
  if (n == 0) {
    rc = dispatch(r);
  } else if (s[0] != ':') {
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    if (name_len == 4 && memcmp(s, "data", 4) == 0) {
      const char *v = colon ? colon + 1 : s + n;
      if (v < s + n && *v == ' ')
        v++;
      size_t add = (size_t)(s + n - v) + (r->have_data ? 1 : 0);
      if (r->data.len + add > LLN_SSE_MAX_EVENT) {
        lln_buf_reset(&r->line);
        return LLN_SSE_ERR_EVENT;
      }
      if (r->have_data)
        lln_buf_putc(&r->data, '\n');
      lln_buf_append(&r->data, v, (size_t)(s + n - v));
      r->have_data = 1;
    }
  }
  lln_buf_reset(&r->line);
  return rc;
}

int lln_sse_feed(lln_sse_reader *r, const char *bytes, size_t len) {
  size_t i = 0;
  while (i < len) {
    if (r->after_cr) {
      r->after_cr = 0;
      if (bytes[i] == '\n') {
        i++;
        continue;
      }
    }
    const char *nl = NULL;
    for (size_t k = i; k < len; k++) {
      if (bytes[k] == '\n' || bytes[k] == '\r') {
        nl = bytes + k;
        break;
      }
    }
    size_t take = nl ? (size_t)(nl - (bytes + i)) : len - i;
    if (r->line.len + take > LLN_SSE_MAX_LINE)
      return LLN_SSE_ERR_LINE;
    lln_buf_append(&r->line, bytes + i, take);
    i += take;
    if (!nl)
      break;
    r->after_cr = *nl == '\r';
    i++;
    int rc = end_line(r);
    if (rc)
      return rc;
  }
  return 0;
}
