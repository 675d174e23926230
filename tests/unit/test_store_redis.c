/* test_store_redis: the store's Redis backend (src/store/store_redis*.c)
 * against a real redis-server on a free loopback port: values with a time
 * to live and touching reads, binary values, bounded groups (oldest and
 * expired members dropped, their keys deleted), takes over several windows,
 * answers while Redis is down (get/put unavailable, take allowed), cancel
 * and close with operations in flight. Every test ends with
 * uv_loop_close == 0, so no handle outlives lln_store_close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "store/store.h"

#include "redis_server.h"
#include "store_answer.h"

#define MINUTE 60000L

static lln_store *open_store(uv_loop_t *loop, const redis_server *s) {
  char url[64], err[256] = "";
  redis_url(s, url, sizeof url);
  lln_store *st = NULL;
  if (lln_store_create(&st, loop, url, err, sizeof err) != 0)
    fail_msg("lln_store_create(%s): %s", url, err);
  assert_int_equal(lln_store_shared(st), 1);
  return st;
}

/* Starts redis-server (up) or picks a port nothing listens on (down),
 * then a loop and a store on it. */
static lln_store *start(redis_server *s, uv_loop_t *loop, int up) {
  if (up)
    redis_start(s, NULL);
  else
    s->port = free_port(); /* nothing listens */
  uv_loop_init(loop);
  return open_store(loop, s);
}

static void wait_answer(uv_loop_t *loop, answer *a, int before) {
  int done = 0;
  for (int i = 0; i < 500 && a->called == before; i++)
    run_for(loop, 10);
  done = a->called == before + 1;
  if (!done)
    fail_msg("no answer within 5 s");
}

static int put(uv_loop_t *loop, lln_store *st, const char *key, const char *value, size_t len, long ttl,
               const char *group, long max) {
  answer a = {0};
  lln_store_put p = {
      .key = key, .value = value, .len = len, .ttl_ms = ttl, .group = group, .max_entries = max};
  lln_store_put_value(st, &p, on_done, &a);
  wait_answer(loop, &a, 0);
  return a.status;
}

static answer get(uv_loop_t *loop, lln_store *st, const char *key, long touch) {
  answer a = {0};
  lln_store_get(st, key, touch, on_get, &a);
  wait_answer(loop, &a, 0);
  return a;
}

/* One command's answer as a number: an integer reply, or a string reply
 * read as one; -1000 for anything else. */
static long long redis_int(int port, const char *fmt, const char *arg) {
  redisContext *c = redis_connect(port);
  assert_non_null(c);
  redisReply *r = redisCommand(c, fmt, arg);
  assert_non_null(r);
  long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                : r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10)
                                                : -1000;
  freeReplyObject(r);
  redisFree(c);
  return v;
}

/* The name of the one key matching `pattern` (asserted to be one). */
static void only_key(int port, const char *pattern, char *key, size_t size) {
  redisContext *c = redis_connect(port);
  assert_non_null(c);
  redisReply *r = redisCommand(c, "KEYS %s", pattern);
  assert_non_null(r);
  assert_int_equal(r->elements, 1);
  snprintf(key, size, "%s", r->element[0]->str);
  freeReplyObject(r);
  redisFree(c);
}

static void finish(uv_loop_t *loop, lln_store *st) {
  lln_store_close(st);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(loop), 0);
}

static void test_values(void **state) {
  redis_server *s = *state;
  uv_loop_t loop;
  lln_store *st = start(s, &loop, 1);
  assert_int_equal(put(&loop, st, "pin:a", "technical-handler", 17, 60000, NULL, 0), LLN_STORE_OK);
  answer a = get(&loop, st, "pin:a", 0);
  assert_int_equal(a.status, LLN_STORE_OK);
  assert_int_equal(a.len, 17);
  assert_memory_equal(a.value, "technical-handler", 17);
  assert_int_equal(get(&loop, st, "pin:none", 0).status, LLN_STORE_ENOTFOUND);
  /* bytes, not strings */
  assert_int_equal(put(&loop, st, "bin", "a\0b", 3, 60000, NULL, 0), LLN_STORE_OK);
  a = get(&loop, st, "bin", 0);
  assert_int_equal(a.len, 3);
  assert_memory_equal(a.value, "a\0b", 3);
  /* every key lives under llmnet:, with its time to live */
  long long pttl = redis_int(s->port, "PTTL %s", "llmnet:pin:a");
  assert_true(pttl > 50000 && pttl <= 60000);
  /* a touching read restarts it */
  assert_int_equal(put(&loop, st, "idle", "x", 1, 2000, NULL, 0), LLN_STORE_OK);
  assert_int_equal(get(&loop, st, "idle", 90000).status, LLN_STORE_OK);
  pttl = redis_int(s->port, "PTTL %s", "llmnet:idle");
  assert_true(pttl > 80000 && pttl <= 90000);
  /* and expiry is Redis's own */
  assert_int_equal(put(&loop, st, "short", "x", 1, 100, NULL, 0), LLN_STORE_OK);
  run_for(&loop, 250);
  assert_int_equal(get(&loop, st, "short", 0).status, LLN_STORE_ENOTFOUND);
  finish(&loop, st);
}

static void test_group_bound(void **state) {
  redis_server *s = *state;
  uv_loop_t loop;
  lln_store *st = start(s, &loop, 1);
  char key[32];
  for (int i = 0; i < 5; i++) {
    snprintf(key, sizeof key, "c%d", i);
    assert_int_equal(put(&loop, st, key, "v", 1, 60000, "cache", 3), LLN_STORE_OK);
  }
  /* the two oldest are gone from the set and from Redis */
  assert_int_equal(redis_int(s->port, "ZCARD %s", "llmnet:group:cache"), 3);
  assert_int_equal(get(&loop, st, "c0", 0).status, LLN_STORE_ENOTFOUND);
  assert_int_equal(get(&loop, st, "c1", 0).status, LLN_STORE_ENOTFOUND);
  for (int i = 2; i < 5; i++) {
    snprintf(key, sizeof key, "c%d", i);
    assert_int_equal(get(&loop, st, key, 0).status, LLN_STORE_OK);
  }
  /* a member whose key expired on its own goes before a live one: c3
   * expires, then a new key leaves c2 (the oldest live one) in place */
  assert_int_equal(put(&loop, st, "c3", "v", 1, 50, "cache", 3), LLN_STORE_OK);
  run_for(&loop, 200);
  assert_int_equal(put(&loop, st, "c5", "v", 1, 60000, "cache", 3), LLN_STORE_OK);
  assert_int_equal(get(&loop, st, "c2", 0).status, LLN_STORE_OK);
  assert_int_equal(get(&loop, st, "c4", 0).status, LLN_STORE_OK);
  assert_int_equal(get(&loop, st, "c5", 0).status, LLN_STORE_OK);
  assert_int_equal(redis_int(s->port, "ZCARD %s", "llmnet:group:cache"), 3);
  /* the set itself expires with its keys */
  long long pttl = redis_int(s->port, "PTTL %s", "llmnet:group:cache");
  assert_true(pttl > 0 && pttl <= 60000);
  finish(&loop, st);
}

static void test_take_windows(void **state) {
  redis_server *s = *state;
  uv_loop_t loop;
  lln_store *st = start(s, &loop, 1);
  /* three windows; the hour one (limit 2) fills first */
  lln_store_window w[3] = {
      {"t:m", 5, MINUTE, 0}, {"t:h", 2, 60 * MINUTE, 0}, {"t:d", 10, 24 * 60 * MINUTE, 0}};
  answer a = {0};
  for (int i = 0; i < 3; i++) {
    lln_store_take(st, w, 3, 0, on_take, &a);
    wait_answer(&loop, &a, i);
  }
  assert_true(a.wait > 0 && a.wait <= 60 * MINUTE);
  /* nothing was counted by the refusal: the day counter says 2 */
  char key[128];
  only_key(s->port, "llmnet:t:d:*", key, sizeof key);
  assert_int_equal(redis_int(s->port, "GET %s", key), 2);
  finish(&loop, st);
}

/* A budget's windows in Redis: the spend window only checked by a take,
 * added to by lln_store_add; every take answers each window's count;
 * windows without a limit answer 0. */
static void test_take_counts_and_add(void **state) {
  redis_server *s = *state;
  uv_loop_t loop;
  lln_store *st = start(s, &loop, 1);
  lln_store_window w[3] = {
      {"b:d", 3, 24 * 60 * MINUTE, 0}, {"b:off", 0, MINUTE, 0}, {"b:usd", 1000, 24 * 60 * MINUTE, 1}};
  answer a = {0};
  lln_store_take_counts(st, w, 3, 0, on_counts, &a);
  wait_answer(&loop, &a, 0);
  assert_int_equal(a.wait, 0);
  assert_int_equal(a.n, 3);
  assert_int_equal(a.counts[0], 1);
  assert_int_equal(a.counts[1], 0);
  assert_int_equal(a.counts[2], 0);
  lln_store_add(st, &w[2], 999, 0, on_count, &a);
  wait_answer(&loop, &a, 1);
  assert_int_equal(a.counts[0], 999);
  lln_store_take_counts(st, w, 3, 0, on_counts, &a);
  wait_answer(&loop, &a, 2);
  assert_int_equal(a.wait, 0);
  assert_int_equal(a.counts[0], 2);
  assert_int_equal(a.counts[2], 999);
  lln_store_add(st, &w[2], 1, 0, on_count, &a);
  wait_answer(&loop, &a, 3);
  assert_int_equal(a.counts[0], 1000);
  /* spent: refused until the day ends, nothing counted */
  lln_store_take_counts(st, w, 3, 0, on_counts, &a);
  wait_answer(&loop, &a, 4);
  assert_true(a.wait > 0 && a.wait <= 24 * 60 * MINUTE);
  assert_int_equal(a.counts[0], 2);
  assert_int_equal(a.counts[2], 1000);
  /* a raise never lowers the counter, and sets a lower one to the figure */
  lln_store_raise(st, &w[2], 10, 0, on_count, &a);
  wait_answer(&loop, &a, 5);
  assert_int_equal(a.counts[0], 1000);
  lln_store_raise(st, &w[2], 1500, 0, on_count, &a);
  wait_answer(&loop, &a, 6);
  assert_int_equal(a.counts[0], 1500);
  /* the plain take reads the same script's answer */
  lln_store_take(st, w, 3, 0, on_take, &a);
  wait_answer(&loop, &a, 7);
  assert_true(a.wait > 0);
  /* the counters expire: the spend key has a time to live */
  char key[128];
  only_key(s->port, "llmnet:b:usd:*", key, sizeof key);
  long long ttl = redis_int(s->port, "PTTL %s", key);
  assert_true(ttl > 0 && ttl <= 2 * 24 * 60 * MINUTE);
  finish(&loop, st);
}

/* Redis down: a take with counts is allowed and says it knows no count; an
 * add answers -1. */
static void test_counts_down(void **state) {
  redis_server *s = *state;
  uv_loop_t loop;
  lln_store *st = start(s, &loop, 0);
  lln_store_window w = {"k", 1, MINUTE, 0};
  answer a = {0};
  lln_store_take_counts(st, &w, 1, 0, on_counts, &a);
  wait_answer(&loop, &a, 0);
  assert_int_equal(a.wait, 0);
  assert_int_equal(a.counts[0], -1);
  lln_store_add(st, &w, 5, 0, on_count, &a);
  wait_answer(&loop, &a, 1);
  assert_int_equal(a.counts[0], -1);
  finish(&loop, st);
}

static void test_down(void **state) {
  redis_server *s = *state;
  uv_loop_t loop;
  lln_store *st = start(s, &loop, 0);
  assert_int_equal(put(&loop, st, "k", "v", 1, 1000, "g", 3), LLN_STORE_EUNAVAIL);
  assert_int_equal(get(&loop, st, "k", 0).status, LLN_STORE_EUNAVAIL);
  answer a = {0};
  lln_store_window w = {"k", 1, MINUTE, 0};
  for (int i = 0; i < 3; i++) {
    lln_store_take(st, &w, 1, 0, on_take, &a);
    wait_answer(&loop, &a, i);
    assert_int_equal(a.wait, 0); /* allowed */
  }
  finish(&loop, st);
}

static void test_cancel_and_close(void **state) {
  redis_server *s = *state;
  uv_loop_t loop;
  lln_store *st = start(s, &loop, 1);
  answer early = {0};
  lln_store_op *op = lln_store_get(st, "x", 0, on_get, &early); /* still resolving */
  assert_non_null(op);
  lln_store_cancel(op);
  assert_int_equal(put(&loop, st, "x", "v", 1, 60000, NULL, 0), LLN_STORE_OK);
  answer sent = {0};
  op = lln_store_get(st, "x", 0, on_get, &sent);
  assert_non_null(op);
  lln_store_cancel(op);
  assert_int_equal(get(&loop, st, "x", 0).status, LLN_STORE_OK);
  assert_int_equal(early.called, 0);
  assert_int_equal(sent.called, 0);
  /* close with operations of each kind in flight: no callback runs */
  answer inflight = {0};
  lln_store_put p = {.key = "y", .value = "v", .len = 1, .ttl_ms = 1000};
  assert_non_null(lln_store_get(st, "x", 0, on_get, &inflight));
  assert_non_null(lln_store_put_value(st, &p, on_done, &inflight));
  lln_store_window w = {"z", 1, MINUTE, 0};
  assert_non_null(lln_store_take(st, &w, 1, 0, on_take, &inflight));
  finish(&loop, st);
  assert_int_equal(inflight.called, 0);
}

int main(void) {
  alarm(120); /* a hang is a failure, not a stuck CI job */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_values, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_group_bound, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_take_windows, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_down, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_take_counts_and_add, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_counts_down, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_cancel_and_close, redis_setup, redis_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
