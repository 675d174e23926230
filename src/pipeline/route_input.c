/* route_input: what a routing decision reads of a conversation (the rules
 * are in route_input_int.h and docs/CONFIG.md "Routing"): the kind of the
 * newest turn, the router's input within a budget of code points, the
 * session of a request and the decision cache's key. */
#include "pipeline/route_input_int.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/sha256.h"
#include "util/utf8.h"

/* Labels the router model reads when earlier turns come with the latest. */
#define LATEST_LABEL "Latest message:\n"
#define EARLIER_LABEL "\n\nEarlier in the conversation:\n"
#define USER_LABEL "User: "
#define ASSISTANT_LABEL "Assistant: "
/* Earlier turns are added only when at least this many characters of the
 * budget are left for them once the latest message is in. */
#define CONTEXT_MIN_CHARS 64
/* At most this many assistant answers of the previous exchange (the newest
 * ones): an agent loop's intermediate answers add little. */
#define CONTEXT_MAX_ANSWERS 2
/* Share of a cut message kept from its head (the rest from its tail). */
#define HEAD_SHARE_NUM 2
#define HEAD_SHARE_DEN 3

static const char *role_of(const cJSON *m) {
  const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
  return cJSON_IsString(role) ? role->valuestring : "";
}

static int is_system(const char *role) {
  return strcmp(role, "system") == 0 || strcmp(role, "developer") == 0;
}

lln_turn_kind lln_route_turn_kind(const cJSON *messages) {
  if (!cJSON_IsArray(messages))
    return LLN_TURN_NONE;
  const cJSON *first = messages->child;
  /* backwards; the first item's prev points at the last one: stop there */
  for (const cJSON *m = cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1); m;
       m = m == first ? NULL : m->prev) {
    const char *role = role_of(m);
    if (is_system(role))
      continue;
    if (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0)
      return LLN_TURN_TOOL;
    if (strcmp(role, "assistant") == 0)
      return LLN_TURN_ASSISTANT;
    return LLN_TURN_USER;
  }
  return LLN_TURN_NONE;
}

/* ---- code points ---------------------------------------------------- */

/* Bytes of the code point at s[i]: a well-formed sequence, else 1 (as
 * lln_utf8_length counts). */
static size_t cp_len(const char *s, size_t i, size_t len) {
  unsigned char c = (unsigned char)s[i];
  size_t k = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (k > 1 && (i + k > len || !lln_utf8_valid(s + i, k, NULL)))
    k = 1;
  return k;
}

static size_t cp_count(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; n++)
    i += cp_len(s, i, len);
  return n;
}

/* Byte offset after the first `n` code points. */
static size_t cp_head(const char *s, size_t len, size_t n) {
  size_t i = 0;
  for (; i < len && n > 0; n--)
    i += cp_len(s, i, len);
  return i;
}

/* Byte offset where the last `n` code points begin. */
static size_t cp_tail(const char *s, size_t len, size_t n) {
  size_t total = cp_count(s, len);
  return n >= total ? 0 : cp_head(s, len, total - n);
}

static size_t digits(size_t v) {
  size_t d = 1;
  while (v >= 10) {
    v /= 10;
    d++;
  }
  return d;
}

/* Appends s[0..len) within `budget` code points: whole when it fits, else
 * its head and tail around "[… N characters omitted …]". */
static void append_clipped(lln_buf *out, const char *s, size_t len, size_t budget) {
  size_t n = cp_count(s, len);
  if (n <= budget) {
    lln_buf_append(out, s, len);
    return;
  }
  /* "[… " + digits + " characters omitted …]": the ellipses are one code
   * point each; the digits of n bound those of the count omitted. */
  size_t marker = 3 + digits(n) + 22;
  if (budget < marker + 2) {
    lln_buf_append(out, s, cp_head(s, len, budget));
    return;
  }
  size_t keep = budget - marker;
  size_t head = keep * HEAD_SHARE_NUM / HEAD_SHARE_DEN, tail = keep - head;
  lln_buf_append(out, s, cp_head(s, len, head));
  lln_buf_printf(out, "[\xE2\x80\xA6 %zu characters omitted \xE2\x80\xA6]", n - head - tail);
  size_t t = cp_tail(s, len, tail);
  lln_buf_append(out, s + t, len - t);
}

/* ---- message text --------------------------------------------------- */

static const char *part_marker(const char *type) {
  if (!strcmp(type, "image_url") || !strcmp(type, "input_image") || !strcmp(type, "image"))
    return "[image]";
  if (!strcmp(type, "file") || !strcmp(type, "input_file"))
    return "[file]";
  if (!strcmp(type, "input_audio") || !strcmp(type, "audio"))
    return "[audio]";
  return NULL;
}

static int has_non_space(const char *s) {
  for (; *s; s++)
    if (!isspace((unsigned char)*s))
      return 1;
  return 0;
}

/* Appends a message's content: a string as is, an array's text parts and
 * the markers of its other parts joined by newlines. Sets *has_text when
 * some text (not only white space or markers) was added. */
static void content_text(const cJSON *content, lln_buf *out, int *has_text) {
  if (cJSON_IsString(content)) {
    lln_buf_puts(out, content->valuestring);
    *has_text |= has_non_space(content->valuestring);
    return;
  }
  const cJSON *part;
  const cJSON *parts = cJSON_IsArray(content) ? content : NULL;
  size_t start = out->len;
  cJSON_ArrayForEach(part, parts) {
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
    const char *add = NULL;
    if (cJSON_IsString(text)) {
      add = text->valuestring;
      *has_text |= has_non_space(add);
    } else if (cJSON_IsString(type)) {
      add = part_marker(type->valuestring);
    }
    if (!add)
      continue;
    if (out->len > start)
      lln_buf_putc(out, '\n');
    lln_buf_puts(out, add);
  }
}

/* A message's text, trimmed, in `b` (reset first). */
static void message_text(const cJSON *m, lln_buf *b, int *has_text) {
  lln_buf_reset(b);
  content_text(cJSON_GetObjectItemCaseSensitive(m, "content"), b, has_text);
  lln_buf_append(b, "", 0);
  size_t s = 0, e = b->len;
  while (s < e && isspace((unsigned char)b->data[s]))
    s++;
  while (e > s && isspace((unsigned char)b->data[e - 1]))
    e--;
  memmove(b->data, b->data + s, e - s);
  b->len = e - s;
  b->data[b->len] = '\0';
}

/* ---- the router's input -------------------------------------------- */

/* One earlier turn shown as context. */
typedef struct piece {
  const char *label;
  lln_buf text;
  size_t cps;    /* code points of text */
  size_t budget; /* code points it may use */
} piece;

/* The conversation's shape around its newest user message. */
typedef struct turns {
  const cJSON *latest;    /* the newest user message */
  const cJSON *prev_user; /* the user message before it */
  const cJSON *answers[CONTEXT_MAX_ANSWERS];
  size_t n_answers; /* the newest assistant answers between them */
} turns;

static int has_text_message(const cJSON *m, lln_buf *scratch) {
  int has_text = 0;
  message_text(m, scratch, &has_text);
  return has_text;
}

static void find_turns(const cJSON *messages, turns *t) {
  memset(t, 0, sizeof *t);
  const cJSON *cur[CONTEXT_MAX_ANSWERS];
  size_t n_cur = 0;
  lln_buf scratch;
  lln_buf_init(&scratch);
  const cJSON *m;
  cJSON_ArrayForEach(m, messages) {
    const char *role = role_of(m);
    if (strcmp(role, "user") == 0) {
      t->prev_user = t->latest;
      t->latest = m;
      memcpy(t->answers, cur, n_cur * sizeof *cur);
      t->n_answers = n_cur;
      n_cur = 0;
    } else if (strcmp(role, "assistant") == 0 && has_text_message(m, &scratch)) {
      if (n_cur == CONTEXT_MAX_ANSWERS) {
        memmove(cur, cur + 1, (n_cur - 1) * sizeof *cur);
        n_cur--;
      }
      cur[n_cur++] = m;
    }
  }
  lln_buf_free(&scratch);
}

/* Shares `budget` code points among the pieces: those shorter than an even
 * share keep all they have, the rest split what is left evenly. */
static void share_budget(piece *p, size_t n, size_t budget) {
  size_t left = n;
  for (size_t i = 0; i < n; i++)
    p[i].budget = SIZE_MAX;
  for (int changed = 1; left && changed;) {
    changed = 0;
    size_t share = budget / left;
    for (size_t i = 0; i < n; i++) {
      if (p[i].budget == SIZE_MAX && p[i].cps <= share) {
        p[i].budget = p[i].cps;
        budget -= p[i].cps;
        left--;
        changed = 1;
      }
    }
  }
  for (size_t i = 0; i < n; i++)
    if (p[i].budget == SIZE_MAX)
      p[i].budget = budget / left;
}

/* Writes the latest message and the earlier pieces within max_chars, or
 * returns 0 when the pieces do not fit beside the latest message. */
static int write_with_context(const lln_buf *latest, size_t latest_cps, piece *p, size_t n, size_t max_chars,
                              lln_buf *out) {
  size_t overhead = strlen(LATEST_LABEL) + strlen(EARLIER_LABEL);
  for (size_t i = 0; i < n; i++)
    overhead += strlen(p[i].label) + (i ? 1 : 0);
  if (latest_cps + overhead + CONTEXT_MIN_CHARS > max_chars)
    return 0;
  share_budget(p, n, max_chars - latest_cps - overhead);
  lln_buf_puts(out, LATEST_LABEL);
  lln_buf_append(out, latest->data, latest->len);
  lln_buf_puts(out, EARLIER_LABEL);
  for (size_t i = 0; i < n; i++) {
    if (i)
      lln_buf_putc(out, '\n');
    lln_buf_puts(out, p[i].label);
    append_clipped(out, p[i].text.data, p[i].text.len, p[i].budget);
  }
  return 1;
}

int lln_route_input_text(const char *text, size_t max_chars, lln_buf *out) {
  append_clipped(out, text, strlen(text), max_chars);
  lln_buf_reserve(out, 0);
  return has_non_space(text);
}

int lln_route_input(const cJSON *messages, int with_previous, size_t max_chars, lln_buf *out) {
  lln_buf_append(out, "", 0); /* a string even when nothing is added */
  turns t;
  find_turns(cJSON_IsArray(messages) ? messages : NULL, &t);
  if (!t.latest)
    return 0;
  int has_text = 0, context_text = 0, ignored = 0;
  lln_buf latest;
  lln_buf_init(&latest);
  message_text(t.latest, &latest, &has_text);
  size_t latest_cps = cp_count(latest.data, latest.len);
  piece p[1 + CONTEXT_MAX_ANSWERS];
  size_t n = 0;
  if (with_previous || latest_cps < LLN_ROUTE_SHORT_TURN_CHARS) {
    if (t.prev_user) {
      p[n] = (piece){.label = USER_LABEL};
      lln_buf_init(&p[n].text);
      message_text(t.prev_user, &p[n].text, &context_text);
      n++;
    }
    for (size_t i = 0; i < t.n_answers; i++) {
      p[n] = (piece){.label = ASSISTANT_LABEL};
      lln_buf_init(&p[n].text);
      message_text(t.answers[i], &p[n].text, &ignored);
      n++;
    }
  }
  for (size_t i = 0; i < n; i++)
    p[i].cps = cp_count(p[i].text.data, p[i].text.len);
  if (n && write_with_context(&latest, latest_cps, p, n, max_chars, out))
    has_text |= context_text && t.prev_user && p[0].budget > 0;
  else
    append_clipped(out, latest.data, latest.len, max_chars);
  for (size_t i = 0; i < n; i++)
    lln_buf_free(&p[i].text);
  lln_buf_free(&latest);
  return has_text;
}

/* ---- sessions and the decision cache -------------------------------- */

int lln_session_id_valid(const char *id) {
  if (!id)
    return 0;
  size_t len = strlen(id);
  if (len == 0 || len > LLN_SESSION_ID_MAX || id[0] == ' ' || id[len - 1] == ' ')
    return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)id[i] < 0x20 || (unsigned char)id[i] > 0x7E)
      return 0;
  return 1;
}

/* Hashes a field and its terminator, so "ab"+"c" and "a"+"bc" differ. */
static void hash_field(lln_sha256_ctx *c, const char *s, size_t len) {
  lln_sha256_update(c, s, len);
  lln_sha256_update(c, "", 1);
}

static void hash_hex(lln_sha256_ctx *c, char out[LLN_HEX_DIGEST_SIZE]) {
  unsigned char d[LLN_SHA256_DIGEST_LEN];
  lln_sha256_final(c, d);
  lln_sha256_hex(d, out);
}

int lln_session_fingerprint(const cJSON *messages, char out[LLN_HEX_DIGEST_SIZE]) {
  out[0] = '\0';
  const cJSON *sys = NULL, *user = NULL, *m;
  const cJSON *list = cJSON_IsArray(messages) ? messages : NULL;
  cJSON_ArrayForEach(m, list) {
    const char *role = role_of(m);
    if (!sys && is_system(role))
      sys = m;
    if (!user && strcmp(role, "user") == 0)
      user = m;
  }
  if (!user)
    return -1;
  int ignored = 0;
  lln_buf b;
  lln_buf_init(&b);
  lln_sha256_ctx c;
  lln_sha256_init(&c);
  hash_field(&c, "llmnet-session-v1", strlen("llmnet-session-v1"));
  if (sys)
    message_text(sys, &b, &ignored);
  else
    lln_buf_reset(&b);
  hash_field(&c, b.data ? b.data : "", b.len);
  message_text(user, &b, &ignored);
  hash_field(&c, b.data, b.len);
  lln_buf_free(&b);
  hash_hex(&c, out);
  return 0;
}

/* Case folded (ASCII), runs of white space made one space, trimmed. */
static void normalise(const char *s, lln_buf *out) {
  int space = 0;
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (isspace(ch)) {
      space = out->len > 0;
      continue;
    }
    if (space)
      lln_buf_putc(out, ' ');
    space = 0;
    lln_buf_putc(out, (char)tolower(ch));
  }
  lln_buf_append(out, "", 0);
}

void lln_route_cache_key(const char *from, const lln_route_candidate *cands, size_t n, const char *input,
                         char out[LLN_HEX_DIGEST_SIZE]) {
  lln_sha256_ctx c;
  lln_sha256_init(&c);
  char count[32];
  int cl = snprintf(count, sizeof count, "llmnet-route-v1 %zu", n);
  hash_field(&c, count, (size_t)cl);
  hash_field(&c, from ? from : "", from ? strlen(from) : 0);
  for (size_t i = 0; i < n; i++) {
    const char *uc = cands[i].use_case ? cands[i].use_case : "";
    hash_field(&c, cands[i].name, strlen(cands[i].name));
    hash_field(&c, uc, strlen(uc));
  }
  lln_buf norm;
  lln_buf_init(&norm);
  normalise(input ? input : "", &norm);
  hash_field(&c, norm.data, norm.len);
  lln_buf_free(&norm);
  hash_hex(&c, out);
}
