/* runner_proc: the supervisor thread. It spawns every runner itself (each
 * in its own session and process group, with PR_SET_PDEATHSIG tied to this
 * thread, which lives until every runner has stopped), polls its health
 * path until it answers 2xx or the startup timeout passes, copies its
 * output into llmnet's log line by line with the runner's name, restarts
 * it with a doubling delay when it exits, and stops it (SIGTERM to the
 * group, SIGKILL after a grace; a container is also removed) when it is no
 * longer wanted. One loop: poll() on the output pipes with a short tick. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/runner.h"
#include "observe/metrics.h"
#include "upstream/runner_int.h"
#include "util/log.h"
#include "util/xalloc.h"

static int wake_fds[2] = {-1, -1};

uint64_t lln__runner_now_ms(void) { return uv_hrtime() / 1000000u; }

int lln__runners_wake_init(void) {
  if (wake_fds[0] >= 0)
    return 0;
  return pipe2(wake_fds, O_CLOEXEC | O_NONBLOCK);
}

void lln__runners_wake(void) {
  char c = 1;
  if (wake_fds[1] >= 0 && write(wake_fds[1], &c, 1) < 0 && errno != EAGAIN)
    LLN_WARN("runners: cannot wake the supervisor: %s", strerror(errno));
}

/* ---- state (written here, read by runners.c under the lock) ---- */

/* The state metric of `key`: 1 for `s`, 0 for the others (all 0 for
 * RS_STOPPING, which is not shown). */
static void show_state(const char *key, lln__rstate s) {
  static const lln__rstate shown[] = {RS_STARTING, RS_READY, RS_RESTARTING, RS_FAILED};
  for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
    const char *labels[] = {key, lln__runner_state_name(shown[i])};
    lln_metric_set(&LLN_M_RUNNER_STATE, labels, shown[i] == s ? 1 : 0);
  }
}

static void set_state(lln__runner *r, lln__rstate s, const char *error) {
  lln__runners_lock();
  r->state = s;
  if (error)
    snprintf(r->error, sizeof r->error, "%s", error);
  lln__runners_unlock();
  show_state(r->key, s);
}

/* ---- output ---- */

static void flush_line(lln__runner *r, int cut) {
  LLN_INFO("runner %s: %.*s%s", r->key, (int)r->line_len, r->line, cut ? " [cut]" : "");
  r->line_len = 0;
}

/* Reads what is there; at the end of the output, closes the pipe. A line
 * longer than LLN_RUNNER_LINE_MAX is logged cut, the rest dropped. */
static void read_output(lln__runner *r) {
  char buf[4096];
  ssize_t n = read(r->out_fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0) {
    if (r->line_len)
      flush_line(r, 0);
    close(r->out_fd);
    r->out_fd = -1;
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] == '\n') {
      if (!r->line_cut)
        flush_line(r, 0);
      r->line_cut = 0;
    } else if (r->line_cut || buf[i] == '\r') {
      continue;
    } else if (r->line_len == sizeof r->line) {
      flush_line(r, 1);
      r->line_cut = 1;
    } else {
      r->line[r->line_len++] = buf[i];
    }
  }
}

/* ---- processes ---- */

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* In the child, before exec: only async-signal-safe calls. */
static void child_setup(pid_t parent, int out) {
  setsid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(1); /* llmnet is already gone */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL); /* llmnet ignores it; the runner must not inherit that */
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0)
    dup2(devnull, 0);
  dup2(out, 1);
  dup2(out, 2);
  close_range(3, ~0U, 0); /* none of llmnet's sockets or pipes */
}

static void child_fail(const char *what, const char *arg) {
  const char *err = strerror(errno);
  dprintf(2, "%s %s: %s\n", what, arg, err);
  _exit(127);
}

/* Runs a short helper command (the container engine's rm) to its end,
 * output discarded; gives up after a while. */
static void run_quietly(char *const argv[]) {
  pid_t parent = getpid();
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  pid_t pid = fork();
  if (pid == 0) {
    child_setup(parent, devnull >= 0 ? devnull : 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  if (devnull >= 0)
    close(devnull);
  if (pid < 0)
    return;
  for (int i = 0; i < 200; i++) { /* 10 s */
    if (waitpid(pid, NULL, WNOHANG) == pid)
      return;
    usleep(50000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

static void remove_container(const lln__runner *r) {
  if (!r->spec.container)
    return;
  char *argv[] = {r->spec.engine, "rm", "-f", r->spec.container, NULL};
  run_quietly(argv);
}

/* envp: llmnet's environment with the runner's own "env" winning. */
static char **build_env(const lln__runner *r, int port) {
  size_t n = 0;
  while (r->spec.env[n])
    n++;
  char **own = calloc(n + 1, sizeof *own);
  if (!own)
    abort();
  for (size_t i = 0; i < n; i++)
    own[i] = lln_runner_expand(r->spec.env[i], port, r->spec.model);
  char **envp = lln_strv_env_with(own, n);
  free(own);
  return envp;
}

static void spawn(lln__runner *r, uint64_t now) {
  remove_container(r); /* one left by an llmnet that was killed */
  int port = free_port();
  size_t argc = 0;
  while (r->spec.argv[argc])
    argc++;
  char **argv = calloc(argc + 1, sizeof *argv);
  if (!argv)
    abort();
  for (size_t i = 0; i < argc; i++)
    argv[i] = lln_runner_expand(r->spec.argv[i], port, r->spec.model);
  char **envp = build_env(r, port);
  int out[2];
  pid_t pid = -1, parent = getpid();
  if (argc && port && pipe2(out, O_CLOEXEC) == 0) {
    pid = fork();
    if (pid == 0) {
      child_setup(parent, out[1]);
      if (r->spec.cwd && chdir(r->spec.cwd) != 0)
        child_fail("cannot change to the directory", r->spec.cwd);
      execvpe(argv[0], argv, envp);
      child_fail("cannot run", argv[0]);
    }
    close(out[1]);
    if (pid < 0)
      close(out[0]);
    else
      fcntl(out[0], F_SETFL, O_NONBLOCK);
  }
  lln_strv_free(argv);
  lln_strv_free(envp);
  r->started_at = now;
  r->deadline = now + (uint64_t)r->spec.startup_timeout_ms;
  r->next_health = now + LLN_RUNNER_HEALTH_EVERY_MS;
  r->term_sent = r->timed_out = 0;
  if (r->starts++ > 0) {
    const char *labels[] = {r->key};
    lln_metric_add(&LLN_M_RUNNER_RESTARTS, labels, 1);
  }
  if (pid < 0) {
    char why[200];
    snprintf(why, sizeof why, "cannot start: %s", strerror(errno));
    LLN_ERROR("runner %s: %s", r->key, why);
    set_state(r, RS_FAILED, why);
    r->next_start = now + (uint64_t)r->backoff_ms;
    return;
  }
  r->out_fd = out[0];
  lln__runners_lock();
  r->pid = pid;
  r->port = port;
  if (r->starts > 1)
    r->restarts++;
  lln__runners_unlock();
  set_state(r, r->starts > 1 ? RS_RESTARTING : RS_STARTING, NULL);
  LLN_INFO("runner %s: started pid %d on port %d: %s", r->key, (int)pid, port, r->spec.argv[0]);
}

static void describe_status(int st, char *out, size_t size) {
  if (WIFEXITED(st))
    snprintf(out, size, "exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(out, size, "was killed by signal %d", WTERMSIG(st));
  else
    snprintf(out, size, "ended (wait status %d)", st);
}

static void on_exit_status(lln__runner *r, int st, uint64_t now, int wanted) {
  char how[100], why[300];
  describe_status(st, how, sizeof how);
  killpg(r->pid, SIGKILL); /* what it left in its group */
  remove_container(r);
  int was_ready = r->state == RS_READY;
  int stable = was_ready && now - r->started_at >= LLN_RUNNER_STABLE_MS;
  if (stable)
    r->backoff_ms = LLN_RUNNER_BACKOFF_MIN_MS;
  lln__runners_lock();
  r->pid = 0;
  r->port = 0;
  r->last_status = st;
  r->up_since = 0;
  lln__runners_unlock();
  if (!wanted) {
    LLN_INFO("runner %s: stopped (%s)", r->key, how);
    return;
  }
  r->next_start = now + (uint64_t)r->backoff_ms;
  if (r->timed_out) {
    LLN_WARN("runner %s: %s; trying again in %ld ms", r->key, r->error, r->backoff_ms);
  } else {
    snprintf(why, sizeof why, "%s; restarting in %ld ms", how, r->backoff_ms);
    LLN_WARN("runner %s: %s", r->key, why);
    set_state(r, RS_RESTARTING, why);
  }
  r->backoff_ms =
      r->backoff_ms * 2 > LLN_RUNNER_BACKOFF_MAX_MS ? LLN_RUNNER_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void terminate(lln__runner *r, uint64_t now) {
  killpg(r->pid, SIGTERM);
  r->term_sent = 1;
  r->kill_at = now + LLN_RUNNER_STOP_GRACE_MS;
}

/* ---- health ---- */

/* 1 when GET http://127.0.0.1:port/path answers 2xx within the timeout. */
static int healthy(int port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = 0;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  if ((connect(fd, (struct sockaddr *)&a, sizeof a) == 0 || errno == EINPROGRESS) &&
      poll(&p, 1, LLN_RUNNER_HEALTH_TIMEOUT_MS) == 1) {
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    char req[600];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    if (!soerr && n > 0 && (size_t)n < sizeof req && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
      char resp[64];
      size_t got = 0;
      p.events = POLLIN;
      while (got < 12 && poll(&p, 1, LLN_RUNNER_HEALTH_TIMEOUT_MS) == 1) {
        ssize_t k = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (k <= 0)
          break;
        got += (size_t)k;
      }
      resp[got] = '\0';
      ok = got >= 12 && strncmp(resp, "HTTP/1.", 7) == 0 && resp[9] == '2';
    }
  }
  close(fd);
  return ok;
}

/* ---- the loop ---- */

/* One runner's turn. Returns 1 when it is due for a health check. */
static int step(lln__runner *r, uint64_t now) {
  lln__runners_lock();
  int wanted = r->wanted;
  lln__runners_unlock();
  int st;
  if (r->pid > 0 && waitpid(r->pid, &st, WNOHANG) == r->pid)
    on_exit_status(r, st, now, wanted);
  if (r->pid > 0 && !wanted) {
    if (!r->term_sent) {
      set_state(r, RS_STOPPING, NULL);
      terminate(r, now);
    } else if (now >= r->kill_at) {
      LLN_WARN("runner %s: still running %d ms after SIGTERM; SIGKILL", r->key, LLN_RUNNER_STOP_GRACE_MS);
      killpg(r->pid, SIGKILL);
      r->kill_at = now + LLN_RUNNER_STOP_GRACE_MS;
    }
    return 0;
  }
  if (r->pid > 0 && r->state != RS_READY && !r->term_sent) {
    if (now >= r->deadline) {
      char why[300];
      snprintf(why, sizeof why,
               "not healthy within %.0f s of its start (GET http://127.0.0.1:%d%s); check its "
               "output above, or raise \"startup-timeout\"",
               (double)r->spec.startup_timeout_ms / 1000.0, r->port, r->spec.health);
      LLN_ERROR("runner %s: %s", r->key, why);
      set_state(r, RS_FAILED, why);
      r->timed_out = 1;
      terminate(r, now);
      return 0;
    }
    if (now >= r->next_health) {
      r->next_health = now + LLN_RUNNER_HEALTH_EVERY_MS;
      return 1;
    }
  }
  if (r->pid > 0 && r->term_sent && now >= r->kill_at)
    killpg(r->pid, SIGKILL);
  if (r->pid == 0 && wanted && now >= r->next_start)
    spawn(r, now);
  return 0;
}

static void mark_ready(lln__runner *r, uint64_t now) {
  lln__runners_lock();
  r->up_since = now;
  lln__runners_unlock();
  set_state(r, RS_READY, "");
  LLN_INFO("runner %s: ready on http://127.0.0.1:%d (pid %d, %.1f s)", r->key, r->port, (int)r->pid,
           (double)(now - r->started_at) / 1000.0);
}

/* Drops the runners that are stopped and not wanted; 1 when the thread is
 * to end (asked to, and nothing is left). */
static int sweep(void) {
  lln__runners_lock();
  int k = 0;
  for (int i = 0; i < lln__n_runners; i++) {
    lln__runner *r = lln__runners[i];
    if (!r->wanted && r->pid == 0) {
      if (r->out_fd >= 0)
        close(r->out_fd);
      if (!lln__runner_find(r->key)) /* gone for good: shows in no state */
        show_state(r->key, RS_STOPPING);
      lln__runner_free(r);
    } else {
      lln__runners[k++] = r;
    }
  }
  lln__n_runners = k;
  int done = lln__runners_quit && k == 0;
  lln__runners_unlock();
  return done;
}

void lln__runners_thread(void *arg) {
  (void)arg;
  for (;;) {
    lln__runner *snap[LLN_RUNNER_MAX];
    struct pollfd fds[LLN_RUNNER_MAX + 1];
    lln__runners_lock();
    int n = lln__n_runners;
    memcpy(snap, lln__runners, (size_t)n * sizeof *snap);
    lln__runners_unlock();
    int nf = 0;
    fds[nf++] = (struct pollfd){.fd = wake_fds[0], .events = POLLIN};
    for (int i = 0; i < n; i++)
      fds[nf++] = (struct pollfd){.fd = snap[i]->out_fd, .events = POLLIN};
    poll(fds, (nfds_t)nf, LLN_RUNNER_TICK_MS);
    char drain[64];
    while (read(wake_fds[0], drain, sizeof drain) > 0) {
    }
    for (int i = 0; i < n; i++) {
      if (snap[i]->out_fd >= 0 && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
        read_output(snap[i]);
    }
    uint64_t now = lln__runner_now_ms();
    for (int i = 0; i < n; i++) {
      lln__runner *r = snap[i];
      if (step(r, now) && healthy(r->port, r->spec.health))
        mark_ready(r, lln__runner_now_ms());
    }
    if (sweep())
      break;
  }
}
