/* secrets: a table of values, longest first, behind a read-write lock.
 * Adds happen at (re)load on the control thread; scrubs take the shared
 * lock and compare each position's first byte before a memcmp, which is
 * cheap for the few values a composition has and the short texts scrubbed
 * (error bodies, log lines). */
#include "util/secrets.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct secret {
  char *value;
  size_t len;
} secret;

static secret *table;
static size_t n_table;
static uv_rwlock_t lock;
static uv_once_t once = UV_ONCE_INIT;

static void init_lock(void) { uv_rwlock_init(&lock); }

void lln_secrets_add(const char *value, size_t len) {
  if (!value || len < LLN_SECRET_MIN_LEN)
    return;
  uv_once(&once, init_lock);
  uv_rwlock_wrlock(&lock);
  int known = 0;
  for (size_t i = 0; i < n_table && !known; i++)
    known = table[i].len == len && memcmp(table[i].value, value, len) == 0;
  if (!known && n_table < LLN_SECRETS_MAX) {
    secret *t = realloc(table, (n_table + 1) * sizeof *t);
    char *copy = malloc(len + 1);
    if (!t || !copy)
      abort();
    memcpy(copy, value, len);
    copy[len] = '\0';
    table = t;
    /* longest first, so a key that contains another is replaced whole */
    size_t at = 0;
    while (at < n_table && table[at].len >= len)
      at++;
    memmove(table + at + 1, table + at, (n_table - at) * sizeof *table);
    table[at] = (secret){copy, len};
    n_table++;
  }
  uv_rwlock_wrunlock(&lock);
}

void lln_secrets_add_header(const char *line) {
  const char *colon = line ? strchr(line, ':') : NULL;
  if (!colon)
    return;
  const char *v = colon + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t n = strlen(v);
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  lln_secrets_add(v, n);
  const char *sp = NULL;
  for (size_t i = 0; i < n; i++)
    if (v[i] == ' ')
      sp = v + i;
  if (sp)
    lln_secrets_add(sp + 1, (size_t)(v + n - (sp + 1)));
}

size_t lln_secrets_count(void) {
  uv_once(&once, init_lock);
  uv_rwlock_rdlock(&lock);
  size_t n = n_table;
  uv_rwlock_rdunlock(&lock);
  return n;
}

/* The registered value that starts at text[i], or NULL. */
static const secret *match_at(const char *text, size_t len, size_t i) {
  for (size_t k = 0; k < n_table; k++) {
    const secret *s = &table[k];
    if (s->len <= len - i && text[i] == s->value[0] && memcmp(text + i, s->value, s->len) == 0)
      return s;
  }
  return NULL;
}

size_t lln_secrets_scrub(const char *text, size_t len, lln_buf *out) {
  uv_once(&once, init_lock);
  uv_rwlock_rdlock(&lock);
  size_t replaced = 0, copied = 0;
  for (size_t i = 0; n_table && i + LLN_SECRET_MIN_LEN <= len;) {
    const secret *s = match_at(text, len, i);
    if (!s) {
      i++;
      continue;
    }
    lln_buf_append(out, text + copied, i - copied);
    lln_buf_puts(out, LLN_REDACTED);
    i += s->len;
    copied = i;
    replaced++;
  }
  uv_rwlock_rdunlock(&lock);
  lln_buf_append(out, text + copied, len - copied);
  return replaced;
}

size_t lln_secrets_scrub_buf(lln_buf *b) {
  if (!b->data || b->len < LLN_SECRET_MIN_LEN)
    return 0;
  lln_buf out;
  lln_buf_init(&out);
  size_t n = lln_secrets_scrub(b->data, b->len, &out);
  if (n) {
    lln_buf_free(b);
    *b = out;
  } else {
    lln_buf_free(&out);
  }
  return n;
}

size_t lln_secrets_scrub_str(char **s) {
  if (!s || !*s)
    return 0;
  lln_buf b = {.data = *s, .len = strlen(*s), .cap = strlen(*s) + 1};
  size_t n = lln_secrets_scrub_buf(&b);
  *s = b.data;
  return n;
}

void lln_secrets_clear(void) {
  uv_once(&once, init_lock);
  uv_rwlock_wrlock(&lock);
  for (size_t i = 0; i < n_table; i++)
    free(table[i].value);
  free(table);
  table = NULL;
  n_table = 0;
  uv_rwlock_wrunlock(&lock);
}
