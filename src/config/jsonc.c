/* jsonc: owns turning JSON-with-comments text into a cJSON tree. Comments are blanked in a copy of the
 * text (newlines kept, so offsets are positions in the user's file), then a strict scanner of our own
 * validates the result, because cJSON only reports where it stopped and accepts some non-JSON (raw
 * newlines in strings, "+1", "1."). The same pass records every member's offset for
 * lln_jsonc_position. cJSON then builds the tree from text already known to be valid. */
#include "config/jsonc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define NO_NODE SIZE_MAX

struct lln_jsonc_node {
  size_t parent;           /* NO_NODE for the root */
  size_t offset;           /* of the key for object members, of the value otherwise */
  size_t index;            /* element index, when the parent is an array */
  size_t key_off, key_len; /* decoded key in doc->keys, when the parent is an object */
  int in_array;
};

typedef struct scanner {
  const char *s;
  size_t len, pos;
  int depth;
  int failed;
  size_t err_off;
  char msg[160];
  struct lln_jsonc_node *nodes;
  size_t count, cap;
  lln_buf keys;
} scanner;

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q)
    abort(); /* same policy as util/buf: nothing useful to do without memory */
  return q;
}

static int fail(scanner *sc, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(scanner *sc, size_t off, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sc->msg, sizeof sc->msg, fmt, ap);
  va_end(ap);
  sc->failed = 1;
  sc->err_off = off;
  return -1;
}

static void offset_to_linecol(const char *s, size_t len, size_t off, int *line, int *col) {
  if (off > len)
    off = len;
  size_t ln = 1, start = 0;
  for (size_t i = 0; i < off; i++)
    if (s[i] == '\n')
      ln++, start = i + 1;
  *line = (int)ln;
  *col = (int)(off - start + 1);
}

/* Describes the byte at pos for messages; quoting only one byte never leaks a whole config value. */
static const char *describe(const scanner *sc, size_t pos, char *out, size_t n) {
  if (pos >= sc->len) {
    snprintf(out, n, "end of input");
    return out;
  }
  unsigned char c = (unsigned char)sc->s[pos];
  if (c >= 0x21 && c < 0x7f)
    snprintf(out, n, "'%c'", c);
  else
    snprintf(out, n, "byte 0x%02x", c);
  return out;
}

static void skip_ws(scanner *sc) {
  while (sc->pos < sc->len) {
    char c = sc->s[sc->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    sc->pos++;
  }
}

static size_t add_node(scanner *sc, size_t parent, size_t offset) {
  if (sc->count == sc->cap) {
    sc->cap = sc->cap ? sc->cap * 2 : 32;
    sc->nodes = xrealloc(sc->nodes, sc->cap * sizeof *sc->nodes);
  }
  struct lln_jsonc_node *n = &sc->nodes[sc->count];
  memset(n, 0, sizeof *n);
  n->parent = parent;
  n->offset = offset;
  return sc->count++;
}

static int hex4(const char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

static void put_utf8(lln_buf *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp, n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
  } else {
    u[0] = (char)(0xf0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
  }
  lln_buf_append(b, u, n);
}

/* Scans the string at sc->pos (a '"'); decodes it into out when out is not NULL (object keys). */
static int scan_string(scanner *sc, lln_buf *out) {
  const char *s = sc->s;
  size_t start = sc->pos++;
  for (;;) {
    if (sc->pos >= sc->len)
      return fail(sc, start, "unterminated string");
    unsigned char c = (unsigned char)s[sc->pos];
    if (c == '"') {
      sc->pos++;
      return 0;
    }
    if (c == '\n')
      return fail(sc, start, "unterminated string");
    if (c < 0x20)
      return fail(sc, sc->pos, "control character in string (escape it, e.g. \\t)");
    if (c != '\\') {
      if (out)
        lln_buf_putc(out, (char)c);
      sc->pos++;
      continue;
    }
    size_t esc = sc->pos;
    if (esc + 1 >= sc->len)
      return fail(sc, start, "unterminated string");
    char e = s[esc + 1];
    char lit = 0;
    switch (e) {
    case '"': lit = '"'; break;
    case '\\': lit = '\\'; break;
    case '/': lit = '/'; break;
    case 'b': lit = '\b'; break;
    case 'f': lit = '\f'; break;
    case 'n': lit = '\n'; break;
    case 'r': lit = '\r'; break;
    case 't': lit = '\t'; break;
    case 'u': break;
    default: {
      char d[24];
      return fail(sc, esc, "invalid escape in string: backslash followed by %s",
                  describe(sc, esc + 1, d, sizeof d));
    }
    }
    if (e != 'u') {
      if (out)
        lln_buf_putc(out, lit);
      sc->pos = esc + 2;
      continue;
    }
    unsigned cp;
    if (esc + 6 > sc->len || hex4(s + esc + 2, &cp) < 0)
      return fail(sc, esc, "invalid \\u escape: expected 4 hex digits");
    sc->pos = esc + 6;
    if (cp == 0)
      return fail(sc, esc,
                  "\\u0000 (a NUL character) cannot be in a composition string: the value would be "
                  "cut there; remove it");
    if (cp >= 0xdc00 && cp <= 0xdfff)
      return fail(sc, esc, "invalid \\u escape: unpaired UTF-16 surrogate");
    if (cp >= 0xd800 && cp <= 0xdbff) {
      unsigned lo;
      if (sc->pos + 6 > sc->len || s[sc->pos] != '\\' || s[sc->pos + 1] != 'u' ||
          hex4(s + sc->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
        return fail(sc, esc, "invalid \\u escape: unpaired UTF-16 surrogate");
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      sc->pos += 6;
    }
    if (out)
      put_utf8(out, cp);
  }
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int scan_number(scanner *sc) {
  const char *s = sc->s;
  size_t start = sc->pos;
  if (s[sc->pos] == '-')
    sc->pos++;
  if (sc->pos >= sc->len || !is_digit(s[sc->pos]))
    return fail(sc, start, "invalid number");
  if (s[sc->pos] == '0') {
    sc->pos++;
    if (sc->pos < sc->len && is_digit(s[sc->pos]))
      return fail(sc, start, "invalid number: leading zeros are not allowed");
  } else {
    while (sc->pos < sc->len && is_digit(s[sc->pos]))
      sc->pos++;
  }
  if (sc->pos < sc->len && s[sc->pos] == '.') {
    sc->pos++;
    if (sc->pos >= sc->len || !is_digit(s[sc->pos]))
      return fail(sc, start, "invalid number: expected digits after '.'");
    while (sc->pos < sc->len && is_digit(s[sc->pos]))
      sc->pos++;
  }
  if (sc->pos < sc->len && (s[sc->pos] == 'e' || s[sc->pos] == 'E')) {
    sc->pos++;
    if (sc->pos < sc->len && (s[sc->pos] == '+' || s[sc->pos] == '-'))
      sc->pos++;
    if (sc->pos >= sc->len || !is_digit(s[sc->pos]))
      return fail(sc, start, "invalid number: expected digits in the exponent");
    while (sc->pos < sc->len && is_digit(s[sc->pos]))
      sc->pos++;
  }
  return 0;
}

static int is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '$';
}

static int scan_word(scanner *sc) {
  size_t start = sc->pos;
  while (sc->pos < sc->len && is_word_char(sc->s[sc->pos]))
    sc->pos++;
  size_t n = sc->pos - start;
  const char *w = sc->s + start;
  if ((n == 4 && !memcmp(w, "true", 4)) || (n == 5 && !memcmp(w, "false", 5)) ||
      (n == 4 && !memcmp(w, "null", 4)))
    return 0;
  return fail(sc, start,
              "expected a value, found an unquoted word (strings must be double-quoted; literals are "
              "true, false and null)");
}

static int scan_value(scanner *sc, size_t self);

/* An unclosed container is reported at the end but names where it opened, which is what users need. */
static int fail_unclosed(scanner *sc, size_t open_off, char open) {
  int line, col;
  offset_to_linecol(sc->s, sc->len, open_off, &line, &col);
  return fail(sc, sc->len, "unexpected end of input: '%c' opened at %d:%d is not closed", open, line, col);
}

static int enter(scanner *sc) {
  if (sc->depth >= CJSON_NESTING_LIMIT)
    return fail(sc, sc->pos, "nesting deeper than %d levels", CJSON_NESTING_LIMIT);
  sc->depth++;
  return 0;
}

static int scan_object(scanner *sc, size_t self) {
  size_t open = sc->pos;
  if (enter(sc) < 0)
    return -1;
  sc->pos++;
  skip_ws(sc);
  if (sc->pos < sc->len && sc->s[sc->pos] == '}') {
    sc->pos++;
    sc->depth--;
    return 0;
  }
  size_t comma = NO_NODE;
  for (;;) {
    char d[24];
    skip_ws(sc);
    if (sc->pos >= sc->len)
      return fail_unclosed(sc, open, '{');
    char c = sc->s[sc->pos];
    if (c == '}' && comma != NO_NODE)
      return fail(sc, comma, "trailing comma is not JSON");
    if (c == '\'')
      return fail(sc, sc->pos, "object keys must be double-quoted, not single-quoted");
    if (c != '"') {
      if (is_word_char(c))
        return fail(sc, sc->pos, "object keys must be double-quoted");
      return fail(sc, sc->pos, "expected '\"' to begin an object key, found %s",
                  describe(sc, sc->pos, d, sizeof d));
    }
    size_t key_at = sc->pos;
    size_t key_off = sc->keys.len;
    if (scan_string(sc, &sc->keys) < 0)
      return -1;
    size_t node = add_node(sc, self, key_at);
    sc->nodes[node].key_off = key_off;
    sc->nodes[node].key_len = sc->keys.len - key_off;
    skip_ws(sc);
    if (sc->pos >= sc->len)
      return fail_unclosed(sc, open, '{');
    if (sc->s[sc->pos] != ':')
      return fail(sc, sc->pos, "expected ':' after object key, found %s", describe(sc, sc->pos, d, sizeof d));
    sc->pos++;
    if (scan_value(sc, node) < 0)
      return -1;
    skip_ws(sc);
    if (sc->pos >= sc->len)
      return fail_unclosed(sc, open, '{');
    c = sc->s[sc->pos];
    if (c == '}') {
      sc->pos++;
      sc->depth--;
      return 0;
    }
    if (c != ',')
      return fail(sc, sc->pos, "expected ',' or '}' after object member");
    comma = sc->pos++;
  }
}

static int scan_array(scanner *sc, size_t self) {
  size_t open = sc->pos;
  if (enter(sc) < 0)
    return -1;
  sc->pos++;
  skip_ws(sc);
  if (sc->pos < sc->len && sc->s[sc->pos] == ']') {
    sc->pos++;
    sc->depth--;
    return 0;
  }
  size_t comma = NO_NODE;
  for (size_t index = 0;; index++) {
    skip_ws(sc);
    if (sc->pos >= sc->len)
      return fail_unclosed(sc, open, '[');
    if (sc->s[sc->pos] == ']' && comma != NO_NODE)
      return fail(sc, comma, "trailing comma is not JSON");
    size_t node = add_node(sc, self, sc->pos);
    sc->nodes[node].in_array = 1;
    sc->nodes[node].index = index;
    if (scan_value(sc, node) < 0)
      return -1;
    skip_ws(sc);
    if (sc->pos >= sc->len)
      return fail_unclosed(sc, open, '[');
    char c = sc->s[sc->pos];
    if (c == ']') {
      sc->pos++;
      sc->depth--;
      return 0;
    }
    if (c != ',')
      return fail(sc, sc->pos, "expected ',' or ']' after array element");
    comma = sc->pos++;
  }
}

static int scan_value(scanner *sc, size_t self) {
  char d[24];
  skip_ws(sc);
  if (sc->pos >= sc->len)
    return fail(sc, sc->pos, "unexpected end of input, expected a value");
  char c = sc->s[sc->pos];
  switch (c) {
  case '{': return scan_object(sc, self);
  case '[': return scan_array(sc, self);
  case '"': return scan_string(sc, NULL);
  case '-': return scan_number(sc);
  case '\'': return fail(sc, sc->pos, "single-quoted strings are not JSON; use double quotes");
  case '/': return fail(sc, sc->pos, "unexpected '/' (comments start with // or /*)");
  default: break;
  }
  if (is_digit(c))
    return scan_number(sc);
  if (is_word_char(c))
    return scan_word(sc);
  return fail(sc, sc->pos, "expected a value, found %s", describe(sc, sc->pos, d, sizeof d));
}

static int scan_document(scanner *sc) {
  skip_ws(sc);
  if (sc->pos >= sc->len)
    return fail(sc, sc->pos, "empty document, expected a JSON value");
  size_t root = add_node(sc, NO_NODE, sc->pos);
  if (scan_value(sc, root) < 0)
    return -1;
  skip_ws(sc);
  if (sc->pos < sc->len)
    return fail(sc, sc->pos, "unexpected content after the top-level value");
  return 0;
}

/* Blanks comments in place, keeping '\n' so every later offset is still a position in the file.
 * Strings are tracked so "https://..." survives; a string is also ended by a newline here so that one
 * missing quote does not turn the rest of the file into a string (the scanner reports it). Returns the
 * offset of an unterminated block comment, or NO_NODE. */
static size_t blank_comments(char *t, size_t len) {
  size_t i = 0;
  while (i < len) {
    char c = t[i];
    if (c == '"') {
      i++;
      while (i < len && t[i] != '"' && t[i] != '\n')
        i += (t[i] == '\\' && i + 1 < len && t[i + 1] != '\n') ? 2 : 1;
      if (i < len && t[i] == '"')
        i++;
    } else if (c == '/' && i + 1 < len && t[i + 1] == '/') {
      while (i < len && t[i] != '\n')
        t[i++] = ' ';
    } else if (c == '/' && i + 1 < len && t[i + 1] == '*') {
      size_t start = i;
      t[i] = t[i + 1] = ' ';
      i += 2;
      for (;;) {
        if (i >= len)
          return start;
        if (t[i] == '*' && i + 1 < len && t[i + 1] == '/') {
          t[i] = t[i + 1] = ' ';
          i += 2;
          break;
        }
        if (t[i] != '\n')
          t[i] = ' ';
        i++;
      }
    } else {
      i++;
    }
  }
  return NO_NODE;
}

static void set_err(char *err, size_t err_size, const char *text, size_t len, size_t off, const char *msg) {
  if (!err || !err_size)
    return;
  int line, col;
  offset_to_linecol(text, len, off, &line, &col);
  snprintf(err, err_size, "%d:%d: %s", line, col, msg);
}

int lln_jsonc_parse(lln_jsonc_doc *doc, const char *text, size_t len, char *err, size_t err_size) {
  memset(doc, 0, sizeof *doc);
  if (err && err_size)
    err[0] = '\0';
  if (!text)
    len = 0;
  /* Editors on Windows add a BOM; positions are reported as the editor shows them, i.e. after it. */
  if (len >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
      (unsigned char)text[2] == 0xbf)
    text += 3, len -= 3;
  doc->text = xrealloc(NULL, len + 1);
  if (len)
    memcpy(doc->text, text, len);
  doc->text[len] = '\0';
  doc->text_len = len;

  size_t comment_err = blank_comments(doc->text, len);
  scanner sc;
  memset(&sc, 0, sizeof sc);
  sc.s = doc->text;
  sc.len = len;
  lln_buf_init(&sc.keys);
  scan_document(&sc);
  /* Whichever problem comes first in the file is the one to fix first. */
  if (comment_err != NO_NODE && (!sc.failed || sc.err_off >= comment_err)) {
    set_err(err, err_size, doc->text, len, comment_err, "unterminated comment");
    goto fail;
  }
  if (sc.failed) {
    set_err(err, err_size, doc->text, len, sc.err_off, sc.msg);
    goto fail;
  }

  const char *end = NULL;
  doc->root = cJSON_ParseWithLengthOpts(doc->text, len, &end, 0);
  if (!doc->root) {
    /* Only reachable if cJSON is stricter than the scanner somewhere, or out of memory. */
    size_t off = (end && end >= doc->text && end <= doc->text + len) ? (size_t)(end - doc->text) : 0;
    set_err(err, err_size, doc->text, len, off, "invalid JSON");
    goto fail;
  }

  doc->nodes = sc.nodes;
  doc->node_count = sc.count;
  doc->keys = lln_buf_steal(&sc.keys);
  size_t lines = 1;
  for (size_t i = 0; i < len; i++)
    lines += doc->text[i] == '\n';
  doc->line_starts = xrealloc(NULL, lines * sizeof *doc->line_starts);
  doc->line_starts[0] = 0;
  doc->line_count = 1;
  for (size_t i = 0; i < len; i++)
    if (doc->text[i] == '\n')
      doc->line_starts[doc->line_count++] = i + 1;
  return 0;

fail:
  free(sc.nodes);
  lln_buf_free(&sc.keys);
  lln_jsonc_free(doc);
  return -1;
}

int lln_jsonc_load_file(lln_jsonc_doc *doc, const char *path, char *err, size_t err_size) {
  memset(doc, 0, sizeof *doc);
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (err && err_size)
      snprintf(err, err_size, "%s: %s", path, strerror(errno));
    return -1;
  }
  lln_buf b;
  lln_buf_init(&b);
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    lln_buf_append(&b, chunk, n);
  int read_errno = ferror(f) ? errno : 0;
  fclose(f);
  if (read_errno) {
    if (err && err_size)
      snprintf(err, err_size, "%s: %s", path, strerror(read_errno));
    lln_buf_free(&b);
    return -1;
  }
  char inner[256];
  int rc = lln_jsonc_parse(doc, b.data, b.len, inner, sizeof inner);
  lln_buf_free(&b);
  if (rc < 0 && err && err_size)
    snprintf(err, err_size, "%s:%s", path, inner);
  return rc;
}

void lln_jsonc_free(lln_jsonc_doc *doc) {
  if (!doc)
    return;
  cJSON_Delete(doc->root);
  free(doc->text);
  free(doc->nodes);
  free(doc->keys);
  free(doc->line_starts);
  memset(doc, 0, sizeof *doc);
}

/* Compares an RFC 6901 segment (~0 = '~', ~1 = '/') with a decoded key without allocating. */
static int key_matches(const char *seg, size_t seg_len, const char *key, size_t key_len) {
  size_t k = 0;
  for (size_t i = 0; i < seg_len;) {
    char c = seg[i++];
    if (c == '~') {
      if (i >= seg_len)
        return 0;
      char e = seg[i++];
      if (e == '0')
        c = '~';
      else if (e == '1')
        c = '/';
      else
        return 0;
    }
    if (k >= key_len || key[k++] != c)
      return 0;
  }
  return k == key_len;
}

/* RFC 6901 array indexes: decimal, no sign, no leading zeros. */
static int parse_index(const char *seg, size_t seg_len, size_t *out) {
  if (seg_len == 0 || (seg_len > 1 && seg[0] == '0'))
    return -1;
  size_t v = 0;
  for (size_t i = 0; i < seg_len; i++) {
    if (!is_digit(seg[i]))
      return -1;
    size_t d = (size_t)(seg[i] - '0');
    if (v > (SIZE_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static size_t find_child(const lln_jsonc_doc *doc, size_t parent, const char *seg, size_t seg_len) {
  size_t index = 0;
  int have_index = parse_index(seg, seg_len, &index) == 0;
  /* Nodes are in document order, so parent's subtree is the run after it whose parents are >= it. */
  for (size_t i = parent + 1; i < doc->node_count; i++) {
    const struct lln_jsonc_node *n = &doc->nodes[i];
    if (n->parent < parent)
      break;
    if (n->parent != parent)
      continue;
    if (n->in_array) {
      if (have_index && n->index == index)
        return i;
    } else if (key_matches(seg, seg_len, doc->keys + n->key_off, n->key_len)) {
      return i;
    }
  }
  return NO_NODE;
}

int lln_jsonc_position(const lln_jsonc_doc *doc, const char *path, int *line, int *col) {
  if (!doc || !doc->nodes || !doc->node_count || !path)
    return -1;
  if (*path && *path != '/')
    return -1;
  size_t cur = 0;
  const char *p = path;
  while (*p == '/') {
    p++;
    size_t seg_len = strcspn(p, "/");
    cur = find_child(doc, cur, p, seg_len);
    if (cur == NO_NODE)
      return -1;
    p += seg_len;
  }
  size_t off = doc->nodes[cur].offset;
  size_t lo = 0, hi = doc->line_count; /* last line start <= off */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (doc->line_starts[mid] <= off)
      lo = mid;
    else
      hi = mid;
  }
  if (line)
    *line = (int)(lo + 1);
  if (col)
    *col = (int)(off - doc->line_starts[lo] + 1);
  return 0;
}
