/* upstream client: owns one curl multi handle per libuv loop and every
 * outbound transfer on it. Sockets curl asks about get a uv_poll_t, curl's
 * timeout drives one uv_timer_t, and finished transfers are reported through
 * on_done; the Retry-After and X-RateLimit-Reset it keeps are read by
 * hint_headers.c. Nothing here blocks the loop or takes a lock: each worker
 * thread owns its own lln_upstream.
 *
 * Re-entrancy rule: curl refuses most multi calls from inside its own
 * callbacks, and user callbacks (on_data) run inside them. So while curl is
 * on the stack (u->in_curl > 0) cancel, resume and start only mark the call,
 * and flush_deferred() carries the work out once curl has returned. */
#include "upstream/client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream/hint_headers_int.h"
#include "util/buf.h"
#include "util/secrets.h"

/* Idle connections kept per loop: enough for many providers and hosts
 * without hoarding file descriptors. */
#define LLN_UP_MAX_CONNECTS 256L
/* Bounds on the DECOMPRESSED bytes of one call (curl hands write_cb what
 * gzip/brotli/zstd expanded to, so a 3 KB bomb is counted as what it
 * becomes). A collected (non-streamed) body larger than LLN_UP_MAX_BODY is
 * a broken or hostile upstream, not a chat completion; a stream is relayed
 * as it arrives, so its bound only ends a runaway one. */
#define LLN_UP_MAX_BODY ((size_t)64 << 20)
#define LLN_UP_MAX_STREAM ((size_t)256 << 20)

/* A socket curl asked about. A connection socket curl opened (through
 * open_socket) keeps its sock_ctx and uv_poll while curl holds it in its
 * pool, found again by fd in u->by_fd, until curl closes it (close_socket):
 * restarting or re-creating the poll per transfer costs epoll_ctl calls. */
typedef struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  lln_upstream *u;
  int events;        /* UV_READABLE | UV_WRITABLE being polled for */
  unsigned kept : 1; /* in u->by_fd: lives until curl closes the socket */
  unsigned idle : 1; /* curl has no interest (CURL_POLL_REMOVE): pooled */
  struct sock_ctx *prev, *next;
} sock_ctx;

/* Bound on the fd-indexed table of kept sockets; a connection with a larger
 * fd is polled the plain way (a poll per transfer). */
#define LLN_UP_MAX_FD_TABLE (1 << 20)

#define EASY_POOL 64

/* URLs parsed once and handed to curl as CURLOPT_CURLU: parsing the URL
 * string of every call is ~15k instructions. The latest few URLs a loop
 * calls are kept; one is replaced only when no call still refers to it. */
#define URL_CACHE 8
typedef struct {
  char *url;
  CURLU *h;
  int refs; /* calls whose easy handle points at h */
} url_entry;

struct lln_upstream {
  uv_loop_t *loop;
  CURLM *multi;
  CURLSH *share;
  uv_timer_t timer;
  int open_handles; /* timer + polls not yet through their close callback */
  int closing;
  int in_curl;  /* depth of curl calls that may run user callbacks */
  int deferred; /* some call has deferred work for flush_deferred() */
  lln_upstream_call *calls;
  sock_ctx *socks;
  sock_ctx **by_fd; /* kept sockets by fd; grows on demand */
  int by_fd_cap;
  /* finished easy handles kept for the next calls: creating and destroying
   * one per call costs more than reusing it. `post` = its last call was a
   * plain POST, so the next plain POST needs no curl_easy_reset. */
  struct {
    CURL *easy;
    int post;
  } spare[EASY_POOL];
  int n_spare;
  url_entry urls[URL_CACHE];
  int next_url;
};

struct lln_upstream_call {
  lln_upstream *u;
  CURL *easy;
  struct curl_slist *headers; /* nodes and lines in one block of ours: free(), never curl_slist_free_all */
  char *body;
  lln_buf buf;
  char *retry_after;
  char *rate_limit_reset;
  long status;            /* of the latest status line seen */
  uv_timer_t *first_byte; /* fires when no status line came in time; NULL = none */
  int (*on_data)(void *ud, const char *data, size_t len);
  void (*on_done)(void *ud, const lln_upstream_response *resp);
  void *ud;
  /* curl hands paused bytes over again on resume; on_data already saw this many of them. */
  size_t skip;
  unsigned attached : 1;    /* in the multi handle */
  unsigned add_pending : 1; /* started inside a curl callback; added by flush */
  unsigned cancelled : 1;
  unsigned finished : 1; /* on_done is running or has run */
  unsigned paused : 1;
  unsigned resume_pending : 1;
  unsigned in_on_data : 1;
  unsigned resume_early : 1; /* resumed from inside its own on_data */
  unsigned too_large : 1;
  unsigned no_first_byte : 1;
  unsigned post : 1; /* a plain POST (see spare) */
  url_entry *url;    /* the parsed URL this call holds a reference to, or NULL */
  size_t streamed;   /* decompressed bytes handed to on_data */
  size_t max_body;   /* bound on a collected body (LLN_UP_MAX_BODY unless the request set one) */
  lln_upstream_call *prev, *next;
  char errbuf[CURL_ERROR_SIZE];
};

static uv_once_t global_once = UV_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;
/* None of the proxy variables libcurl reads was set when the first call
 * started: then every handle says so (CURLOPT_PROXY "") and curl skips its
 * getenv calls per transfer. If any is set, curl's behaviour is untouched. */
static int proxy_env_unset;

static void global_init(void) {
  /* OpenSSL's init behind this costs ~2.3 MiB: it runs on the first call,
   * so an idle gateway never pays it. */
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                     "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
  proxy_env_unset = 1;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i]))
      proxy_env_unset = 0;
}

/* ---- handle bookkeeping ---- */

static void handle_closed(lln_upstream *u) {
  if (--u->open_handles == 0 && u->closing)
    free(u);
}

static void on_timer_closed(uv_handle_t *h) { handle_closed(h->data); }

static void on_sock_closed(uv_handle_t *h) {
  sock_ctx *s = h->data;
  lln_upstream *u = s->u;
  free(s);
  handle_closed(u);
}

static void sock_close(sock_ctx *s) {
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

static void call_link(lln_upstream *u, lln_upstream_call *c) {
  c->prev = NULL;
  c->next = u->calls;
  if (u->calls)
    u->calls->prev = c;
  u->calls = c;
}

static void call_unlink(lln_upstream_call *c) {
  lln_upstream *u = c->u;
  if (c->prev)
    c->prev->next = c->next;
  else if (u->calls == c)
    u->calls = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void free_handle(uv_handle_t *h) { free(h); }

static void call_free(lln_upstream_call *c) {
  if (c->first_byte) {
    uv_timer_stop(c->first_byte);
    uv_close((uv_handle_t *)c->first_byte, free_handle);
  }
  lln_upstream *u = c->u;
  if (c->easy && !u->closing && u->n_spare < EASY_POOL) {
    u->spare[u->n_spare].easy = c->easy;
    u->spare[u->n_spare++].post = c->post;
  } else {
    curl_easy_cleanup(c->easy);
  }
  free(c->headers);
  if (c->url)
    c->url->refs--;
  free(c->body);
  lln_buf_free(&c->buf);
  free(c->retry_after);
  free(c->rate_limit_reset);
  free(c);
}

/* Only valid when curl is not on the stack. */
static void call_destroy(lln_upstream_call *c) {
  if (c->attached)
    curl_multi_remove_handle(c->u->multi, c->easy);
  c->attached = 0;
  call_unlink(c);
  call_free(c);
}

/* ---- finishing transfers ---- */

static lln_up_result map_result(CURLcode code) {
  switch (code) {
  case CURLE_OK: return LLN_UP_OK;
  case CURLE_OPERATION_TIMEDOUT: return LLN_UP_TIMEOUT;
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return LLN_UP_CONNECT;
  default: return LLN_UP_ERROR;
  }
}

/* curl's error text may quote a URL with a key in its query. */
static const char *scrub_errbuf(lln_upstream_call *c) {
  lln_buf b;
  lln_buf_init(&b);
  if (lln_secrets_scrub(c->errbuf, strnlen(c->errbuf, sizeof c->errbuf), &b))
    snprintf(c->errbuf, sizeof c->errbuf, "%s", b.data);
  lln_buf_free(&b);
  return c->errbuf;
}

static void call_finish(lln_upstream_call *c, CURLcode code) {
  lln_upstream_response r;
  memset(&r, 0, sizeof r);
  r.result = map_result(code);
  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r.status);
  curl_off_t us = 0;
  if (curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
    r.elapsed_ms = (double)us / 1000.0;
  /* What an upstream says back about a failed call is relayed to the
   * client and logged: any of our secrets it quotes is scrubbed here, at
   * the boundary, before anyone reads it. */
  if (c->status < 200 || c->status > 299) {
    lln_secrets_scrub_buf(&c->buf);
    lln_secrets_scrub_str(&c->retry_after);
    lln_secrets_scrub_str(&c->rate_limit_reset);
  }
  if (!c->buf.data)
    lln_buf_append(&c->buf, "", 0); /* body is promised NUL-terminated, never NULL */
  r.body = c->buf.data;
  r.body_len = c->buf.len;
  r.retry_after = c->retry_after;
  r.rate_limit_reset = c->rate_limit_reset;
  if (c->no_first_byte) {
    r.result = LLN_UP_TIMEOUT;
    r.error = "no response within its first-byte-timeout";
  } else if (c->too_large)
    r.error = c->on_data && c->status >= 200 && c->status <= 299
                  ? "the upstream's stream exceeds 256 MiB decompressed (LLN_UP_MAX_STREAM)"
              : c->max_body == LLN_UP_MAX_BODY
                  ? "the upstream's response body exceeds 64 MiB decompressed (LLN_UP_MAX_BODY)"
                  : "the upstream's response body exceeds the bound its caller set (max_body)";
  else if (code != CURLE_OK)
    r.error = c->errbuf[0] ? scrub_errbuf(c) : curl_easy_strerror(code);

  /* Detached before on_done so that on_done may start, cancel or resume other
   * calls (and a stray cancel of this one is a no-op). */
  if (c->attached)
    curl_multi_remove_handle(c->u->multi, c->easy);
  c->attached = 0;
  call_unlink(c);
  c->finished = 1;
  if (c->on_done)
    c->on_done(c->ud, &r);
  call_free(c);
}

static void check_info(lln_upstream *u) {
  CURLMsg *m;
  int left;
  while (u->multi && (m = curl_multi_info_read(u->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    CURLcode code = m->data.result;
    char *priv = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    lln_upstream_call *c = (lln_upstream_call *)priv;
    if (!c)
      continue;
    if (c->cancelled)
      call_destroy(c);
    else
      call_finish(c, code);
  }
}

static void unpause(lln_upstream_call *c);

/* Carries out what callbacks asked for while curl was on the stack. */
static void flush_deferred(lln_upstream *u) {
  while (u->deferred && !u->in_curl && !u->closing) {
    u->deferred = 0;
    lln_upstream_call *next;
    for (lln_upstream_call *c = u->calls; c; c = next) {
      /* Nothing is destroyed while unpause runs (in_curl > 0 then), so next stays valid. */
      next = c->next;
      if (c->cancelled) {
        call_destroy(c);
      } else if (c->add_pending) {
        c->add_pending = 0;
        if (curl_multi_add_handle(u->multi, c->easy) == CURLM_OK) {
          c->attached = 1;
        } else {
          /* The caller already holds this call, so it must hear how it ended.
           * on_done may free other calls, so the scan starts over after it. */
          u->deferred = 1;
          call_finish(c, CURLE_FAILED_INIT);
          break;
        }
      } else if (c->resume_pending) {
        c->resume_pending = 0;
        unpause(c);
      }
    }
  }
}

static void after_curl(lln_upstream *u) {
  check_info(u);
  flush_deferred(u);
}

/* ---- curl <-> libuv glue ---- */

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
  after_curl(u);
}

static void on_timer(uv_timer_t *h) {
  lln_upstream *u = h->data;
  int running;
  u->in_curl++;
  curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  u->in_curl--;
  after_curl(u);
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
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
  lln_upstream *u = clientp;
  curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd == CURL_SOCKET_BAD || purpose != CURLSOCKTYPE_IPCXN || u->closing || !by_fd_grow(u, fd))
    return fd;
  if (u->by_fd[fd]) /* a socket closed behind our back: cannot happen, but never poll a stale one */
    sock_close(u->by_fd[fd]);
  sock_ctx *s = sock_new(u, fd);
  if (s) {
    s->kept = 1;
    u->by_fd[fd] = s;
  }
  return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the poll goes first (libuv's epoll DEL needs
 * the fd still open), then the socket. */
static int close_socket(void *clientp, curl_socket_t fd) {
  lln_upstream *u = clientp;
  sock_ctx *s = sock_kept(u, fd);
  if (s)
    sock_close(s);
  return close(fd);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  lln_upstream *u = userp;
  sock_ctx *s = socketp ? socketp : sock_kept(u, fd);
  if (what == CURL_POLL_REMOVE) {
    if (!s)
      return 0;
    if (!s->kept) {
      sock_close(s);
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

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  lln_upstream *u = userp;
  if (u->closing)
    return 0;
  if (timeout_ms < 0)
    uv_timer_stop(&u->timer);
  else /* 0 means "as soon as possible": the next loop turn, never from inside curl */
    uv_timer_start(&u->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ---- per-transfer callbacks ---- */

static size_t header_cb(char *data, size_t size, size_t n, void *ud) {
  lln_upstream_call *c = ud;
  size_t len = size * n;
  if (c->cancelled)
    return 0;
  if (len > 5 && memcmp(data, "HTTP/", 5) == 0) {
    /* A new response (after 1xx or a proxy CONNECT): what came before was not it. */
    const char *p = memchr(data, ' ', len);
    c->status = p ? strtol(p + 1, NULL, 10) : 0;
    free(c->retry_after);
    c->retry_after = NULL;
    free(c->rate_limit_reset);
    c->rate_limit_reset = NULL;
    lln_buf_reset(&c->buf);
    return len;
  }
  lln__upstream_capture_hint(data, len, "retry-after:", &c->retry_after);
  lln__upstream_capture_hint(data, len, "x-ratelimit-reset:", &c->rate_limit_reset);
  return len;
}

/* No status line by the first-byte deadline: the call ends as a timeout.
 * Timers run outside curl, so the transfer can be finished right here. */
static void on_first_byte_timeout(uv_timer_t *t) {
  lln_upstream_call *c = t->data;
  if (c->status != 0 || c->finished || c->cancelled)
    return;
  c->no_first_byte = 1;
  call_finish(c, CURLE_OPERATION_TIMEDOUT);
}

static size_t write_cb(char *data, size_t size, size_t n, void *ud) {
  lln_upstream_call *c = ud;
  size_t len = size * n;
  if (c->cancelled)
    return 0; /* anything but len aborts the transfer */
  if (!c->on_data || c->status < 200 || c->status > 299) {
    /* Errors are collected even when streaming, so the caller can read them. */
    if (len > c->max_body - c->buf.len) {
      c->too_large = 1;
      return 0;
    }
    lln_buf_append(&c->buf, data, len);
    return len;
  }
  size_t skip = c->skip < len ? c->skip : len;
  c->skip -= skip;
  if (skip == len)
    return len;
  if (len - skip > LLN_UP_MAX_STREAM - c->streamed) {
    c->too_large = 1;
    return 0;
  }
  c->streamed += len - skip;
  c->in_on_data = 1;
  c->resume_early = 0;
  int rc = c->on_data(c->ud, data + skip, len - skip);
  c->in_on_data = 0;
  if (c->cancelled)
    return 0;
  if (rc == 1 && !c->resume_early) {
    /* curl keeps these bytes and hands them over again on resume. */
    c->skip = len;
    c->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  return len;
}

/* ---- public API ---- */

int lln_upstream_init(lln_upstream **out, uv_loop_t *loop) {
  *out = NULL;
  lln_upstream *u = calloc(1, sizeof *u);
  if (!u)
    return UV_ENOMEM;
  u->loop = loop;
  uv_timer_init(loop, &u->timer);
  u->timer.data = u;
  u->open_handles = 1;
  *out = u;
  return 0;
}

/* libcurl and this loop's multi handle start with the loop's first call. */
static int curl_ready(lln_upstream *u) {
  if (u->multi)
    return 1;
  uv_once(&global_once, global_init);
  if (global_rc != CURLE_OK)
    return 0;
  u->multi = curl_multi_init();
  if (!u->multi)
    return 0;
  /* TLS sessions are per easy handle unless shared; sharing them lets a new
   * connection to a known provider resume instead of a full handshake. Only
   * this loop's thread touches the share, so it needs no lock callbacks. */
  u->share = curl_share_init();
  if (u->share)
    curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
  curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
  curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
  curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
  curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, LLN_UP_MAX_CONNECTS);
  curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  return 1;
}

static void urls_free(lln_upstream *u);

void lln_upstream_close(lln_upstream *u) {
  if (!u || u->closing)
    return;
  u->closing = 1;
  while (u->calls)
    call_destroy(u->calls);
  while (u->n_spare)
    curl_easy_cleanup(u->spare[--u->n_spare].easy);
  if (u->multi)                   /* NULL when this loop never made a call */
    curl_multi_cleanup(u->multi); /* closes cached connections, reporting them as removed */
  u->multi = NULL;
  if (u->share)
    curl_share_cleanup(u->share);
  u->share = NULL;
  urls_free(u);
  while (u->socks)
    sock_close(u->socks);
  free(u->by_fd);
  u->by_fd = NULL;
  u->by_fd_cap = 0;
  uv_close((uv_handle_t *)&u->timer, on_timer_closed);
}

static int has_header(const char *const *headers, const char *name) {
  size_t n = strlen(name);
  for (; headers && *headers; headers++)
    if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
      return 1;
  return 0;
}

#define CONTENT_TYPE_JSON "Content-Type: application/json"
/* 100-continue costs a round trip (or a 1 s wait) on every large body. */
#define NO_EXPECT "Expect:"

/* The header list curl sends: its nodes (the struct is public) and a copy of
 * every line in one allocation, where curl_slist_append would take two per
 * line. */
static int build_headers(lln_upstream_call *c, const lln_upstream_request *req, int content_type) {
  size_t n = 0, bytes = 0;
  for (const char *const *p = req->headers; p && *p; p++, n++)
    bytes += strlen(*p) + 1;
  const char *extra[2];
  size_t n_extra = 0;
  if (content_type)
    extra[n_extra++] = CONTENT_TYPE_JSON;
  extra[n_extra++] = NO_EXPECT;
  for (size_t i = 0; i < n_extra; i++)
    bytes += strlen(extra[i]) + 1;
  size_t nodes = n + n_extra;
  struct curl_slist *list = malloc(nodes * sizeof *list + bytes);
  if (!list)
    return -1;
  char *at = (char *)(list + nodes);
  for (size_t i = 0; i < nodes; i++) {
    const char *line = i < n ? req->headers[i] : extra[i - n];
    size_t len = strlen(line);
    memcpy(at, line, len + 1);
    list[i].data = at;
    list[i].next = i + 1 < nodes ? &list[i + 1] : NULL;
    at += len + 1;
  }
  c->headers = list;
  return 0;
}

/* What every call on a handle sets alike: set once when the handle is
 * created (or after curl_easy_reset), not per call. */
static CURLcode easy_constants(lln_upstream *u, CURL *e) {
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                                        \
  do {                                                                                                       \
    if (rc == CURLE_OK)                                                                                      \
      rc = curl_easy_setopt(e, opt, val);                                                                    \
  } while (0)
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_HEADERFUNCTION, header_cb);
  SET(CURLOPT_WRITEFUNCTION, write_cb);
  if (u->share)
    SET(CURLOPT_SHARE, u->share);
  SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
  SET(CURLOPT_OPENSOCKETDATA, (void *)u);
  SET(CURLOPT_CLOSESOCKETFUNCTION, close_socket);
  SET(CURLOPT_CLOSESOCKETDATA, (void *)u);
  if (proxy_env_unset) {
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOPROXY, "");
  }
#undef SET
  return rc;
}

/* The parsed `url`, with a reference taken for the call; NULL when it is
 * not cached and every entry is in use (the call then passes the string). */
static url_entry *url_take(lln_upstream *u, const char *url) {
  for (int i = 0; i < URL_CACHE; i++)
    if (u->urls[i].url && strcmp(u->urls[i].url, url) == 0) {
      u->urls[i].refs++;
      return &u->urls[i];
    }
  url_entry *e = NULL;
  for (int i = 0; i < URL_CACHE && !e; i++) {
    int k = (u->next_url + i) % URL_CACHE;
    if (u->urls[k].refs == 0) {
      e = &u->urls[k];
      u->next_url = (k + 1) % URL_CACHE;
    }
  }
  if (!e)
    return NULL;
  /* the flags curl itself parses CURLOPT_URL with */
  CURLU *h = curl_url();
  char *copy = strdup(url);
  if (!h || !copy ||
      curl_url_set(h, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    curl_url_cleanup(h);
    free(copy);
    return NULL;
  }
  curl_url_cleanup(e->h);
  free(e->url);
  e->url = copy;
  e->h = h;
  e->refs = 1;
  return e;
}

static void urls_free(lln_upstream *u) {
  for (int i = 0; i < URL_CACHE; i++) {
    curl_url_cleanup(u->urls[i].h);
    free(u->urls[i].url);
    u->urls[i].h = NULL;
    u->urls[i].url = NULL;
  }
}

static int call_setup(lln_upstream_call *c, const lln_upstream_request *req) {
  CURL *e = c->easy;
  const char *method = req->method ? req->method : "POST";
  int has_body = req->body != NULL || strcasecmp(method, "POST") == 0;
  if (has_body) {
    c->body = malloc(req->body_len + 1);
    if (!c->body)
      return -1;
    if (req->body_len)
      memcpy(c->body, req->body, req->body_len);
    c->body[req->body_len] = '\0';
  }

  if (build_headers(c, req, has_body && !has_header(req->headers, "Content-Type")) != 0)
    return -1;

  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                                        \
  do {                                                                                                       \
    if (rc == CURLE_OK)                                                                                      \
      rc = curl_easy_setopt(e, opt, val);                                                                    \
  } while (0)
  c->url = url_take(c->u, req->url);
  if (c->url) {
    SET(CURLOPT_CURLU, c->url->h);
  } else {
    SET(CURLOPT_CURLU, (CURLU *)NULL); /* a reused handle may carry one */
    SET(CURLOPT_URL, req->url);
  }
  if (strcasecmp(method, "POST") == 0) {
    SET(CURLOPT_POST, 1L);
  } else if (strcasecmp(method, "GET") == 0 && !has_body) {
    SET(CURLOPT_HTTPGET, 1L);
  } else if (strcasecmp(method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else {
    SET(CURLOPT_CUSTOMREQUEST, method);
  }
  if (has_body) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    SET(CURLOPT_POSTFIELDS, c->body);
  }
  SET(CURLOPT_HTTPHEADER, c->headers);
  /* 0 = none / curl's default: a reused handle may carry an earlier call's */
  SET(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L);
  if (req->first_byte_timeout_ms > 0) {
    c->first_byte = malloc(sizeof *c->first_byte);
    if (!c->first_byte)
      abort();
    uv_timer_init(c->u->loop, c->first_byte);
    c->first_byte->data = c;
    uv_timer_start(c->first_byte, on_first_byte_timeout, (uint64_t)req->first_byte_timeout_ms, 0);
  }
  SET(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 0L);
  SET(CURLOPT_PRIVATE, (void *)c);
  SET(CURLOPT_ERRORBUFFER, c->errbuf);
  SET(CURLOPT_HEADERDATA, (void *)c);
  SET(CURLOPT_WRITEDATA, (void *)c);
#undef SET
  return rc == CURLE_OK ? 0 : -1;
}

lln_upstream_call *lln_upstream_start(lln_upstream *u, const lln_upstream_request *req) {
  if (!u || u->closing || !req || !req->url || !curl_ready(u))
    return NULL;
  lln_upstream_call *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->u = u;
  lln_buf_init(&c->buf);
  c->on_data = req->on_data;
  c->max_body = req->max_body ? req->max_body : LLN_UP_MAX_BODY;
  c->on_done = req->on_done;
  c->ud = req->ud;
  c->post = !req->method || strcasecmp(req->method, "POST") == 0;
  if (u->n_spare) {
    /* A plain POST after a plain POST sets every option that differs (call_setup);
     * anything else starts from curl's defaults. */
    u->n_spare--;
    c->easy = u->spare[u->n_spare].easy;
    if (!(c->post && u->spare[u->n_spare].post)) {
      curl_easy_reset(c->easy);
      if (easy_constants(u, c->easy) != CURLE_OK) {
        c->post = 0;
        call_free(c);
        return NULL;
      }
    }
  } else {
    c->easy = curl_easy_init();
    if (c->easy && easy_constants(u, c->easy) != CURLE_OK) {
      c->post = 0;
      call_free(c);
      return NULL;
    }
  }
  if (!c->easy || call_setup(c, req) != 0) {
    c->post = 0; /* half set up: the next call on this handle resets it */
    call_free(c);
    return NULL;
  }
  if (u->in_curl) {
    /* curl_multi_add_handle would fail with CURLM_RECURSIVE_API_CALL here. */
    c->add_pending = 1;
    u->deferred = 1;
  } else {
    if (curl_multi_add_handle(u->multi, c->easy) != CURLM_OK) {
      call_free(c);
      return NULL;
    }
    c->attached = 1;
  }
  call_link(u, c);
  return c;
}

void lln_upstream_cancel(lln_upstream_call *c) {
  if (!c || c->finished || c->cancelled)
    return;
  lln_upstream *u = c->u;
  c->cancelled = 1;
  if (u->in_curl) {
    u->deferred = 1; /* write_cb now aborts it; flush_deferred frees it */
    return;
  }
  call_destroy(c);
}

static void unpause(lln_upstream_call *c) {
  lln_upstream *u = c->u;
  c->paused = 0;
  u->in_curl++;
  /* Delivers the held bytes right here, so on_data runs inside this call. */
  curl_easy_pause(c->easy, CURLPAUSE_CONT);
  u->in_curl--;
}

void lln_upstream_resume(lln_upstream_call *c) {
  if (!c || c->finished || c->cancelled)
    return;
  if (c->in_on_data) {
    c->resume_early = 1;
    return;
  }
  if (!c->paused || c->resume_pending)
    return;
  lln_upstream *u = c->u;
  if (u->in_curl) {
    c->resume_pending = 1;
    u->deferred = 1;
    return;
  }
  unpause(c);
  flush_deferred(u);
}
