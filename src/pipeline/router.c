/* router: the routing prompt and the reading of the router model's reply
 * (docs/CONFIG.md "Routing"). Reasoning blocks are dropped; a line that is
 * exactly a candidate's name (quotes, markup and an "Answer:" label aside)
 * decides, as soon as it is complete while streaming; else the candidates
 * named in the final answer line, mentions after a negation ignored. */
#include "pipeline/router.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lln_router_system_prompt(lln_buf *out, const lln_route_candidate *cands, size_t n) {
  lln_buf_puts(out,
               "You are the router of an llmnet pipeline. You read an excerpt of a conversation: the "
               "latest message, sometimes followed by earlier turns for context (they are labelled). "
               "Choose the one target that should answer the latest message.\n" LLN_ROUTER_TARGETS_LINE "\n");
  for (size_t i = 0; i < n; i++) {
    lln_buf_printf(out, "- %s", cands[i].name);
    if (cands[i].use_case && *cands[i].use_case)
      lln_buf_printf(out, ": %s", cands[i].use_case);
    lln_buf_putc(out, '\n');
  }
  lln_buf_puts(out, "Answer with the target's name only, exactly as written above, on the first line, and "
                    "nothing else.");
}

/* ---- reasoning blocks ----------------------------------------------- */

static const char *const REASONING_TAGS[] = {"think", "thinking", "reasoning", "reflection", NULL};

/* Length of an opening (closing when `closing`) reasoning tag at s, or 0;
 * *tag is set to its name. A tag has no newline in it ("<think>",
 * "<think type=x>", "</think>"). */
static size_t reasoning_tag(const char *s, const char *e, int closing, const char **tag) {
  const char *p = s;
  if (p >= e || *p++ != '<')
    return 0;
  if (closing && (p >= e || *p++ != '/'))
    return 0;
  for (size_t i = 0; REASONING_TAGS[i]; i++) {
    size_t tl = strlen(REASONING_TAGS[i]);
    if ((size_t)(e - p) <= tl || strncasecmp(p, REASONING_TAGS[i], tl) != 0)
      continue;
    const char *q = p + tl;
    if (*q != '>' && (closing || !isspace((unsigned char)*q)))
      continue;
    while (q < e && *q != '>' && *q != '\n')
      q++;
    if (q < e && *q == '>') {
      *tag = REASONING_TAGS[i];
      return (size_t)(q + 1 - s);
    }
  }
  return 0;
}

/* The reply without its reasoning: a block from an opening tag to its
 * closing tag is dropped, an unclosed one hides the rest, a stray closing
 * tag is dropped alone. Only text after the cut can change when more of a
 * reply arrives, so complete lines of a prefix stay what they are. */
static void visible_text(const char *s, size_t len, lln_buf *out) {
  const char *p = s, *e = s + len;
  while (p < e) {
    const char *tag = NULL;
    size_t tl;
    if (*p != '<') {
      lln_buf_putc(out, *p++);
    } else if ((tl = reasoning_tag(p, e, 0, &tag)) > 0) {
      const char *q = p + tl, *close = NULL;
      const char *ctag = NULL;
      size_t cl = 0;
      for (; q < e && !close; q++)
        if (*q == '<' && (cl = reasoning_tag(q, e, 1, &ctag)) > 0 && ctag == tag)
          close = q;
      if (!close)
        break;
      p = close + cl;
    } else if ((tl = reasoning_tag(p, e, 1, &tag)) > 0) {
      p += tl;
    } else {
      lln_buf_putc(out, *p++);
    }
  }
  lln_buf_append(out, "", 0);
}

/* ---- a line that is a name ------------------------------------------ */

/* Leading markup: white space, quotes, backticks, emphasis, headings and
 * block quotes. Typographic quotes are 3 UTF-8 bytes. */
static size_t markup_at(const char *s, const char *e) {
  static const char *const WIDE[] = {"\xE2\x80\x9C", "\xE2\x80\x9D", "\xE2\x80\x98", "\xE2\x80\x99", NULL};
  unsigned char c = (unsigned char)*s;
  if (isspace(c) || (c && strchr("\"'`*_#>", c)))
    return 1;
  for (size_t i = 0; WIDE[i]; i++)
    if (e - s >= 3 && memcmp(s, WIDE[i], 3) == 0)
      return 3;
  return 0;
}

static size_t markup_before(const char *s, const char *e) {
  static const char *const WIDE[] = {"\xE2\x80\x9C", "\xE2\x80\x9D", "\xE2\x80\x98", "\xE2\x80\x99", NULL};
  unsigned char c = (unsigned char)e[-1];
  if (isspace(c) || (c && strchr("\"'`*_.", c)))
    return 1;
  for (size_t i = 0; WIDE[i]; i++)
    if (e - s >= 3 && memcmp(e - 3, WIDE[i], 3) == 0)
      return 3;
  return 0;
}

static void trim_markup(const char **s, const char **e) {
  for (int changed = 1; changed;) {
    changed = 0;
    size_t k;
    while (*s < *e && (k = markup_at(*s, *e)) > 0)
      *s += k, changed = 1;
    if (*e - *s >= 2 && (*s)[0] == '-' && isspace((unsigned char)(*s)[1]))
      *s += 2, changed = 1; /* a list item */
    while (*e > *s && (k = markup_before(*s, *e)) > 0)
      *e -= k, changed = 1;
  }
}

/* At most this many words before a ':' make a label ("Answer:", "Final
 * answer:", "Target:") that is skipped. Names have no ':' (validate). */
#define LABEL_MAX_WORDS 3

static void skip_label(const char **s, const char *e) {
  const char *colon = memchr(*s, ':', (size_t)(e - *s));
  if (!colon)
    return;
  int words = 0, in_word = 0;
  for (const char *p = *s; p < colon; p++) {
    if (isalpha((unsigned char)*p)) {
      words += !in_word;
      in_word = 1;
    } else if (*p == ' ' || *p == '*' || *p == '_') {
      in_word = 0;
    } else {
      return;
    }
  }
  if (words >= 1 && words <= LABEL_MAX_WORDS)
    *s = colon + 1;
}

/* The candidate a line is exactly (case-sensitive first), or NONE. */
static int line_is_name(const char *s, const char *e, const lln_route_candidate *cands, size_t n) {
  trim_markup(&s, &e);
  skip_label(&s, e);
  trim_markup(&s, &e);
  size_t len = (size_t)(e - s);
  if (len == 0)
    return LLN_ROUTER_NONE;
  for (size_t i = 0; i < n; i++)
    if (strlen(cands[i].name) == len && memcmp(cands[i].name, s, len) == 0)
      return (int)i;
  for (size_t i = 0; i < n; i++)
    if (strlen(cands[i].name) == len && strncasecmp(cands[i].name, s, len) == 0)
      return (int)i;
  return LLN_ROUTER_NONE;
}

/* The first line of text[0..len) that is exactly a name; with
 * `complete_only` a last line without its newline is not read. */
static int first_name_line(const char *text, size_t len, int complete_only, const lln_route_candidate *cands,
                           size_t n) {
  const char *p = text, *e = text + len;
  while (p < e) {
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    if (!nl && complete_only)
      break;
    const char *le = nl ? nl : e;
    int idx = line_is_name(p, le, cands, n);
    if (idx >= 0)
      return idx;
    p = nl ? nl + 1 : e;
  }
  return LLN_ROUTER_NONE;
}

/* The early decision reads at most this much of a reply: it runs again on
 * every new line of a streaming reply, so a long one must not make each
 * look cost more. A name after it is still found by the full reading. */
#define EARLY_SCAN_MAX (32 * 1024)

int lln_router_early(const char *so_far, size_t len, const lln_route_candidate *cands, size_t n) {
  if (!so_far || n == 0)
    return LLN_ROUTER_NONE;
  if (len > EARLY_SCAN_MAX)
    len = EARLY_SCAN_MAX; /* a prefix: what it decides, the whole reply decides too */
  lln_buf vis;
  lln_buf_init(&vis);
  visible_text(so_far, len, &vis);
  int idx = first_name_line(vis.data, vis.len, 1, cands, n);
  lln_buf_free(&vis);
  return idx;
}

/* ---- names mentioned in a sentence ---------------------------------- */

/* A negation looks this many bytes back at most, within its clause. */
#define CLAUSE_LOOKBACK 240

static const char *const NEGATIONS[] = {"not",   "no",      "never",  "neither", "nor",     "none",
                                        "avoid", "without", "except", "cannot",  "instead", NULL};
/* Words that start a new clause: "not X but Y" names Y. */
static const char *const CLAUSE_WORDS[] = {"but",  "so",    "because", "therefore", "however",
                                           "thus", "hence", "whereas", "while",     NULL};

static int name_glued(unsigned char c) { return isalnum(c) || c == '-' || c == '_'; }

static int word_byte(unsigned char c) { return isalpha(c) || c == '\'' || c >= 0x80; }

static int word_is(const char *w, size_t len, const char *const *list) {
  for (size_t i = 0; list[i]; i++)
    if (strlen(list[i]) == len && strncasecmp(w, list[i], len) == 0)
      return 1;
  return 0;
}

static int ends_with(const char *w, size_t len, const char *suffix) {
  size_t sl = strlen(suffix);
  return len > sl && strncasecmp(w + len - sl, suffix, sl) == 0;
}

static int pair_is(const char *a, size_t al, const char *b, size_t bl, const char *first,
                   const char *second) {
  return al == strlen(first) && strncasecmp(a, first, al) == 0 && bl == strlen(second) &&
         strncasecmp(b, second, bl) == 0;
}

/* Where the clause holding position p starts: after , ; : ! ? ( ) [ ] a
 * newline, or a '.' that ends a sentence. */
static const char *clause_start(const char *s, const char *p) {
  const char *limit = p - s > CLAUSE_LOOKBACK ? p - CLAUSE_LOOKBACK : s;
  for (const char *q = p; q > limit; q--) {
    char c = q[-1];
    if (strchr(",;:!?()[]\n", c) && c)
      return q;
    if (c == '.' && (q == p || isspace((unsigned char)*q)))
      return q;
  }
  return limit;
}

/* 1 when a negation ("not", "no", "isn't", "rather than", "instead of"...)
 * comes before p in its clause, with no "but" or "because" after it. */
static int negated(const char *s, const char *p) {
  int neg = 0;
  const char *prev = NULL;
  size_t prev_len = 0;
  for (const char *q = clause_start(s, p); q < p;) {
    if (!word_byte((unsigned char)*q)) {
      q++;
      continue;
    }
    const char *w = q;
    while (q < p && word_byte((unsigned char)*q))
      q++;
    size_t wl = (size_t)(q - w);
    /* parts of hyphenated names ("no-op") are not words */
    int glued = (w > s && name_glued((unsigned char)w[-1])) || (q < p && name_glued((unsigned char)*q));
    if (glued)
      continue;
    if (word_is(w, wl, CLAUSE_WORDS))
      neg = 0;
    else if (word_is(w, wl, NEGATIONS) || ends_with(w, wl, "n't") || ends_with(w, wl, "n\xE2\x80\x99t"))
      neg = 1;
    else if (prev && pair_is(prev, prev_len, w, wl, "rather", "than"))
      neg = 1;
    else if (prev && pair_is(prev, prev_len, w, wl, "instead", "of"))
      neg = 1;
    prev = w;
    prev_len = wl;
  }
  return neg;
}

/* The longest candidate named at p as a whole token (the exact case first
 * among equals), or NONE; *end is set past it. */
static int name_at(const char *s, const char *p, const char *e, const lln_route_candidate *cands, size_t n,
                   const char **end) {
  if (p > s && name_glued((unsigned char)p[-1]))
    return LLN_ROUTER_NONE;
  int best = LLN_ROUTER_NONE, best_exact = 0;
  size_t best_len = 0;
  for (size_t i = 0; i < n; i++) {
    size_t nl = strlen(cands[i].name);
    if (nl == 0 || nl > (size_t)(e - p) || strncasecmp(p, cands[i].name, nl) != 0)
      continue;
    const char *a = p + nl;
    if (a < e && (name_glued((unsigned char)*a) || (*a == '.' && a + 1 < e && isalnum((unsigned char)a[1]))))
      continue;
    int exact = memcmp(p, cands[i].name, nl) == 0;
    if (nl > best_len || (nl == best_len && exact && !best_exact)) {
      best = (int)i;
      best_len = nl;
      best_exact = exact;
    }
  }
  if (best >= 0)
    *end = p + best_len;
  return best;
}

/* The one candidate named in s[0..len) outside a negation, or NONE, or
 * AMBIGUOUS when several are. */
static int named_in(const char *s, size_t len, const lln_route_candidate *cands, size_t n) {
  const char *e = s + len;
  int found = LLN_ROUTER_NONE;
  for (const char *p = s; p < e;) {
    const char *end = NULL;
    int idx = name_at(s, p, e, cands, n, &end);
    if (idx < 0) {
      p++;
      continue;
    }
    if (!negated(s, p)) {
      if (found >= 0 && found != idx)
        return LLN_ROUTER_AMBIGUOUS;
      found = idx;
    }
    p = end;
  }
  return found;
}

/* The last line with a letter or digit (or any non-ASCII character) in
 * it, or NULL. */
static const char *last_answer_line(const char *s, size_t len, size_t *line_len) {
  const char *e = s + len;
  while (e > s) {
    const char *ls = e;
    while (ls > s && ls[-1] != '\n')
      ls--;
    for (const char *q = ls; q < e; q++) {
      if (isalnum((unsigned char)*q) || (unsigned char)*q >= 0x80) {
        *line_len = (size_t)(e - ls);
        return ls;
      }
    }
    e = ls > s ? ls - 1 : s;
  }
  return NULL;
}

int lln_router_parse_reply(const char *reply, size_t len, const lln_route_candidate *cands, size_t n) {
  if (!reply || n == 0)
    return LLN_ROUTER_NONE;
  lln_buf vis;
  lln_buf_init(&vis);
  visible_text(reply, len, &vis);
  int idx = first_name_line(vis.data, vis.len, 0, cands, n);
  if (idx == LLN_ROUTER_NONE) {
    size_t ll = 0;
    const char *line = last_answer_line(vis.data, vis.len, &ll);
    if (line)
      idx = named_in(line, ll, cands, n);
    if (idx == LLN_ROUTER_NONE)
      idx = named_in(vis.data, vis.len, cands, n);
  }
  lln_buf_free(&vis);
  return idx;
}
