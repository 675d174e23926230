/* cache_key: see cache_key_int.h. The canonical text is built in a buffer
 * (as large as the request, which server.max-body-bytes bounds) and
 * hashed with the entry node and the header values after it. */
#include "pipeline/cache_key_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nested arrays and objects deeper than this are hashed as their printed
 * text (cJSON parses at most 1000 levels; this keeps the recursion small). */
#define CANON_MAX_DEPTH 64

/* Top-level members that never change the answer. */
static const char *const EXCLUDED[] = {"stream", "stream_options", "user", "metadata", NULL};

static int excluded(const char *key) {
  for (size_t i = 0; EXCLUDED[i]; i++) {
    if (strcmp(key, EXCLUDED[i]) == 0)
      return 1;
  }
  return 0;
}

static int by_key(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static void canon(const cJSON *v, lln_buf *out, int depth, int top);

static void canon_object(const cJSON *v, lln_buf *out, int depth, int top) {
  size_t n = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, v) n++;
  const cJSON **sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (!sorted)
    abort();
  n = 0;
  cJSON_ArrayForEach(item, v) {
    if (!(top && item->string && excluded(item->string)))
      sorted[n++] = item;
  }
  qsort(sorted, n, sizeof *sorted, by_key);
  lln_buf_putc(out, '{');
  for (size_t i = 0; i < n; i++) {
    if (i)
      lln_buf_putc(out, ',');
    const char *k = sorted[i]->string ? sorted[i]->string : "";
    lln_buf_json_string(out, k, strlen(k));
    lln_buf_putc(out, ':');
    canon(sorted[i], out, depth + 1, 0);
  }
  lln_buf_putc(out, '}');
  free(sorted);
}

static void canon(const cJSON *v, lln_buf *out, int depth, int top) {
  if (depth > CANON_MAX_DEPTH) {
    char *text = cJSON_PrintUnformatted(v);
    lln_buf_puts(out, text ? text : "null");
    cJSON_free(text);
    return;
  }
  if (cJSON_IsObject(v)) {
    canon_object(v, out, depth, top);
  } else if (cJSON_IsArray(v)) {
    lln_buf_putc(out, '[');
    const cJSON *item;
    int first = 1;
    cJSON_ArrayForEach(item, v) {
      if (!first)
        lln_buf_putc(out, ',');
      first = 0;
      canon(item, out, depth + 1, 0);
    }
    lln_buf_putc(out, ']');
  } else if (cJSON_IsString(v)) {
    lln_buf_json_string(out, v->valuestring, strlen(v->valuestring));
  } else if (cJSON_IsNumber(v)) {
    lln_buf_printf(out, "%.17g", v->valuedouble);
  } else if (cJSON_IsTrue(v)) {
    lln_buf_puts(out, "true");
  } else if (cJSON_IsFalse(v)) {
    lln_buf_puts(out, "false");
  } else {
    lln_buf_puts(out, "null");
  }
}

void lln_cache_canonical(const cJSON *request, lln_buf *out) { canon(request, out, 0, 1); }

/* A length-prefixed field, so no two different inputs hash alike. */
static void field(lln_sha256_ctx *c, const char *s, size_t len) {
  char n[32];
  int w = snprintf(n, sizeof n, "%zu:", len);
  lln_sha256_update(c, n, (size_t)w);
  lln_sha256_update(c, s, len);
}

void lln_cache_key(const cJSON *request, const char *entry, const lln_var_header *headers, size_t n,
                   char out[LLN_SHA256_HEX_SIZE]) {
  lln_buf text;
  lln_buf_init(&text);
  lln_cache_canonical(request, &text);
  lln_sha256_ctx c;
  lln_sha256_init(&c);
  static const char version[] = "llmnet-response-cache-1";
  field(&c, version, sizeof version - 1);
  field(&c, entry ? entry : "", entry ? strlen(entry) : 0);
  field(&c, text.data ? text.data : "", text.len);
  for (size_t i = 0; i < n; i++) {
    field(&c, headers[i].name, strlen(headers[i].name));
    field(&c, headers[i].value, strlen(headers[i].value));
  }
  unsigned char d[LLN_SHA256_DIGEST_LEN];
  lln_sha256_final(&c, d);
  lln_sha256_hex(d, out);
  lln_buf_free(&text);
}
