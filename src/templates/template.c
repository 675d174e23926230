/* template: compiling a configuration string into literal and variable
 * segments once, binding load-time values into literal text, and
 * rendering the remaining request variables per call (see template.h). */
#include "templates/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q)
    abort();
  return q;
}

static char *dup_n(const char *s, size_t n) {
  char *d = xrealloc(NULL, n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* Appends a segment; literal text joins a literal segment before it.
 * `raw` is a variable as written (NULL for literal text). */
static void push_seg(lln_tmpl *t, lln_tmpl_kind kind, const char *s, size_t n, const char *raw,
                     size_t raw_len) {
  if (kind == LLN_TMPL_LITERAL && n == 0)
    return;
  if (kind == LLN_TMPL_LITERAL && t->n && t->segs[t->n - 1].kind == LLN_TMPL_LITERAL) {
    lln_tmpl_seg *last = &t->segs[t->n - 1];
    last->text = xrealloc(last->text, last->len + n + 1);
    memcpy(last->text + last->len, s, n);
    last->len += n;
    last->text[last->len] = '\0';
    return;
  }
  t->segs = xrealloc(t->segs, (t->n + 1) * sizeof *t->segs);
  t->segs[t->n++] = (lln_tmpl_seg){kind, dup_n(s, n), n, raw ? dup_n(raw, raw_len) : NULL};
}

static void push(lln_tmpl *t, const char *s, size_t n) { push_seg(t, LLN_TMPL_LITERAL, s, n, NULL, 0); }

/* Length of the reference name at p (after '$' or '{'), 0 if none.
 * "secrets.A.B" takes its dotted form; other names stop at the first
 * non-identifier character. */
static size_t dollar_name_len(const char *p) {
  if (!ident_start(*p))
    return 0;
  size_t n = 0;
  while (ident_char(p[n]))
    n++;
  if (n == 7 && strncmp(p, "secrets", 7) == 0 && p[n] == '.') {
    for (int part = 0; part < 2; part++) {
      if (p[n] != '.' || !ident_start(p[n + 1]))
        return part == 0 ? 7 : n;
      n++;
      while (ident_char(p[n]) || p[n] == '-')
        n++;
    }
  }
  return n;
}

size_t lln_tmpl_dollar_ref(const char *p, size_t *name_off, size_t *name_len) {
  if (p[0] != '$')
    return 0;
  int braced = p[1] == '{';
  const char *name = p + 1 + braced;
  size_t n = dollar_name_len(name);
  if (n == 0 || n > LLN_TMPL_MAX_NAME || (braced && name[n] != '}'))
    return 0;
  *name_off = (size_t)(1 + braced);
  *name_len = n;
  return 1 + (size_t)braced + n + (size_t)braced;
}

static void compile_dollar(lln_tmpl *t, const char *p) {
  while (*p) {
    const char *d = strchr(p, '$');
    if (!d) {
      push(t, p, strlen(p));
      return;
    }
    push(t, p, (size_t)(d - p));
    if (d[1] == '$') {
      push(t, "$", 1);
      p = d + 2;
      continue;
    }
    size_t off, n, len = lln_tmpl_dollar_ref(d, &off, &n);
    if (!len) { /* not a reference: the '$' is text */
      push(t, "$", 1);
      p = d + 1;
      continue;
    }
    push_seg(t, LLN_TMPL_VAR, d + off, n, d, len);
    p = d + len;
  }
}

/* {{NAME}}: the text up to the next "}}", blanks around it trimmed, is the
 * name (header variables may hold '-'); "{{" without "}}" is text. */
static void compile_braces(lln_tmpl *t, const char *p) {
  while (*p) {
    const char *o = strstr(p, "{{");
    const char *c = o ? strstr(o + 2, "}}") : NULL;
    if (!o || !c) {
      push(t, p, strlen(p));
      return;
    }
    push(t, p, (size_t)(o - p));
    const char *name = o + 2;
    while (*name == ' ')
      name++;
    size_t n = name < c ? (size_t)(c - name) : 0;
    while (n && name[n - 1] == ' ')
      n--;
    if (n == 0 || n > LLN_TMPL_MAX_NAME)
      push(t, o, (size_t)(c + 2 - o));
    else
      push_seg(t, LLN_TMPL_VAR, name, n, o, (size_t)(c + 2 - o));
    p = c + 2;
  }
}

lln_tmpl *lln_tmpl_compile(const char *src, lln_tmpl_syntax syntax) {
  lln_tmpl *t = xrealloc(NULL, sizeof *t);
  *t = (lln_tmpl){.syntax = syntax};
  if (!src)
    return t;
  if (syntax == LLN_TMPL_BRACES)
    compile_braces(t, src);
  else
    compile_dollar(t, src);
  return t;
}

void lln_tmpl_free(lln_tmpl *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n; i++) {
    free(t->segs[i].text);
    free(t->segs[i].raw);
  }
  free(t->segs);
  free(t);
}

int lln_tmpl_bind(lln_tmpl *t, lln_tmpl_binder binder, void *ctx, lln_tmpl_escape escape, char *missing,
                  size_t missing_size) {
  int n_missing = 0;
  lln_tmpl out = {.syntax = t->syntax};
  lln_buf text;
  lln_buf_init(&text);
  for (size_t i = 0; i < t->n; i++) {
    lln_tmpl_seg *s = &t->segs[i];
    if (s->kind == LLN_TMPL_LITERAL) {
      push(&out, s->text, s->len);
      continue;
    }
    const char *value = NULL;
    lln_tmpl_bind_result r = binder(ctx, s->text, &value);
    lln_buf_reset(&text);
    if (r == LLN_TMPL_KEEP) {
      push_seg(&out, LLN_TMPL_VAR, s->text, s->len, s->raw, strlen(s->raw));
      continue;
    }
    if (r == LLN_TMPL_VALUE && value) {
      if (escape)
        escape(&text, value, strlen(value));
      else
        lln_buf_puts(&text, value);
    } else {
      if (n_missing++ == 0 && missing && missing_size)
        snprintf(missing, missing_size, "%s", s->text);
      lln_buf_puts(&text, s->raw);
    }
    push(&out, text.data ? text.data : "", text.len);
  }
  lln_buf_free(&text);
  for (size_t i = 0; i < t->n; i++) {
    free(t->segs[i].text);
    free(t->segs[i].raw);
  }
  free(t->segs);
  *t = out;
  return n_missing;
}

void lln_tmpl_render(const lln_tmpl *t, lln_tmpl_lookup lookup, void *ctx, lln_tmpl_escape escape,
                     lln_buf *out) {
  lln_buf_append(out, "", 0); /* an empty result is still a string */
  for (size_t i = 0; t && i < t->n; i++) {
    const lln_tmpl_seg *s = &t->segs[i];
    if (s->kind == LLN_TMPL_LITERAL) {
      lln_buf_append(out, s->text, s->len);
      continue;
    }
    const char *v = lookup ? lookup(ctx, s->text, s->len) : NULL;
    if (!v) {
      if (t->syntax == LLN_TMPL_BRACES) /* an unknown {{NAME}} stays as written */
        lln_buf_puts(out, s->raw);
      continue;
    }
    if (escape)
      escape(out, v, strlen(v));
    else
      lln_buf_puts(out, v);
  }
}

void lln_tmpl_format(const lln_tmpl *t, lln_buf *out) {
  lln_buf_append(out, "", 0);
  for (size_t i = 0; t && i < t->n; i++) {
    const lln_tmpl_seg *s = &t->segs[i];
    if (s->kind == LLN_TMPL_VAR) {
      lln_buf_printf(out, t->syntax == LLN_TMPL_BRACES ? "{{%s}}" : "${%s}", s->text);
      continue;
    }
    if (t->syntax == LLN_TMPL_BRACES) { /* shown as is: braces text has no escape */
      lln_buf_append(out, s->text, s->len);
      continue;
    }
    for (size_t k = 0; k < s->len; k++) {
      if (s->text[k] == '$')
        lln_buf_putc(out, '$');
      lln_buf_putc(out, s->text[k]);
    }
  }
}

size_t lln_tmpl_var_count(const lln_tmpl *t) {
  size_t n = 0;
  for (size_t i = 0; t && i < t->n; i++)
    n += t->segs[i].kind == LLN_TMPL_VAR;
  return n;
}

void lln_tmpl_prepend(lln_tmpl *t, const char *text, size_t len) {
  if (!len)
    return;
  if (t->n && t->segs[0].kind == LLN_TMPL_LITERAL) {
    lln_tmpl_seg *s = &t->segs[0];
    char *joined = xrealloc(NULL, len + s->len + 1);
    memcpy(joined, text, len);
    memcpy(joined + len, s->text, s->len + 1);
    free(s->text);
    s->text = joined;
    s->len += len;
    return;
  }
  t->segs = xrealloc(t->segs, (t->n + 1) * sizeof *t->segs);
  memmove(t->segs + 1, t->segs, t->n * sizeof *t->segs);
  t->segs[0] = (lln_tmpl_seg){LLN_TMPL_LITERAL, dup_n(text, len), len, NULL};
  t->n++;
}

/* JSON escaping without the quotes: lln_buf_json_string owns the escaping
 * rules, so its quotes are trimmed rather than its table duplicated. */
void lln_tmpl_escape_json(lln_buf *out, const char *v, size_t len) {
  size_t start = out->len;
  lln_buf_json_string(out, v, len);
  size_t inner = out->len - start - 2;
  memmove(out->data + start, out->data + start + 1, inner);
  out->len = start + inner;
  out->data[out->len] = '\0';
}

void lln_tmpl_escape_header(lln_buf *out, const char *v, size_t len) {
  lln_buf_reserve(out, len);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    out->data[out->len++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  out->data[out->len] = '\0';
}

void lln_tmpl_escape_url(lln_buf *out, const char *v, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  lln_buf_reserve(out, len * 3);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    if (ident_char((char)c) || c == '-' || c == '.' || c == '~') {
      out->data[out->len++] = (char)c;
    } else {
      out->data[out->len++] = '%';
      out->data[out->len++] = hex[c >> 4];
      out->data[out->len++] = hex[c & 15];
    }
  }
  out->data[out->len] = '\0';
}
