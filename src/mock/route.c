/* route: recognising a routing prompt and choosing a target by word
 * overlap. The choice only has to be plausible and deterministic, so demos
 * route "write a poem" to the creative handler without a real model. */
#include "mock/route_int.h"

#include <stdlib.h>
#include <string.h>

/* Words that carry no topic: without this list "how do I ..." would match
 * any use-case that happens to contain "do". */
static const char *const STOP_WORDS[] = {
    "a",     "about", "an",    "and",   "are",  "as",   "at",     "be",  "but",  "by",   "can",  "could",
    "do",    "does",  "for",   "from",  "how",  "i",    "if",     "in",  "into", "is",   "it",   "its",
    "me",    "my",    "of",    "on",    "or",   "our",  "please", "so",  "some", "that", "the",  "their",
    "them",  "then",  "there", "these", "they", "this", "to",     "us",  "was",  "we",   "what", "when",
    "where", "which", "who",   "why",   "will", "with", "would",  "you", "your", NULL};

#define PREFIX_MIN 4

typedef struct word {
  size_t off, len; /* offsets survive the text being reallocated */
} word;

typedef struct words {
  char *text; /* lowercase copies of every text added, each NUL-terminated */
  size_t text_len;
  word *w;
  size_t n, cap;
} words;

/* Bytes of multi-byte UTF-8 sequences count as letters so non-English
 * words stay whole instead of splitting at every accent. */
static int is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static int is_stop_word(const char *s, size_t len) {
  for (size_t i = 0; STOP_WORDS[i]; i++)
    if (strlen(STOP_WORDS[i]) == len && memcmp(STOP_WORDS[i], s, len) == 0)
      return 1;
  return 0;
}

static void words_add(words *ws, const char *text) {
  size_t base = ws->text_len;
  size_t tl = strlen(text);
  char *t = realloc(ws->text, base + tl + 1);
  if (!t)
    abort();
  ws->text = t;
  ws->text_len = base + tl + 1;
  char *dst = t + base;
  for (size_t i = 0; i <= tl; i++) {
    unsigned char c = (unsigned char)text[i];
    dst[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  for (size_t i = 0; i < tl;) {
    if (!is_word_byte((unsigned char)dst[i])) {
      i++;
      continue;
    }
    size_t start = i;
    while (i < tl && is_word_byte((unsigned char)dst[i]))
      i++;
    if (is_stop_word(dst + start, i - start))
      continue;
    if (ws->n == ws->cap) {
      ws->cap = ws->cap ? ws->cap * 2 : 16;
      ws->w = realloc(ws->w, ws->cap * sizeof *ws->w);
      if (!ws->w)
        abort();
    }
    ws->w[ws->n].off = base + start;
    ws->w[ws->n].len = i - start;
    ws->n++;
  }
}

static void words_free(words *ws) {
  free(ws->text);
  free(ws->w);
}

static int same_word(const char *a, size_t alen, const char *b, size_t blen) {
  return alen == blen && memcmp(a, b, alen) == 0;
}

static int related(const words *as, const word *a, const words *bs, const word *b) {
  const char *x = as->text + a->off, *y = bs->text + b->off;
  if (same_word(x, a->len, y, b->len))
    return 1;
  size_t k = 0;
  while (k < a->len && k < b->len && x[k] == y[k])
    k++;
  return k >= PREFIX_MIN;
}

int lln_mock_route_by_overlap(const char *message, const lln_route_candidate *cands, size_t n) {
  if (n == 0)
    return -1;
  words msg = {0};
  words_add(&msg, message ? message : "");
  int best = 0;
  size_t best_score = 0;
  for (size_t c = 0; c < n; c++) {
    words cw = {0};
    words_add(&cw, cands[c].name ? cands[c].name : "");
    if (cands[c].use_case)
      words_add(&cw, cands[c].use_case);
    size_t score = 0;
    for (size_t i = 0; i < msg.n; i++) {
      int repeated = 0;
      for (size_t j = 0; j < i && !repeated; j++)
        repeated = same_word(msg.text + msg.w[j].off, msg.w[j].len, msg.text + msg.w[i].off, msg.w[i].len);
      if (repeated)
        continue;
      for (size_t j = 0; j < cw.n; j++) {
        if (related(&msg, &msg.w[i], &cw, &cw.w[j])) {
          score++;
          break;
        }
      }
    }
    words_free(&cw);
    if (score > best_score) {
      best_score = score;
      best = (int)c;
    }
  }
  words_free(&msg);
  return best;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* [*s, *e) without surrounding blanks. */
static void trim(const char **s, const char **e) {
  while (*s < *e && is_space(**s))
    (*s)++;
  while (*e > *s && is_space((*e)[-1]))
    (*e)--;
}

/* The next line of `p` as [*s, *e); returns the start of the line after it,
 * or NULL at the end. */
static const char *next_line(const char *p, const char **s, const char **e) {
  const char *nl = strchr(p, '\n');
  *s = p;
  *e = nl ? nl : p + strlen(p);
  trim(s, e);
  return nl ? nl + 1 : NULL;
}

static int is_item(const char *s, const char *e) { return e - s >= 2 && s[0] == '-' && is_space(s[1]); }

size_t lln_mock_parse_targets(const char *system_prompt, lln_arena *arena, lln_route_candidate **out) {
  *out = NULL;
  if (!system_prompt)
    return 0;
  static const char header[] = LLN_ROUTER_TARGETS_LINE;
  const char *p = system_prompt, *list = NULL;
  while (p && !list) {
    const char *s, *e;
    const char *next = next_line(p, &s, &e);
    if ((size_t)(e - s) == sizeof header - 1 && memcmp(s, header, sizeof header - 1) == 0)
      list = next;
    p = next;
  }
  size_t n = 0;
  for (p = list; p;) {
    const char *s, *e;
    const char *next = next_line(p, &s, &e);
    if (!is_item(s, e))
      break;
    n++;
    p = next;
  }
  if (n == 0)
    return 0;
  lln_route_candidate *c = lln_arena_alloc(arena, n * sizeof *c);
  size_t k = 0;
  for (p = list; p && k < n;) {
    const char *s, *e;
    p = next_line(p, &s, &e);
    s += 2;
    const char *colon = memchr(s, ':', (size_t)(e - s));
    const char *ns = s, *ne = colon ? colon : e;
    trim(&ns, &ne);
    if (ns == ne)
      continue; /* "- : text" names nothing a router could answer */
    c[k].name = lln_arena_strndup(arena, ns, (size_t)(ne - ns));
    if (colon) {
      const char *us = colon + 1, *ue = e;
      trim(&us, &ue);
      c[k].use_case = lln_arena_strndup(arena, us, (size_t)(ue - us));
    }
    k++;
  }
  *out = k ? c : NULL;
  return k;
}
