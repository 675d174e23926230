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

/* One line, without its terminator: a blank line dispatches the event, a
 * "data" field adds to it, comments and other fields are ignored. */
static int end_line_at(lln_sse_reader *r, const char *s, size_t n) {
  if (n == 0)
    return dispatch(r);
  if (s[0] == ':')
    return 0;
  const char *colon = memchr(s, ':', n);
  size_t name_len = colon ? (size_t)(colon - s) : n;
  if (name_len != 4 || memcmp(s, "data", 4) != 0)
    return 0;
  const char *v = colon ? colon + 1 : s + n;
  if (v < s + n && *v == ' ')
    v++;
  size_t add = (size_t)(s + n - v) + (r->have_data ? 1 : 0);
  if (r->data.len + add > LLN_SSE_MAX_EVENT)
    return LLN_SSE_ERR_EVENT;
  if (r->have_data)
    lln_buf_putc(&r->data, '\n');
  lln_buf_append(&r->data, v, (size_t)(s + n - v));
  r->have_data = 1;
  return 0;
}

/* The first \n or \r in [p, end), or NULL: memchr scans many bytes at a time. */
static const char *line_end(const char *p, const char *end) {
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  const char *cr = memchr(p, '\r', (size_t)((nl ? nl : end) - p));
  return cr ? cr : nl;
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
    const char *nl = line_end(bytes + i, bytes + len);
    size_t take = nl ? (size_t)(nl - (bytes + i)) : len - i;
    if (r->line.len + take > LLN_SSE_MAX_LINE)
      return LLN_SSE_ERR_LINE;
    if (!nl) {
      lln_buf_append(&r->line, bytes + i, take); /* the line goes on in the next read */
      break;
    }
    int rc;
    if (r->line.len == 0) {
      rc = end_line_at(r, bytes + i, take); /* whole in this read: read in place */
    } else {
      lln_buf_append(&r->line, bytes + i, take);
      rc = end_line_at(r, r->line.data, r->line.len);
      lln_buf_reset(&r->line);
    }
    r->after_cr = *nl == '\r';
    i += take + 1;
    if (rc)
      return rc;
  }
  return 0;
}
