/* ratelimit: a model's rpm and rpd as two fixed windows of the store, one
 * take for both: "rl:<key>:m" per calendar minute and "rl:<key>:d" per
 * UTC day, aligned to Unix time so every process counts in the same
 * windows. A model without limits never reaches the store. */
#include "upstream/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
  lln_store_window w[2] = {{minute, rpm > 0 ? rpm : 0, LLN_RATELIMIT_MINUTE_MS},
                           {day, rpd > 0 ? rpd : 0, LLN_RATELIMIT_DAY_MS}};
  return lln_store_take(rl->store, w, 2, unix_ms(), cb, ud);
}

void lln_ratelimit_cancel(lln_ratelimit_take *t) { lln_store_cancel(t); }
