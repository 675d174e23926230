/* runner_int: one supervised runner and the table the supervisor thread
 * (runner_proc.c) and the readers (runners.c) share. Fields marked "lock"
 * are read and written under lln__runners_lock; the rest belong to the
 * supervisor thread alone. */
#ifndef LLN_UPSTREAM_RUNNER_INT_H
#define LLN_UPSTREAM_RUNNER_INT_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config/config.h"

/* Bounds and timings (docs/CONFIG.md "Runners"). */
#define LLN_RUNNER_LINE_MAX 1024        /* a runner's output line in llmnet's log, cut there */
#define LLN_RUNNER_STOP_GRACE_MS 5000   /* SIGTERM, then SIGKILL this much later */
#define LLN_RUNNER_BACKOFF_MIN_MS 500   /* first restart delay; doubles up to the max */
#define LLN_RUNNER_BACKOFF_MAX_MS 30000 /* longest restart delay */
#define LLN_RUNNER_STABLE_MS 60000      /* ready this long: the next restart delay starts over */
#define LLN_RUNNER_HEALTH_EVERY_MS 200  /* health poll while starting */
#define LLN_RUNNER_HEALTH_TIMEOUT_MS 500
#define LLN_RUNNER_TICK_MS 100
#define LLN_RUNNER_MAX 256

typedef enum { RS_STARTING, RS_READY, RS_RESTARTING, RS_FAILED, RS_STOPPING } lln__rstate;

typedef struct lln__runner {
  /* fixed once added */
  char *key, *type;
  lln_runner_spec spec; /* a deep copy */
  /* lock */
  int wanted; /* 0: stop it and drop it */
  lln__rstate state;
  int port;          /* where it listens; 0 while not started */
  pid_t pid;         /* its process (group leader); 0 when none */
  int restarts;      /* starts after the first */
  int last_status;   /* wait status of the last exit; -1 none */
  uint64_t up_since; /* ms (monotonic) it became ready; 0 not ready */
  char error[300];   /* why it is not ready, "" when none */
  /* supervisor thread only */
  int starts;
  int out_fd; /* its stdout+stderr, -1 none */
  char line[LLN_RUNNER_LINE_MAX];
  size_t line_len;
  int line_cut;
  uint64_t next_start, deadline, next_health, kill_at, started_at;
  long backoff_ms;
  int term_sent, timed_out;
} lln__runner;

void lln__runners_lock(void);
void lln__runners_unlock(void);
/* The table (lock). */
extern lln__runner *lln__runners[LLN_RUNNER_MAX];
extern int lln__n_runners;
extern int lln__runners_quit; /* lock: stop everything and end the thread */
/* The wanted runner of `key`, or NULL (lock held). */
lln__runner *lln__runner_find(const char *key);

/* runner_proc.c: the supervisor thread's body; wake it after a change. */
void lln__runners_thread(void *arg);
void lln__runners_wake(void);
int lln__runners_wake_init(void);
void lln__runner_free(lln__runner *r);
const char *lln__runner_state_name(lln__rstate s);
uint64_t lln__runner_now_ms(void);

#endif
