/* redis_server: for unit tests that need a real redis-server: start one on
 * a free loopback port (killed with the test, even when the test crashes),
 * stop, freeze (SIGSTOP) it, a synchronous client for the test's own
 * checks, and running a libuv loop until an answer or a deadline. A missing
 * redis-server fails the test: CI installs it with scripts/deps.sh. Include
 * after cmocka.h. */
#ifndef LLN_TESTS_REDIS_SERVER_H
#define LLN_TESTS_REDIS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

static inline void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until *flag is non-zero or timeout_ms pass; returns *flag. */
static inline int run_until(uv_loop_t *loop, const int *flag, int timeout_ms) {
  uv_timer_t timer;
  int expired = 0;
  uv_timer_init(loop, &timer);
  timer.data = &expired;
  uv_timer_start(&timer, on_deadline, (uint64_t)timeout_ms, 0);
  while (!*flag && !expired)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag;
}

static inline void run_for(uv_loop_t *loop, int ms) {
  int never = 0;
  run_until(loop, &never, ms);
}

/* ---- a real redis-server ---- */

typedef struct {
  pid_t pid;
  int port;
} redis_server;

static inline int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    fail_msg("cannot find a free port: %s", strerror(errno));
  close(fd);
  return ntohs(a.sin_port);
}

static inline int redis_installed(void) {
  const char *path = getenv("PATH");
  char dir[4096];
  for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
    size_t n = strcspn(p, ":");
    snprintf(dir, sizeof dir, "%.*s/redis-server", (int)n, p);
    if (access(dir, X_OK) == 0)
      return 1;
    p += n + (p[n] == ':');
  }
  return 0;
}

/* A synchronous client for the test's own checks; NULL until PONG. */
static inline redisContext *redis_connect(int port) {
  struct timeval tv = {0, 200000};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (!c || c->err) {
    if (c)
      redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, (struct timeval){2, 0});
  return c;
}

static inline void redis_start(redis_server *s, const char *password) {
  if (!redis_installed())
    fail_msg("redis-server is not installed (not on PATH): the Redis tests need a real server. "
             "Install it with scripts/deps.sh (Debian package redis-server).");
  if (s->port == 0)
    s->port = free_port();
  char port[16];
  snprintf(port, sizeof port, "%d", s->port);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    if (password)
      execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--requirepass", password, (char *)NULL);
    else
      execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", (char *)NULL);
    _exit(127);
  }
  s->pid = pid;
  for (int i = 0; i < 250; i++) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      s->pid = 0;
      fail_msg("redis-server exited at start (status %d) on port %d", status, s->port);
    }
    redisContext *c = redis_connect(s->port);
    if (c) {
      redisReply *r = password ? redisCommand(c, "AUTH %s", password) : NULL;
      if (r)
        freeReplyObject(r);
      r = redisCommand(c, "PING");
      int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
      if (r)
        freeReplyObject(r);
      redisFree(c);
      if (ok)
        return;
    }
    usleep(20000);
  }
  fail_msg("redis-server did not answer PING on port %d within 5 s", s->port);
}

static inline void redis_signal(redis_server *s, int sig) {
  if (s->pid > 0)
    kill(s->pid, sig);
}

static inline void redis_stop(redis_server *s) {
  if (s->pid <= 0)
    return;
  kill(s->pid, SIGCONT);
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
}

static inline int redis_setup(void **state) {
  redis_server *s = calloc(1, sizeof *s);
  *state = s;
  return s ? 0 : -1;
}

static inline int redis_teardown(void **state) {
  redis_stop(*state);
  free(*state);
  return 0;
}

static inline void redis_url(const redis_server *s, char *out, size_t cap) {
  snprintf(out, cap, "redis://127.0.0.1:%d", s->port);
}

#endif
