/* test_store_mem: src/store's in-process backend (store_mem.c) and the
 * public API's dispatch (store.c) over it: expiry and touch with an
 * injected clock, group bounds, the byte and entry bounds (the store's own
 * byte count stays under its cap however many large values a client puts),
 * fixed-window counters across window edges, and threads sharing one
 * store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

#include "store_answer.h"

#define MINUTE 60000L
#define DAY 86400000L
/* 10 s into a minute, 1 h into a day: far from both edges. */
#define BASE ((int64_t)20000 * DAY + 3600000 + 10000)

static int64_t fake_now;
static int64_t fake_clock(void *ud) {
  (void)ud;
  return fake_now;
}

static lln__store_mem *mem_new(size_t max_bytes, size_t max_entries) {
  lln__store_mem *m = lln__store_mem_new(max_bytes, max_entries);
  assert_non_null(m);
  fake_now = BASE;
  lln__store_mem_set_clock(m, fake_clock, NULL);
  return m;
}

static int put(lln__store_mem *m, const char *key, const char *value, long ttl, const char *group, long max) {
  lln_store_put p = {
      .key = key, .value = value, .len = strlen(value), .ttl_ms = ttl, .group = group, .max_entries = max};
  return lln__store_mem_put(m, &p);
}

/* The value of `key` as a string, or NULL when not found (caller frees). */
static char *get(lln__store_mem *m, const char *key, long touch) {
  char *v;
  size_t len;
  int rc = lln__store_mem_get(m, key, touch, &v, &len);
  if (rc == LLN_STORE_ENOTFOUND)
    assert_null(v);
  else
    assert_int_equal(rc, LLN_STORE_OK);
  return v;
}

static void assert_value(lln__store_mem *m, const char *key, const char *want) {
  char *v = get(m, key, 0);
  if (!want) {
    assert_null(v);
    return;
  }
  assert_non_null(v);
  assert_string_equal(v, want);
  free(v);
}

static void test_expiry(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 0);
  assert_int_equal(put(m, "a", "1", 1000, NULL, 0), LLN_STORE_OK);
  fake_now += 999;
  assert_value(m, "a", "1");
  fake_now += 1;
  assert_value(m, "a", NULL);
  size_t entries;
  lln__store_mem_usage(m, NULL, &entries);
  assert_int_equal(entries, 0); /* the read dropped it */
  /* a put replaces the value and its time to live */
  assert_int_equal(put(m, "b", "old", 100, NULL, 0), LLN_STORE_OK);
  assert_int_equal(put(m, "b", "new", 5000, NULL, 0), LLN_STORE_OK);
  fake_now += 4000;
  assert_value(m, "b", "new");
  lln__store_mem_free(m);
}

static void test_touch(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 0);
  assert_int_equal(put(m, "pin", "x", 1000, NULL, 0), LLN_STORE_OK);
  /* an idle timeout: each touching read restarts it */
  for (int i = 0; i < 5; i++) {
    fake_now += 900;
    char *v = get(m, "pin", 1000);
    assert_non_null(v);
    free(v);
  }
  fake_now += 1000;
  assert_value(m, "pin", NULL);
  lln__store_mem_free(m);
}

static void test_expired_swept(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 0);
  char key[32];
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof key, "k%d", i);
    assert_int_equal(put(m, key, "v", 500, NULL, 0), LLN_STORE_OK);
  }
  size_t entries;
  lln__store_mem_usage(m, NULL, &entries);
  assert_int_equal(entries, 100);
  /* nobody reads them again: the next put after the sweep interval drops them */
  fake_now += 500 + LLN_STORE_MEM_SWEEP_INTERVAL_MS;
  assert_int_equal(put(m, "fresh", "v", 500, NULL, 0), LLN_STORE_OK);
  lln__store_mem_usage(m, NULL, &entries);
  assert_int_equal(entries, 1);
  lln__store_mem_free(m);
}

static void test_group_bound(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 0);
  char key[32];
  for (int i = 0; i < 10; i++) {
    snprintf(key, sizeof key, "s%d", i);
    assert_int_equal(put(m, key, "v", 60000, "pins", 3), LLN_STORE_OK);
    fake_now++;
  }
  /* the group's three newest stay; other groups and ungrouped keys are untouched */
  assert_int_equal(put(m, "other", "v", 60000, "cache", 3), LLN_STORE_OK);
  assert_int_equal(put(m, "free", "v", 60000, NULL, 0), LLN_STORE_OK);
  for (int i = 0; i < 7; i++) {
    snprintf(key, sizeof key, "s%d", i);
    assert_value(m, key, NULL);
  }
  assert_value(m, "s7", "v");
  assert_value(m, "s8", "v");
  assert_value(m, "s9", "v");
  assert_value(m, "other", "v");
  assert_value(m, "free", "v");
  size_t entries;
  lln__store_mem_usage(m, NULL, &entries);
  assert_int_equal(entries, 5);
  /* putting a key again does not count it twice */
  assert_int_equal(put(m, "s9", "w", 60000, "pins", 3), LLN_STORE_OK);
  assert_value(m, "s7", "v");
  assert_value(m, "s9", "w");
  /* a group of one */
  assert_int_equal(put(m, "one-a", "v", 60000, "solo", 1), LLN_STORE_OK);
  assert_int_equal(put(m, "one-b", "v", 60000, "solo", 1), LLN_STORE_OK);
  assert_value(m, "one-a", NULL);
  assert_value(m, "one-b", "v");
  lln__store_mem_free(m);
}

/* A client that sends a fresh large value per request (say a new session
 * id each time) fills the store to its cap and no further: the store's own
 * count of its bytes, bookkeeping included, never passes the bound, and
 * the newest values are the ones kept. */
static void test_byte_bound(void **state) {
  (void)state;
  const size_t cap = 1024 * 1024;
  lln__store_mem *m = mem_new(cap, 0);
  char *big = malloc(LLN_STORE_MAX_VALUE + 1);
  memset(big, 'x', LLN_STORE_MAX_VALUE);
  big[LLN_STORE_MAX_VALUE] = '\0';
  char key[32];
  size_t bytes, entries, peak = 0;
  for (int i = 0; i < 2000; i++) {
    snprintf(key, sizeof key, "session-%d", i);
    assert_int_equal(put(m, key, i % 2 ? big : "small", 3600000, NULL, 0), LLN_STORE_OK);
    lln__store_mem_usage(m, &bytes, &entries);
    if (bytes > peak)
      peak = bytes;
    assert_true(bytes <= cap);
  }
  assert_true(peak > cap - 2 * (LLN_STORE_MAX_VALUE + 256)); /* it did fill up */
  assert_true(entries < 40);
  big[10] = '\0';
  assert_value(m, "session-1998", "small");
  char *v = get(m, "session-1999", 0);
  assert_non_null(v);
  assert_int_equal(strlen(v), LLN_STORE_MAX_VALUE);
  free(v);
  assert_value(m, "session-0", NULL);
  free(big);
  lln__store_mem_free(m);
}

/* The same with a fresh group per key (a group per routing node, made up
 * by nobody, but bounded all the same): groups and their table count. */
static void test_byte_bound_groups(void **state) {
  (void)state;
  const size_t cap = 256 * 1024;
  lln__store_mem *m = mem_new(cap, 0);
  char key[32], group[32];
  size_t bytes, entries;
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "k%d", i);
    snprintf(group, sizeof group, "group-%d", i);
    assert_int_equal(put(m, key, "value", 3600000, group, 1), LLN_STORE_OK);
    lln__store_mem_usage(m, &bytes, &entries);
    assert_true(bytes <= cap);
  }
  assert_true(entries > 100);
  assert_value(m, "k4999", "value");
  lln__store_mem_free(m);
}

/* The store's count is of the heap it really holds: filled with small
 * session pins (the case where bookkeeping weighs most), malloc's own
 * count of bytes in use grows by no more than the store says plus a
 * quarter. (Skipped under AddressSanitizer, whose allocator malloc's
 * statistics do not describe.) */
static void test_bytes_are_real(void **state) {
  (void)state;
#if defined(__SANITIZE_ADDRESS__)
  skip();
#else
  size_t before = mallinfo2().uordblks;
  lln__store_mem *m = mem_new(8 * 1024 * 1024, 0);
  char key[80];
  for (int i = 0; i < 20000; i++) {
    snprintf(key, sizeof key, "pin:router:%064d", i);
    assert_int_equal(put(m, key, "technical-handler", 3600000, NULL, 0), LLN_STORE_OK);
  }
  size_t counted, entries;
  lln__store_mem_usage(m, &counted, &entries);
  size_t real = mallinfo2().uordblks - before;
  assert_int_equal(entries, 20000);
  if (real > counted + counted / 4)
    fail_msg("malloc holds %zu bytes for the store, which counts %zu", real, counted);
  lln__store_mem_free(m);
#endif
}

static void test_entry_bound(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 50);
  char key[32];
  size_t entries;
  for (int i = 0; i < 500; i++) {
    snprintf(key, sizeof key, "k%d", i);
    assert_int_equal(put(m, key, "v", 3600000, NULL, 0), LLN_STORE_OK);
    lln__store_mem_usage(m, NULL, &entries);
    assert_true(entries <= 50);
  }
  assert_value(m, "k499", "v");
  assert_value(m, "k449", NULL);
  assert_value(m, "k450", "v");
  lln__store_mem_free(m);
}

/* Under pressure, values go before counters: a flood of session pins must
 * not reset a rate limit. */
static void test_counters_outlive_values(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 20);
  lln_store_window w = {"rl:m:model", 2, MINUTE, 0};
  assert_int_equal(lln__store_mem_take(m, &w, 1, BASE), 0);
  assert_int_equal(lln__store_mem_take(m, &w, 1, BASE + 1), 0);
  char key[32];
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof key, "flood%d", i);
    assert_int_equal(put(m, key, "v", 3600000, NULL, 0), LLN_STORE_OK);
  }
  assert_true(lln__store_mem_take(m, &w, 1, BASE + 2) > 0);
  lln__store_mem_free(m);
}

static void test_counter_windows(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 0);
  lln_store_window w[2] = {{"m:a", 3, MINUTE, 0}, {"d:a", 5, DAY, 0}};
  for (int i = 0; i < 3; i++)
    assert_int_equal(lln__store_mem_take(m, w, 2, BASE + i), 0);
  /* the minute is full: refused until it ends, 50 s later; nothing counted */
  assert_int_equal(lln__store_mem_take(m, w, 2, BASE + 5), MINUTE - 10000 - 5);
  int64_t next = BASE - 10000 + MINUTE; /* the next minute's first ms */
  assert_int_equal(lln__store_mem_take(m, w, 2, next - 1), 1);
  assert_int_equal(lln__store_mem_take(m, w, 2, next), 0);
  assert_int_equal(lln__store_mem_take(m, w, 2, next + 1), 0);
  /* the day is full now (5): its end is the wait, the longest of the full ones */
  int64_t day_end = (BASE / DAY + 1) * DAY;
  assert_int_equal(lln__store_mem_take(m, w, 2, next + 2), (long)(day_end - next - 2));
  assert_int_equal(lln__store_mem_take(m, w, 2, day_end), 0);
  /* windows without a limit are skipped */
  lln_store_window off[2] = {{"m:b", 0, MINUTE, 0}, {"d:b", 1, 0, 0}};
  for (int i = 0; i < 10; i++)
    assert_int_equal(lln__store_mem_take(m, off, 2, BASE), 0);
  lln__store_mem_free(m);
}

static void test_counters_expire(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 0);
  lln_store_window w = {"m:a", 5, MINUTE, 0};
  assert_int_equal(lln__store_mem_take(m, &w, 1, BASE), 0);
  size_t entries;
  lln__store_mem_usage(m, NULL, &entries);
  assert_int_equal(entries, 1);
  /* a take a window later, after the sweep interval, drops the stale counter */
  fake_now += LLN_STORE_MEM_SWEEP_INTERVAL_MS;
  lln_store_window other = {"m:b", 5, MINUTE, 0};
  assert_int_equal(lln__store_mem_take(m, &other, 1, BASE + MINUTE), 0);
  lln__store_mem_usage(m, NULL, &entries);
  assert_int_equal(entries, 1);
  lln__store_mem_free(m);
}

/* A budget's windows: requests counted, spend only checked by a take and
 * added once known; each take answers every window's count. */
static void test_check_only_and_add(void **state) {
  (void)state;
  lln__store_mem *m = mem_new(0, 0);
  lln_store_window w[3] = {{"b:m", 10, MINUTE, 0}, {"b:off", 0, MINUTE, 0}, {"b:usd", 1000, DAY, 1}};
  long counts[3];
  assert_int_equal(lln__store_mem_take_counts(m, w, 3, BASE, counts), 0);
  assert_int_equal(counts[0], 1);
  assert_int_equal(counts[1], 0);
  assert_int_equal(counts[2], 0); /* checked, never counted by a take */
  assert_int_equal(lln__store_mem_take_counts(m, w, 3, BASE + 1, counts), 0);
  assert_int_equal(counts[0], 2);
  assert_int_equal(counts[2], 0);
  /* spend: 600 then 400 reaches the limit of 1000 */
  assert_int_equal(lln__store_mem_add(m, &w[2], 600, BASE + 2), 600);
  assert_int_equal(lln__store_mem_take_counts(m, w, 3, BASE + 3, counts), 0);
  assert_int_equal(counts[2], 600);
  assert_int_equal(lln__store_mem_add(m, &w[2], 400, BASE + 4), 1000);
  /* spent: refused until the UTC day ends, nothing counted, counts as they are */
  int64_t day_end = (BASE / DAY + 1) * DAY;
  assert_int_equal(lln__store_mem_take_counts(m, w, 3, BASE + 5, counts), (long)(day_end - BASE - 5));
  assert_int_equal(counts[0], 3);
  assert_int_equal(counts[2], 1000);
  assert_int_equal(lln__store_mem_take_counts(m, w, 3, BASE + 6, NULL), (long)(day_end - BASE - 6));
  /* an add passes the limit too (the cost is known after the call) and a read adds 0 */
  assert_int_equal(lln__store_mem_add(m, &w[2], 5, BASE + 7), 1005);
  assert_int_equal(lln__store_mem_add(m, &w[2], 0, BASE + 8), 1005);
  /* the next day starts from 0 */
  assert_int_equal(lln__store_mem_take_counts(m, w, 3, day_end, counts), 0);
  assert_int_equal(counts[0], 1);
  assert_int_equal(counts[2], 0);
  assert_int_equal(lln__store_mem_add(m, &w[2], 0, day_end), 0);
  /* a raise sets a lower counter to the figure, never lowers a higher one */
  assert_int_equal(lln__store_mem_raise(m, &w[2], 700, day_end + 1), 700);
  assert_int_equal(lln__store_mem_add(m, &w[2], 10, day_end + 2), 710);
  assert_int_equal(lln__store_mem_raise(m, &w[2], 500, day_end + 3), 710);
  lln__store_mem_free(m);
}

/* ---- the public API over the memory backend ---- */

static void test_public_api(void **state) {
  (void)state;
  lln_store *s = NULL;
  char err[128];
  assert_int_equal(lln_store_create(&s, NULL, "memory", err, sizeof err), 0);
  assert_int_equal(lln_store_shared(s), 0);
  answer a = {0};
  lln_store_put p = {.key = "k", .value = "hello", .len = 5, .ttl_ms = 60000};
  /* synchronous: the callback has run when the call returns NULL */
  assert_null(lln_store_put_value(s, &p, on_done, &a));
  assert_int_equal(a.called, 1);
  assert_int_equal(a.status, LLN_STORE_OK);
  assert_null(lln_store_put_value(s, &p, NULL, NULL)); /* nobody waits */
  assert_null(lln_store_get(s, "k", 0, on_get, &a));
  assert_int_equal(a.called, 2);
  assert_int_equal(a.status, LLN_STORE_OK);
  assert_string_equal(a.value, "hello");
  assert_null(lln_store_get(s, "missing", 0, on_get, &a));
  assert_int_equal(a.status, LLN_STORE_ENOTFOUND);
  /* bad arguments */
  char long_key[LLN_STORE_MAX_KEY + 2];
  memset(long_key, 'k', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = '\0';
  assert_null(lln_store_get(s, long_key, 0, on_get, &a));
  assert_int_equal(a.status, LLN_STORE_EINVAL);
  lln_store_put bad = p;
  bad.ttl_ms = 0;
  lln_store_put_value(s, &bad, on_done, &a);
  assert_int_equal(a.status, LLN_STORE_EINVAL);
  bad = p;
  bad.len = LLN_STORE_MAX_VALUE + 1;
  lln_store_put_value(s, &bad, on_done, &a);
  assert_int_equal(a.status, LLN_STORE_EINVAL);
  /* take */
  lln_store_window w = {"rl", 1, MINUTE, 0};
  assert_null(lln_store_take(s, &w, 1, BASE, on_take, &a));
  assert_int_equal(a.wait, 0);
  assert_null(lln_store_take(s, &w, 1, BASE + 1, on_take, &a));
  assert_int_equal(a.wait, MINUTE - 10000 - 1);
  lln_store_cancel(NULL);
  lln_store_close(s);
  lln_store_close(NULL);
  /* NULL is the in-process store too; anything else is refused without echoing it */
  assert_int_equal(lln_store_create(&s, NULL, NULL, err, sizeof err), 0);
  lln_store_close(s);
  assert_int_equal(lln_store_create(&s, NULL, "memcached://:secret@h", err, sizeof err), -1);
  assert_null(strstr(err, "secret"));
}

/* ---- threads ---- */

#define THREADS 4
#define ROUNDS 20000

static void *hammer(void *arg) {
  lln_store *s = arg;
  char key[32], value[32];
  answer a = {0};
  long allowed = 0;
  for (int i = 0; i < ROUNDS; i++) {
    snprintf(key, sizeof key, "k%d", i % 500);
    snprintf(value, sizeof value, "v%d", i);
    lln_store_put p = {.key = key,
                       .value = value,
                       .len = strlen(value),
                       .ttl_ms = 60000,
                       .group = i % 3 ? "g" : NULL,
                       .max_entries = 100};
    lln_store_put_value(s, &p, NULL, NULL);
    lln_store_get(s, key, 1000, on_get, &a);
    lln_store_window w = {"shared", THREADS * ROUNDS / 2, DAY, 0};
    lln_store_take(s, &w, 1, BASE, on_take, &a);
    allowed += a.wait == 0;
  }
  return (void *)(intptr_t)allowed;
}

static void test_threads(void **state) {
  (void)state;
  lln_store *s = NULL;
  char err[128];
  assert_int_equal(lln_store_create(&s, NULL, "memory", err, sizeof err), 0);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    pthread_create(&t[i], NULL, hammer, s);
  long allowed = 0;
  for (int i = 0; i < THREADS; i++) {
    void *n;
    pthread_join(t[i], &n);
    allowed += (long)(intptr_t)n;
  }
  /* exactly half the takes fit the budget, however they interleaved */
  assert_int_equal(allowed, THREADS * ROUNDS / 2);
  answer a = {0};
  lln_store_window w = {"shared", THREADS * ROUNDS / 2, DAY, 0};
  lln_store_take(s, &w, 1, BASE, on_take, &a);
  assert_true(a.wait > 0);
  size_t entries;
  lln__store_mem_usage(lln__store_mem_of(s), NULL, &entries);
  assert_true(entries <= 501);
  lln_store_close(s);
}

/* lln_store_take_counts and lln_store_add through the public API. */
static void test_public_api_counts(void **state) {
  (void)state;
  lln_store *s = NULL;
  char err[128];
  assert_int_equal(lln_store_create(&s, NULL, "memory", err, sizeof err), 0);
  lln_store_window w[2] = {{"p:d", 2, DAY, 0}, {"p:usd", 50, DAY, 1}};
  answer a = {0};
  assert_null(lln_store_take_counts(s, w, 2, BASE, on_counts, &a));
  assert_int_equal(a.called, 1);
  assert_int_equal(a.wait, 0);
  assert_int_equal(a.n, 2);
  assert_int_equal(a.counts[0], 1);
  assert_null(lln_store_add(s, &w[1], 50, BASE, on_count, &a));
  assert_int_equal(a.counts[0], 50);
  assert_null(lln_store_take_counts(s, w, 2, BASE + 1, on_counts, &a));
  assert_true(a.wait > 0);
  assert_int_equal(a.counts[0], 1);
  assert_int_equal(a.counts[1], 50);
  /* a bad key or a negative amount: nothing added, -1 */
  lln_store_window bad = {"", 1, DAY, 0};
  assert_null(lln_store_add(s, &bad, 1, BASE, on_count, &a));
  assert_int_equal(a.counts[0], -1);
  assert_null(lln_store_add(s, &w[1], -1, BASE, on_count, &a));
  assert_int_equal(a.counts[0], -1);
  assert_null(lln_store_add(s, &w[1], 1, BASE, NULL, NULL)); /* nobody waits for the answer */
  lln_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_touch),
      cmocka_unit_test(test_expired_swept),
      cmocka_unit_test(test_group_bound),
      cmocka_unit_test(test_byte_bound),
      cmocka_unit_test(test_byte_bound_groups),
      cmocka_unit_test(test_bytes_are_real),
      cmocka_unit_test(test_entry_bound),
      cmocka_unit_test(test_counters_outlive_values),
      cmocka_unit_test(test_counter_windows),
      cmocka_unit_test(test_counters_expire),
      cmocka_unit_test(test_check_only_and_add),
      cmocka_unit_test(test_public_api_counts),
      cmocka_unit_test(test_public_api),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
