/* runners: the supervisor's table as the rest of llmnet sees it: which
 * runners a composition wants (apply), their state for calls, /ready,
 * /health and the stats, and the stop at exit. The processes themselves
 * are runner_proc.c's, on the supervisor thread. */
#include "upstream/runners.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config/runner.h"
#include "upstream/runner_int.h"
#include "util/log.h"
#include "util/xalloc.h"

static uv_mutex_t lock;
static uv_once_t lock_once = UV_ONCE_INIT;
static uv_thread_t thread;
static int thread_running;

lln__runner *lln__runners[LLN_RUNNER_MAX];
int lln__n_runners;
int lln__runners_quit;

static void lock_init(void) { uv_mutex_init(&lock); }

void lln__runners_lock(void) {
  uv_once(&lock_once, lock_init);
  uv_mutex_lock(&lock);
}

void lln__runners_unlock(void) { uv_mutex_unlock(&lock); }

const char *lln__runner_state_name(lln__rstate s) {
  switch (s) {
  case RS_STARTING: return "starting";
  case RS_READY: return "ready";
  case RS_RESTARTING: return "restarting";
  case RS_FAILED: return "failed";
  default: return "stopping";
  }
}

static char **strv_dup(char **v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  char **out = calloc(n + 1, sizeof *out);
  if (!out)
    abort();
  for (size_t i = 0; i < n; i++)
    out[i] = lln_xstrdup(v[i]);
  return out;
}

static lln__runner *runner_new(const lln_model *m) {
  lln__runner *r = calloc(1, sizeof *r);
  if (!r)
    abort();
  const lln_runner_spec *s = m->runner;
  r->key = lln_xstrdup(m->key);
  r->type = lln_xstrdup(m->type);
  r->spec.argv = strv_dup(s->argv);
  r->spec.env = strv_dup(s->env);
  r->spec.cwd = s->cwd ? lln_xstrdup(s->cwd) : NULL;
  r->spec.health = lln_xstrdup(s->health);
  r->spec.model = s->model ? lln_xstrdup(s->model) : NULL;
  r->spec.startup_timeout_ms = s->startup_timeout_ms;
  r->spec.engine = s->engine ? lln_xstrdup(s->engine) : NULL;
  r->spec.container = s->container ? lln_xstrdup(s->container) : NULL;
  r->spec.fingerprint = lln_xstrdup(s->fingerprint);
  r->wanted = 1;
  r->state = RS_STARTING;
  r->last_status = -1;
  r->out_fd = -1;
  r->backoff_ms = LLN_RUNNER_BACKOFF_MIN_MS;
  return r;
}

void lln__runner_free(lln__runner *r) {
  free(r->key);
  free(r->type);
  lln_strv_free(r->spec.argv);
  lln_strv_free(r->spec.env);
  free(r->spec.cwd);
  free(r->spec.health);
  free(r->spec.model);
  free(r->spec.engine);
  free(r->spec.container);
  free(r->spec.fingerprint);
  free(r);
}

lln__runner *lln__runner_find(const char *key) {
  for (int i = 0; i < lln__n_runners; i++) {
    if (lln__runners[i]->wanted && strcmp(lln__runners[i]->key, key) == 0)
      return lln__runners[i];
  }
  return NULL;
}

static const lln_model *model_of(const lln_config *cfg, const char *key) {
  for (size_t i = 0; i < cfg->n_models; i++) {
    if (cfg->models[i].runner && strcmp(cfg->models[i].key, key) == 0)
      return &cfg->models[i];
  }
  return NULL;
}

void lln_runners_apply(const lln_config *cfg) {
  lln__runners_lock();
  for (int i = 0; i < lln__n_runners; i++) {
    lln__runner *r = lln__runners[i];
    const lln_model *m = r->wanted ? model_of(cfg, r->key) : NULL;
    if (r->wanted && (!m || strcmp(m->runner->fingerprint, r->spec.fingerprint) != 0)) {
      LLN_INFO("runner %s: %s; stopping it", r->key, m ? "its entry changed" : "its entry is gone");
      r->wanted = 0;
    }
  }
  for (size_t i = 0; i < cfg->n_models; i++) {
    const lln_model *m = &cfg->models[i];
    if (!m->runner || lln__runner_find(m->key))
      continue;
    if (lln__n_runners == LLN_RUNNER_MAX) {
      LLN_ERROR("runner %s: more than %d runners; not started", m->key, LLN_RUNNER_MAX);
      continue;
    }
    lln__runners[lln__n_runners++] = runner_new(m);
  }
  int start = !thread_running && lln__n_runners > 0;
  lln__runners_quit = 0;
  lln__runners_unlock();
  if (start) {
    if (lln__runners_wake_init() != 0 || uv_thread_create(&thread, lln__runners_thread, NULL) != 0) {
      LLN_ERROR("runners: cannot start the supervisor thread; no runner is started");
      return;
    }
    thread_running = 1;
  }
  lln__runners_wake();
}

void lln_runners_stop_all(void) {
  if (!thread_running)
    return;
  lln__runners_lock();
  lln__runners_quit = 1;
  for (int i = 0; i < lln__n_runners; i++)
    lln__runners[i]->wanted = 0;
  lln__runners_unlock();
  lln__runners_wake();
  uv_thread_join(&thread);
  thread_running = 0;
}

int lln_runners_starting(char *out, size_t size) {
  if (size)
    out[0] = '\0';
  size_t used = 0;
  int n = 0;
  lln__runners_lock();
  for (int i = 0; i < lln__n_runners; i++) {
    const lln__runner *r = lln__runners[i];
    if (!r->wanted || r->state == RS_READY)
      continue;
    n++;
    if (size > used) {
      int w = snprintf(out + used, size - used, "%s%s", used ? "," : "", r->key);
      used += w > 0 ? (size_t)w : 0;
    }
  }
  lln__runners_unlock();
  return n;
}

lln_runner_state lln_runner_url(const lln_model *ep, int embeddings, char *url, size_t size) {
  lln_runner_state st = LLN_RUNNER_FAILED;
  int port = 0;
  lln__runners_lock();
  const lln__runner *r = lln__runner_find(ep->key);
  if (r && r->state == RS_READY) {
    st = LLN_RUNNER_READY;
    port = r->port;
  } else if (r && (r->state == RS_STARTING || r->state == RS_RESTARTING)) {
    st = LLN_RUNNER_STARTING;
  }
  lln__runners_unlock();
  snprintf(url, size, "http://127.0.0.1:%d/v1/%s", port, embeddings ? "embeddings" : "chat/completions");
  return st;
}

void lln_runners_stats_json(cJSON *root) {
  cJSON *arr = cJSON_AddArrayToObject(root, "runners");
  uint64_t now = lln__runner_now_ms();
  lln__runners_lock();
  for (int i = 0; i < lln__n_runners; i++) {
    const lln__runner *r = lln__runners[i];
    if (!r->wanted)
      continue;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", r->key);
    cJSON_AddStringToObject(j, "type", r->type);
    cJSON_AddStringToObject(j, "state", lln__runner_state_name(r->state));
    if (r->pid > 0)
      cJSON_AddNumberToObject(j, "pid", r->pid);
    else
      cJSON_AddNullToObject(j, "pid");
    if (r->spec.container)
      cJSON_AddStringToObject(j, "container", r->spec.container);
    cJSON_AddNumberToObject(j, "port", r->port);
    cJSON_AddNumberToObject(j, "restarts", r->restarts);
    if (r->last_status < 0)
      cJSON_AddNullToObject(j, "last_exit");
    else if (WIFEXITED(r->last_status))
      cJSON_AddNumberToObject(j, "last_exit", WEXITSTATUS(r->last_status));
    else {
      char sig[32];
      snprintf(sig, sizeof sig, "signal %d", WTERMSIG(r->last_status));
      cJSON_AddStringToObject(j, "last_exit", sig);
    }
    cJSON_AddNumberToObject(j, "uptime_s", r->up_since ? (double)(now - r->up_since) / 1000.0 : 0);
    if (r->error[0])
      cJSON_AddStringToObject(j, "error", r->error);
    cJSON_AddItemToArray(arr, j);
  }
  lln__runners_unlock();
}
