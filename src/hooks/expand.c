/* expand: substitutes request variables into a function's fields, escaping
 * each inserted value for where it lands (argv, header, JSON string, URL).
 * The template is scanned once, left to right, and values are appended
 * without being scanned, so a value can never pull in another variable. */
#include "hooks/expand_int.h"

#include <string.h>

static int name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

/* JSON escaping without the quotes: lln_buf_json_string owns the escaping
 * rules, so its quotes are trimmed rather than its table duplicated. */
static void put_json(lln_buf *out, const char *v, size_t len) {
  size_t start = out->len;
  lln_buf_json_string(out, v, len);
  size_t inner = out->len - start - 2;
  memmove(out->data + start, out->data + start + 1, inner);
  out->len = start + inner;
  out->data[out->len] = '\0';
}

static void put_header(lln_buf *out, const char *v, size_t len) {
  lln_buf_reserve(out, len);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    out->data[out->len++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  out->data[out->len] = '\0';
}

static void put_url(lln_buf *out, const char *v, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  lln_buf_reserve(out, len * 3);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    if (name_char((char)c) || c == '-' || c == '.' || c == '~') {
      out->data[out->len++] = (char)c;
    } else {
      out->data[out->len++] = '%';
      out->data[out->len++] = hex[c >> 4];
      out->data[out->len++] = hex[c & 15];
    }
  }
  out->data[out->len] = '\0';
}

static void put_value(lln_buf *out, lln_expand_mode mode, const char *v) {
  if (!v)
    return;
  size_t len = strlen(v);
  switch (mode) {
  case LLN_EXPAND_TEXT: lln_buf_append(out, v, len); break;
  case LLN_EXPAND_HEADER: put_header(out, v, len); break;
  case LLN_EXPAND_JSON: put_json(out, v, len); break;
  case LLN_EXPAND_URL: put_url(out, v, len); break;
  }
}

void lln_expand(const char *tmpl, lln_expand_mode mode, lln_fn_lookup lookup, void *ctx, lln_buf *out) {
  /* an empty expansion still yields a NUL-terminated, non-NULL buffer */
  lln_buf_append(out, "", 0);
  if (!tmpl)
    return;
  const char *p = tmpl;
  while (*p) {
    const char *dollar = strchr(p, '$');
    if (!dollar) {
      lln_buf_puts(out, p);
      return;
    }
    lln_buf_append(out, p, (size_t)(dollar - p));
    p = dollar + 1;
    const char *name = NULL;
    size_t len = 0;
    if (*p == '$') {
      lln_buf_putc(out, '$');
      p++;
      continue;
    } else if (*p == '{' && name_start(p[1])) {
      const char *q = p + 1;
      while (name_char(*q))
        q++;
      if (*q == '}') {
        name = p + 1;
        len = (size_t)(q - name);
        p = q + 1;
      }
    } else if (name_start(*p)) {
      name = p;
      while (name_char(*p))
        p++;
      len = (size_t)(p - name);
    }
    if (!name) {
      /* not a variable reference ("$5", "$ ", "${x-y}"): the '$' is text */
      lln_buf_putc(out, '$');
      continue;
    }
    if (lookup)
      put_value(out, mode, lookup(ctx, name, len));
  }
}
