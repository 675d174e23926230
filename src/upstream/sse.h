/* sse: an incremental reader of text/event-stream bodies. Bytes arrive in
 * arbitrary pieces; complete events come out with their data lines joined.
 * Comment lines (": OPENROUTER PROCESSING") and fields other than data are
 * skipped. */
#ifndef LLN_UPSTREAM_SSE_H
#define LLN_UPSTREAM_SSE_H

#include <stddef.h>

#include "util/buf.h"

/* Longest line accepted; a longer one is an error, not a growing buffer. */
#define LLN_SSE_MAX_LINE (4 * 1024 * 1024)
/* Largest event (its data lines joined); a bigger one is an error too, so
 * a stream of short data lines without a blank line cannot grow memory. */
#define LLN_SSE_MAX_EVENT (4 * 1024 * 1024)
#define LLN_SSE_ERR_LINE (-1)
#define LLN_SSE_ERR_EVENT (-2)

/* Called once per complete event with its data (no trailing newline). */
typedef int (*lln_sse_on_event)(void *ud, const char *data, size_t len);

typedef struct lln_sse_reader {
  lln_buf line;
  lln_buf data;
  int have_data;
  int after_cr; /* the last byte was '\r': a following '\n' belongs to it */
  lln_sse_on_event on_event;
  void *ud;
} lln_sse_reader;

void lln_sse_init(lln_sse_reader *r, lln_sse_on_event on_event, void *ud);
void lln_sse_free(lln_sse_reader *r);
/* Feeds bytes. Returns 0, LLN_SSE_ERR_LINE when a line is longer than
 * LLN_SSE_MAX_LINE, LLN_SSE_ERR_EVENT when an event's data would exceed
 * LLN_SSE_MAX_EVENT, or the first non-zero value an on_event call returned
 * (feeding stops). After an error the reader accepts nothing more. */
int lln_sse_feed(lln_sse_reader *r, const char *bytes, size_t len);

#endif
