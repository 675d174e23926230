/* router: the routing prompt and a forgiving reading of the reply. Small
 * models wrap names in quotes, add "The answer is ...", or change case;
 * all of those still select the intended candidate. */
#include "pipeline/router.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void lln_router_system_prompt(lln_buf *out, const lln_route_candidate *cands, size_t n) {
  lln_buf_puts(out, "You are the router of an llmnet pipeline. Read the user's message and choose the one "
                    "target that should handle it.\n" LLN_ROUTER_TARGETS_LINE "\n");
  for (size_t i = 0; i < n; i++) {
    lln_buf_printf(out, "- %s", cands[i].name);
    if (cands[i].use_case && *cands[i].use_case)
      lln_buf_printf(out, ": %s", cands[i].use_case);
    lln_buf_putc(out, '\n');
  }
  lln_buf_puts(out, "Answer with the target's name only, exactly as written above, and nothing else.");
}

static int is_trim(unsigned char c) { return isspace(c) || c == '"' || c == '\'' || c == '`' || c == '*'; }

/* Case-insensitive search for `needle` as a whole token: not glued to a
 * letter, digit, '-' or '_' on either side, so "creative" does not match
 * inside "creative-handler-2". */
static int contains_token(const char *hay, size_t hay_len, const char *needle) {
  size_t nl = strlen(needle);
  if (nl == 0 || nl > hay_len)
    return 0;
  for (size_t i = 0; i + nl <= hay_len; i++) {
    if (strncasecmp(hay + i, needle, nl) != 0)
      continue;
    unsigned char before = i > 0 ? (unsigned char)hay[i - 1] : ' ';
    unsigned char after = i + nl < hay_len ? (unsigned char)hay[i + nl] : ' ';
    int glued_before = isalnum(before) || before == '-' || before == '_';
    int glued_after = isalnum(after) || after == '-' || after == '_';
    if (!glued_before && !glued_after)
      return 1;
  }
  return 0;
}

int lln_router_parse_reply(const char *reply, size_t len, const lln_route_candidate *cands, size_t n) {
  if (!reply)
    return -1;
  const char *s = reply, *e = reply + len;
  while (s < e && is_trim((unsigned char)*s))
    s++;
  while (e > s && (is_trim((unsigned char)e[-1]) || e[-1] == '.'))
    e--;
  size_t tl = (size_t)(e - s);
  for (size_t i = 0; i < n; i++) {
    if (strlen(cands[i].name) == tl && memcmp(cands[i].name, s, tl) == 0)
      return (int)i;
  }
  for (size_t i = 0; i < n; i++) {
    if (strlen(cands[i].name) == tl && strncasecmp(cands[i].name, s, tl) == 0)
      return (int)i;
  }
  int best = -1;
  size_t best_len = 0;
  for (size_t i = 0; i < n; i++) {
    size_t nl = strlen(cands[i].name);
    if (nl > best_len && contains_token(reply, len, cands[i].name)) {
      best = (int)i;
      best_len = nl;
    }
  }
  return best;
}
