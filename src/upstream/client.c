/* upstream client: owns one curl multi handle per libuv loop and every
 * outbound transfer on it. Sockets curl asks about get a uv_poll_t
 * (client_socks.c), curl's timeout drives one uv_timer_t, each call's
 * options are set by client_setup.c, and finished transfers are reported through
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

#include "upstream/client_int.h"
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

static uv_once_t global_once = UV_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;
/* None of the proxy variables libcurl reads was set when the first call
 * started: then every handle says so (CURLOPT_PROXY "") and curl skips its
 * getenv calls per transfer. If any is set, curl's behaviour is untouched. */
static int proxy_env_unset;
/* "Accept-Encoding: ..." with what CURLOPT_ACCEPT_ENCODING "" offers, sent as
 * one of the call's own header lines: curl then skips building its own
 * (an aprintf, copied again into the request head, ~5k instructions a call)
 * and still decodes, since the option stays set. Empty without zlib. */
static char accept_encoding[64];

static void offer_encodings(void) {
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  if (!v || !(v->features & CURL_VERSION_LIBZ))
    return;
  snprintf(accept_encoding, sizeof accept_encoding, "Accept-Encoding: deflate, gzip%s%s",
           v->features & CURL_VERSION_BROTLI ? ", br" : "", v->features & CURL_VERSION_ZSTD ? ", zstd" : "");
}

const char *lln__up_accept_encoding(void) { return accept_encoding[0] ? accept_encoding : NULL; }

static void global_init(void) {
  /* OpenSSL's init behind this costs ~2.3 MiB: it runs on the first call,
   * so an idle gateway never pays it. */
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                     "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
  offer_encodings();
  proxy_env_unset = 1;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i]))
      proxy_env_unset = 0;
}

/* ---- handle bookkeeping ---- */

void lln__up_handle_closed(lln_upstream *u) {
  if (--u->open_handles == 0 && u->closing)
    free(u);
}

static void on_timer_closed(uv_handle_t *h) { lln__up_handle_closed(h->data); }

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

void lln__up_after_curl(lln_upstream *u) {
  check_info(u);
  flush_deferred(u);
}

/* ---- curl <-> libuv glue ---- */
static void on_timer(uv_timer_t *h) {
  lln_upstream *u = h->data;
  int running;
  u->in_curl++;
  curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  u->in_curl--;
  lln__up_after_curl(u);
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

size_t lln__up_header_cb(char *data, size_t size, size_t n, void *ud) {
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

size_t lln__up_write_cb(char *data, size_t size, size_t n, void *ud) {
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
  curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, lln__up_socket_cb);
  curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
  curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
  curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
  curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, LLN_UP_MAX_CONNECTS);
  curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  return 1;
}

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
  lln__up_urls_free(u);
  while (u->socks)
    lln__up_sock_close(u->socks);
  free(u->by_fd);
  u->by_fd = NULL;
  u->by_fd_cap = 0;
  uv_close((uv_handle_t *)&u->timer, on_timer_closed);
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
    /* A plain POST after a plain POST sets every option that differs (lln__up_call_setup);
     * anything else starts from curl's defaults. */
    u->n_spare--;
    c->easy = u->spare[u->n_spare].easy;
    if (!(c->post && u->spare[u->n_spare].post)) {
      curl_easy_reset(c->easy);
      if (lln__up_easy_constants(u, c->easy, proxy_env_unset) != CURLE_OK) {
        c->post = 0;
        call_free(c);
        return NULL;
      }
    }
  } else {
    c->easy = curl_easy_init();
    if (c->easy && lln__up_easy_constants(u, c->easy, proxy_env_unset) != CURLE_OK) {
      c->post = 0;
      call_free(c);
      return NULL;
    }
  }
  if (!c->easy || lln__up_call_setup(c, req) != 0) {
    c->post = 0; /* half set up: the next call on this handle resets it */
    call_free(c);
    return NULL;
  }
  if (req->first_byte_timeout_ms > 0) {
    c->first_byte = malloc(sizeof *c->first_byte);
    if (!c->first_byte)
      abort();
    uv_timer_init(u->loop, c->first_byte);
    c->first_byte->data = c;
    uv_timer_start(c->first_byte, on_first_byte_timeout, (uint64_t)req->first_byte_timeout_ms, 0);
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
