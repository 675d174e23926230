/* cond_pattern: the safety check every `matches` pattern passes before
 * regcomp sees it, whether written in the condition, bound at load or taken
 * from a request variable. */
#include <stdlib.h>
#include <string.h>

#include "conditions/cond_int.h"

/* glibc's regcomp copies a repeated subexpression once per repetition, so
 * "a++++...+" or "(a{1,1000}){1,1000}" cost it gigabytes. A pattern is
 * refused unless its repetition stays linear: at most MAX_PATTERN bytes, no
 * quantifier applied to a quantified atom or to a group holding one, and
 * {m,n} bounds up to MAX_REPEAT. Returns NULL when the pattern is fine, else
 * why not. */
#define MAX_PATTERN 512
#define MAX_REPEAT 100

const char *lln__cond_pattern_problem(const char *pat) {
  if (strlen(pat) > MAX_PATTERN)
    return "the pattern is longer than 512 bytes";
  int depth = 0;
  int group_has_quant[64] = {0};
  int prev_quantified = 0;  /* the atom before is already repeated */
  int prev_group_quant = 0; /* the atom before is a group holding a quantifier */
  for (const char *c = pat; *c; c++) {
    int quantifier = *c == '*' || *c == '+' || *c == '?' || *c == '{';
    if (quantifier) {
      if (prev_quantified || prev_group_quant)
        return "repetition of a repetition (such as a++ or (a+)*) is not allowed";
      if (*c == '{') {
        char *end;
        long lo = strtol(c + 1, &end, 10), hi = lo;
        if (*end == ',')
          hi = end[1] == '}' ? MAX_REPEAT + 1 : strtol(end + 1, &end, 10);
        if (lo > MAX_REPEAT || hi > MAX_REPEAT)
          return "a {m,n} bound above 100 is not allowed";
        const char *close = strchr(c, '}');
        if (close)
          c = close;
      }
      if (depth > 0)
        group_has_quant[depth < 64 ? depth : 63] = 1;
      prev_quantified = 1;
      prev_group_quant = 0;
      continue;
    }
    prev_quantified = 0;
    prev_group_quant = 0;
    if (*c == '\\' && c[1]) {
      c++;
    } else if (*c == '[') {
      /* a bracket expression is one atom; ']' first is a literal */
      const char *e = c + 1;
      if (*e == '^')
        e++;
      if (*e == ']')
        e++;
      while (*e && *e != ']')
        e++;
      c = *e ? e : e - 1;
    } else if (*c == '(') {
      if (++depth >= 64)
        return "the pattern nests too deeply";
      group_has_quant[depth] = 0;
    } else if (*c == ')' && depth > 0) {
      prev_group_quant = group_has_quant[depth];
      depth--;
      if (prev_group_quant && depth > 0)
        group_has_quant[depth] = 1;
    }
  }
  return NULL;
}
