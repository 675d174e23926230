/* embed: the mock's embeddings answer (embed_int.h): deterministic
 * vectors so tests can check what llmnet passed through, byte for byte. */
#include "mock/embed_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mock/reply_int.h"
#include "util/json_print.h"

/* One input: a string, or an array of token numbers. */
static int input_ok(const cJSON *in) {
  if (cJSON_IsString(in))
    return 1;
  if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0)
    return 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, in) if (!cJSON_IsNumber(t)) return 0;
  return 1;
}

/* The inputs: "x", ["x", "y"], [1, 2] (one token array) or [[1], [2]]. */
static int inputs_ok(const cJSON *input, int *count) {
  if (cJSON_IsString(input) || (input_ok(input) && cJSON_IsNumber(cJSON_GetArrayItem(input, 0)))) {
    *count = 1;
    return 1;
  }
  if (!cJSON_IsArray(input) || cJSON_GetArraySize(input) == 0)
    return 0;
  const cJSON *in;
  cJSON_ArrayForEach(in, input) if (!input_ok(in)) return 0;
  *count = cJSON_GetArraySize(input);
  return 1;
}

int lln_mock_embed_read(lln_mock_embed *out, const cJSON *body, lln_arena *arena, const char **why) {
  memset(out, 0, sizeof *out);
  if (!cJSON_IsObject(body)) {
    *why = "the request body must be a JSON object";
    return -1;
  }
  const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "model"));
  out->model = lln_arena_strdup(arena, model ? model : "mock");
  out->input = cJSON_GetObjectItemCaseSensitive(body, "input");
  int count = 0;
  if (!inputs_ok(out->input, &count) || count > LLN_MOCK_EMBED_MAX_INPUTS) {
    *why = "mock: \"input\" must be a string, an array of strings, an array of token numbers or an array "
           "of token arrays (at most 2048)";
    return -1;
  }
  const cJSON *first = cJSON_IsArray(out->input) && !cJSON_IsNumber(cJSON_GetArrayItem(out->input, 0))
                           ? cJSON_GetArrayItem(out->input, 0)
                           : out->input;
  out->first_text = lln_arena_strdup(arena, cJSON_IsString(first) ? first->valuestring : "");
  const cJSON *dims = cJSON_GetObjectItemCaseSensitive(body, "dimensions");
  out->dimensions = LLN_MOCK_EMBED_DIMENSIONS;
  if (dims) {
    if (!cJSON_IsNumber(dims) || dims->valuedouble < 1 || dims->valuedouble > LLN_MOCK_EMBED_MAX_DIMENSIONS ||
        dims->valuedouble != floor(dims->valuedouble)) {
      *why = "mock: \"dimensions\" must be a whole number from 1 to 4096";
      return -1;
    }
    out->dimensions = dims->valueint;
  }
  const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "encoding_format"));
  if (fmt && strcmp(fmt, "float") != 0 && strcmp(fmt, "base64") != 0) {
    *why = "mock: \"encoding_format\" must be \"float\" or \"base64\"";
    return -1;
  }
  out->base64 = fmt && strcmp(fmt, "base64") == 0;
  return 0;
}

/* FNV-1a over the input's text (or its token numbers). */
static uint64_t input_hash(const cJSON *in) {
  uint64_t h = 0xcbf29ce484222325ULL;
  if (cJSON_IsString(in)) {
    for (const unsigned char *p = (const unsigned char *)in->valuestring; *p; p++)
      h = (h ^ *p) * 0x100000001b3ULL;
    return h;
  }
  const cJSON *t;
  cJSON_ArrayForEach(t, in) h = (h ^ (uint64_t)(int64_t)t->valuedouble) * 0x100000001b3ULL;
  return h;
}

static size_t input_tokens(const cJSON *in) {
  return cJSON_IsString(in) ? lln_mock_count_words(in->valuestring) : (size_t)cJSON_GetArraySize(in);
}

/* Component i of the vector of hash h: in [-1, 1), three decimals, so the
 * float and base64 forms carry the same value. */
static float component(uint64_t h, int i) {
  uint64_t x = h + 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return (float)((long)(x % 2000) - 1000) / 1000.0f;
}

static void put_base64(lln_buf *out, const unsigned char *p, size_t n) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v =
        (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    char q[4] = {A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=',
                 i + 2 < n ? A[v & 63] : '='};
    lln_buf_append(out, q, 4);
  }
}

static void put_vector(lln_buf *out, uint64_t h, int dims, int base64) {
  if (!base64) {
    lln_buf_putc(out, '[');
    for (int i = 0; i < dims; i++)
      lln_buf_printf(out, "%s%.3f", i ? "," : "", (double)component(h, i));
    lln_buf_putc(out, ']');
    return;
  }
  /* little-endian float32, as OpenAI's base64 encoding_format sends them */
  unsigned char *all = malloc((size_t)dims * 4);
  if (!all)
    abort();
  for (int i = 0; i < dims; i++) {
    float f = component(h, i);
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int b = 0; b < 4; b++)
      all[4 * i + b] = (unsigned char)(u >> (8 * b));
  }
  lln_buf_putc(out, '"');
  put_base64(out, all, (size_t)dims * 4);
  lln_buf_putc(out, '"');
  free(all);
}

void lln_mock_embed_json(lln_buf *out, const lln_mock_embed *e) {
  int single = !cJSON_IsArray(e->input) || cJSON_IsNumber(cJSON_GetArrayItem(e->input, 0));
  int n = single ? 1 : cJSON_GetArraySize(e->input);
  size_t tokens = 0;
  lln_buf_puts(out, "{\"object\":\"list\",\"data\":[");
  for (int i = 0; i < n; i++) {
    const cJSON *in = single ? e->input : cJSON_GetArrayItem(e->input, i);
    tokens += input_tokens(in);
    lln_buf_printf(out, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "", i);
    put_vector(out, input_hash(in), e->dimensions, e->base64);
    lln_buf_putc(out, '}');
  }
  lln_buf_puts(out, "],\"model\":");
  lln_buf_json_string(out, e->model, strlen(e->model));
  lln_buf_printf(out, ",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu", tokens, tokens);
  if (e->cost_per_token > 0) {
    lln_buf_puts(out, ",\"cost\":");
    lln_json_print_number((double)tokens * e->cost_per_token, out);
  }
  lln_buf_puts(out, "}}");
}
