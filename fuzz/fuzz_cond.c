/* fuzz_cond: the "if" condition language (src/conditions/cond.h). Conditions
 * come from composition files users write by hand, and a parsed condition
 * is evaluated on every request, so the parser must reject anything odd
 * with a message and a column inside the text, and evaluation must be
 * total and deterministic. The input is one NUL-terminated expression; when
 * it parses it is evaluated twice against a fixed set of variables (numbers,
 * negative and float values, empty and unset names, text for contains and
 * matches) and both results must agree and be 0 or 1. Before that it is
 * bound like the loader binds it: "$secrets.*" references become literals
 * (values holding '$', a bad pattern, a number, ""), one is missing, and a
 * bound name must never reach the per-request lookup. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conditions/cond.h"

static const char *const vars[][2] = {
    {"WORD_COUNT", "7"},
    {"TEN", "10"},
    {"NEG", "-3"},
    {"FLOAT", "2.5"},
    {"EMPTY", ""},
    {"NAME", "code-handler"},
    {"A", "1"},
    {"B", "2"},
    {"TEXT", "hello world, write some code"},
    {"HEX", "0x10"},
    {"OutputCustomKey", "yes"},
    {"NAN", "nan"},
    {"SPACED", " 10 "},
};

static const char *const bound[][2] = {
    {"secrets.s.v", "$TEXT"}, {"secrets.s.pat", "a("},    {"secrets.s.n", "10"},
    {"secrets.s.e", ""},      {"secrets.s.re", "^h.*d$"},
};

static lln_tmpl_bind_result bind(void *ctx, const char *name, const char **value) {
  (void)ctx;
  if (strncmp(name, "secrets.", 8) != 0)
    return LLN_TMPL_KEEP;
  for (size_t i = 0; i < sizeof bound / sizeof bound[0]; i++) {
    if (strcmp(bound[i][0], name) == 0) {
      *value = bound[i][1];
      return LLN_TMPL_VALUE;
    }
  }
  return LLN_TMPL_MISSING;
}

static const char *lookup(void *ctx, const char *name, size_t name_len) {
  (*(int *)ctx)++;
  for (size_t i = 0; i < sizeof bound / sizeof bound[0]; i++) {
    if (strlen(bound[i][0]) == name_len && memcmp(bound[i][0], name, name_len) == 0)
      abort(); /* a bound reference is a literal now */
  }
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    if (strlen(vars[i][0]) == name_len && memcmp(vars[i][0], name, name_len) == 0)
      return vars[i][1];
  }
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *src = malloc(size + 1);
  if (!src)
    abort();
  memcpy(src, data, size);
  src[size] = '\0';
  size_t len = strlen(src);

  lln_cond *c = NULL;
  char err[256];
  int col = -1;
  memset(err, 'x', sizeof err);
  if (lln_cond_parse(src, &c, err, sizeof err, &col) != 0) {
    if (!memchr(err, '\0', sizeof err) || err[0] == '\0')
      abort(); /* the message must exist and fit */
    if (col < 1 || (size_t)col > len + 1)
      abort(); /* the column must point into the text (or just past it) */
  } else {
    char missing[300];
    int n_missing = lln_cond_bind(c, bind, NULL, missing, sizeof missing);
    if (n_missing < 0 || (n_missing > 0) != (missing[0] != '\0') || !memchr(missing, '\0', sizeof missing))
      abort();
    int calls = 0;
    int a = lln_cond_eval(c, lookup, &calls);
    int b = lln_cond_eval(c, lookup, &calls);
    if ((a != 0 && a != 1) || a != b)
      abort();
    lln_cond_free(c);
  }
  free(src);
  return 0;
}
