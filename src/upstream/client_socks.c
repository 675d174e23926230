/* upstream client sockets: curl's sockets on the libuv loop. Each socket
 * curl asks about gets a uv_poll_t; a connection socket keeps its poll for
 * its whole life (pooled between transfers, found again by fd) and the poll
 * is restarted only when curl's interest changes, since libuv 1.44
 * re-registers the fd with epoll on every uv_poll_start. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream/client_int.h"

static void on_sock_closed(uv_handle_t *h) {
  sock_ctx *s = h->data;
  lln_upstream *u = s->u;
  free(s);
  lln__up_handle_closed(u);
}

void lln__up_sock_close(sock_ctx *s) {
  lln_upstream *u = s->u;
  if (s->kept && s->fd < u->by_fd_cap && u->by_fd[s->fd] == s)
    u->by_fd[s->fd] = NULL;
  if (s->prev)
    s->prev->next = s->next;
  else
    u->socks = s->next;
  if (s->next)
    s->next->prev = s->prev;
  uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Polls for `events` (0 = none), touching libuv only on a change: libuv
 * 1.44's uv_poll_start re-registers the fd with epoll every time. */
static void poll_set(sock_ctx *s, int events) {
  if (events == s->events)
    return;
  s->events = events;
  if (events)
    uv_poll_start(&s->poll, events, on_poll);
  else
    uv_poll_stop(&s->poll);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_ctx *s = h->data;
  lln_upstream *u = s->u;
  if (s->idle) {
    /* A pooled socket no transfer uses: the peer closed it or sent junk.
     * Polling it on would spin; curl finds the connection dead (and closes
     * it) when it next tries to reuse it. */
    poll_set(s, 0);
    return;
  }
  int flags = 0;
  if (status < 0)
    flags |= CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int running;
  u->in_curl++;
  curl_multi_socket_action(u->multi, s->fd, flags, &running); /* may close s */
  u->in_curl--;
  lln__up_after_curl(u);
}

static sock_ctx *sock_new(lln_upstream *u, curl_socket_t fd) {
  sock_ctx *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  if (uv_poll_init_socket(u->loop, &s->poll, fd) != 0) {
    free(s);
    return NULL;
  }
  s->fd = fd;
  s->u = u;
  s->poll.data = s;
  s->next = u->socks;
  if (u->socks)
    u->socks->prev = s;
  u->socks = s;
  u->open_handles++;
  return s;
}

static sock_ctx *sock_kept(const lln_upstream *u, curl_socket_t fd) {
  return fd >= 0 && fd < u->by_fd_cap ? u->by_fd[fd] : NULL;
}

/* Makes room for `fd` in the table; 0 when it cannot be kept there. */
static int by_fd_grow(lln_upstream *u, curl_socket_t fd) {
  if (fd < u->by_fd_cap)
    return 1;
  if (fd >= LLN_UP_MAX_FD_TABLE)
    return 0;
  int cap = u->by_fd_cap ? u->by_fd_cap : 64;
  while (cap <= fd)
    cap *= 2;
  if (cap > LLN_UP_MAX_FD_TABLE)
    cap = LLN_UP_MAX_FD_TABLE;
  sock_ctx **t = realloc(u->by_fd, (size_t)cap * sizeof *t);
  if (!t)
    return 0;
  memset(t + u->by_fd_cap, 0, (size_t)(cap - u->by_fd_cap) * sizeof *t);
  u->by_fd = t;
  u->by_fd_cap = cap;
  return 1;
}

/* CURLOPT_OPENSOCKETFUNCTION: a connection socket gets its kept sock_ctx
 * (and uv_poll) here, for its whole life. */
curl_socket_t lln__up_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
  lln_upstream *u = clientp;
  curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd == CURL_SOCKET_BAD || purpose != CURLSOCKTYPE_IPCXN || u->closing || !by_fd_grow(u, fd))
    return fd;
  if (u->by_fd[fd]) /* a socket closed behind our back: cannot happen, but never poll a stale one */
    lln__up_sock_close(u->by_fd[fd]);
  sock_ctx *s = sock_new(u, fd);
  if (s) {
    s->kept = 1;
    u->by_fd[fd] = s;
  }
  return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the poll goes first (libuv's epoll DEL needs
 * the fd still open), then the socket. */
int lln__up_close_socket(void *clientp, curl_socket_t fd) {
  lln_upstream *u = clientp;
  sock_ctx *s = sock_kept(u, fd);
  if (s)
    lln__up_sock_close(s);
  return close(fd);
}

int lln__up_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  lln_upstream *u = userp;
  sock_ctx *s = socketp ? socketp : sock_kept(u, fd);
  if (what == CURL_POLL_REMOVE) {
    if (!s)
      return 0;
    if (!s->kept) {
      lln__up_sock_close(s);
      curl_multi_assign(u->multi, fd, NULL);
      return 0;
    }
    /* Pooled until curl reuses or closes it. Readable only (writable
     * would fire at once, forever), and no reason to keep the loop alive. */
    if (!s->idle) {
      s->idle = 1;
      uv_unref((uv_handle_t *)&s->poll);
    }
    if (!u->closing && (s->events & UV_WRITABLE))
      poll_set(s, UV_READABLE);
    return 0;
  }
  if (u->closing)
    return 0;
  if (!s) {
    s = sock_new(u, fd);
    if (!s)
      return -1;
    curl_multi_assign(u->multi, fd, s);
  }
  if (s->idle) {
    s->idle = 0;
    uv_ref((uv_handle_t *)&s->poll);
  }
  int events = 0;
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  poll_set(s, events);
  return 0;
}
