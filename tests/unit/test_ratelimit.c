/* test_ratelimit: src/upstream/ratelimit.c on the store: its windows in the
 * in-process backend (with injected clocks to cross window edges) and in
 * the Redis backend (src/store/store_redis*.c) against a real redis-server that each Redis test starts on a
 * free loopback port and kills at the end. A missing redis-server fails these tests: CI installs it with
 * scripts/deps.sh. Every test ends with uv_loop_close == 0, so no handle outlives lln_store_close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"
#include "upstream/ratelimit.h"

#include "redis_server.h"

#define MINUTE 60000L
#define DAY 86400000L
/* 10 s into a minute, 1 h into a day: far from both edges. */
#define BASE ((int64_t)20000 * DAY + 3600000 + 10000)

/* ---- helpers ---- */

typedef struct {
  int called;
  long wait;
} result;

static void on_result(void *ud, long wait_ms) {
  result *r = ud;
  r->called++;
  r->wait = wait_ms;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tests that count in the real current minute start well inside it, so the
 * window cannot roll over between two takes. */
static void avoid_minute_edge(void) {
  long into = (long)(now_ms() % MINUTE);
  if (into > MINUTE - 3000)
    usleep((useconds_t)(MINUTE - into + 100) * 1000);
}

/* Each limiter the tests make counts in its own store, closed with it. */
#define MAX_LIMITERS 16
static struct {
  lln_ratelimit *rl;
  lln_store *store;
} limiters[MAX_LIMITERS];

static void rl_close(lln_ratelimit *rl) {
  for (int i = 0; i < MAX_LIMITERS; i++) {
    if (limiters[i].rl == rl) {
      lln_ratelimit_close(rl);
      lln_store_close(limiters[i].store); /* cancels the takes left */
      limiters[i].rl = NULL;
      limiters[i].store = NULL;
      return;
    }
  }
  fail_msg("closing a limiter the test did not make");
}

/* Closes a limiter; finish_loop later checks that it left nothing behind. */
static void close_and_drain(uv_loop_t *loop, lln_ratelimit *rl) {
  rl_close(rl);
  uv_run(loop, UV_RUN_NOWAIT);
}

static void finish_loop(uv_loop_t *loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(loop), 0);
}

/* Takes once and waits for the answer. */
static long take(uv_loop_t *loop, lln_ratelimit *rl, const char *key, int rpm, int rpd) {
  result r = {0, -1};
  lln_ratelimit_acquire(rl, key, rpm, rpd, on_result, &r);
  if (!run_until(loop, &r.called, 5000))
    fail_msg("no answer for a take on %s within 5 s", key);
  assert_int_equal(r.called, 1);
  return r.wait;
}

static lln_ratelimit *make(uv_loop_t *loop, const char *store) {
  lln_store *st = NULL;
  lln_ratelimit *rl = NULL;
  char err[256] = "";
  if (lln_store_create(&st, loop, store, err, sizeof err) != 0)
    fail_msg("lln_store_create(%s): %s", store ? store : "NULL", err);
  assert_int_equal(lln_ratelimit_create(&rl, st), 0);
  for (int i = 0; i < MAX_LIMITERS; i++) {
    if (!limiters[i].rl) {
      limiters[i].rl = rl;
      limiters[i].store = st;
      return rl;
    }
  }
  fail_msg("more than %d limiters open", MAX_LIMITERS);
  return NULL;
}

/* ---- the windows a limiter takes, in the in-process backend ---- */

typedef lln__store_mem rl_mem;
static int64_t mem_clock_now;
static int64_t mem_clock(void *ud) {
  (void)ud;
  return mem_clock_now;
}

static rl_mem *rl_mem_new(void) {
  lln__store_mem *m = lln__store_mem_new(0, 0);
  lln__store_mem_set_clock(m, mem_clock, NULL);
  return m;
}

static void rl_mem_free(rl_mem *m) { lln__store_mem_free(m); }

/* What lln_ratelimit_acquire takes, at `now_ms` (the store's clock too). */
static long rl_mem_take(rl_mem *m, const char *key, int rpm, int rpd, int64_t now_ms) {
  if (rpm <= 0 && rpd <= 0)
    return 0;
  char minute[64], day[64];
  snprintf(minute, sizeof minute, "rl:%s:m", key);
  snprintf(day, sizeof day, "rl:%s:d", key);
  lln_store_window w[2] = {{minute, rpm, LLN_RATELIMIT_MINUTE_MS, 0}, {day, rpd, LLN_RATELIMIT_DAY_MS, 0}};
  mem_clock_now = now_ms;
  return lln__store_mem_take(m, w, 2, now_ms);
}

/* Counters held: one per key and window with a limit. */
static size_t rl_mem_size(rl_mem *m) {
  size_t n;
  lln__store_mem_usage(m, NULL, &n);
  return n;
}

/* ---- memory backend ---- */

static void test_mem_rpm(void **state) {
  (void)state;
  rl_mem *m = rl_mem_new();
  for (int i = 0; i < 3; i++)
    assert_int_equal(rl_mem_take(m, "a", 3, 0, BASE + i), 0);
  /* Refused until the minute ends, 50 s later. */
  assert_int_equal(rl_mem_take(m, "a", 3, 0, BASE + 5), MINUTE - 10000 - 5);
  assert_int_equal(rl_mem_take(m, "a", 3, 0, BASE + 49000), MINUTE - 10000 - 49000);
  /* The next minute has a fresh budget. */
  int64_t next = BASE - 10000 + MINUTE;
  for (int i = 0; i < 3; i++)
    assert_int_equal(rl_mem_take(m, "a", 3, 0, next + i), 0);
  assert_int_equal(rl_mem_take(m, "a", 3, 0, next + 3), MINUTE - 3);
  rl_mem_free(m);
}

static void test_mem_rpm_public_api(void **state) {
  (void)state;
  avoid_minute_edge();
  lln_ratelimit *rl = make(NULL, "memory");
  result r = {0, -1};
  for (int i = 0; i < 2; i++) {
    /* The in-process backend answers at once. */
    assert_null(lln_ratelimit_acquire(rl, "m", 2, 0, on_result, &r));
    assert_int_equal(r.called, i + 1);
    assert_int_equal(r.wait, 0);
  }
  assert_null(lln_ratelimit_acquire(rl, "m", 2, 0, on_result, &r));
  assert_int_equal(r.called, 3);
  assert_true(r.wait > 0 && r.wait < MINUTE);
  rl_close(rl);
  rl_close(make(NULL, NULL)); /* NULL is the in-process store too */
}

static void test_mem_rpd(void **state) {
  (void)state;
  rl_mem *m = rl_mem_new();
  assert_int_equal(rl_mem_take(m, "a", 0, 2, BASE), 0);
  assert_int_equal(rl_mem_take(m, "a", 0, 2, BASE + MINUTE * 30), 0);
  int64_t day_end = BASE - 3600000 - 10000 + DAY;
  assert_int_equal(rl_mem_take(m, "a", 0, 2, BASE + MINUTE * 31), (long)(day_end - (BASE + MINUTE * 31)));
  /* A new minute does not help; a new day does. */
  assert_true(rl_mem_take(m, "a", 0, 2, BASE + MINUTE * 90) > 0);
  assert_int_equal(rl_mem_take(m, "a", 0, 2, day_end), 0);
  rl_mem_free(m);
}

static void test_mem_both(void **state) {
  (void)state;
  rl_mem *m = rl_mem_new();
  int64_t day_end = BASE - 3600000 - 10000 + DAY;
  /* rpm 2, rpd 3: the minute fills first; refusals are not counted. */
  assert_int_equal(rl_mem_take(m, "a", 2, 3, BASE), 0);
  assert_int_equal(rl_mem_take(m, "a", 2, 3, BASE + 1), 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(rl_mem_take(m, "a", 2, 3, BASE + 2), MINUTE - 10000 - 2);
  /* Next minute: one left for the day, then the day window is the full one. */
  int64_t next = BASE - 10000 + MINUTE;
  assert_int_equal(rl_mem_take(m, "a", 2, 3, next), 0);
  assert_int_equal(rl_mem_take(m, "a", 2, 3, next + 1), (long)(day_end - next - 1));
  /* Both full at once: the day's wait is the one that matters. */
  assert_int_equal(rl_mem_take(m, "b", 1, 1, BASE), 0);
  assert_int_equal(rl_mem_take(m, "b", 1, 1, BASE + 1), (long)(day_end - BASE - 1));
  rl_mem_free(m);
}

static void test_mem_unlimited(void **state) {
  (void)state;
  rl_mem *m = rl_mem_new();
  for (int i = 0; i < 1000; i++) {
    assert_int_equal(rl_mem_take(m, "a", 0, 0, BASE + i), 0);
    assert_int_equal(rl_mem_take(m, "a", -1, -5, BASE + i), 0);
  }
  /* 0 in one window leaves only the other one. */
  for (int i = 0; i < 100; i++)
    assert_int_equal(rl_mem_take(m, "b", 0, 1000, BASE + i), 0);
  assert_int_equal(rl_mem_size(m), 1); /* "a" never reached the table */
  rl_mem_free(m);

  lln_ratelimit *rl = make(NULL, "memory");
  result r = {0, -1};
  for (int i = 0; i < 1000; i++)
    assert_null(lln_ratelimit_acquire(rl, "a", 0, 0, on_result, &r));
  assert_int_equal(r.called, 1000);
  assert_int_equal(r.wait, 0);
  rl_close(rl);
}

static void test_mem_independent_keys(void **state) {
  (void)state;
  rl_mem *m = rl_mem_new();
  char key[32];
  /* Enough keys to make the table grow. */
  for (int k = 0; k < 100; k++) {
    snprintf(key, sizeof key, "model-%d", k);
    assert_int_equal(rl_mem_take(m, key, 1, 0, BASE), 0);
  }
  for (int k = 0; k < 100; k++) {
    snprintf(key, sizeof key, "model-%d", k);
    assert_true(rl_mem_take(m, key, 1, 0, BASE + 1) > 0);
  }
  assert_int_equal(rl_mem_take(m, "other", 1, 0, BASE + 1), 0);
  assert_int_equal(rl_mem_size(m), 101);
  rl_mem_free(m);
}

static void test_mem_stale_dropped(void **state) {
  (void)state;
  rl_mem *m = rl_mem_new();
  assert_int_equal(rl_mem_take(m, "a", 5, 5, BASE), 0);
  assert_int_equal(rl_mem_take(m, "b", 5, 0, BASE), 0);
  /* Later the same day: the day counts still matter, nothing is dropped. */
  /* (the minutes that passed are dropped: a:d, c:m, c:d are left) */
  assert_int_equal(rl_mem_take(m, "c", 5, 5, BASE + 5 * MINUTE), 0);
  assert_int_equal(rl_mem_size(m), 3);
  /* The next day, yesterday's counters go at the first take. */
  assert_int_equal(rl_mem_take(m, "c", 5, 5, BASE + DAY), 0);
  assert_int_equal(rl_mem_size(m), 2); /* c's minute and day */
  rl_mem_free(m);
}

typedef struct {
  lln_ratelimit *rl;
  int allowed;
} worker_arg;

static void on_count(void *ud, long wait_ms) {
  if (wait_ms == 0)
    ((worker_arg *)ud)->allowed++;
}

static void *worker(void *p) {
  worker_arg *a = p;
  for (int i = 0; i < 500; i++)
    lln_ratelimit_acquire(a->rl, "shared", 0, 1000, on_count, a);
  return NULL;
}

/* Worker threads share one in-process table: the budget is spent exactly. */
static void test_mem_threads(void **state) {
  (void)state;
  lln_ratelimit *rl = make(NULL, "memory");
  pthread_t th[4];
  worker_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (worker_arg){rl, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
  }
  int total = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    total += args[i].allowed;
  }
  assert_int_equal(total, 1000);
  rl_close(rl);
}

/* ---- store URLs ---- */

static void test_store_urls(void **state) {
  (void)state;
  static const char *const bad[] = {
      "redis://",       "redis://:6379",         "redis://h:0",     "redis://h:99999", "redis://h:x",
      "redis://h:1/db", "redis://h:1?timeout=1", "rediss://h:6379", "memcached://h:1", "mem",
      "redis://[::1",   "redis://[::1]x",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    lln_store *st = (lln_store *)1;
    char err[256] = "";
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (lln_store_create(&st, &loop, bad[i], err, sizeof err) == 0)
      fail_msg("accepted %s", bad[i]);
    assert_null(st);
    assert_true(err[0] != '\0');
    finish_loop(&loop);
  }
  /* The error must not repeat a password. */
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[256] = "";
  lln_store *st = NULL;
  assert_int_equal(lln_store_create(&st, &loop, "redis://:s3cret@h:0", err, sizeof err), -1);
  assert_null(strstr(err, "s3cret"));
  assert_int_equal(lln_store_create(&st, &loop, "redis://:s3cret@h:1/x", err, sizeof err), -1);
  assert_null(strstr(err, "s3cret"));
  finish_loop(&loop);

  static const char *const good[] = {
      "redis://127.0.0.1:1",          "redis://127.0.0.1:1/",  "redis://127.0.0.1:1/3",
      "redis://u:p%40ss@127.0.0.1:1", "redis://:pw@127.0.0.1", "redis://[::1]:1/0",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uv_loop_init(&loop);
    close_and_drain(&loop, make(&loop, good[i]));
    finish_loop(&loop);
  }
}

/* A counter as the script left it, read with the test's own client. */
static long long redis_get(int port, const char *password, int db, const char *key, long long *ttl) {
  redisContext *c = redis_connect(port);
  assert_non_null(c);
  redisReply *r;
  if (password) {
    r = redisCommand(c, "AUTH %s", password);
    freeReplyObject(r);
  }
  r = redisCommand(c, "SELECT %d", db);
  freeReplyObject(r);
  r = redisCommand(c, "GET %s", key);
  assert_non_null(r);
  long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
  freeReplyObject(r);
  if (ttl) {
    r = redisCommand(c, "TTL %s", key);
    *ttl = r->integer;
    freeReplyObject(r);
  }
  redisFree(c);
  return v;
}

static void test_redis_shared_budget(void **state) {
  redis_server *s = *state;
  redis_start(s, NULL);
  avoid_minute_edge();
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64], url2[64];
  redis_url(s, url, sizeof url);
  snprintf(url2, sizeof url2, "redis://localhost:%d/0", s->port); /* resolved by name */
  lln_ratelimit *a = make(&loop, url), *b = make(&loop, url2);

  /* rpm 3 across two limiters: A, B, A pass, then both are refused. */
  assert_int_equal(take(&loop, a, "shared", 3, 0), 0);
  assert_int_equal(take(&loop, b, "shared", 3, 0), 0);
  assert_int_equal(take(&loop, a, "shared", 3, 0), 0);
  long wb = take(&loop, b, "shared", 3, 0), wa = take(&loop, a, "shared", 3, 0);
  assert_true(wb > 0 && wb <= MINUTE);
  assert_true(wa > 0 && wa <= MINUTE);
  long expected = MINUTE - (long)(now_ms() % MINUTE);
  assert_true(labs(wa - expected) < 3000);
  char key[96];
  long long ttl = 0;
  snprintf(key, sizeof key, "llmnet:rl:shared:m:%lld", (long long)(now_ms() / MINUTE));
  assert_int_equal(redis_get(s->port, NULL, 0, key, &ttl), 3); /* refusals are not counted */
  assert_true(ttl > 0 && ttl <= 120);

  /* rpd 2: the day window, reported as the wait until the UTC day ends. */
  assert_int_equal(take(&loop, a, "daily", 0, 2), 0);
  assert_int_equal(take(&loop, b, "daily", 0, 2), 0);
  long wd = take(&loop, a, "daily", 0, 2);
  expected = DAY - (long)(now_ms() % DAY);
  assert_true(wd > 0 && labs(wd - expected) < 3000);
  snprintf(key, sizeof key, "llmnet:rl:daily:d:%lld", (long long)(now_ms() / DAY));
  assert_int_equal(redis_get(s->port, NULL, 0, key, &ttl), 2);
  assert_true(ttl > 86400 && ttl <= 172800);
  snprintf(key, sizeof key, "llmnet:rl:daily:m:%lld", (long long)(now_ms() / MINUTE));
  assert_int_equal(redis_get(s->port, NULL, 0, key, NULL), -1); /* rpm 0 keeps no minute counter */

  /* Both windows: the day fills first here and its wait is reported. */
  assert_int_equal(take(&loop, b, "both", 5, 1), 0);
  wd = take(&loop, a, "both", 5, 1);
  assert_true(labs(wd - (DAY - (long)(now_ms() % DAY))) < 3000);

  /* 0 = unlimited answers at once, without Redis. */
  result r = {0, -1};
  assert_null(lln_ratelimit_acquire(a, "free", 0, 0, on_result, &r));
  assert_int_equal(r.called, 1);
  assert_int_equal(r.wait, 0);

  /* Keys are independent. */
  assert_int_equal(take(&loop, a, "other", 3, 0), 0);

  close_and_drain(&loop, a);
  close_and_drain(&loop, b);
  finish_loop(&loop);
}

static void test_redis_auth_and_db(void **state) {
  redis_server *s = *state;
  redis_start(s, "pw:with@signs");
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[96];
  snprintf(url, sizeof url, "redis://:pw%%3Awith%%40signs@127.0.0.1:%d/2", s->port);
  lln_ratelimit *rl = make(&loop, url);
  assert_int_equal(take(&loop, rl, "auth", 0, 1), 0);
  assert_true(take(&loop, rl, "auth", 0, 1) > 0);
  char key[96];
  snprintf(key, sizeof key, "llmnet:rl:auth:d:%lld", (long long)(now_ms() / DAY));
  assert_int_equal(redis_get(s->port, "pw:with@signs", 2, key, NULL), 1);
  assert_int_equal(redis_get(s->port, "pw:with@signs", 0, key, NULL), -1);
  close_and_drain(&loop, rl);

  /* Without the password every take gets an error reply: allowed. */
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", s->port);
  rl = make(&loop, url);
  for (int i = 0; i < 3; i++)
    assert_int_equal(take(&loop, rl, "noauth", 0, 1), 0);
  close_and_drain(&loop, rl);
  finish_loop(&loop);
}

/* The script cache emptied under a connected limiter (SCRIPT FLUSH, or a
 * failover to a replica that never saw it): EVALSHA's NOSCRIPT is answered
 * with EVAL and the take still counts. */
static void test_redis_script_flushed(void **state) {
  redis_server *s = *state;
  redis_start(s, NULL);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  redis_url(s, url, sizeof url);
  lln_ratelimit *rl = make(&loop, url);
  assert_int_equal(take(&loop, rl, "flush", 0, 3), 0); /* SCRIPT LOAD answered before it */
  redisContext *c = redis_connect(s->port);
  assert_non_null(c);
  redisReply *reply = redisCommand(c, "SCRIPT FLUSH");
  assert_non_null(reply);
  freeReplyObject(reply);
  redisFree(c);
  assert_int_equal(take(&loop, rl, "flush", 0, 3), 0);
  assert_int_equal(take(&loop, rl, "flush", 0, 3), 0);
  assert_true(take(&loop, rl, "flush", 0, 3) > 0);
  close_and_drain(&loop, rl);
  finish_loop(&loop);
}

static void test_redis_fail_open(void **state) {
  redis_server *s = *state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  /* Nothing listens yet: every take is allowed, however small the budget. */
  s->port = free_port();
  char url[64];
  redis_url(s, url, sizeof url);
  lln_ratelimit *rl = make(&loop, url);
  for (int i = 0; i < 3; i++)
    assert_int_equal(take(&loop, rl, "down", 0, 1), 0);
  /* Between reconnection attempts the answer is immediate (unless a slow
   * run, under valgrind, has reached the next attempt). */
  result r = {0, -1};
  if (lln_ratelimit_acquire(rl, "down", 0, 1, on_result, &r) == NULL)
    assert_int_equal(r.called, 1);
  else
    run_until(&loop, &r.called, 5000);
  assert_int_equal(r.called, 1);
  assert_int_equal(r.wait, 0);
  close_and_drain(&loop, rl);

  /* Redis dies under a connected limiter. */
  redis_start(s, NULL);
  rl = make(&loop, url);
  assert_int_equal(take(&loop, rl, "died", 0, 1), 0);
  assert_true(take(&loop, rl, "died", 0, 1) > 0);
  redis_stop(s);
  for (int i = 0; i < 3; i++)
    assert_int_equal(take(&loop, rl, "died", 0, 1), 0);
  close_and_drain(&loop, rl);
  finish_loop(&loop);
}

static void test_redis_reconnect(void **state) {
  redis_server *s = *state;
  redis_start(s, NULL);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  redis_url(s, url, sizeof url);
  lln_ratelimit *rl = make(&loop, url);
  assert_int_equal(take(&loop, rl, "re", 0, 1), 0);
  assert_true(take(&loop, rl, "re", 0, 1) > 0);

  redis_stop(s);
  assert_int_equal(take(&loop, rl, "re", 0, 1), 0);
  redis_start(s, NULL); /* same port, empty data set */

  /* Allowed without counting until the limiter is back; then the budget of
   * one is spent by the first counted take and the next one is refused. */
  int refused = 0;
  uint64_t start = uv_now(&loop);
  while (!refused && uv_now(&loop) - start < 10000) {
    refused = take(&loop, rl, "back", 0, 1) > 0;
    if (!refused)
      run_for(&loop, 50);
  }
  assert_true(refused);
  char key[96];
  snprintf(key, sizeof key, "llmnet:rl:back:d:%lld", (long long)(now_ms() / DAY));
  assert_int_equal(redis_get(s->port, NULL, 0, key, NULL), 1);
  close_and_drain(&loop, rl);
  finish_loop(&loop);
}

static void test_redis_cancel(void **state) {
  redis_server *s = *state;
  redis_start(s, NULL);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  redis_url(s, url, sizeof url);

  /* Cancelled while the name is still resolving (never sent). */
  lln_ratelimit *rl = make(&loop, url);
  result early = {0, -1};
  lln_ratelimit_take *t = lln_ratelimit_acquire(rl, "c", 0, 5, on_result, &early);
  assert_non_null(t);
  lln_ratelimit_cancel(t);

  /* Cancelled after it was sent: the reply comes and is ignored. The next
   * take's reply follows it on the same connection. */
  assert_int_equal(take(&loop, rl, "c", 0, 5), 0);
  result sent = {0, -1};
  t = lln_ratelimit_acquire(rl, "c", 0, 5, on_result, &sent);
  assert_non_null(t);
  lln_ratelimit_cancel(t);
  assert_int_equal(take(&loop, rl, "c", 0, 5), 0);
  run_for(&loop, 50);
  assert_int_equal(early.called, 0);
  assert_int_equal(sent.called, 0);

  /* close with takes in flight: their callbacks never run, nothing leaks. */
  result inflight[3] = {{0, -1}, {0, -1}, {0, -1}};
  for (int i = 0; i < 3; i++)
    assert_non_null(lln_ratelimit_acquire(rl, "c", 0, 100, on_result, &inflight[i]));
  close_and_drain(&loop, rl);
  for (int i = 0; i < 3; i++)
    assert_int_equal(inflight[i].called, 0);

  /* close before the first connection is even made. */
  rl = make(&loop, url);
  assert_non_null(lln_ratelimit_acquire(rl, "c", 0, 100, on_result, &inflight[0]));
  close_and_drain(&loop, rl);
  assert_int_equal(inflight[0].called, 0);
  finish_loop(&loop);
}

typedef struct {
  lln_ratelimit *rl;
  uv_loop_t *loop;
  int called;
  long wait;
} close_ctx;

static void on_result_close(void *ud, long wait_ms) {
  close_ctx *c = ud;
  c->called++;
  c->wait = wait_ms;
  rl_close(c->rl);
}

/* Closing from inside a callback, with another take still in flight. */
static void test_redis_close_from_callback(void **state) {
  redis_server *s = *state;
  redis_start(s, NULL);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  redis_url(s, url, sizeof url);
  lln_ratelimit *rl = make(&loop, url);
  assert_int_equal(take(&loop, rl, "cb", 0, 5), 0);
  close_ctx c = {rl, &loop, 0, -1};
  result after = {0, -1};
  assert_non_null(lln_ratelimit_acquire(rl, "cb", 0, 5, on_result_close, &c));
  assert_non_null(lln_ratelimit_acquire(rl, "cb", 0, 5, on_result, &after));
  run_until(&loop, &c.called, 5000);
  assert_int_equal(c.called, 1);
  assert_int_equal(c.wait, 0);
  finish_loop(&loop);
  assert_int_equal(after.called, 0);
}

/* A Redis that accepts but never answers (stopped) must not hold requests. */
static void test_redis_silent(void **state) {
  redis_server *s = *state;
  redis_start(s, NULL);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  redis_url(s, url, sizeof url);
  lln_ratelimit *rl = make(&loop, url);
  assert_int_equal(take(&loop, rl, "st", 0, 1), 0);
  redis_signal(s, SIGSTOP);
  uint64_t start = uv_now(&loop);
  assert_int_equal(take(&loop, rl, "st", 0, 1), 0);
  uint64_t took = uv_now(&loop) - start;
  assert_true(took >= 900 && took < 3000);
  redis_signal(s, SIGCONT);
  /* Back to counting once it reconnects. */
  int refused = 0;
  start = uv_now(&loop);
  while (!refused && uv_now(&loop) - start < 10000) {
    refused = take(&loop, rl, "st", 0, 1) > 0;
    if (!refused)
      run_for(&loop, 50);
  }
  assert_true(refused);
  close_and_drain(&loop, rl);
  finish_loop(&loop);
}

int main(void) {
  alarm(300); /* a hang is a failure, not a stuck CI job */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mem_rpm),
      cmocka_unit_test(test_mem_rpm_public_api),
      cmocka_unit_test(test_mem_rpd),
      cmocka_unit_test(test_mem_both),
      cmocka_unit_test(test_mem_unlimited),
      cmocka_unit_test(test_mem_independent_keys),
      cmocka_unit_test(test_mem_stale_dropped),
      cmocka_unit_test(test_mem_threads),
      cmocka_unit_test(test_store_urls),
      cmocka_unit_test_setup_teardown(test_redis_shared_budget, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_redis_auth_and_db, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_redis_script_flushed, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_redis_fail_open, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_redis_reconnect, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_redis_cancel, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_redis_close_from_callback, redis_setup, redis_teardown),
      cmocka_unit_test_setup_teardown(test_redis_silent, redis_setup, redis_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
