/* embeddings_answer: an upstream's embeddings list passed on with "model"
 * set to what the client asked, without building a tree of it: a list of
 * 2048 vectors of 3072 floats is ~60 MB of JSON and would be ten times that
 * as cJSON nodes. The top-level object is scanned member by member; only
 * "usage" (small) is parsed. */
#include "server/embeddings_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json_alloc.h"
#include "util/json_check.h"

typedef struct scan {
  const char *p, *end;
} scan;

static void skip_ws(scan *s) {
  while (s->p < s->end && strchr(" \t\r\n", *s->p) && *s->p)
    s->p++;
}

/* Past a string starting at s->p ('"'); 0 when it does not end. */
static int skip_string(scan *s) {
  for (s->p++; s->p < s->end; s->p++) {
    if (*s->p == '\\')
      s->p++;
    else if (*s->p == '"') {
      s->p++;
      return 1;
    }
  }
  return 0;
}

/* Past one value: a string, an object or array (brackets balanced, strings
 * skipped), or a number or literal. 0 when it is cut or empty. */
static int skip_value(scan *s) {
  if (s->p >= s->end)
    return 0;
  if (*s->p == '"')
    return skip_string(s);
  if (*s->p != '{' && *s->p != '[') {
    const char *start = s->p;
    while (s->p < s->end && !strchr(",}] \t\r\n", *s->p))
      s->p++;
    return s->p > start;
  }
  long depth = 0;
  while (s->p < s->end) {
    char c = *s->p;
    if (c == '"') {
      if (!skip_string(s))
        return 0;
      continue;
    }
    s->p++;
    if (c == '{' || c == '[')
      depth++;
    else if ((c == '}' || c == ']') && --depth == 0)
      return 1;
  }
  return 0;
}

static int key_is(const char *k, size_t len, const char *name) {
  return len == strlen(name) + 2 && memcmp(k + 1, name, len - 2) == 0;
}

/* usage.prompt_tokens, and the call's cost when `u` asks for it: usage.cost
 * or the price (embeddings have no completion tokens: 0 of them). */
static long read_usage(const char *usage, size_t len, lln__embed_usage *u) {
  LLN_JSON_HEAP();
  cJSON *doc = cJSON_ParseWithLength(usage, len);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "prompt_tokens");
  long n = cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble < 1e15 ? (long)t->valuedouble : 0;
  if (u && cJSON_IsObject(doc)) {
    if (!cJSON_GetObjectItemCaseSensitive(doc, "completion_tokens"))
      cJSON_AddNumberToObject(doc, "completion_tokens", 0);
    u->cost = lln_cost_of(doc, u->price, u->who);
  }
  cJSON_Delete(doc);
  return n;
}

/* The top-level members: where "model"'s value is (if any), whether "data"
 * is an array, the tokens of "usage" (and its cost, for `u`). 0 when it is
 * not a JSON object. */
static int scan_members(scan *s, const char **model, const char **model_end, int *has_data, long *tokens,
                        lln__embed_usage *u) {
  skip_ws(s);
  if (s->p >= s->end || *s->p != '{')
    return 0;
  s->p++;
  skip_ws(s);
  if (s->p < s->end && *s->p == '}')
    return s->p++, 1;
  for (;;) {
    skip_ws(s);
    const char *key = s->p;
    if (s->p >= s->end || *s->p != '"' || !skip_string(s))
      return 0;
    size_t key_len = (size_t)(s->p - key);
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':')
      return 0;
    s->p++;
    skip_ws(s);
    const char *value = s->p;
    if (!skip_value(s))
      return 0;
    if (key_is(key, key_len, "model")) {
      *model = value;
      *model_end = s->p;
    } else if (key_is(key, key_len, "data")) {
      *has_data = *value == '[';
    } else if (key_is(key, key_len, "usage") && *value == '{') {
      *tokens = read_usage(value, (size_t)(s->p - value), u);
    }
    skip_ws(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    return s->p < s->end && *s->p++ == '}';
  }
}

char *lln__embed_answer(const char *body, size_t len, const char *model, size_t *out_len, long *tokens) {
  return lln__embed_answer_priced(body, len, model, out_len, tokens, NULL);
}

char *lln__embed_answer_priced(const char *body, size_t len, const char *model, size_t *out_len, long *tokens,
                               lln__embed_usage *u) {
  *tokens = 0;
  if (u)
    u->cost = (lln_cost){.source = LLN_COST_UNKNOWN, .why = "the upstream reported no usage"};
  if (!body || lln_json_check(body, len, NULL, NULL) != 0)
    return NULL;
  scan s = {body, body + len};
  const char *m = NULL, *m_end = NULL;
  int has_data = 0;
  if (!scan_members(&s, &m, &m_end, &has_data, tokens, u) || !has_data)
    return NULL;
  skip_ws(&s);
  if (s.p != s.end)
    return NULL;
  lln_buf out;
  lln_buf_init(&out);
  if (m) {
    lln_buf_append(&out, body, (size_t)(m - body));
    lln_buf_json_string(&out, model, strlen(model));
    lln_buf_append(&out, m_end, (size_t)(s.end - m_end));
  } else {
    const char *open = memchr(body, '{', len);
    lln_buf_append(&out, body, (size_t)(open + 1 - body));
    lln_buf_puts(&out, "\"model\":");
    lln_buf_json_string(&out, model, strlen(model));
    lln_buf_putc(&out, ',');
    lln_buf_append(&out, open + 1, (size_t)(s.end - open - 1));
  }
  *out_len = out.len;
  return lln_buf_steal(&out);
}
