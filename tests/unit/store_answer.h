/* store_answer: what a store operation answered, for unit tests of the
 * store's public API (lln_store_get/put_value/take callbacks record into an
 * `answer`). The value is kept NUL-terminated (cut to fit) with its length,
 * so tests compare text or bytes. Include after cmocka.h. The callbacks are
 * inline so a test may use only some of them. */
#ifndef LLN_TESTS_STORE_ANSWER_H
#define LLN_TESTS_STORE_ANSWER_H

#include <stddef.h>
#include <string.h>

typedef struct {
  int called, status;
  char value[256];
  size_t len;
  long wait;
  long counts[8]; /* lln_store_take_counts; lln_store_add's count in [0] */
  size_t n;
} answer;

static inline void on_get(void *ud, int status, const char *value, size_t len) {
  answer *a = ud;
  a->called++;
  a->status = status;
  a->len = len;
  size_t n = len < sizeof a->value - 1 ? len : sizeof a->value - 1;
  if (value)
    memcpy(a->value, value, n);
  a->value[value ? n : 0] = '\0';
}

static inline void on_done(void *ud, int status) {
  answer *a = ud;
  a->called++;
  a->status = status;
}

static inline void on_take(void *ud, long wait) {
  answer *a = ud;
  a->called++;
  a->wait = wait;
}

static inline void on_counts(void *ud, long wait, const long *counts, size_t n) {
  answer *a = ud;
  a->called++;
  a->wait = wait;
  a->n = n;
  for (size_t i = 0; i < n && i < 8; i++)
    a->counts[i] = counts[i];
}

static inline void on_count(void *ud, long count) {
  answer *a = ud;
  a->called++;
  a->counts[0] = count;
}

#endif
