/* Tests for the SSE reader: events, comments, line endings, and every
 * possible split of a stream into two pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "upstream/sse.h"

typedef struct seen {
  lln_buf all; /* events joined with '|' */
  int count;
  int stop_after;
} seen;

static int collect(void *ud, const char *data, size_t len) {
  seen *s = ud;
  if (s->count++)
    lln_buf_putc(&s->all, '|');
  lln_buf_append(&s->all, data, len);
  return s->stop_after && s->count >= s->stop_after ? 7 : 0;
}

/* A reader whose events go to s (s->all empty, s->stop_after kept). */
static void reader_open(lln_sse_reader *r, seen *s) {
  lln_buf_init(&s->all);
  s->count = 0;
  lln_sse_init(r, collect, s);
}

/* Feeds `chunk` again and again until the reader refuses it or more than
 * `most` bytes went in; returns the reader's code, *fed the bytes fed
 * (the refused chunk included). */
static int feed_repeatedly(lln_sse_reader *r, const char *chunk, size_t size, size_t most, size_t *fed) {
  int rc = 0;
  size_t total = 0;
  for (; rc == 0 && total <= most; total += size)
    rc = lln_sse_feed(r, chunk, size);
  *fed = total;
  return rc;
}

static void feed_all(const char *stream, size_t split, seen *s) {
  lln_sse_reader r;
  reader_open(&r, s);
  lln_buf_reserve(&s->all, 0);
  size_t len = strlen(stream);
  assert_int_equal(lln_sse_feed(&r, stream, split), 0);
  assert_int_equal(lln_sse_feed(&r, stream + split, len - split), 0);
  lln_sse_free(&r);
}

static void test_openrouter_stream_at_every_split(void **state) {
  (void)state;
  const char *stream = ": OPENROUTER PROCESSING\n\n"
                       "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                       "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\r\n\r\n"
                       "event: ignored\ndata: [DONE]\n\n";
  const char *want = "{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}|"
                     "{\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}|[DONE]";
  for (size_t split = 0; split <= strlen(stream); split++) {
    seen s = {0};
    feed_all(stream, split, &s);
    assert_int_equal(s.count, 3);
    assert_string_equal(s.all.data, want);
    lln_buf_free(&s.all);
  }
}

static void test_byte_by_byte(void **state) {
  (void)state;
  const char *stream = "data: a\r\rdata: b\ndata: c\n\n:comment\ndata:d\n\n";
  seen s = {0};
  lln_sse_reader r;
  reader_open(&r, &s);
  for (size_t i = 0; stream[i]; i++)
    assert_int_equal(lln_sse_feed(&r, stream + i, 1), 0);
  lln_sse_free(&r);
  assert_int_equal(s.count, 3);
  assert_string_equal(s.all.data, "a|b\nc|d");
  lln_buf_free(&s.all);
}

static void test_incomplete_event_is_not_emitted(void **state) {
  (void)state;
  seen s = {0};
  feed_all("data: {\"partial\":", 5, &s);
  assert_int_equal(s.count, 0);
  lln_buf_free(&s.all);
}

static void test_callback_stops_feeding(void **state) {
  (void)state;
  seen s = {.stop_after = 1};
  lln_sse_reader r;
  reader_open(&r, &s);
  const char *stream = "data: 1\n\ndata: 2\n\n";
  assert_int_equal(lln_sse_feed(&r, stream, strlen(stream)), 7);
  assert_int_equal(s.count, 1);
  lln_sse_free(&r);
  lln_buf_free(&s.all);
}

static void test_overlong_line_is_an_error(void **state) {
  (void)state;
  seen s = {0};
  lln_sse_reader r;
  reader_open(&r, &s);
  static char chunk[65536];
  memset(chunk, 'x', sizeof chunk);
  size_t total;
  assert_int_equal(feed_repeatedly(&r, chunk, sizeof chunk, LLN_SSE_MAX_LINE, &total), LLN_SSE_ERR_LINE);
  lln_sse_free(&r);
  lln_buf_free(&s.all);
}

/* Short data lines without the blank line that ends an event: each line
 * is fine, the event they build is not. */
static void test_endless_event_is_an_error(void **state) {
  (void)state;
  seen s = {0};
  lln_sse_reader r;
  reader_open(&r, &s);
  static char chunk[65536];
  for (size_t i = 0; i < sizeof chunk; i += 64) {
    memcpy(chunk + i, "data: ", 6);
    memset(chunk + i + 6, 'x', 57);
    chunk[i + 63] = '\n';
  }
  size_t total;
  assert_int_equal(feed_repeatedly(&r, chunk, sizeof chunk, 2 * (size_t)LLN_SSE_MAX_EVENT, &total),
                   LLN_SSE_ERR_EVENT);
  assert_true(total <= (size_t)LLN_SSE_MAX_EVENT * 2);
  assert_int_equal(s.count, 0);
  /* an event just under the bound still arrives whole */
  lln_sse_free(&r);
  lln_sse_init(&r, collect, &s);
  for (total = 0; total + sizeof chunk < LLN_SSE_MAX_EVENT; total += sizeof chunk)
    assert_int_equal(lln_sse_feed(&r, chunk, sizeof chunk), 0);
  assert_int_equal(lln_sse_feed(&r, "\n", 1), 0);
  assert_int_equal(s.count, 1);
  lln_sse_free(&r);
  lln_buf_free(&s.all);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_openrouter_stream_at_every_split),
      cmocka_unit_test(test_byte_by_byte),
      cmocka_unit_test(test_incomplete_event_is_not_emitted),
      cmocka_unit_test(test_callback_stops_feeding),
      cmocka_unit_test(test_overlong_line_is_an_error),
      cmocka_unit_test(test_endless_event_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
