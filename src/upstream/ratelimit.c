/* ratelimit: a model's rpm and rpd as two fixed windows of the store, one
 * take for both: "rl:<key>:m" per calendar minute and "rl:<key>:d" per
 * UTC day, aligned to Unix time so every process counts in the same
 * windows. A models entry's budget adds "budget:<name>:m", ":d" and ":usd"
 * (nano-dollars spent today, only checked by a take, added to once a
 * call's cost is known) to the same take. A model without limits or
 * budget never reaches the store. */
#include "upstream/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "upstream/budget.h"

struct lln_ratelimit {
  lln_store *store;
};

static int64_t unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lln_ratelimit_create(lln_ratelimit **out, lln_store *store) {
  *out = NULL;
  lln_ratelimit *rl = calloc(1, sizeof *rl);
  if (!rl)
    return -1;
  rl->store = store;
  *out = rl;
  return 0;
}

void lln_ratelimit_close(lln_ratelimit *rl) { free(rl); }

lln_ratelimit_take *lln_ratelimit_acquire(lln_ratelimit *rl, const char *key, int rpm, int rpd,
                                          lln_ratelimit_cb cb, void *ud) {
  if ((rpm <= 0 && rpd <= 0) || !rl || !rl->store) {
    cb(ud, 0);
    return NULL;
  }
  char minute[LLN_STORE_MAX_KEY + 1], day[LLN_STORE_MAX_KEY + 1];
  snprintf(minute, sizeof minute, "rl:%s:m", key ? key : "");
  snprintf(day, sizeof day, "rl:%s:d", key ? key : "");
  lln_store_window w[2] = {{minute, rpm > 0 ? rpm : 0, LLN_RATELIMIT_MINUTE_MS, 0},
                           {day, rpd > 0 ? rpd : 0, LLN_RATELIMIT_DAY_MS, 0}};
  return lln_store_take(rl->store, w, 2, unix_ms(), cb, ud);
}

void lln_ratelimit_cancel(lln_ratelimit_take *t) { lln_store_cancel(t); }

/* ---- a models entry's own limits and its budget's ---- */

/* A budget window counts even without its limit, so that its use can be
 * shown: this limit is never reached. */
#define BUDGET_UNLIMITED (1L << 52)

static long budget_limit(int n) { return n > 0 ? n : BUDGET_UNLIMITED; }

static long budget_usd_limit(const lln_budget *b) {
  if (b->usd_per_day <= 0)
    return BUDGET_UNLIMITED;
  double nano = b->usd_per_day * LLN_BUDGET_NANO_PER_USD;
  return nano < 1 ? 1 : nano > (double)BUDGET_UNLIMITED ? BUDGET_UNLIMITED : (long)nano;
}

typedef struct {
  char key[LLN_RL_NWINDOWS][LLN_STORE_MAX_KEY + 1];
  lln_store_window w[LLN_RL_NWINDOWS];
} entry_windows;

static void budget_key(char *out, const lln_budget *b, const char *what) {
  snprintf(out, LLN_STORE_MAX_KEY + 1, "budget:%s:%s", b->name, what);
}

/* A budget's spend today, in nano-dollars, keyed into `key`: only checked
 * by a take, counted in by lln_store_add / lln_store_raise. */
static lln_store_window budget_usd_window(char *key, const lln_budget *b) {
  budget_key(key, b, "usd");
  return (lln_store_window){key, budget_usd_limit(b), LLN_RATELIMIT_DAY_MS, 1};
}

/* `ep`'s windows in LLN_RL_WIN_* order; a missing limit's window is off. */
static void windows_of(entry_windows *ew, const lln_model *ep) {
  memset(ew, 0, sizeof *ew);
  snprintf(ew->key[LLN_RL_WIN_MINUTE], sizeof ew->key[0], "rl:%s:m", ep->key);
  snprintf(ew->key[LLN_RL_WIN_DAY], sizeof ew->key[0], "rl:%s:d", ep->key);
  ew->w[LLN_RL_WIN_MINUTE] =
      (lln_store_window){ew->key[LLN_RL_WIN_MINUTE], ep->rpm > 0 ? ep->rpm : 0, LLN_RATELIMIT_MINUTE_MS, 0};
  ew->w[LLN_RL_WIN_DAY] =
      (lln_store_window){ew->key[LLN_RL_WIN_DAY], ep->rpd > 0 ? ep->rpd : 0, LLN_RATELIMIT_DAY_MS, 0};
  const lln_budget *b = ep->budget;
  if (!b)
    return;
  budget_key(ew->key[LLN_RL_WIN_BUDGET_MINUTE], b, "m");
  budget_key(ew->key[LLN_RL_WIN_BUDGET_DAY], b, "d");
  ew->w[LLN_RL_WIN_BUDGET_MINUTE] =
      (lln_store_window){ew->key[LLN_RL_WIN_BUDGET_MINUTE], budget_limit(b->rpm), LLN_RATELIMIT_MINUTE_MS, 0};
  ew->w[LLN_RL_WIN_BUDGET_DAY] =
      (lln_store_window){ew->key[LLN_RL_WIN_BUDGET_DAY], budget_limit(b->rpd), LLN_RATELIMIT_DAY_MS, 0};
  ew->w[LLN_RL_WIN_BUDGET_USD] = budget_usd_window(ew->key[LLN_RL_WIN_BUDGET_USD], b);
}

lln_ratelimit_take *lln_ratelimit_acquire_entry(lln_ratelimit *rl, const lln_model *ep,
                                                lln_store_counts_cb cb, void *ud) {
  long none[LLN_RL_NWINDOWS] = {-1, -1, -1, -1, -1};
  if (!rl || !rl->store || (ep->rpm <= 0 && ep->rpd <= 0 && !ep->budget)) {
    cb(ud, 0, none, LLN_RL_NWINDOWS);
    return NULL;
  }
  entry_windows ew;
  windows_of(&ew, ep);
  return lln_store_take_counts(rl->store, ew.w, LLN_RL_NWINDOWS, unix_ms(), cb, ud);
}

lln_ratelimit_verdict lln_ratelimit_verdict_of(const lln_model *ep, long wait_ms, const long *counts,
                                               size_t n) {
  lln_ratelimit_verdict v = {.wait_ms = wait_ms, .queue = ep->rl_queue, .max_wait_ms = ep->rl_max_wait_ms};
  const lln_budget *b = ep->budget;
  if (n < LLN_RL_NWINDOWS)
    return v;
  if (b && counts[LLN_RL_WIN_BUDGET_MINUTE] >= 0) {
    lln_budget_state *st = lln_budget_state_of(b);
    if (st)
      lln_budget_state_saw(st, counts[LLN_RL_WIN_BUDGET_MINUTE], counts[LLN_RL_WIN_BUDGET_DAY],
                           counts[LLN_RL_WIN_BUDGET_USD], unix_ms());
  }
  if (wait_ms <= 0)
    return v;
  /* the spent limit that frees last decides: a day's before a minute's, a
   * budget's before the entry's own */
  int usd = b && b->usd_per_day > 0 && counts[LLN_RL_WIN_BUDGET_USD] >= budget_usd_limit(b);
  int b_day = b && b->rpd > 0 && counts[LLN_RL_WIN_BUDGET_DAY] >= b->rpd;
  int own_day = ep->rpd > 0 && counts[LLN_RL_WIN_DAY] >= ep->rpd;
  int b_min = b && b->rpm > 0 && counts[LLN_RL_WIN_BUDGET_MINUTE] >= b->rpm;
  if (usd || b_day || (!own_day && b_min)) {
    v.budget = b;
    v.limit = usd ? LLN_LIMIT_USD : b_day ? LLN_LIMIT_RPD : LLN_LIMIT_RPM;
    v.queue = b->queue;
    v.max_wait_ms = b->max_wait_ms;
  } else {
    v.limit = own_day ? LLN_LIMIT_RPD : LLN_LIMIT_RPM;
  }
  return v;
}

/* "3 h 12 min", "12 min 5 s", "42 s". */
static void format_wait(char *out, size_t size, long ms) {
  long s = (ms + 999) / 1000;
  if (s >= 3600)
    snprintf(out, size, "%ld h %ld min", s / 3600, (s % 3600) / 60);
  else if (s >= 60)
    snprintf(out, size, "%ld min %ld s", s / 60, s % 60);
  else
    snprintf(out, size, "%ld s", s);
}

void lln_ratelimit_describe(const lln_model *ep, const lln_ratelimit_verdict *v, char *out, size_t size) {
  const lln_budget *b = v->budget;
  char wait[64];
  format_wait(wait, sizeof wait, v->wait_ms);
  if (!b) {
    snprintf(out, size,
             "llmnet's rate limit for this model (rpm %d, rpd %d) is reached; a slot frees in %.1f s",
             ep->rpm, ep->rpd, (double)v->wait_ms / 1000.0);
    return;
  }
  char what[96];
  if (v->limit == LLN_LIMIT_USD)
    snprintf(what, sizeof what, "$%.2f per UTC day", b->usd_per_day);
  else if (v->limit == LLN_LIMIT_RPD)
    snprintf(what, sizeof what, "%d request%s per UTC day", b->rpd, b->rpd == 1 ? "" : "s");
  else
    snprintf(what, sizeof what, "%d request%s per minute", b->rpm, b->rpm == 1 ? "" : "s");
  if (v->limit == LLN_LIMIT_RPM)
    snprintf(out, size, "budget \"%s\" (%s) is spent; it resets in %s", b->name, what, wait);
  else
    snprintf(out, size, "budget \"%s\" (%s) is spent; it resets at 00:00 UTC, in %s", b->name, what, wait);
}

static void on_spent(void *ud, long count) {
  if (count >= 0)
    lln_budget_state_saw(ud, -1, -1, count, unix_ms());
}

void lln_ratelimit_spend(lln_ratelimit *rl, const lln_budget *b, double usd) {
  if (!rl || !rl->store || !b || !(usd > 0))
    return;
  double nano = usd * LLN_BUDGET_NANO_PER_USD + 0.5;
  long amount = nano > (double)BUDGET_UNLIMITED ? BUDGET_UNLIMITED : nano < 1 ? 1 : (long)nano;
  char key[LLN_STORE_MAX_KEY + 1];
  lln_store_window w = budget_usd_window(key, b);
  lln_budget_state *st = lln_budget_state_of(b);
  /* the state lives until exit: the answer may come after the request ended */
  lln_store_add(rl->store, &w, amount, unix_ms(), st ? on_spent : NULL, st);
}

void lln_ratelimit_raise_spend(lln_ratelimit *rl, const lln_budget *b, double usd) {
  if (!rl || !rl->store || !b || !(usd >= 0))
    return;
  double nano = usd * LLN_BUDGET_NANO_PER_USD + 0.5;
  long target = nano > (double)BUDGET_UNLIMITED ? BUDGET_UNLIMITED : (long)nano;
  char key[LLN_STORE_MAX_KEY + 1];
  lln_store_window w = budget_usd_window(key, b);
  lln_budget_state *st = lln_budget_state_of(b);
  lln_store_raise(rl->store, &w, target, unix_ms(), st ? on_spent : NULL, st);
}
