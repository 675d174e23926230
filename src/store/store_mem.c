/* store_mem: the in-process store. One table behind one mutex, so that
 * every worker thread shares it: values with a time to live, optionally in
 * a bounded group, and fixed-window counters. The whole table is bounded
 * (LLN_STORE_MEM_MAX_BYTES, LLN_STORE_MEM_MAX_ENTRIES, every byte of
 * bookkeeping counted): a put that would pass a bound drops expired entries
 * first, then the oldest values, then the oldest counters, so clients that
 * make up keys (session ids) cannot grow the process; a group keeps at most
 * its max_entries keys, dropping its oldest. Values expire by the store's
 * clock (wall-clock ms, replaceable by tests); counters by the time their
 * takes pass, so windows are aligned to Unix time as on every replica. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

/* What malloc adds to each block, roughly: counted so the bound is about
 * the process's memory, not just the payload. */
#define MALLOC_OVERHEAD 16
#define MIN_BUCKETS 64
#define GROUP_SALT 0x67726f7570ULL /* "group": groups hash apart from keys */

enum { KIND_VALUE, KIND_COUNTER };

typedef struct mem_group mem_group;

typedef struct mem_entry {
  struct mem_entry *hnext;         /* hash chain */
  struct mem_entry *prev, *next;   /* its kind's list, oldest first */
  struct mem_entry *gprev, *gnext; /* its group's list, oldest first */
  mem_group *group;
  uint64_t hash;
  int64_t expires_ms;
  int64_t window_ms, window_idx; /* counters: which window `count` belongs to */
  long count;
  size_t klen, vlen, bytes;
  unsigned char kind;
  char data[]; /* key, NUL, value */
} mem_entry;

struct mem_group {
  mem_group *hnext;
  uint64_t hash;
  mem_entry *head, *tail;
  size_t count, bytes, nlen;
  char name[];
};

typedef struct {
  mem_entry *head, *tail;
} order_list;

struct lln__store_mem {
  uv_mutex_t lock;
  mem_entry **buckets;
  size_t nbuckets;
  mem_group **gbuckets;
  size_t ngbuckets, ngroups;
  order_list values, counters;
  size_t entries, bytes, max_bytes, max_entries;
  int64_t next_sweep_ms;
  int64_t take_now_ms; /* the latest time a take passed: counters expire by it */
  lln__store_clock clock;
  void *clock_ud;
};

static int64_t real_clock(void *ud) {
  (void)ud;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t table_bytes(size_t n) { return n * sizeof(void *) + MALLOC_OVERHEAD; }

lln__store_mem *lln__store_mem_new(size_t max_bytes, size_t max_entries) {
  lln__store_mem *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->buckets = calloc(MIN_BUCKETS, sizeof *m->buckets);
  m->gbuckets = calloc(MIN_BUCKETS, sizeof *m->gbuckets);
  if (!m->buckets || !m->gbuckets || uv_mutex_init(&m->lock) != 0) {
    free(m->buckets);
    free(m->gbuckets);
    free(m);
    return NULL;
  }
  m->nbuckets = m->ngbuckets = MIN_BUCKETS;
  m->bytes = sizeof *m + MALLOC_OVERHEAD + 2 * table_bytes(MIN_BUCKETS);
  m->max_bytes = max_bytes ? max_bytes : LLN_STORE_MEM_MAX_BYTES;
  m->max_entries = max_entries ? max_entries : LLN_STORE_MEM_MAX_ENTRIES;
  m->clock = real_clock;
  return m;
}

void lln__store_mem_free(lln__store_mem *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    for (mem_entry *e = m->buckets[i], *next; e; e = next) {
      next = e->hnext;
      free(e);
    }
  }
  for (size_t i = 0; i < m->ngbuckets; i++) {
    for (mem_group *g = m->gbuckets[i], *next; g; g = next) {
      next = g->hnext;
      free(g);
    }
  }
  free(m->buckets);
  free(m->gbuckets);
  uv_mutex_destroy(&m->lock);
  free(m);
}

void lln__store_mem_set_clock(lln__store_mem *m, lln__store_clock clock, void *ud) {
  uv_mutex_lock(&m->lock);
  m->clock = clock ? clock : real_clock;
  m->clock_ud = ud;
  m->next_sweep_ms = 0;
  uv_mutex_unlock(&m->lock);
}

void lln__store_mem_usage(lln__store_mem *m, size_t *bytes, size_t *entries) {
  uv_mutex_lock(&m->lock);
  if (bytes)
    *bytes = m->bytes;
  if (entries)
    *entries = m->entries;
  uv_mutex_unlock(&m->lock);
}

/* ---- lists ---- */

static void list_append(order_list *l, mem_entry *e) {
  e->prev = l->tail;
  e->next = NULL;
  if (l->tail)
    l->tail->next = e;
  else
    l->head = e;
  l->tail = e;
}

static void list_remove(order_list *l, mem_entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    l->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    l->tail = e->prev;
}

/* ---- groups ---- */

static mem_group *group_find(lln__store_mem *m, const char *name, size_t nlen, uint64_t h) {
  for (mem_group *g = m->gbuckets[h & (m->ngbuckets - 1)]; g; g = g->hnext) {
    if (g->hash == h && g->nlen == nlen && memcmp(g->name, name, nlen) == 0)
      return g;
  }
  return NULL;
}

static size_t group_cost(size_t nlen) { return sizeof(mem_group) + nlen + 1 + MALLOC_OVERHEAD; }

static void group_grow(lln__store_mem *m) {
  size_t n = m->ngbuckets * 2;
  mem_group **b = calloc(n, sizeof *b);
  if (!b)
    return; /* longer chains, still correct */
  for (size_t i = 0; i < m->ngbuckets; i++) {
    for (mem_group *g = m->gbuckets[i], *next; g; g = next) {
      next = g->hnext;
      g->hnext = b[g->hash & (n - 1)];
      b[g->hash & (n - 1)] = g;
    }
  }
  free(m->gbuckets);
  m->bytes += table_bytes(n) - table_bytes(m->ngbuckets);
  m->gbuckets = b;
  m->ngbuckets = n;
}

static mem_group *group_get(lln__store_mem *m, const char *name) {
  size_t nlen = strlen(name);
  uint64_t h = lln__store_hash(name, nlen, GROUP_SALT);
  mem_group *g = group_find(m, name, nlen, h);
  if (g)
    return g;
  if (m->ngroups >= m->ngbuckets)
    group_grow(m);
  g = calloc(1, sizeof *g + nlen + 1);
  if (!g)
    return NULL;
  memcpy(g->name, name, nlen + 1);
  g->nlen = nlen;
  g->hash = h;
  g->bytes = group_cost(nlen);
  size_t b = h & (m->ngbuckets - 1);
  g->hnext = m->gbuckets[b];
  m->gbuckets[b] = g;
  m->ngroups++;
  m->bytes += g->bytes;
  return g;
}

static void group_free(lln__store_mem *m, mem_group *g) {
  for (mem_group **link = &m->gbuckets[g->hash & (m->ngbuckets - 1)]; *link; link = &(*link)->hnext) {
    if (*link == g) {
      *link = g->hnext;
      break;
    }
  }
  m->ngroups--;
  m->bytes -= g->bytes;
  free(g);
}

/* ---- entries ---- */

static uint64_t entry_hash(const char *key, size_t klen, int kind, int64_t window_ms) {
  return lln__store_hash(key, klen, kind == KIND_COUNTER ? (uint64_t)window_ms * 2 + 1 : 0);
}

static mem_entry *entry_find(lln__store_mem *m, const char *key, size_t klen, int kind, int64_t window_ms) {
  uint64_t h = entry_hash(key, klen, kind, window_ms);
  for (mem_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->hnext) {
    if (e->hash == h && e->kind == kind && e->klen == klen && memcmp(e->data, key, klen) == 0 &&
        (kind == KIND_VALUE || e->window_ms == window_ms))
      return e;
  }
  return NULL;
}

static void entry_remove(lln__store_mem *m, mem_entry *e) {
  for (mem_entry **link = &m->buckets[e->hash & (m->nbuckets - 1)]; *link; link = &(*link)->hnext) {
    if (*link == e) {
      *link = e->hnext;
      break;
    }
  }
  list_remove(e->kind == KIND_COUNTER ? &m->counters : &m->values, e);
  mem_group *g = e->group;
  if (g) {
    if (e->gprev)
      e->gprev->gnext = e->gnext;
    else
      g->head = e->gnext;
    if (e->gnext)
      e->gnext->gprev = e->gprev;
    else
      g->tail = e->gprev;
    if (--g->count == 0)
      group_free(m, g);
  }
  m->entries--;
  m->bytes -= e->bytes;
  free(e);
}

static size_t entry_cost(size_t klen, size_t vlen) {
  return sizeof(mem_entry) + klen + 1 + vlen + MALLOC_OVERHEAD;
}

static void table_grow(lln__store_mem *m) {
  size_t n = m->nbuckets * 2;
  mem_entry **b = calloc(n, sizeof *b);
  if (!b)
    return; /* longer chains, still correct */
  for (size_t i = 0; i < m->nbuckets; i++) {
    for (mem_entry *e = m->buckets[i], *next; e; e = next) {
      next = e->hnext;
      e->hnext = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
    }
  }
  free(m->buckets);
  m->bytes += table_bytes(n) - table_bytes(m->nbuckets);
  m->buckets = b;
  m->nbuckets = n;
}

/* Drops every expired value (by the clock) and counter (by the takes). */
static void sweep(lln__store_mem *m, int64_t now) {
  for (mem_entry *e = m->values.head, *next; e; e = next) {
    next = e->next;
    if (e->expires_ms <= now)
      entry_remove(m, e);
  }
  for (mem_entry *e = m->counters.head, *next; e; e = next) {
    next = e->next;
    if (e->expires_ms <= m->take_now_ms)
      entry_remove(m, e);
  }
  m->next_sweep_ms = now + LLN_STORE_MEM_SWEEP_INTERVAL_MS;
}

static void sweep_if_due(lln__store_mem *m, int64_t now) {
  if (now >= m->next_sweep_ms || now < m->next_sweep_ms - LLN_STORE_MEM_SWEEP_INTERVAL_MS)
    sweep(m, now);
}

static int over(const lln__store_mem *m, size_t need) {
  return m->entries + 1 > m->max_entries || m->bytes + need > m->max_bytes;
}

/* Makes room for one more entry of `need` bytes: expired entries first,
 * then the oldest value, then the oldest counter. -1 when even an empty
 * table has no room. */
static int make_room(lln__store_mem *m, size_t need, int64_t now) {
  if (m->entries + 1 > m->nbuckets)
    table_grow(m);
  int swept = 0;
  while (over(m, need)) {
    if (!swept) {
      sweep(m, now);
      swept = 1;
    } else if (m->values.head) {
      entry_remove(m, m->values.head);
    } else if (m->counters.head) {
      entry_remove(m, m->counters.head);
    } else {
      return -1;
    }
  }
  return 0;
}

static mem_entry *entry_add(lln__store_mem *m, const char *key, size_t klen, size_t vlen, int kind,
                            int64_t window_ms) {
  mem_entry *e = calloc(1, sizeof *e + klen + 1 + vlen);
  if (!e)
    return NULL;
  memcpy(e->data, key, klen);
  e->klen = klen;
  e->vlen = vlen;
  e->kind = (unsigned char)kind;
  e->window_ms = window_ms;
  e->hash = entry_hash(key, klen, kind, window_ms);
  e->bytes = entry_cost(klen, vlen);
  size_t b = e->hash & (m->nbuckets - 1);
  e->hnext = m->buckets[b];
  m->buckets[b] = e;
  list_append(kind == KIND_COUNTER ? &m->counters : &m->values, e);
  m->entries++;
  m->bytes += e->bytes;
  return e;
}

/* ---- operations ---- */

int lln__store_mem_get(lln__store_mem *m, const char *key, long touch_ttl_ms, char **value, size_t *len) {
  *value = NULL;
  *len = 0;
  int rc = LLN_STORE_ENOTFOUND;
  uv_mutex_lock(&m->lock);
  int64_t now = m->clock(m->clock_ud);
  mem_entry *e = entry_find(m, key, strlen(key), KIND_VALUE, 0);
  if (e && e->expires_ms <= now) {
    entry_remove(m, e);
    e = NULL;
  }
  if (e) {
    if (touch_ttl_ms > 0)
      e->expires_ms = now + touch_ttl_ms;
    char *copy = malloc(e->vlen + 1);
    if (copy) {
      memcpy(copy, e->data + e->klen + 1, e->vlen);
      copy[e->vlen] = '\0';
      *value = copy;
      *len = e->vlen;
      rc = LLN_STORE_OK;
    } else {
      rc = LLN_STORE_EUNAVAIL;
    }
  }
  uv_mutex_unlock(&m->lock);
  return rc;
}

void lln__store_mem_touch(lln__store_mem *m, const char *key) {
  uv_mutex_lock(&m->lock);
  mem_entry *e = entry_find(m, key, strlen(key), KIND_VALUE, 0);
  if (e && e != m->values.tail) {
    list_remove(&m->values, e);
    list_append(&m->values, e);
  }
  uv_mutex_unlock(&m->lock);
}

/* Drops the group's oldest keys until one more fits in max_entries. */
static void group_trim(lln__store_mem *m, const char *name, long max_entries) {
  size_t nlen = strlen(name);
  mem_group *g = group_find(m, name, nlen, lln__store_hash(name, nlen, GROUP_SALT));
  while (g && max_entries > 0 && g->count >= (size_t)max_entries) {
    int last = g->count == 1;
    entry_remove(m, g->head);
    if (last)
      break; /* the group went with its last key */
  }
}

int lln__store_mem_put(lln__store_mem *m, const lln_store_put *p) {
  size_t klen = strlen(p->key);
  size_t need = entry_cost(klen, p->len) + (p->group ? group_cost(strlen(p->group)) : 0);
  int rc = LLN_STORE_OK;
  uv_mutex_lock(&m->lock);
  int64_t now = m->clock(m->clock_ud);
  sweep_if_due(m, now);
  mem_entry *old = entry_find(m, p->key, klen, KIND_VALUE, 0);
  if (old)
    entry_remove(m, old);
  if (p->group)
    group_trim(m, p->group, p->max_entries);
  if (p->group && m->ngroups >= m->ngbuckets) /* a new group may grow the group table */
    need += table_bytes(m->ngbuckets * 2) - table_bytes(m->ngbuckets);
  mem_group *g = NULL;
  mem_entry *e = NULL;
  if (make_room(m, need, now) != 0 || (p->group && !(g = group_get(m, p->group))) ||
      !(e = entry_add(m, p->key, klen, p->len, KIND_VALUE, 0))) {
    rc = LLN_STORE_EINVAL; /* larger than the whole store, or out of memory */
  } else {
    memcpy(e->data + klen + 1, p->value, p->len);
    e->expires_ms = now + p->ttl_ms;
    if (g) {
      e->group = g;
      e->gprev = g->tail;
      if (g->tail)
        g->tail->gnext = e;
      else
        g->head = e;
      g->tail = e;
      g->count++;
    }
  }
  if (g && g->count == 0)
    group_free(m, g);
  uv_mutex_unlock(&m->lock);
  return rc;
}

static int window_active(const lln_store_window *w) { return w->limit > 0 && w->window_ms > 0 && w->key; }

/* The count `w` holds in the window `now_ms` falls in. */
static long window_count(lln__store_mem *m, const lln_store_window *w, int64_t now_ms) {
  mem_entry *e = entry_find(m, w->key, strlen(w->key), KIND_COUNTER, w->window_ms);
  return e && e->window_idx == now_ms / w->window_ms ? e->count : 0;
}

long lln__store_mem_take(lln__store_mem *m, const lln_store_window *w, size_t n, int64_t now_ms) {
  return lln__store_mem_take_counts(m, w, n, now_ms, NULL);
}

/* The counter of `w` (created when missing) holding the window `now_ms`
 * falls in; NULL when the table has no room even for a counter. Locked. */
static mem_entry *counter_at(lln__store_mem *m, const lln_store_window *w, int64_t now_ms) {
  int64_t idx = now_ms / w->window_ms;
  size_t klen = strlen(w->key);
  mem_entry *e = entry_find(m, w->key, klen, KIND_COUNTER, w->window_ms);
  if (!e) {
    if (make_room(m, entry_cost(klen, 0), m->clock(m->clock_ud)) != 0)
      return NULL; /* no room even for a counter: allowed, as when Redis is down */
    if (!(e = entry_add(m, w->key, klen, 0, KIND_COUNTER, w->window_ms)))
      return NULL;
    e->window_idx = -1;
  }
  if (e->window_idx != idx) {
    e->window_idx = idx;
    e->count = 0;
    e->expires_ms = (idx + 1) * w->window_ms;
  }
  return e;
}

/* Locks `m` for a count at now_ms (clamped to 0, which it returns) and
 * moves the take clock up to it. */
static int64_t lock_at(lln__store_mem *m, int64_t now_ms) {
  if (now_ms < 0)
    now_ms = 0;
  uv_mutex_lock(&m->lock);
  if (now_ms > m->take_now_ms)
    m->take_now_ms = now_ms;
  return now_ms;
}

long lln__store_mem_take_counts(lln__store_mem *m, const lln_store_window *w, size_t n, int64_t now_ms,
                                long *counts) {
  long wait = 0;
  now_ms = lock_at(m, now_ms);
  sweep_if_due(m, m->clock(m->clock_ud));
  for (size_t i = 0; i < n; i++) {
    long count = window_active(&w[i]) ? window_count(m, &w[i], now_ms) : 0;
    if (counts)
      counts[i] = count;
    if (window_active(&w[i]) && count >= w[i].limit) {
      int64_t idx = now_ms / w[i].window_ms;
      long left = (long)((idx + 1) * w[i].window_ms - now_ms);
      if (left > wait)
        wait = left;
    }
  }
  for (size_t i = 0; wait == 0 && i < n; i++) {
    if (!window_active(&w[i]) || w[i].check_only)
      continue;
    mem_entry *e = counter_at(m, &w[i], now_ms);
    if (e && counts)
      counts[i] = ++e->count;
    else if (e)
      e->count++;
  }
  uv_mutex_unlock(&m->lock);
  return wait;
}

/* An add (saturating at LONG_MAX; it also sweeps when due) or a raise to
 * at least `amount`, on one window's counter; returns the count after. */
static long update_count(lln__store_mem *m, const lln_store_window *w, long amount, int64_t now_ms,
                         int raise) {
  long count = 0;
  now_ms = lock_at(m, now_ms);
  if (!raise)
    sweep_if_due(m, m->clock(m->clock_ud));
  mem_entry *e = counter_at(m, w, now_ms);
  if (e) {
    if (!raise)
      e->count = amount > LONG_MAX - e->count ? LONG_MAX : e->count + amount;
    else if (e->count < amount)
      e->count = amount;
    count = e->count;
  }
  uv_mutex_unlock(&m->lock);
  return count;
}

long lln__store_mem_add(lln__store_mem *m, const lln_store_window *w, long delta, int64_t now_ms) {
  return update_count(m, w, delta, now_ms, 0);
}

long lln__store_mem_raise(lln__store_mem *m, const lln_store_window *w, long target, int64_t now_ms) {
  return update_count(m, w, target, now_ms, 1);
}
