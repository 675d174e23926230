/* json_print: integers exactly, other numbers with the shortest %.*g that
 * reads back to the same double, non-finite numbers as null (as cJSON does).
 * Integers and short decimals (0.442, the latencies and costs llmnet adds)
 * are formatted here; only the rest go through snprintf and strtod. */
#include "util/json_print.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* %.15g's significant digits: below 10^15 a decimal with that many digits
 * or fewer is printed exactly. */
#define SHORT_DIGITS 15
static const double pow10s[SHORT_DIGITS + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                                1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* `a` (positive, not an integer) as %.15g writes it, when it is m / 10^k
 * for an integer m of at most 15 digits and %.15g uses no exponent for it
 * (it is 1e-4 or more); returns the length written at `out` (room for 24),
 * else 0. The double nearest to m / 10^k is the division's result (both
 * operands exact, IEEE division correctly rounded); %.15g rounds `a` to 15
 * significant digits, and as `a` is within half an ulp (about 1.1e-16 of
 * it) of m / 10^k, a point of that 15-digit grid (spaced at least 1e-15 of
 * it apart), it lands on m / 10^k; the smallest such k leaves no trailing
 * zero to strip. */
static size_t short_decimal(double a, char *out) {
  if (!(a >= 1e-4 && a < 1e15))
    return 0;
  for (int k = 1; k <= SHORT_DIGITS; k++) {
    double scaled = a * pow10s[k];
    if (scaled >= pow10s[SHORT_DIGITS])
      return 0;
    double m = floor(scaled + 0.5);
    if (m / pow10s[k] != a)
      continue;
    char digits[LLN_FMT_U64_MAX];
    size_t n = lln_fmt_u64(digits, (uint64_t)m), len = 0;
    if ((int)n <= k) { /* 0.000ddd: at most 3 zeros, as a >= 1e-4 */
      out[len++] = '0';
      out[len++] = '.';
      for (int z = k - (int)n; z > 0; z--)
        out[len++] = '0';
      memcpy(out + len, digits, n);
      return len + n;
    }
    size_t whole = n - (size_t)k;
    memcpy(out, digits, whole);
    out[whole] = '.';
    memcpy(out + whole + 1, digits + whole, (size_t)k);
    return n + 1;
  }
  return 0;
}

void lln_json_print_number(double d, lln_buf *out) {
  if (!isfinite(d)) {
    lln_buf_append(out, "null", 4);
    return;
  }
  lln_buf_reserve(out, 32);
  char *o = out->data + out->len;
  if (d == floor(d) && fabs(d) < 9007199254740992.0) {
    long long v = (long long)d;
    if (v < 0)
      *o++ = '-';
    o += lln_fmt_u64(o, v < 0 ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v);
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return;
  }
  if (d < 0)
    *o = '-';
  size_t n = short_decimal(fabs(d), o + (d < 0));
  if (n) {
    out->len += n + (d < 0);
    out->data[out->len] = '\0';
    return;
  }
  char tmp[32];
  int len = snprintf(tmp, sizeof tmp, "%.15g", d);
  if (strtod(tmp, NULL) != d)
    len = snprintf(tmp, sizeof tmp, "%.17g", d);
  lln_buf_append(out, tmp, (size_t)len);
}

/* What a fresh buffer gets for a document: a chat completion answer fits
 * without growing, in a block malloc keeps in its per-thread cache (up to
 * 1032 bytes). */
#define JSON_FIRST_RESERVE 1000

static void print_string(const char *s, lln_buf *out) {
  if (s)
    lln_buf_json_string(out, s, strlen(s));
  else
    lln_buf_append(out, "\"\"", 2);
}

void lln_json_print(const cJSON *item, lln_buf *out) {
  if (!out->cap) /* a document into a fresh buffer: room for a typical answer at once */
    lln_buf_reserve(out, JSON_FIRST_RESERVE);
  switch (item->type & 0xFF) {
  case cJSON_NULL: lln_buf_append(out, "null", 4); return;
  case cJSON_False: lln_buf_append(out, "false", 5); return;
  case cJSON_True: lln_buf_append(out, "true", 4); return;
  case cJSON_Number: lln_json_print_number(item->valuedouble, out); return;
  case cJSON_String: print_string(item->valuestring, out); return;
  case cJSON_Raw: lln_buf_puts(out, item->valuestring ? item->valuestring : "null"); return;
  case cJSON_Array:
  case cJSON_Object: {
    int object = (item->type & 0xFF) == cJSON_Object;
    lln_buf_putc(out, object ? '{' : '[');
    for (const cJSON *c = item->child; c; c = c->next) {
      if (c != item->child)
        lln_buf_putc(out, ',');
      if (object) {
        print_string(c->string, out);
        lln_buf_putc(out, ':');
      }
      lln_json_print(c, out);
    }
    lln_buf_putc(out, object ? '}' : ']');
    return;
  }
  default: lln_buf_append(out, "null", 4); return;
  }
}
