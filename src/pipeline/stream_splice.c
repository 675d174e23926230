/* stream_splice: an ordinary relayed event written without a tree: our
 * id, object, created and the upstream's model first (as lln_run_stamp
 * orders them), then the upstream's other members copied as bytes. Only
 * an event the tree path would treat plainly is spliced: one JSON object
 * (strictly: util/json_scan.h) without an error or usage, no duplicate or
 * escaped keys, no number a double would change, and a first choice with
 * no finish_reason; and only while nothing needs the event's values (the
 * first event, which names the model; the sinks' text; the response
 * cache assembling the answer). Anything else goes through the tree. */
#include "pipeline/stream_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pipeline/cache_int.h"
#include "util/arena.h"
#include "util/json_print.h"
#include "util/json_scan.h"

/* Members of an event or of its first choice looked at; past this the
 * event takes the tree path. */
#define SPLICE_MAX_MEMBERS 16

/* The top-level members the splice looks at. */
enum key { KEY_OTHER, KEY_DROPPED, KEY_MODEL, KEY_CHOICES, KEY_TREE };

static int key_eq(const char *s, const lln_json_member *m, const char *key, size_t n) {
  return m->key_len == n && memcmp(s + m->key_off, key, n) == 0;
}
#define KEY_EQ(s, m, lit) key_eq(s, m, lit, sizeof lit - 1)

static enum key classify(const char *s, const lln_json_member *m) {
  switch (m->key_len) {
  case 2: return KEY_EQ(s, m, "id") ? KEY_DROPPED : KEY_OTHER;
  case 5:
    /* an error ends the stream; usage is summed: both need the tree */
    return KEY_EQ(s, m, "model")                            ? KEY_MODEL
           : KEY_EQ(s, m, "usage") || KEY_EQ(s, m, "error") ? KEY_TREE
                                                            : KEY_OTHER;
  case 6: return KEY_EQ(s, m, "object") || KEY_EQ(s, m, "llmnet") ? KEY_DROPPED : KEY_OTHER;
  case 7: return KEY_EQ(s, m, "created") ? KEY_DROPPED : KEY_EQ(s, m, "choices") ? KEY_CHOICES : KEY_OTHER;
  default: return KEY_OTHER;
  }
}

/* 1 when the first choice of `choices` (a value span) is an object, with
 * no escaped key and no string finish_reason: a chunk that is not the
 * last. A key twice is fine: the tree path prints both too. */
static int plain_choices(const char *s, size_t len) {
  size_t i = 1, end;
  while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
    i++;
  if (s[0] != '[' || i >= len || s[i] != '{')
    return 0;
  lln_json_member m[SPLICE_MAX_MEMBERS];
  lln_json_scan sc = {.members = m, .max = SPLICE_MAX_MEMBERS};
  if (lln_json_scan_object_at(s + i, len - i, &sc, &end) != 0 || sc.count > sc.max || sc.flags)
    return 0;
  for (size_t k = 0; k < sc.count; k++) {
    if (KEY_EQ(s + i, &m[k], "finish_reason") && s[i + m[k].val_off] == '"')
      return 0;
  }
  return 1;
}

static void build_head(lln_run *r) {
  lln_buf *h = &r->stream.head;
  char id[160]; /* as lln_run_stamp cuts it */
  snprintf(id, sizeof id, "chatcmpl-%s", r->request_id);
  lln_buf_puts(h, "{\"id\":");
  lln_buf_json_string(h, id, strlen(id));
  lln_buf_puts(h, ",\"object\":\"chat.completion.chunk\",\"created\":");
  lln_json_print_number((double)(time_t)r->stream.created, h);
  lln_buf_puts(h, ",\"model\":");
}

static int collecting(const lln_run *r) {
  return r->cache && !r->cache->no_store && !(r->cache->stream && r->cache->stream->unusable);
}

int lln__stream_splice(lln_run *r, const char *data, size_t len) {
  if (!r->stream.model || r->stream.keep_text || collecting(r))
    return 0;
  lln_json_member m[SPLICE_MAX_MEMBERS];
  enum key kind[SPLICE_MAX_MEMBERS];
  lln_json_scan sc = {.members = m, .max = SPLICE_MAX_MEMBERS};
  /* escaped keys and inexact numbers: only the tree reads them right */
  if (lln_json_scan_object(data, len, &sc) != 0 || sc.count > sc.max || sc.flags)
    return 0;
  const lln_json_member *model = NULL, *choices = NULL;
  for (size_t i = 0; i < sc.count; i++) {
    kind[i] = classify(data, &m[i]);
    if (kind[i] == KEY_TREE || (kind[i] == KEY_MODEL && model))
      return 0; /* a second model: the stamp would keep it */
    if (kind[i] == KEY_MODEL)
      model = &m[i];
    else if (kind[i] == KEY_CHOICES && !choices)
      choices = &m[i];
  }
  if (!model || !choices || !plain_choices(data + choices->val_off, choices->val_len))
    return 0;
  if (!r->stream.head.len)
    build_head(r);
  const lln_buf *h = &r->stream.head;
  /* the event is at most its own bytes plus our head */
  char *out = lln_arena_take(&r->scratch, h->len + len + 2), *o = out;
  memcpy(o, h->data, h->len);
  o += h->len;
  memcpy(o, data + model->val_off, model->val_len);
  o += model->val_len;
  for (size_t i = 0; i < sc.count; i++) {
    if (kind[i] == KEY_DROPPED || kind[i] == KEY_MODEL)
      continue;
    /* ,"key":value: the key with its quotes and the value, as the upstream wrote them */
    *o++ = ',';
    size_t key_from = m[i].key_off - 1, key_len = m[i].key_len + 2;
    memcpy(o, data + key_from, key_len);
    o += key_len;
    *o++ = ':';
    memcpy(o, data + m[i].val_off, m[i].val_len);
    o += m[i].val_len;
  }
  *o++ = '}';
  lln__stream_relay(r, out, (size_t)(o - out));
  return 1;
}
