/* quota: see quota.h. One job per budget with a "sync": a timer (unref'd:
 * it never keeps a loop alive) and at most one GET in flight; the job's
 * strings are its own copies, so a reload can free the composition while
 * an answer is on its way (the call is cancelled, the job freed when its
 * timer has closed). */
#include "upstream/quota.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/budget.h"
#include "util/log.h"
#include "util/xalloc.h"

typedef struct job {
  uv_timer_t timer;
  lln_upstream *up;
  lln_ratelimit *rl;
  lln_upstream_call *call;
  lln_budget budget; /* name and limits (copies) for the store */
  char *url;
  char *auth; /* "Authorization: Bearer K", or NULL */
  long every_ms;
} job;

struct lln_quota {
  job **jobs;
  size_t n;
};

int lln_quota_parse(const char *body, size_t len, double *usage_daily, double *limit_remaining) {
  *usage_daily = NAN;
  *limit_remaining = NAN;
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(data, "usage_daily");
  const cJSON *left = cJSON_GetObjectItemCaseSensitive(data, "limit_remaining");
  int ok = cJSON_IsNumber(usage) && usage->valuedouble >= 0 && usage->valuedouble < 1e9;
  if (ok)
    *usage_daily = usage->valuedouble;
  if (ok && cJSON_IsNumber(left))
    *limit_remaining = left->valuedouble;
  cJSON_Delete(root);
  return ok ? 0 : -1;
}

static void on_answer(void *ud, const lln_upstream_response *resp) {
  job *j = ud;
  j->call = NULL;
  double usage, left;
  if (resp->result != LLN_UP_OK || resp->status != 200) {
    LLN_WARN("budget \"%s\": the sync url answered %s (HTTP %ld); the budget counts on from what llmnet saw",
             j->budget.name, resp->error ? resp->error : "no answer", resp->status);
    return;
  }
  if (lln_quota_parse(resp->body, resp->body_len, &usage, &left) != 0) {
    LLN_WARN("budget \"%s\": the sync url's answer has no data.usage_daily (OpenRouter's GET /api/v1/key "
             "has); the budget counts on from what llmnet saw",
             j->budget.name);
    return;
  }
  lln_budget_state *st = lln_budget_state_of(&j->budget);
  lln_budget_state_synced(st, usage, left);
  lln_ratelimit_raise_spend(j->rl, &j->budget, usage);
  if (!isnan(left) && left <= 0)
    LLN_WARN("budget \"%s\": the provider says the key has no credit left ($%.4f); its calls will be refused "
             "upstream (OpenRouter answers 402, even on free models)",
             j->budget.name, left);
}

static void on_timer(uv_timer_t *t) {
  job *j = t->data;
  if (j->call)
    return; /* the last read is still on its way */
  const char *headers[] = {j->auth, "Accept: application/json", NULL};
  const char *const *h = j->auth ? headers : headers + 1;
  lln_upstream_request req = {.method = "GET",
                              .url = j->url,
                              .headers = h,
                              .timeout_ms = LLN_QUOTA_TIMEOUT_MS,
                              .connect_timeout_ms = LLN_QUOTA_TIMEOUT_MS,
                              .max_body = LLN_QUOTA_MAX_BODY,
                              .on_done = on_answer,
                              .ud = j};
  j->call = lln_upstream_start(j->up, &req);
}

static job *job_new(uv_loop_t *loop, lln_upstream *up, lln_ratelimit *rl, const lln_budget *b) {
  job *j = calloc(1, sizeof *j);
  if (!j)
    abort();
  j->up = up;
  j->rl = rl;
  j->budget = *b;
  j->budget.name = lln_xstrdup(b->name);
  j->budget.sync_url = j->budget.sync_key = NULL;
  j->url = lln_xstrdup(b->sync_url);
  if (b->sync_key && *b->sync_key) {
    size_t n = strlen(b->sync_key) + 32;
    j->auth = malloc(n);
    if (!j->auth)
      abort();
    snprintf(j->auth, n, "Authorization: Bearer %s", b->sync_key);
  }
  j->every_ms = b->sync_every_ms > 0 ? b->sync_every_ms : 300000;
  uv_timer_init(loop, &j->timer);
  j->timer.data = j;
  uv_timer_start(&j->timer, on_timer, 0, (uint64_t)j->every_ms);
  uv_unref((uv_handle_t *)&j->timer);
  return j;
}

static void job_free(uv_handle_t *h) {
  job *j = h->data;
  free(j->budget.name);
  free(j->url);
  if (j->auth) {
    memset(j->auth, 0, strlen(j->auth)); /* it held a key */
    free(j->auth);
  }
  free(j);
}

lln_quota *lln_quota_start(uv_loop_t *loop, lln_upstream *up, lln_ratelimit *rl, const lln_config *cfg) {
  size_t n = 0;
  for (size_t i = 0; cfg && i < cfg->n_budgets; i++)
    n += cfg->budgets[i].sync_url != NULL;
  if (n == 0 || !up)
    return NULL;
  lln_quota *q = calloc(1, sizeof *q);
  if (!q || !(q->jobs = calloc(n, sizeof *q->jobs)))
    abort();
  for (size_t i = 0; i < cfg->n_budgets; i++) {
    if (cfg->budgets[i].sync_url)
      q->jobs[q->n++] = job_new(loop, up, rl, &cfg->budgets[i]);
  }
  return q;
}

void lln_quota_close(lln_quota *q) {
  if (!q)
    return;
  for (size_t i = 0; i < q->n; i++) {
    job *j = q->jobs[i];
    if (j->call)
      lln_upstream_cancel(j->call);
    j->call = NULL;
    uv_timer_stop(&j->timer);
    uv_close((uv_handle_t *)&j->timer, job_free);
  }
  free(q->jobs);
  free(q);
}

lln_quota *lln_quota_reload(lln_quota *q, uv_loop_t *loop, lln_upstream *up, lln_ratelimit *rl,
                            const lln_config *cfg) {
  lln_quota_close(q);
  return lln_quota_start(loop, up, rl, cfg);
}
