/* budget: see budget.h. The states are a flat array searched by name
 * (a composition has a handful of budgets) behind one mutex; each state is
 * its own allocation so pointers to it stay valid while the array grows. */
#include "upstream/budget.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "upstream/ratelimit.h"

struct lln_budget_state {
  char *name;
  int waiting;                           /* requests in its queue */
  long minute, day, nano;                /* counts last seen */
  int64_t minute_idx, day_idx, nano_idx; /* the windows they were seen in */
  int64_t seen_ms;                       /* 0: never */
  double synced_usage, synced_left;      /* the provider's figures (quota.c) */
  int64_t synced_ms;                     /* 0: never */
};

static uv_once_t once = UV_ONCE_INIT;
static uv_mutex_t lock;
static lln_budget_state **states;
static size_t n_states, cap_states;

static void init_lock(void) {
  if (uv_mutex_init(&lock) != 0)
    abort();
}

static int64_t unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Locked. */
static lln_budget_state *find(const char *name) {
  for (size_t i = 0; i < n_states; i++) {
    if (strcmp(states[i]->name, name) == 0)
      return states[i];
  }
  return NULL;
}

/* Locked. */
static lln_budget_state *find_or_add(const char *name) {
  lln_budget_state *st = find(name);
  if (st || n_states >= LLN_BUDGET_MAX_STATES)
    return st;
  if (n_states == cap_states) {
    size_t cap = cap_states ? cap_states * 2 : 8;
    lln_budget_state **grown = realloc(states, cap * sizeof *grown);
    if (!grown)
      return NULL;
    states = grown;
    cap_states = cap;
  }
  st = calloc(1, sizeof *st);
  if (!st || !(st->name = strdup(name))) {
    free(st);
    return NULL;
  }
  states[n_states++] = st;
  return st;
}

lln_budget_state *lln_budget_state_of(const lln_budget *b) {
  if (!b || !b->name)
    return NULL;
  uv_once(&once, init_lock);
  uv_mutex_lock(&lock);
  lln_budget_state *st = find_or_add(b->name);
  uv_mutex_unlock(&lock);
  return st;
}

void lln_budget_state_saw(lln_budget_state *st, long minute, long day, long nano, int64_t now_ms) {
  if (!st)
    return;
  uv_once(&once, init_lock);
  uv_mutex_lock(&lock);
  if (minute >= 0) {
    st->minute = minute;
    st->minute_idx = now_ms / LLN_RATELIMIT_MINUTE_MS;
  }
  if (day >= 0) {
    st->day = day;
    st->day_idx = now_ms / LLN_RATELIMIT_DAY_MS;
  }
  if (nano >= 0) {
    st->nano = nano;
    st->nano_idx = now_ms / LLN_RATELIMIT_DAY_MS;
  }
  st->seen_ms = now_ms;
  uv_mutex_unlock(&lock);
}

void lln_budget_state_synced(lln_budget_state *st, double usage_daily, double limit_remaining) {
  if (!st)
    return;
  uv_mutex_lock(&lock);
  st->synced_usage = usage_daily;
  st->synced_left = limit_remaining;
  st->synced_ms = unix_ms();
  uv_mutex_unlock(&lock);
}

int lln_budget_enqueue(const lln_budget *b) {
  lln_budget_state *st = lln_budget_state_of(b);
  if (!st)
    return 0;
  uv_mutex_lock(&lock);
  int ok = st->waiting < b->queue;
  if (ok)
    st->waiting++;
  uv_mutex_unlock(&lock);
  return ok;
}

void lln_budget_dequeue(const lln_budget *b) {
  lln_budget_state *st = lln_budget_state_of(b);
  if (!st)
    return;
  uv_mutex_lock(&lock);
  if (st->waiting > 0)
    st->waiting--;
  uv_mutex_unlock(&lock);
}

static void add_limit(cJSON *o, const char *key, double v) {
  if (v > 0)
    cJSON_AddNumberToObject(o, key, v);
  else
    cJSON_AddNullToObject(o, key);
}

/* One budget as this process last saw it; a count from a window that has
 * ended since reads 0. */
static cJSON *budget_json(const lln_budget *b, int64_t now) {
  lln_budget_state copy = {0};
  lln_budget_state *st = lln_budget_state_of(b);
  if (st) {
    uv_mutex_lock(&lock);
    copy = *st;
    uv_mutex_unlock(&lock);
  }
  int64_t minute_idx = now / LLN_RATELIMIT_MINUTE_MS, day_idx = now / LLN_RATELIMIT_DAY_MS;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", b->name);
  add_limit(o, "rpm", b->rpm);
  add_limit(o, "rpd", b->rpd);
  add_limit(o, "usd_per_day", b->usd_per_day);
  cJSON_AddNumberToObject(o, "requests_this_minute", copy.minute_idx == minute_idx ? (double)copy.minute : 0);
  cJSON_AddNumberToObject(o, "requests_today", copy.day_idx == day_idx ? (double)copy.day : 0);
  cJSON_AddNumberToObject(o, "usd_today",
                          copy.nano_idx == day_idx ? (double)copy.nano / LLN_BUDGET_NANO_PER_USD : 0);
  cJSON_AddNumberToObject(o, "waiting", copy.waiting);
  cJSON_AddNumberToObject(o, "minute_resets_at", (double)((minute_idx + 1) * LLN_RATELIMIT_MINUTE_MS));
  cJSON_AddNumberToObject(o, "day_resets_at", (double)((day_idx + 1) * LLN_RATELIMIT_DAY_MS));
  if (copy.seen_ms)
    cJSON_AddNumberToObject(o, "seen_at", (double)copy.seen_ms);
  else
    cJSON_AddNullToObject(o, "seen_at");
  if (b->sync_url && copy.synced_ms) {
    cJSON *p = cJSON_AddObjectToObject(o, "provider");
    cJSON_AddNumberToObject(p, "usd_today", copy.synced_usage);
    if (isnan(copy.synced_left))
      cJSON_AddNullToObject(p, "credit_left");
    else
      cJSON_AddNumberToObject(p, "credit_left", copy.synced_left);
    cJSON_AddNumberToObject(p, "read_at", (double)copy.synced_ms);
  } else if (b->sync_url) {
    cJSON_AddNullToObject(o, "provider");
  }
  return o;
}

void lln_budget_stats_json(cJSON *out, const lln_config *cfg) {
  if (!out || !cfg)
    return;
  int64_t now = unix_ms();
  for (size_t i = 0; i < cfg->n_budgets; i++)
    cJSON_AddItemToArray(out, budget_json(&cfg->budgets[i], now));
}
