/* websocket: the websocket function runner. One call connects to a ws:// or
 * wss:// URL, sends one text message, optionally waits for one message back,
 * and closes, under a timeout. It runs on llmnet's own uv loop through
 * libwebsockets' libuv "foreign loop" support: one lws context per loop,
 * created lazily on the loop's thread and destroyed by lln_ws_loop_close.
 * Host names are resolved with uv_getaddrinfo (libuv's pool) so that lws,
 * built without async DNS, only ever connects to a numeric address. */
#include "hooks/runner_int.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hooks/expand_int.h"
#include "util/buf.h"
#include "util/log.h"

#define WS_MAX_REPLY (16u * 1024u * 1024u)

typedef struct ws_loop ws_loop;

typedef struct ws_call {
  struct lln_fn_call head;
  ws_loop *owner;
  struct ws_call *prev, *next; /* the owner's live calls */
  lln_fn_done done;
  void *ud;
  long timeout_ms;
  int wait_reply;
  /* the target, parsed from the expanded url */
  int tls;
  char *host; /* without brackets */
  char *host_header;
  char *path;
  int port;
  char port_str[8];
  char address[INET6_ADDRSTRLEN];
  /* what is sent: LWS_PRE bytes of room, then the message */
  unsigned char *msg;
  size_t msg_len;
  char **headers; /* NULL-terminated "name:" / value pairs, flattened */
  struct lws *wsi;
  uv_timer_t timer;
  uv_getaddrinfo_t gai;
  int gai_pending, timer_open;
  int sent, complete, finished, close_code;
  lln_buf reply;
} ws_call;

struct ws_loop {
  uv_loop_t *loop;
  struct lws_context *ctx;
  ws_call *calls;
  ws_loop *next;
  uv_timer_t reaper; /* after lln_ws_loop_close: ends the context */
  int reap_tries;
};

/* Each loop runs on one thread, so each thread keeps its own table: no
 * lookup is shared across threads. Only lws_create_context, which touches
 * lws's process-wide state (logging, TLS library init, the event-lib
 * plugin), is serialized. */
static _Thread_local ws_loop *loops;
static uv_mutex_t create_lock;
static uv_once_t create_once = UV_ONCE_INIT;

static void init_lock(void) { uv_mutex_init(&create_lock); }

static void lws_log(int level, const char *line) {
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  LLN_DEBUG("libwebsockets (%d): %.*s", level, (int)n, line);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

static const struct lws_protocols protocols[] = {{"llmnet-ws", ws_callback, 0, 0, 0, NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

static ws_loop *loop_entry(uv_loop_t *loop, int create) {
  for (ws_loop *l = loops; l; l = l->next)
    if (l->loop == loop)
      return l;
  if (!create)
    return NULL;
  uv_once(&create_once, init_lock);
  void *foreign[1] = {loop};
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = foreign;
  info.gid = -1;
  info.uid = -1;
  info.timeout_secs = 3600; /* each call has its own timer */
  ws_loop *l = calloc(1, sizeof *l);
  if (!l)
    abort();
  info.pcontext = &l->ctx;
  uv_mutex_lock(&create_lock);
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
  struct lws_context *ctx = lws_create_context(&info);
  uv_mutex_unlock(&create_lock);
  if (!ctx) {
    free(l);
    return NULL;
  }
  l->loop = loop;
  l->ctx = ctx;
  l->next = loops;
  loops = l;
  return l;
}

static void call_free(ws_call *c) {
  free(c->host);
  free(c->host_header);
  free(c->path);
  free(c->msg);
  for (size_t i = 0; c->headers && c->headers[i]; i++)
    free(c->headers[i]);
  free(c->headers);
  lln_buf_free(&c->reply);
  free(c);
}

/* The call is freed once nothing of libuv's still refers to it. */
static void maybe_free(ws_call *c) {
  if (c->finished && !c->gai_pending && !c->timer_open)
    call_free(c);
}

static void on_timer_closed(uv_handle_t *h) {
  ws_call *c = h->data;
  c->timer_open = 0;
  maybe_free(c);
}

/* Leaves the loop's list and lws: the wsi, if any, is closed without telling
 * us; `done` is the caller's business. */
static void detach(ws_call *c) {
  c->finished = 1;
  if (c->owner) {
    if (c->prev)
      c->prev->next = c->next;
    else
      c->owner->calls = c->next;
    if (c->next)
      c->next->prev = c->prev;
    c->owner = NULL;
  }
  if (c->wsi) {
    lws_set_opaque_user_data(c->wsi, NULL);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    c->wsi = NULL;
  }
  if (c->gai_pending)
    uv_cancel((uv_req_t *)&c->gai);
  if (c->timer_open && !uv_is_closing((uv_handle_t *)&c->timer))
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void finish(ws_call *c, int ok, const char *error) {
  if (c->finished)
    return;
  lln_fn_done done = c->done;
  void *ud = c->ud;
  detach(c);
  lln_fn_result r = {.ok = ok,
                     .output = ok && c->reply.data ? c->reply.data : "",
                     .output_len = ok ? c->reply.len : 0,
                     .error = ok ? NULL : error};
  done(ud, &r);
  maybe_free(c);
}

static void finish_closed(ws_call *c) {
  char msg[128];
  if (c->complete || (c->sent && !c->wait_reply)) {
    finish(c, 1, NULL);
    return;
  }
  const char *what = c->sent ? "a reply" : "the message was sent";
  if (c->close_code)
    snprintf(msg, sizeof msg, "closed by the server before %s (code %d)", what, c->close_code);
  else
    snprintf(msg, sizeof msg, "closed by the server before %s (no close frame)", what);
  finish(c, 0, msg);
}

static void on_timeout(uv_timer_t *t) {
  ws_call *c = t->data;
  if (c->complete) { /* the work is done; only the closing handshake was slow */
    finish(c, 1, NULL);
    return;
  }
  char msg[64];
  snprintf(msg, sizeof msg, "timed out after %g s", (double)c->timeout_ms / 1000.0);
  finish(c, 0, msg);
}

/* Starts closing from inside a callback: a normal close frame, then lws
 * closes the connection and CLIENT_CLOSED reports. */
static int close_now(struct lws *wsi) {
  lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
  return -1;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  (void)user;
  ws_call *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
  if (!c) {
    /* not ours any more (finished, cancelled): close it if it still runs */
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
    case LWS_CALLBACK_CLIENT_RECEIVE: return -1;
    default: return 0;
    }
  }
  switch (reason) {
  case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
    unsigned char **p = in, *end = *p + len;
    for (size_t i = 0; c->headers && c->headers[i]; i += 2) {
      const char *v = c->headers[i + 1];
      if (lws_add_http_header_by_name(wsi, (const unsigned char *)c->headers[i], (const unsigned char *)v,
                                      (int)strlen(v), p, end))
        return -1;
    }
    break;
  }
  case LWS_CALLBACK_CLIENT_ESTABLISHED: lws_callback_on_writable(wsi); break;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (!c->sent) {
      int n = lws_write(wsi, c->msg + LWS_PRE, c->msg_len, LWS_WRITE_TEXT);
      if (n < 0) {
        lws_set_opaque_user_data(wsi, NULL);
        c->wsi = NULL;
        finish(c, 0, "cannot send the message");
        return -1;
      }
      c->sent = 1;
      if (lws_partial_buffered(wsi)) {
        lws_callback_on_writable(wsi);
        break;
      }
    } else if (lws_partial_buffered(wsi)) {
      lws_callback_on_writable(wsi);
      break;
    }
    if (!c->wait_reply) {
      c->complete = 1;
      return close_now(wsi);
    }
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (c->complete)
      break;
    if (c->reply.len + len > WS_MAX_REPLY) {
      lws_set_opaque_user_data(wsi, NULL);
      c->wsi = NULL;
      finish(c, 0, "the reply is larger than 16 MiB");
      return -1;
    }
    lln_buf_append(&c->reply, in, len);
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
      if (!c->reply.data)
        lln_buf_append(&c->reply, "", 0);
      c->complete = 1;
      return close_now(wsi);
    }
    break;
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (len >= 2) {
      const unsigned char *b = in;
      c->close_code = (b[0] << 8) | b[1];
    } else {
      c->close_code = LWS_CLOSE_STATUS_NO_STATUS;
    }
    break;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
    char msg[300];
    snprintf(msg, sizeof msg, "cannot connect: %.*s", in ? (int)strnlen(in, 250) : 17,
             in ? (const char *)in : "connection failed");
    lws_set_opaque_user_data(wsi, NULL);
    c->wsi = NULL;
    finish(c, 0, msg);
    break;
  }
  case LWS_CALLBACK_CLIENT_CLOSED:
  case LWS_CALLBACK_WSI_DESTROY:
    lws_set_opaque_user_data(wsi, NULL);
    c->wsi = NULL;
    finish_closed(c);
    break;
  default: break;
  }
  return 0;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  ws_call *c = req->data;
  c->gai_pending = 0;
  if (c->finished) {
    uv_freeaddrinfo(res);
    maybe_free(c);
    return;
  }
  if (status != 0 || !res) {
    char msg[300];
    snprintf(msg, sizeof msg, "cannot connect: cannot resolve %s: %s", c->host, uv_strerror(status));
    uv_freeaddrinfo(res);
    finish(c, 0, msg);
    return;
  }
  const void *addr = res->ai_family == AF_INET6
                         ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                         : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
  inet_ntop(res->ai_family, addr, c->address, sizeof c->address);
  uv_freeaddrinfo(res);

  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = c->owner->ctx;
  i.address = c->address;
  i.port = c->port;
  i.path = c->path;
  i.host = c->host_header;
  i.origin = c->host_header;
  i.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
  i.local_protocol_name = protocols[0].name;
  i.opaque_user_data = c;
  struct lws *wsi = lws_client_connect_via_info(&i);
  if (c->finished) /* failed at once; the callback reported it */
    return;
  if (!wsi) {
    finish(c, 0, "cannot connect: the connection could not be started");
    return;
  }
  c->wsi = wsi;
}

/* ws[s]://host[:port][/path] with host a name, an IPv4 or a [IPv6] address. */
static int parse_url(ws_call *c, const char *url) {
  const char *p;
  if (strncmp(url, "ws://", 5) == 0) {
    p = url + 5;
    c->port = 80;
  } else if (strncmp(url, "wss://", 6) == 0) {
    p = url + 6;
    c->tls = 1;
    c->port = 443;
  } else {
    return -1;
  }
  const char *host = p, *host_end;
  if (*p == '[') {
    host = ++p;
    while (*p && *p != ']')
      p++;
    if (*p != ']')
      return -1;
    host_end = p++;
  } else {
    while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#')
      p++;
    host_end = p;
  }
  if (host_end == host)
    return -1;
  const char *authority_end = p;
  if (*p == ':') {
    char *end;
    long port = strtol(p + 1, &end, 10);
    if (end == p + 1 || port <= 0 || port > 65535)
      return -1;
    c->port = (int)port;
    p = end;
    authority_end = p;
  }
  if (*p && *p != '/' && *p != '?')
    return -1;
  c->host = strndup(host, (size_t)(host_end - host));
  /* the Host header: the authority as written */
  const char *auth = url + (c->tls ? 6 : 5);
  c->host_header = strndup(auth, (size_t)(authority_end - auth));
  lln_buf path;
  lln_buf_init(&path);
  if (*p != '/')
    lln_buf_putc(&path, '/');
  size_t plen = strcspn(p, "#");
  lln_buf_append(&path, p, plen);
  c->path = lln_buf_steal(&path);
  if (!c->host || !c->host_header || !c->path)
    abort();
  snprintf(c->port_str, sizeof c->port_str, "%d", c->port);
  return 0;
}

static void report_error(const lln_fn_request *req, const char *error) {
  lln_fn_result r = {.ok = 0, .output = "", .output_len = 0, .error = error};
  req->done(req->ud, &r);
}

static char **expand_headers(const lln_fn_request *req) {
  char *const *h = req->fn->headers;
  size_t n = 0;
  while (h && h[n])
    n++;
  char **out = calloc(2 * n + 1, sizeof *out);
  if (!out)
    abort();
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    /* the whole line is rendered, then split: the name is literal text */
    lln_buf line, name, value;
    lln_buf_init(&line);
    lln_expand_field(req->fn->t_headers ? req->fn->t_headers[i] : NULL, h[i], LLN_EXPAND_HEADER, req->lookup,
                     req->lookup_ctx, &line);
    const char *colon = strchr(line.data, ':');
    if (!colon || colon == line.data) {
      lln_buf_free(&line);
      continue;
    }
    lln_buf_init(&name);
    lln_buf_init(&value);
    lln_buf_append(&name, line.data, (size_t)(colon - line.data));
    lln_buf_putc(&name, ':');
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    lln_buf_puts(&value, v);
    lln_buf_append(&value, "", 0);
    lln_buf_free(&line);
    /* the template itself may hold a CR or LF too (a JSON "\r\n") */
    for (size_t j = 0; j < value.len; j++)
      if ((unsigned char)value.data[j] < 0x20 || value.data[j] == 0x7f)
        value.data[j] = ' ';
    out[k++] = lln_buf_steal(&name);
    out[k++] = lln_buf_steal(&value);
  }
  return out;
}

lln_fn_call *lln_ws_start(const lln_fn_request *req) {
  const lln_function *fn = req->fn;
  if (!fn->url || !*fn->url) {
    report_error(req, "the websocket function has no url");
    return NULL;
  }
  ws_call *c = calloc(1, sizeof *c);
  if (!c)
    abort();
  c->head.type = LLN_FN_WEBSOCKET;
  lln_buf_init(&c->reply);
  lln_buf url;
  lln_buf_init(&url);
  lln_expand_field(fn->t_url, fn->url, LLN_EXPAND_URL, req->lookup, req->lookup_ctx, &url);
  int bad = !url.data || parse_url(c, url.data) != 0;
  lln_buf_free(&url);
  if (bad) {
    call_free(c);
    /* the URL is left out: it may carry a key in its query */
    report_error(req, "the websocket function's url is not a valid ws:// or wss:// url");
    return NULL;
  }
  ws_loop *l = loop_entry(req->loop, 1);
  if (!l) {
    call_free(c);
    report_error(req, "cannot start the websocket client (libwebsockets context)");
    return NULL;
  }

  const char *m = fn->message ? fn->message : "";
  const char *first = m + strspn(m, " \t\r\n");
  lln_buf msg;
  lln_buf_init(&msg);
  lln_buf_append(&msg, "", 0);
  lln_expand_field(fn->t_message, m, *first == '{' || *first == '[' ? LLN_EXPAND_JSON : LLN_EXPAND_TEXT,
                   req->lookup, req->lookup_ctx, &msg);
  c->msg_len = msg.len;
  c->msg = malloc(LWS_PRE + msg.len + 1);
  if (!c->msg)
    abort();
  memcpy(c->msg + LWS_PRE, msg.data, msg.len + 1);
  lln_buf_free(&msg);
  c->headers = expand_headers(req);
  c->done = req->done;
  c->ud = req->ud;
  c->wait_reply = fn->wait_reply;
  c->timeout_ms = fn->timeout_ms > 0 ? fn->timeout_ms : LLN_FN_DEFAULT_TIMEOUT_MS;

  c->owner = l;
  c->next = l->calls;
  if (l->calls)
    l->calls->prev = c;
  l->calls = c;
  uv_timer_init(req->loop, &c->timer);
  c->timer.data = c;
  c->timer_open = 1;
  uv_timer_start(&c->timer, on_timeout, (uint64_t)c->timeout_ms, 0);

  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  c->gai.data = c;
  int rc = uv_getaddrinfo(req->loop, &c->gai, on_resolved, c->host, c->port_str, &hints);
  if (rc != 0) {
    char err[300];
    snprintf(err, sizeof err, "cannot connect: cannot resolve %s: %s", c->host, uv_strerror(rc));
    c->done = NULL;
    detach(c);
    report_error(req, err);
    return NULL; /* freed when the timer has closed */
  }
  c->gai_pending = 1;
  return &c->head;
}

void lln_ws_cancel(lln_fn_call *call) {
  ws_call *c = (ws_call *)call;
  if (c->finished)
    return;
  detach(c);
  maybe_free(c);
}

/* libwebsockets ends a context on a foreign loop in two steps: the first
 * lws_context_destroy closes its handles, which the loop then finishes
 * closing; a second one, once they are closed, frees the context (and
 * writes NULL through info.pcontext). The timer waits until no handle of
 * the loop is still closing. */
static void on_reaper_closed(uv_handle_t *h) { free(h->data); }

static void count_closing(uv_handle_t *h, void *arg) {
  if (uv_is_closing(h))
    (*(int *)arg)++;
}

static void on_reap(uv_timer_t *t) {
  ws_loop *l = t->data;
  int closing = 0;
  uv_walk(t->loop, count_closing, &closing);
  if (closing && ++l->reap_tries < 1000)
    return; /* libwebsockets' handles (or others) are still closing */
  if (l->ctx)
    lws_context_destroy(l->ctx);
  if (l->ctx && ++l->reap_tries < 1000)
    return; /* not yet: the timer repeats */
  if (l->ctx)
    LLN_WARN("websocket: the libwebsockets context did not finish closing");
  uv_close((uv_handle_t *)t, on_reaper_closed);
}

void lln_ws_loop_close(uv_loop_t *loop) {
  ws_loop **pp = &loops;
  while (*pp && (*pp)->loop != loop)
    pp = &(*pp)->next;
  ws_loop *l = *pp;
  if (!l)
    return;
  *pp = l->next;
  /* calls nobody cancelled (observers, sinks) end here */
  while (l->calls)
    finish(l->calls, 0, "cancelled: llmnet is shutting down");
  lws_context_destroy(l->ctx);
  if (!l->ctx) {
    free(l);
    return;
  }
  uv_timer_init(loop, &l->reaper);
  l->reaper.data = l;
  uv_timer_start(&l->reaper, on_reap, 0, 1);
}
