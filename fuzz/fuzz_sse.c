/* fuzz_sse: the upstream SSE reader (src/upstream/sse.h). Upstream bodies
 * arrive in whatever pieces the network makes, so the reader must give the
 * same events however a stream is split: the input is fed in one piece, in
 * three pieces cut at points derived from the bytes, and byte by byte when
 * small, and the event lists (and return codes) must be identical. Events
 * must also never carry a line break other than the '\n' joining data
 * lines. An event whose data is "[STOP]" makes the callback return non-zero,
 * which must stop every feeding at the same event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/sse.h"
#include "util/buf.h"

#define STOP_RC 7

typedef struct events {
  lln_buf all; /* each event as "<len>:<data>," so boundaries are exact */
  size_t count;
} events;

static int on_event(void *ud, const char *data, size_t len) {
  events *e = ud;
  if (memchr(data, '\r', len))
    abort(); /* a CR always ends a line: it cannot be inside data */
  lln_buf_printf(&e->all, "%zu:", len);
  lln_buf_append(&e->all, data, len);
  lln_buf_putc(&e->all, ',');
  e->count++;
  return len == 6 && memcmp(data, "[STOP]", 6) == 0 ? STOP_RC : 0;
}

/* Feeds `data` cut at the ascending offsets in `cuts`; returns the first
 * non-zero rc (feeding stops there, as a caller would). */
static int feed(events *e, const uint8_t *data, size_t size, const size_t *cuts, size_t n_cuts) {
  lln_sse_reader r;
  lln_buf_init(&e->all);
  e->count = 0;
  lln_sse_init(&r, on_event, e);
  int rc = 0;
  size_t at = 0;
  for (size_t i = 0; i <= n_cuts && rc == 0; i++) {
    size_t end = i < n_cuts ? cuts[i] : size;
    rc = lln_sse_feed(&r, (const char *)data + at, end - at);
    at = end;
  }
  lln_sse_free(&r);
  return rc;
}

static void same(const events *a, int rc_a, const events *b, int rc_b) {
  if (rc_a != rc_b || a->count != b->count || a->all.len != b->all.len ||
      (a->all.len && memcmp(a->all.data, b->all.data, a->all.len) != 0))
    abort();
}

static uint64_t hash(const uint8_t *data, size_t size) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  events whole;
  int rc_whole = feed(&whole, data, size, NULL, 0);
  if (rc_whole != 0 && rc_whole != STOP_RC && size <= LLN_SSE_MAX_LINE)
    abort(); /* -1 needs a line over LLN_SSE_MAX_LINE */

  /* Three pieces: the cut points come from the bytes, so the fuzzer can
   * steer them, and include empty pieces. */
  uint64_t h = hash(data, size);
  size_t cuts[2] = {(size_t)(h % (size + 1)), (size_t)((h >> 32) % (size + 1))};
  if (cuts[0] > cuts[1]) {
    size_t t = cuts[0];
    cuts[0] = cuts[1];
    cuts[1] = t;
  }
  events split;
  int rc_split = feed(&split, data, size, cuts, 2);
  same(&whole, rc_whole, &split, rc_split);
  lln_buf_free(&split.all);

  if (size <= 512) {
    size_t *every = malloc((size ? size : 1) * sizeof *every);
    if (!every)
      abort();
    for (size_t i = 0; i + 1 < size; i++)
      every[i] = i + 1;
    events bytes;
    int rc_bytes = feed(&bytes, data, size, every, size ? size - 1 : 0);
    same(&whole, rc_whole, &bytes, rc_bytes);
    lln_buf_free(&bytes.all);
    free(every);
  }

  lln_buf_free(&whole.all);
  return 0;
}
