/* json_scan: one JSON object validated and its top-level members located,
 * without allocating or recursing (nesting is a bit stack of
 * LLN_JSON_SCAN_MAX_DEPTH bits). See json_scan.h for what it accepts. */
#include "util/json_scan.h"

#include "util/buf.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BAD SIZE_MAX

_Static_assert(LLN_JSON_SCAN_MAX_DEPTH <= 64, "the nesting stack is one uint64_t");

static inline size_t skip_ws(const char *s, size_t i, size_t len) {
  /* most tokens follow each other directly: one compare says so */
  while (i < len && (unsigned char)s[i] <= ' ' &&
         (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
    i++;
  return i;
}

static int hex4(const char *s, size_t i, size_t len, unsigned *cp) {
  if (len - i < 4)
    return -1;
  unsigned v = 0;
  for (size_t k = 0; k < 4; k++) {
    unsigned char c = (unsigned char)s[i + k];
    unsigned d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  *cp = v;
  return 0;
}

/* A \u escape at s[i] (the 'u'): the offset after it, a surrogate pair
 * taken whole, or BAD (as cJSON: a lone surrogate; and \u0000). */
static size_t unicode_escape(const char *s, size_t i, size_t len) {
  unsigned cp, low;
  if (hex4(s, i + 1, len, &cp) != 0 || cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
    return BAD;
  i += 5;
  if (cp < 0xD800 || cp > 0xDBFF)
    return i;
  if (len - i < 6 || s[i] != '\\' || s[i + 1] != 'u' || hex4(s, i + 2, len, &low) != 0 || low < 0xDC00 ||
      low > 0xDFFF)
    return BAD;
  return i + 6;
}

/* A string opening at s[i]: the offset after its closing quote, or BAD. */
static inline size_t scan_string(const char *s, size_t i, size_t len, int *escaped) {
  const unsigned char *u = (const unsigned char *)s;
  i++;
  for (;;) {
    i += lln_json_plain_prefix(s + i, len - i); /* 16 bytes at a time where SSE2 is there */
    if (i >= len || u[i] < 0x20)
      return BAD;
    if (u[i] == '"')
      return i + 1;
    *escaped = 1;
    if (++i >= len)
      return BAD;
    switch (u[i]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': i++; break;
    case 'u':
      if ((i = unicode_escape(s, i, len)) == BAD)
        return BAD;
      break;
    default: return BAD;
    }
  }
}

static size_t digits(const char *s, size_t i, size_t len, int *nonzero) {
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    *nonzero |= s[i] != '0';
    i++;
  }
  return i;
}

/* A number at s[i] in JSON's grammar: the offset after it, or BAD. */
static size_t scan_number(const char *s, size_t i, size_t len, unsigned *flags) {
  size_t start = i;
  int neg = s[i] == '-', nonzero = 0, frac = 0, exp = 0;
  if (neg)
    i++;
  if (i >= len || s[i] < '0' || s[i] > '9')
    return BAD;
  size_t int_start = i;
  i = s[i] == '0' ? i + 1 : digits(s, i, len, &nonzero);
  size_t int_digits = i - int_start;
  if (i < len && s[i] == '.') {
    frac = 1;
    size_t f = ++i;
    if ((i = digits(s, i, len, &nonzero)) == f)
      return BAD;
  }
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    exp = 1;
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
      i++;
    int ignored = 0;
    size_t e = i;
    if ((i = digits(s, i, len, &ignored)) == e)
      return BAD;
  }
  size_t n = i - start;
  if (n > LLN_JSON_SCAN_MAX_NUMBER)
    return BAD;
  if ((neg && !nonzero) || (!frac && !exp && int_digits > 15))
    *flags |= LLN_JSON_SCAN_INEXACT_NUMBER;
  else if (exp) {
    char tmp[LLN_JSON_SCAN_MAX_NUMBER + 1];
    memcpy(tmp, s + start, n);
    tmp[n] = '\0';
    if (!isfinite(strtod(tmp, NULL)))
      *flags |= LLN_JSON_SCAN_INEXACT_NUMBER;
  }
  return i;
}

static size_t scan_literal(const char *s, size_t i, size_t len, const char *word, size_t n) {
  return len - i >= n && memcmp(s + i, word, n) == 0 ? i + n : BAD;
}

/* A scalar at s[i] (not an array or object): the offset after it, or BAD. */
static size_t scan_scalar(const char *s, size_t i, size_t len, unsigned *flags) {
  int escaped = 0;
  switch (s[i]) {
  case '"': return scan_string(s, i, len, &escaped);
  case 't': return scan_literal(s, i, len, "true", 4);
  case 'f': return scan_literal(s, i, len, "false", 5);
  case 'n': return scan_literal(s, i, len, "null", 4);
  default: return s[i] == '-' || (s[i] >= '0' && s[i] <= '9') ? scan_number(s, i, len, flags) : BAD;
  }
}

/* A key and its colon at s[i]: the offset of the value after them, or BAD;
 * *key_end is the offset of the key's closing quote. */
static inline size_t scan_key(const char *s, size_t i, size_t len, int *escaped, size_t *key_end) {
  if (i >= len || s[i] != '"' || (i = scan_string(s, i, len, escaped)) == BAD)
    return BAD;
  *key_end = i - 1;
  i = skip_ws(s, i, len);
  if (i >= len || s[i] != ':')
    return BAD;
  return skip_ws(s, i + 1, len);
}

/* Any value at s[i], `depth` levels already open: the offset after it, or
 * BAD with *at the offending offset. A loop over a bit stack (1 = object). */
static size_t scan_value(const char *s, size_t i, size_t len, int depth, unsigned *flags, size_t *at) {
  uint64_t stack = 0;
  int open = 0, escaped = 0;
  size_t key_end;
  for (;;) {
    /* a value starts at s[i] */
    if (i >= len)
      goto bad;
    if (s[i] == '{' || s[i] == '[') {
      if (depth + open >= LLN_JSON_SCAN_MAX_DEPTH)
        goto bad;
      int obj = s[i] == '{';
      stack = stack << 1 | (uint64_t)obj;
      open++;
      i = skip_ws(s, i + 1, len);
      if (i < len && s[i] == (obj ? '}' : ']')) {
        stack >>= 1;
        open--;
        i++;
      } else {
        if (obj && (i = scan_key(s, i, len, &escaped, &key_end)) == BAD)
          goto bad;
        continue;
      }
    } else if ((i = scan_scalar(s, i, len, flags)) == BAD) {
      goto bad;
    }
    /* after a value: close what it ends, or go on to the next one */
    for (;;) {
      if (open == 0)
        return i;
      i = skip_ws(s, i, len);
      if (i >= len)
        goto bad;
      int obj = (int)(stack & 1);
      if (s[i] == (obj ? '}' : ']')) {
        stack >>= 1;
        open--;
        i++;
        continue;
      }
      if (s[i] != ',')
        goto bad;
      i = skip_ws(s, i + 1, len);
      if (obj && (i = scan_key(s, i, len, &escaped, &key_end)) == BAD)
        goto bad;
      break;
    }
  }
bad:
  *at = i == BAD ? len : i;
  return BAD;
}

static int reject(lln_json_scan *sc, size_t at) {
  sc->error_at = at;
  return -1;
}

int lln_json_scan_object_at(const char *s, size_t len, lln_json_scan *sc, size_t *end_at) {
  sc->count = 0;
  sc->flags = 0;
  sc->error_at = 0;
  size_t i = skip_ws(s, 0, len);
  if (i >= len || s[i] != '{')
    return reject(sc, i);
  i = skip_ws(s, i + 1, len);
  if (i < len && s[i] == '}') {
    *end_at = i + 1;
    return 0;
  }
  for (;;) {
    int escaped = 0;
    size_t key = i + 1, key_end = 0;
    size_t val = scan_key(s, i, len, &escaped, &key_end);
    if (val == BAD)
      return reject(sc, i < len ? i : len);
    size_t at = 0;
    size_t end = scan_value(s, val, len, 1, &sc->flags, &at);
    if (end == BAD)
      return reject(sc, at);
    if (sc->count < sc->max)
      sc->members[sc->count] = (lln_json_member){key, key_end - key, val, end - val, escaped};
    if (escaped)
      sc->flags |= LLN_JSON_SCAN_ESCAPED_KEY;
    sc->count++;
    i = skip_ws(s, end, len);
    if (i < len && s[i] == ',') {
      i = skip_ws(s, i + 1, len);
      continue;
    }
    if (i < len && s[i] == '}') {
      *end_at = i + 1;
      return 0;
    }
    return reject(sc, i);
  }
}

int lln_json_scan_object(const char *s, size_t len, lln_json_scan *sc) {
  size_t end = 0;
  if (lln_json_scan_object_at(s, len, sc, &end) != 0)
    return -1;
  end = skip_ws(s, end, len);
  return end == len ? 0 : reject(sc, end);
}

int lln_json_key_is(const char *s, const lln_json_member *m, const char *key) {
  size_t n = strlen(key);
  return !m->key_escaped && m->key_len == n && memcmp(s + m->key_off, key, n) == 0;
}
