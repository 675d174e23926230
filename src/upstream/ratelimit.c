/* ratelimit: the public API, which picks a backend from the store string,
 * and the in-process backend: per key, the count of the current minute
 * window (floor(unix_s / 60)) and of the current day window
 * (floor(unix_s / 86400)), in a chained hash table behind one mutex so that
 * worker threads with their own loops can share one table. A take that finds
 * no limit never reaches the table, so unlimited models never take the lock. */
#include "upstream/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "upstream/ratelimit_backend_int.h"

#define MS_PER_MINUTE 60000L
#define MS_PER_DAY 86400000L
#define MEM_MIN_BUCKETS 16

typedef struct mem_entry {
  struct mem_entry *next;
  uint32_t hash;
  int64_t minute, day; /* the windows the counts belong to */
  long minute_count, day_count;
  char key[];
} mem_entry;

struct lln_rl_mem {
  uv_mutex_t lock;
  mem_entry **buckets;
  size_t nbuckets, count;
  int64_t swept_minute; /* stale entries are dropped at most once a minute */
};

struct lln_ratelimit {
  lln_rl_mem *mem;
  lln_rl_redis *redis;
};

static uint32_t hash_key(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a: short keys, no adversary (keys come from the config) */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

lln_rl_mem *lln_rl_mem_new(void) {
  lln_rl_mem *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->buckets = calloc(MEM_MIN_BUCKETS, sizeof *m->buckets);
  if (!m->buckets || uv_mutex_init(&m->lock) != 0) {
    free(m->buckets);
    free(m);
    return NULL;
  }
  m->nbuckets = MEM_MIN_BUCKETS;
  m->swept_minute = -1;
  return m;
}

void lln_rl_mem_free(lln_rl_mem *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    for (mem_entry *e = m->buckets[i], *next; e; e = next) {
      next = e->next;
      free(e);
    }
  }
  free(m->buckets);
  uv_mutex_destroy(&m->lock);
  free(m);
}

size_t lln_rl_mem_size(lln_rl_mem *m) {
  uv_mutex_lock(&m->lock);
  size_t n = m->count;
  uv_mutex_unlock(&m->lock);
  return n;
}

/* A key whose day window has passed holds nothing that can refuse a take. */
static void mem_sweep(lln_rl_mem *m, int64_t day) {
  for (size_t i = 0; i < m->nbuckets; i++) {
    mem_entry **link = &m->buckets[i];
    while (*link) {
      mem_entry *e = *link;
      if (e->day < day) {
        *link = e->next;
        free(e);
        m->count--;
      } else {
        link = &e->next;
      }
    }
  }
}

static void mem_grow(lln_rl_mem *m) {
  size_t n = m->nbuckets * 2;
  mem_entry **b = calloc(n, sizeof *b);
  if (!b)
    return; /* longer chains, still correct */
  for (size_t i = 0; i < m->nbuckets; i++) {
    for (mem_entry *e = m->buckets[i], *next; e; e = next) {
      next = e->next;
      e->next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->nbuckets = n;
}

static mem_entry *mem_find_or_add(lln_rl_mem *m, const char *key) {
  uint32_t h = hash_key(key);
  for (mem_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next) {
    if (e->hash == h && strcmp(e->key, key) == 0)
      return e;
  }
  size_t len = strlen(key);
  mem_entry *e = calloc(1, sizeof *e + len + 1);
  if (!e)
    return NULL;
  memcpy(e->key, key, len + 1);
  e->hash = h;
  e->minute = e->day = -1;
  if (m->count >= m->nbuckets)
    mem_grow(m);
  size_t b = h & (m->nbuckets - 1);
  e->next = m->buckets[b];
  m->buckets[b] = e;
  m->count++;
  return e;
}

long lln_rl_mem_take(lln_rl_mem *m, const char *key, int rpm, int rpd, int64_t now_ms) {
  if (rpm <= 0 && rpd <= 0)
    return 0;
  if (now_ms < 0)
    now_ms = 0;
  int64_t minute = now_ms / MS_PER_MINUTE, day = now_ms / MS_PER_DAY;
  long wait = 0;
  uv_mutex_lock(&m->lock);
  if (minute != m->swept_minute) {
    m->swept_minute = minute;
    mem_sweep(m, day);
  }
  mem_entry *e = mem_find_or_add(m, key ? key : "");
  if (e) {
    if (e->minute != minute) {
      e->minute = minute;
      e->minute_count = 0;
    }
    if (e->day != day) {
      e->day = day;
      e->day_count = 0;
    }
    if (rpd > 0 && e->day_count >= rpd)
      wait = (long)((day + 1) * MS_PER_DAY - now_ms);
    else if (rpm > 0 && e->minute_count >= rpm)
      wait = (long)((minute + 1) * MS_PER_MINUTE - now_ms);
    else {
      e->minute_count++;
      e->day_count++;
    }
  }
  /* else out of memory: allowing is the same choice as for a broken Redis */
  uv_mutex_unlock(&m->lock);
  return wait;
}

static int64_t unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lln_ratelimit_create(lln_ratelimit **out, uv_loop_t *loop, const char *store, char *err,
                         size_t err_size) {
  *out = NULL;
  lln_ratelimit *rl = calloc(1, sizeof *rl);
  if (!rl) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  if (!store || !*store || strcmp(store, "memory") == 0) {
    rl->mem = lln_rl_mem_new();
    if (!rl->mem) {
      snprintf(err, err_size, "out of memory");
      free(rl);
      return -1;
    }
  } else if (strncmp(store, "redis://", 8) == 0 || strncmp(store, "rediss://", 9) == 0) {
    if (lln_rl_redis_create(&rl->redis, loop, store, err, err_size) != 0) {
      free(rl);
      return -1;
    }
  } else {
    /* The value is not echoed: a mistyped URL may carry a password. */
    snprintf(err, err_size, "unknown rate-limit store: use \"memory\" or \"redis://HOST:PORT[/DB]\"");
    free(rl);
    return -1;
  }
  *out = rl;
  return 0;
}

void lln_ratelimit_close(lln_ratelimit *rl) {
  if (!rl)
    return;
  if (rl->redis)
    lln_rl_redis_close(rl->redis);
  lln_rl_mem_free(rl->mem);
  free(rl);
}

lln_ratelimit_take *lln_ratelimit_acquire(lln_ratelimit *rl, const char *key, int rpm, int rpd,
                                          lln_ratelimit_cb cb, void *ud) {
  if (rpm <= 0 && rpd <= 0) {
    cb(ud, 0);
    return NULL;
  }
  if (rl->redis)
    return lln_rl_redis_acquire(rl->redis, key, rpm, rpd, cb, ud);
  long wait = lln_rl_mem_take(rl->mem, key, rpm, rpd, unix_ms());
  cb(ud, wait);
  return NULL;
}

void lln_ratelimit_cancel(lln_ratelimit_take *t) {
  if (t)
    lln_rl_redis_cancel(t);
}
