/* envfile: owns parsing dotenv text into key/value pairs and loading it from a file. The syntax follows
 * what docker compose and python-dotenv accept in common, so existing .env files work unchanged.
 * Messages name keys and lines only: a value could be an API key and errors end up in logs. */
#include "config/envfile_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

typedef struct cursor {
  const char *s;
  size_t len, pos;
  size_t line;
} cursor;

static void set_err(char *err, size_t err_size, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_err(char *err, size_t err_size, size_t line, const char *fmt, ...) {
  if (!err || !err_size)
    return;
  int n = snprintf(err, err_size, "%zu: ", line);
  if (n < 0 || (size_t)n >= err_size)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
  va_end(ap);
}

static int is_key_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_key_char(char c) { return is_key_start(c) || (c >= '0' && c <= '9'); }
static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int at_eol(const cursor *c) {
  if (c->pos >= c->len || c->s[c->pos] == '\n')
    return 1;
  /* CRLF files: a '\r' right before the newline is part of the line ending. */
  return c->s[c->pos] == '\r' && (c->pos + 1 == c->len || c->s[c->pos + 1] == '\n');
}

static void skip_blanks(cursor *c) {
  while (c->pos < c->len && is_blank(c->s[c->pos]))
    c->pos++;
}

static void skip_line(cursor *c) {
  while (c->pos < c->len && c->s[c->pos] != '\n')
    c->pos++;
  if (c->pos < c->len) {
    c->pos++;
    c->line++;
  }
}

static void set_entry(lln_envfile *f, size_t *cap, char *key, char *value) {
  for (size_t i = 0; i < f->count; i++) {
    if (strcmp(f->entries[i].key, key) == 0) {
      free(f->entries[i].value);
      f->entries[i].value = value;
      free(key);
      return;
    }
  }
  if (f->count == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    lln_env_entry *e = realloc(f->entries, *cap * sizeof *e);
    if (!e)
      abort(); /* same policy as util/buf */
    f->entries = e;
  }
  f->entries[f->count].key = key;
  f->entries[f->count].value = value;
  f->count++;
}

/* Reads a quoted value starting at the opening quote into v; newlines inside are kept. */
static int read_quoted(cursor *c, lln_buf *v, const char *key, char *err, size_t err_size) {
  char q = c->s[c->pos++];
  size_t open_line = c->line;
  for (;;) {
    if (c->pos >= c->len) {
      set_err(err, err_size, open_line, "unterminated quoted value for %s", key);
      return -1;
    }
    char ch = c->s[c->pos++];
    if (ch == q)
      return 0;
    if (ch == '\0') {
      set_err(err, err_size, c->line, "NUL byte in the value of %s", key);
      return -1;
    }
    if (ch == '\n')
      c->line++;
    if (q == '"' && ch == '\\' && c->pos < c->len) {
      char e = c->s[c->pos];
      char lit = 0;
      switch (e) {
      case 'n': lit = '\n'; break;
      case 't': lit = '\t'; break;
      case 'r': lit = '\r'; break;
      case '"': lit = '"'; break;
      case '\\': lit = '\\'; break;
      default: break;
      }
      if (lit) {
        lln_buf_putc(v, lit);
        c->pos++;
        continue;
      }
      /* Unknown escapes stay as written so Windows paths and regexes survive. */
    }
    lln_buf_putc(v, ch);
  }
}

/* Reads an unquoted value to the end of the line. A '#' starts a comment only after whitespace, so
 * "https://host/#frag" and "pa#ss" stay whole. */
static int read_unquoted(cursor *c, lln_buf *v, const char *key, char *err, size_t err_size) {
  size_t start = c->pos;
  while (!at_eol(c)) {
    char ch = c->s[c->pos];
    if (ch == '#' && c->pos > 0 && is_blank(c->s[c->pos - 1]))
      break;
    if (ch == '\0') {
      set_err(err, err_size, c->line, "NUL byte in the value of %s", key);
      return -1;
    }
    c->pos++;
  }
  size_t end = c->pos;
  while (end > start && (is_blank(c->s[end - 1]) || c->s[end - 1] == '\r'))
    end--;
  lln_buf_append(v, c->s + start, end - start);
  skip_line(c);
  return 0;
}

/* Explains a line that is not KEY=VALUE without echoing it: the line may be a pasted secret. */
static void describe_bad_line(const cursor *c, size_t line_start, char *err, size_t err_size) {
  size_t i = line_start;
  while (i < c->len && c->s[i] != '\n' && c->s[i] != '=')
    i++;
  if (i >= c->len || c->s[i] != '=') {
    set_err(err, err_size, c->line, "expected KEY=VALUE");
    return;
  }
  size_t k = line_start;
  while (k < i && is_blank(c->s[k]))
    k++;
  if (k == i)
    set_err(err, err_size, c->line, "expected KEY=VALUE, found no key before '='");
  else
    set_err(err, err_size, c->line,
            "expected KEY=VALUE, the key is not valid (letters, digits and '_', not starting with a digit)");
}

int lln_envfile_parse(lln_envfile *out, const char *text, size_t len, char *err, size_t err_size) {
  memset(out, 0, sizeof *out);
  if (err && err_size)
    err[0] = '\0';
  if (!text)
    len = 0;
  if (len >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
      (unsigned char)text[2] == 0xbf)
    text += 3, len -= 3;
  cursor c = {text, len, 0, 1};
  size_t cap = 0;
  lln_buf value;
  lln_buf_init(&value);
  while (c.pos < c.len) {
    skip_blanks(&c);
    if (at_eol(&c) || c.s[c.pos] == '#') {
      skip_line(&c);
      continue;
    }
    size_t line_start = c.pos;
    if (c.len - c.pos > 6 && memcmp(c.s + c.pos, "export", 6) == 0 && is_blank(c.s[c.pos + 6])) {
      /* "export =1" sets a variable called export; only a following key makes it the prefix. */
      size_t save = c.pos;
      c.pos += 6;
      skip_blanks(&c);
      if (c.pos < c.len && is_key_start(c.s[c.pos]))
        line_start = c.pos;
      else
        c.pos = save;
    }
    if (!is_key_start(c.s[c.pos])) {
      describe_bad_line(&c, line_start, err, err_size);
      goto fail;
    }
    size_t key_start = c.pos;
    while (c.pos < c.len && is_key_char(c.s[c.pos]))
      c.pos++;
    size_t key_len = c.pos - key_start;
    skip_blanks(&c);
    if (c.pos >= c.len || c.s[c.pos] != '=') {
      describe_bad_line(&c, line_start, err, err_size);
      goto fail;
    }
    c.pos++;
    skip_blanks(&c);
    char *key = strndup(c.s + key_start, key_len);
    if (!key)
      abort();
    lln_buf_reset(&value);
    int rc;
    if (c.pos < c.len && (c.s[c.pos] == '"' || c.s[c.pos] == '\'')) {
      rc = read_quoted(&c, &value, key, err, err_size);
      if (rc == 0) {
        skip_blanks(&c);
        if (c.pos < c.len && c.s[c.pos] == '#') {
          skip_line(&c);
        } else if (at_eol(&c)) {
          skip_line(&c);
        } else {
          set_err(err, err_size, c.line, "unexpected text after the closing quote of %s", key);
          rc = -1;
        }
      }
    } else {
      rc = read_unquoted(&c, &value, key, err, err_size);
    }
    if (rc < 0) {
      free(key);
      goto fail;
    }
    set_entry(out, &cap, key, lln_buf_steal(&value));
  }
  lln_buf_free(&value);
  return 0;

fail:
  lln_buf_free(&value);
  lln_envfile_free(out);
  return -1;
}

int lln_envfile_load(lln_envfile *out, const char *path, char *err, size_t err_size) {
  memset(out, 0, sizeof *out);
  lln_buf full;
  lln_buf_init(&full);
  if (path[0] == '~' && path[1] == '/') {
    const char *home = getenv("HOME");
    if (!home || !*home) {
      if (err && err_size)
        snprintf(err, err_size, "%s: cannot expand '~': HOME is not set", path);
      return -1;
    }
    lln_buf_printf(&full, "%s%s", home, path + 1);
  } else {
    lln_buf_puts(&full, path);
  }
  FILE *f = fopen(full.data, "rb");
  int open_errno = errno;
  lln_buf_free(&full);
  if (!f) {
    if (err && err_size)
      snprintf(err, err_size, "%s: %s", path, strerror(open_errno));
    return -1;
  }
  lln_buf b;
  lln_buf_init(&b);
  char chunk[4096];
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
  int rc = lln_envfile_parse(out, b.data, b.len, inner, sizeof inner);
  lln_buf_free(&b);
  if (rc < 0 && err && err_size)
    snprintf(err, err_size, "%s:%s", path, inner);
  return rc;
}

const char *lln_envfile_get(const lln_envfile *f, const char *key) {
  if (!f || !key)
    return NULL;
  for (size_t i = 0; i < f->count; i++)
    if (strcmp(f->entries[i].key, key) == 0)
      return f->entries[i].value;
  return NULL;
}

void lln_envfile_free(lln_envfile *f) {
  if (!f)
    return;
  for (size_t i = 0; i < f->count; i++) {
    free(f->entries[i].key);
    free(f->entries[i].value);
  }
  free(f->entries);
  f->entries = NULL;
  f->count = 0;
}
