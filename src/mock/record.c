/* record: entries are serialised when they arrive, so a request's arena
 * and parsed body can go at once and a GET only concatenates strings. */
#include "mock/record_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lln_mock_record_init(lln_mock_record *r, size_t cap) {
  r->cap = cap ? cap : 1;
  r->items = calloc(r->cap, sizeof *r->items);
  if (!r->items)
    abort();
  r->start = 0;
  r->count = 0;
}

void lln_mock_record_clear(lln_mock_record *r) {
  for (size_t i = 0; i < r->count; i++) {
    size_t k = (r->start + i) % r->cap;
    free(r->items[k]);
    r->items[k] = NULL;
  }
  r->start = 0;
  r->count = 0;
}

void lln_mock_record_free(lln_mock_record *r) {
  if (!r->items)
    return;
  lln_mock_record_clear(r);
  free(r->items);
  r->items = NULL;
}

static void put_lower_json_string(lln_buf *out, const char *s) {
  lln_buf tmp;
  lln_buf_init(&tmp);
  for (; *s; s++)
    lln_buf_putc(&tmp, (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s));
  lln_buf_json_string(out, tmp.data ? tmp.data : "", tmp.len);
  lln_buf_free(&tmp);
}

void lln_mock_record_add(lln_mock_record *r, const lln_http_request *req, const cJSON *body) {
  lln_buf e;
  lln_buf_init(&e);
  lln_buf_puts(&e, "{\"path\":");
  lln_buf_json_string(&e, req->path, strlen(req->path));
  lln_buf_puts(&e, ",\"headers\":{");
  /* A repeated header becomes one member with the values joined by ", "
   * (RFC 9110's list rule), keeping the object free of duplicate keys. */
  int first = 1;
  for (size_t i = 0; i < req->header_count; i++) {
    const char *name = req->headers[i].name;
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcasecmp(req->headers[j].name, name) == 0;
    if (seen)
      continue;
    if (!first)
      lln_buf_putc(&e, ',');
    first = 0;
    put_lower_json_string(&e, name);
    lln_buf_putc(&e, ':');
    lln_buf v;
    lln_buf_init(&v);
    lln_buf_puts(&v, req->headers[i].value);
    for (size_t j = i + 1; j < req->header_count; j++) {
      if (strcasecmp(req->headers[j].name, name) == 0) {
        lln_buf_puts(&v, ", ");
        lln_buf_puts(&v, req->headers[j].value);
      }
    }
    lln_buf_json_string(&e, v.data, v.len);
    lln_buf_free(&v);
  }
  lln_buf_puts(&e, "},\"body\":");
  char *printed = body ? cJSON_PrintUnformatted(body) : NULL;
  if (printed) {
    lln_buf_puts(&e, printed);
    free(printed);
  } else {
    lln_buf_json_string(&e, req->body ? req->body : "", req->body ? req->body_len : 0);
  }
  lln_buf_putc(&e, '}');

  if (r->count == r->cap) {
    free(r->items[r->start]);
    r->items[r->start] = NULL;
    r->start = (r->start + 1) % r->cap;
    r->count--;
  }
  r->items[(r->start + r->count) % r->cap] = lln_buf_steal(&e);
  r->count++;
}

void lln_mock_record_json(const lln_mock_record *r, lln_buf *out) {
  lln_buf_putc(out, '[');
  for (size_t i = 0; i < r->count; i++) {
    if (i)
      lln_buf_putc(out, ',');
    lln_buf_puts(out, r->items[(r->start + i) % r->cap]);
  }
  lln_buf_putc(out, ']');
}
