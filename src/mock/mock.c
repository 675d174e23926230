/* mock: the `llmnet mock` command: its options, its HTTP endpoints, and the
 * timing of answers (latency, rule delays, paced stream chunks) on one libuv
 * loop. What a reply says is decided by rules.c, route.c and reply.c; this
 * file decides when and how the bytes go out. */
#include "mock/mock.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "mock/chat_int.h"
#include "mock/embed_int.h"
#include "mock/record_int.h"
#include "mock/reply_int.h"
#include "mock/route_int.h"
#include "mock/rules_int.h"
#include "server/http.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/openai_error.h"

#define DEFAULT_PORT 8090
#define ECHO_MAX_BYTES 300
#define MAX_MS (24UL * 3600 * 1000)
#define MAX_USD_PER_TOKEN 1.0

static const char MODELS_JSON[] = "{\"object\":\"list\",\"data\":[{\"id\":\"mock\",\"object\":\"model\","
                                  "\"created\":0,\"owned_by\":\"llmnet-mock\"}]}";

/* What happened to the chat answers, served on GET /mock/stats so a test
 * can tell a stream the gateway cancelled from one it read to the end. */
typedef struct mock_stats {
  unsigned long requests; /* chat requests received */
  unsigned long answered; /* answers that ended normally (errors included) */
  unsigned long aborted;  /* answers whose client went away before their end */
  unsigned long resets;   /* connections dropped by a "reset" rule */
  unsigned long pending;  /* answers not ended yet */
  unsigned long streams_started, streams_completed, streams_aborted, streams_cut;
  unsigned long statuses[600]; /* chat answers by the status they started with */
} mock_stats;

/* The whole state of the mock process, owned by lln_mock_main's frame. */
typedef struct mock {
  uv_loop_t loop;
  lln_http_server *srv;
  uv_signal_t sigint, sigterm;
  int stopping;
  lln_mock_rules rules;
  lln_mock_record record;
  lln_mock_record sink; /* what hooks and sinks sent to /mock/sink */
  unsigned long latency_ms;
  unsigned long chunk_interval_ms;
  unsigned chunk_words;
  double cost_per_token;     /* --cost-per-token: usage.cost; 0 = none */
  unsigned long completions; /* ids: mockcmpl-N */
  unsigned long tool_calls;  /* ids: call_mock_N */
  mock_stats stats;
} mock;

typedef struct options {
  const char *bind_addr;
  long port;
  const char *rules_path;
  unsigned long latency_ms;
  unsigned long chunk_interval_ms;
  unsigned chunk_words;
  double cost_per_token;
} options;

/* One answer on its way out: what to send and how far a stream got. It
 * outlives the request when a timer is involved, because a libuv handle is
 * only free after its close callback. */
typedef struct answer {
  mock *m;
  lln_http_request *req; /* NULL once answered or aborted */
  lln_mock_completion c;
  int status;
  const char **headers;     /* NULL-terminated "Name: value" lines */
  const char *raw;          /* body sent verbatim */
  const char *content_type; /* of the raw body */
  const char *error;        /* message of an OpenAI error body */
  const char *text;         /* content or tool arguments, cut into stream pieces */
  size_t text_len, pos;
  int stream;
  int include_usage;
  long cut_after; /* -1 = never */
  long pieces;
  int is_chat;      /* counted in the stats */
  int in_stream;    /* the stream head went out and its end did not */
  int reset;        /* a reset rule: the connection is dropped */
  long reset_after; /* body bytes sent before the drop; -1 = none */
  size_t sent;      /* body bytes sent so far */
  int has_timer;
  uv_timer_t timer;
} answer;

/* ---- answering ---- */

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

/* The request is answered or gone: nothing may touch it again. */
static void answer_release(answer *a) {
  if (a->is_chat)
    a->m->stats.pending--;
  a->req = NULL;
  if (a->has_timer) {
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, on_timer_closed);
  } else {
    free(a);
  }
}

static void on_abort(lln_http_request *req) {
  answer *a = req->user;
  if (a->is_chat) {
    a->m->stats.aborted++;
    if (a->in_stream)
      a->m->stats.streams_aborted++;
  }
  answer_release(a);
}

/* The server tells us when the client goes away, so nothing is sent on a
 * freed request and the stats can count it. */
static void watch_client(answer *a) {
  a->req->user = a;
  a->req->on_abort = on_abort;
}

/* Answers that wait need a timer, and then the server must tell us when
 * the client goes away so the timer does not fire on a freed request. */
static void use_timer(answer *a) {
  if (a->has_timer)
    return;
  uv_timer_init(&a->m->loop, &a->timer);
  a->timer.data = a;
  a->has_timer = 1;
  watch_client(a);
}

/* A reset rule: the connection ends here, whatever was sent so far. */
static void drop(answer *a) {
  if (a->is_chat)
    a->m->stats.resets++;
  lln_http_abort(a->req);
  answer_release(a);
}

/* Writes and empties `b`; returns 0 when the request is gone: the client
 * went away meanwhile, or a reset rule dropped the connection after its
 * byte count (then `a` is released too). */
static int send_buf(answer *a, lln_buf *b) {
  if (a->reset_after >= 0 && a->sent + b->len >= (size_t)a->reset_after) {
    lln_http_stream_write(a->req, b->data, (size_t)a->reset_after - a->sent);
    lln_buf_reset(b);
    drop(a);
    return 0;
  }
  a->sent += b->len;
  lln_http_stream_write(a->req, b->data, b->len);
  lln_buf_reset(b);
  return a->req != NULL;
}

/* A whole (non-streamed) body, or its first reset_after bytes in a chunked
 * body that never ends. */
static void send_whole(answer *a, const char *content_type, const char *body, size_t len) {
  if (a->is_chat)
    a->m->stats.statuses[a->status]++;
  if (a->reset_after >= 0) {
    lln_http_stream_begin(a->req, a->status, content_type, a->headers);
    size_t n = len < (size_t)a->reset_after ? len : (size_t)a->reset_after;
    lln_http_stream_write(a->req, body, n);
    drop(a);
    return;
  }
  lln_http_respond(a->req, a->status, content_type, a->headers, body, len);
  if (a->is_chat)
    a->m->stats.answered++;
  answer_release(a);
}

static void stream_finish(answer *a) {
  lln_buf b;
  lln_buf_init(&b);
  lln_mock_chunk_finish(&b, &a->c);
  if (a->include_usage)
    lln_mock_chunk_usage(&b, &a->c);
  lln_buf_puts(&b, "data: [DONE]\n\n");
  int alive = send_buf(a, &b);
  lln_buf_free(&b);
  if (!alive)
    return;
  if (a->reset_after >= 0) {
    drop(a); /* the reset comes after more bytes than the stream has */
    return;
  }
  lln_http_stream_end(a->req);
  if (a->is_chat) {
    a->m->stats.answered++;
    a->m->stats.streams_completed++;
  }
  answer_release(a);
}

static void stream_more(answer *a);
static void on_tick(uv_timer_t *t) { stream_more(t->data); }

static void stream_more(answer *a) {
  lln_buf b;
  lln_buf_init(&b);
  for (;;) {
    if (a->cut_after >= 0 && a->pieces >= a->cut_after) {
      /* the connection ends mid-body: no finish chunk, no [DONE] */
      lln_buf_free(&b);
      if (a->is_chat)
        a->m->stats.streams_cut++;
      lln_http_abort(a->req);
      answer_release(a);
      return;
    }
    if (a->pos >= a->text_len)
      break;
    size_t end;
    if (a->c.tool_name) {
      end = lln_mock_next_arg_piece(a->text, a->text_len, a->pos);
      lln_mock_chunk_tool_args(&b, &a->c, a->text + a->pos, end - a->pos);
    } else {
      end = lln_mock_next_piece(a->text, a->text_len, a->pos, a->m->chunk_words);
      lln_mock_chunk_content(&b, &a->c, a->text + a->pos, end - a->pos);
    }
    a->pos = end;
    a->pieces++;
    if (!send_buf(a, &b)) {
      lln_buf_free(&b);
      return;
    }
    if (a->m->chunk_interval_ms && a->pos < a->text_len) {
      use_timer(a);
      uv_timer_start(&a->timer, on_tick, a->m->chunk_interval_ms, 0);
      lln_buf_free(&b);
      return;
    }
  }
  lln_buf_free(&b);
  stream_finish(a);
}

static void answer_start(answer *a) {
  lln_http_request *req = a->req;
  if (a->reset && a->reset_after < 0) {
    drop(a);
    return;
  }
  if (a->raw) {
    send_whole(a, a->content_type ? a->content_type : "application/json", a->raw, strlen(a->raw));
    return;
  }
  if (a->error || !a->stream) {
    lln_buf b;
    lln_buf_init(&b);
    if (a->error)
      lln_openai_error_json(&b, a->status, a->error);
    else
      lln_mock_completion_json(&b, &a->c);
    send_whole(a, "application/json", b.data, b.len);
    lln_buf_free(&b);
    return;
  }
  lln_http_stream_begin(req, a->status, "text/event-stream", a->headers);
  a->in_stream = 1;
  if (a->is_chat) {
    a->m->stats.streams_started++;
    a->m->stats.statuses[a->status]++;
  }
  watch_client(a);
  /* Real upstreams (OpenRouter) send SSE comments; clients must skip them. */
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_puts(&b, ": mock keep-alive\n\n");
  int alive = send_buf(a, &b);
  if (alive) {
    lln_mock_chunk_first(&b, &a->c);
    alive = send_buf(a, &b);
  }
  lln_buf_free(&b);
  if (alive)
    stream_more(a);
}

static void on_delay(uv_timer_t *t) { answer_start(t->data); }

static void schedule(answer *a, unsigned long delay_ms) {
  if (delay_ms == 0) {
    answer_start(a);
    return;
  }
  use_timer(a);
  uv_timer_start(&a->timer, on_delay, delay_ms, 0);
}

static answer *answer_new(mock *m, lln_http_request *req) {
  answer *a = calloc(1, sizeof *a);
  if (!a)
    abort();
  a->m = m;
  a->req = req;
  a->status = 200;
  a->cut_after = -1;
  a->reset_after = -1;
  return a;
}

/* ---- chat completions ---- */

static const char *default_reply(lln_arena *ar, const char *model, const char *last_user) {
  size_t len = strlen(last_user);
  size_t cut = lln_mock_utf8_cut(last_user, len, ECHO_MAX_BYTES);
  return lln_arena_printf(ar, "[%s] reply to: %.*s", model, (int)cut, last_user);
}

static const char *router_reply(const lln_mock_chat *chat, const lln_mock_rule *rule) {
  if (rule && rule->route)
    return rule->route;
  if (rule && rule->reply)
    return rule->reply; /* lets a test feed the gateway an unusable router answer */
  return chat->targets[lln_mock_route_by_overlap(chat->last_user, chat->targets, chat->target_count)].name;
}

static const char **build_headers(lln_arena *ar, const lln_mock_rule *rule, int stream) {
  size_t n = 2 + (rule ? rule->header_count : 0);
  const char **h = lln_arena_alloc(ar, (n + 1) * sizeof *h);
  size_t k = 0;
  if (stream)
    h[k++] = "Cache-Control: no-cache";
  if (rule && rule->retry_after)
    h[k++] = lln_arena_printf(ar, "Retry-After: %s", rule->retry_after);
  for (size_t i = 0; rule && i < rule->header_count; i++)
    h[k++] = lln_arena_printf(ar, "%s: %s", rule->headers[i].name, rule->headers[i].value);
  h[k] = NULL;
  return h;
}

/* Decides the whole answer now, so counters and ids follow arrival order
 * even when delays make answers leave in another order. Rule strings live
 * as long as the process, request strings in the request's arena. */
static void plan_chat(answer *a, const lln_mock_chat *chat, const lln_mock_rule *rule) {
  mock *m = a->m;
  lln_arena *ar = a->req->arena;
  a->status = rule && rule->status ? rule->status : 200;
  a->c.model = chat->model ? chat->model : "mock";
  a->c.created = (long long)time(NULL);
  a->c.prompt_tokens = chat->prompt_words;
  a->c.cost_per_token = m->cost_per_token;
  a->include_usage = chat->include_usage;
  a->cut_after = rule ? rule->cut_after : -1;
  a->reset = rule ? rule->reset : 0;
  a->reset_after = rule ? rule->reset_after : -1;
  if (rule && rule->raw) {
    a->raw = rule->raw;
    a->content_type = rule->content_type;
  } else if (a->status >= 400) {
    size_t no = (size_t)(rule - m->rules.items) + 1;
    a->error = rule->error ? rule->error
                           : lln_arena_printf(ar, "mock: rule %zu answered %d %s", no, a->status,
                                              lln_http_status_text(a->status));
  } else {
    a->stream = chat->stream;
    a->c.id = lln_arena_printf(ar, "mockcmpl-%lu", ++m->completions);
    if (rule && rule->tool_name) {
      a->c.tool_id = lln_arena_printf(ar, "call_mock_%lu", ++m->tool_calls);
      a->c.tool_name = rule->tool_name;
      a->c.tool_args = rule->tool_args;
      a->text = rule->tool_args;
    } else if (chat->target_count > 0) {
      a->c.content = router_reply(chat, rule);
      a->text = a->c.content;
    } else {
      a->c.content = rule && rule->reply ? rule->reply : default_reply(ar, a->c.model, chat->last_user);
      a->text = a->c.content;
    }
    a->text_len = strlen(a->text);
    a->c.completion_tokens = lln_mock_count_words(a->text);
  }
  a->headers = build_headers(ar, rule, a->stream);
}

static void handle_chat(mock *m, lln_http_request *req) {
  m->stats.requests++;
  cJSON *body = cJSON_ParseWithOpts(req->body, NULL, 1);
  lln_mock_record_add(&m->record, req, body);
  lln_mock_chat chat;
  const char *why = "the request body is not valid JSON";
  int ok = body && lln_mock_chat_read(&chat, body, req->arena, &why) == 0;
  cJSON_Delete(body);
  if (!ok) {
    m->stats.statuses[400]++;
    lln_http_respond_error(req, 400, NULL, why);
    return;
  }
  lln_mock_request_view view = {
      .model = chat.model,
      .last_user = chat.last_user,
      .is_router = chat.target_count > 0,
      .has_tools = chat.has_tools,
      .headers = req->headers,
      .header_count = req->header_count,
  };
  lln_mock_rule *rule = lln_mock_rules_match(&m->rules, &view);
  if (lln_log_enabled(LLN_LOG_DEBUG))
    LLN_DEBUG("mock: %s %s: rule %zu", req->method, req->path,
              rule ? (size_t)(rule - m->rules.items) + 1 : 0);
  answer *a = answer_new(m, req);
  a->is_chat = 1;
  m->stats.pending++;
  plan_chat(a, &chat, rule);
  schedule(a, m->latency_ms + (rule ? (unsigned long)rule->delay_ms : 0));
}

/* POST /v1/embeddings: the same rules as chat ("model", "contains" and
 * "matches" on the first input, "header"; status, error, raw, reset,
 * delay-ms, retry-after, headers), else the deterministic vectors. */
static void handle_embeddings(mock *m, lln_http_request *req) {
  m->stats.requests++;
  cJSON *body = cJSON_ParseWithOpts(req->body, NULL, 1);
  lln_mock_record_add(&m->record, req, body);
  lln_mock_embed e;
  const char *why = "the request body is not valid JSON";
  if (!body || lln_mock_embed_read(&e, body, req->arena, &why) != 0) {
    cJSON_Delete(body);
    m->stats.statuses[400]++;
    lln_http_respond_error(req, 400, NULL, why);
    return;
  }
  lln_mock_request_view view = {.model = e.model,
                                .last_user = e.first_text,
                                .headers = req->headers,
                                .header_count = req->header_count};
  lln_mock_rule *rule = lln_mock_rules_match(&m->rules, &view);
  answer *a = answer_new(m, req);
  a->is_chat = 1;
  m->stats.pending++;
  a->status = rule && rule->status ? rule->status : 200;
  a->reset = rule ? rule->reset : 0;
  a->reset_after = rule ? rule->reset_after : -1;
  a->headers = build_headers(req->arena, rule, 0);
  if (rule && rule->raw) {
    a->raw = rule->raw;
    a->content_type = rule->content_type;
  } else if (a->status >= 400) {
    a->error = rule->error ? rule->error
                           : lln_arena_printf(req->arena, "mock: rule %zu answered %d %s",
                                              (size_t)(rule - m->rules.items) + 1, a->status,
                                              lln_http_status_text(a->status));
  } else {
    lln_buf b;
    lln_buf_init(&b);
    e.cost_per_token = m->cost_per_token;
    lln_mock_embed_json(&b, &e);
    a->raw = lln_arena_strndup(req->arena, b.data, b.len);
    lln_buf_free(&b);
  }
  cJSON_Delete(body);
  schedule(a, m->latency_ms + (rule ? (unsigned long)rule->delay_ms : 0));
}

/* ---- other endpoints ---- */

static int ends_with(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

static void respond_json(lln_http_request *req, int status, const char *json) {
  lln_http_respond(req, status, "application/json", NULL, json, strlen(json));
}

static void method_not_allowed(lln_http_request *req, const char *allow) {
  const char *headers[] = {lln_arena_printf(req->arena, "Allow: %s", allow), NULL};
  const char *msg =
      lln_arena_printf(req->arena, "method %s is not allowed on %s (use %s)", req->method, req->path, allow);
  lln_http_respond_error(req, 405, headers, msg);
}

static void handle_requests_log(mock *m, lln_http_request *req) {
  if (strcmp(req->method, "DELETE") == 0) {
    lln_mock_record_clear(&m->record);
    respond_json(req, 200, "{}");
    return;
  }
  lln_buf b;
  lln_buf_init(&b);
  lln_mock_record_json(&m->record, &b);
  lln_http_respond(req, 200, "application/json", NULL, b.data, b.len);
  lln_buf_free(&b);
}

static void handle_stats(mock *m, lln_http_request *req) {
  if (strcmp(req->method, "DELETE") == 0) {
    unsigned long pending = m->stats.pending;
    memset(&m->stats, 0, sizeof m->stats);
    m->stats.pending = pending; /* still on their way out */
    respond_json(req, 200, "{}");
    return;
  }
  const mock_stats *s = &m->stats;
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_printf(&b,
                 "{\"requests\":%lu,\"answered\":%lu,\"aborted\":%lu,\"resets\":%lu,\"pending\":%lu,"
                 "\"streams\":{\"started\":%lu,\"completed\":%lu,\"aborted\":%lu,\"cut\":%lu},\"status\":{",
                 s->requests, s->answered, s->aborted, s->resets, s->pending, s->streams_started,
                 s->streams_completed, s->streams_aborted, s->streams_cut);
  const char *sep = "";
  for (int st = 100; st < 600; st++) {
    if (s->statuses[st]) {
      lln_buf_printf(&b, "%s\"%d\":%lu", sep, st, s->statuses[st]);
      sep = ",";
    }
  }
  lln_buf_puts(&b, "}}");
  lln_http_respond(req, 200, "application/json", NULL, b.data, b.len);
  lln_buf_free(&b);
}

/* /mock/sink: a place for REST hooks to send to. GET lists what came in;
 * any other method records its body (parsed when it is JSON). */
static void handle_sink(mock *m, lln_http_request *req) {
  if (strcmp(req->method, "GET") == 0) {
    lln_buf b;
    lln_buf_init(&b);
    lln_mock_record_json(&m->sink, &b);
    lln_http_respond(req, 200, "application/json", NULL, b.data, b.len);
    lln_buf_free(&b);
    return;
  }
  cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
  lln_mock_record_add(&m->sink, req, body);
  cJSON_Delete(body);
  respond_json(req, 200, "{\"ok\":true}");
}

static void on_request(void *ctx, lln_http_request *req) {
  mock *m = ctx;
  const char *path = req->path, *method = req->method;
  int get = strcmp(method, "GET") == 0;
  if (ends_with(path, "/chat/completions")) {
    if (strcmp(method, "POST") == 0)
      handle_chat(m, req);
    else
      method_not_allowed(req, "POST");
  } else if (ends_with(path, "/embeddings")) {
    if (strcmp(method, "POST") == 0)
      handle_embeddings(m, req);
    else
      method_not_allowed(req, "POST");
  } else if (ends_with(path, "/models")) {
    if (!get) {
      method_not_allowed(req, "GET");
      return;
    }
    answer *a = answer_new(m, req);
    a->raw = MODELS_JSON;
    schedule(a, m->latency_ms);
  } else if (strcmp(path, "/health") == 0) {
    if (get)
      respond_json(req, 200, "{\"status\":\"ok\"}");
    else
      method_not_allowed(req, "GET");
  } else if (strcmp(path, "/mock/requests") == 0) {
    if (get || strcmp(method, "DELETE") == 0)
      handle_requests_log(m, req);
    else
      method_not_allowed(req, "GET, DELETE");
  } else if (strcmp(path, "/mock/sink") == 0) {
    handle_sink(m, req);
  } else if (strcmp(path, "/mock/stats") == 0) {
    if (get || strcmp(method, "DELETE") == 0)
      handle_stats(m, req);
    else
      method_not_allowed(req, "GET, DELETE");
  } else {
    lln_http_respond_error(req, 404, NULL, lln_arena_printf(req->arena, "no such endpoint: %s", path));
  }
}

/* ---- process ---- */

static void stop(mock *m) {
  if (m->stopping)
    return;
  m->stopping = 1;
  /* Closing the server aborts every pending answer through on_abort, which
   * closes its timer: once the signals are closed the loop runs dry. */
  if (m->srv)
    lln_http_server_close(m->srv);
  m->srv = NULL;
  uv_close((uv_handle_t *)&m->sigint, NULL);
  uv_close((uv_handle_t *)&m->sigterm, NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  stop(s->data);
}

static void usage(FILE *out) {
  fputs("Usage: llmnet mock [options]\n"
        "An OpenAI-compatible upstream simulator for demos, integration tests and benchmarks.\n"
        "\n"
        "Options:\n"
        "  --port N             port to listen on (default 8090; 0 = any free port)\n"
        "  --bind-addr ADDR     address to listen on (default 127.0.0.1)\n"
        "  --latency MS         delay added before every API reply (default 0)\n"
        "  --rules FILE         JSON rules that script replies, errors, delays and cut streams\n"
        "  --chunk-size N       words per streamed chunk (default 1)\n"
        "  --chunk-interval MS  pause between streamed chunks (default 0)\n"
        "  --cost-per-token USD usage.cost of an answer: its prompt and completion tokens\n"
        "                       (words) times USD, as OpenRouter reports it (default: no cost)\n"
        "  --help               show this help\n"
        "\n"
        "Endpoints: POST .../chat/completions, POST .../embeddings, GET .../models, GET /health,\n"
        "GET and DELETE /mock/requests (the chat requests received so far),\n"
        "GET and DELETE /mock/stats (counts of chat answers: ended, aborted by the\n"
        "client, reset by a rule, by status; streams started, completed, aborted, cut),\n"
        "/mock/sink (any method but GET records its body; GET lists them: for REST hooks).\n",
        out);
}

static int bad_option(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_option(const char *fmt, ...) {
  fputs("llmnet mock: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry 'llmnet mock --help'.\n", stderr);
  return 2;
}

static int parse_number(const char *opt, const char *s, unsigned long min, unsigned long max,
                        unsigned long *out) {
  char *end = NULL;
  errno = 0;
  unsigned long v = s[0] >= '0' && s[0] <= '9' ? strtoul(s, &end, 10) : 0;
  if (!end || *end || errno || v < min || v > max)
    return bad_option("%s expects a whole number from %lu to %lu, got \"%s\"", opt, min, max, s);
  *out = v;
  return 0;
}

/* A price per token in US dollars: a plain non-negative decimal number. */
static int parse_usd(const char *opt, const char *s, double *out) {
  char *end = NULL;
  errno = 0;
  double v = (s[0] >= '0' && s[0] <= '9') || s[0] == '.' ? strtod(s, &end) : -1;
  if (!end || *end || errno || !(v >= 0 && v <= MAX_USD_PER_TOKEN))
    return bad_option("%s expects US dollars per token from 0 to %g (0.000001 is $1 per million tokens), "
                      "got \"%s\"",
                      opt, MAX_USD_PER_TOKEN, s);
  *out = v;
  return 0;
}

/* Returns -1 to go on running, else the exit code (0 after --help). */
static int parse_options(int argc, char **argv, options *o) {
  o->bind_addr = "127.0.0.1";
  o->port = DEFAULT_PORT;
  o->rules_path = NULL;
  o->latency_ms = 0;
  o->chunk_interval_ms = 0;
  o->chunk_words = 1;
  o->cost_per_token = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      usage(stdout);
      return 0;
    }
    static const char *const with_value[] = {
        "--port",       "--bind-addr",      "--latency",        "--rules",
        "--chunk-size", "--chunk-interval", "--cost-per-token", NULL};
    const char *name = NULL, *value = NULL;
    size_t nl = 0;
    for (size_t k = 0; with_value[k] && !name; k++) {
      nl = strlen(with_value[k]);
      if (strncmp(arg, with_value[k], nl) == 0 && (arg[nl] == '\0' || arg[nl] == '='))
        name = with_value[k];
    }
    if (!name)
      return bad_option("%s \"%s\"", arg[0] == '-' ? "unknown option" : "unexpected argument", arg);
    if (arg[nl] == '=') {
      value = arg + nl + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return bad_option("%s needs a value", name);
    }
    unsigned long v = 0;
    int rc = 0;
    if (strcmp(name, "--port") == 0) {
      rc = parse_number(name, value, 0, 65535, &v);
      o->port = (long)v;
    } else if (strcmp(name, "--bind-addr") == 0) {
      if (!*value)
        return bad_option("%s needs an address", name);
      o->bind_addr = value;
    } else if (strcmp(name, "--latency") == 0) {
      rc = parse_number(name, value, 0, MAX_MS, &o->latency_ms);
    } else if (strcmp(name, "--rules") == 0) {
      if (!*value)
        return bad_option("%s needs a file name", name);
      o->rules_path = value;
    } else if (strcmp(name, "--chunk-size") == 0) {
      rc = parse_number(name, value, 1, 1000000, &v);
      o->chunk_words = (unsigned)v;
    } else if (strcmp(name, "--chunk-interval") == 0) {
      rc = parse_number(name, value, 0, MAX_MS, &o->chunk_interval_ms);
    } else if (strcmp(name, "--cost-per-token") == 0) {
      rc = parse_usd(name, value, &o->cost_per_token);
    }
    if (rc)
      return rc;
  }
  return -1;
}

int lln_mock_main(int argc, char **argv) {
  options o;
  int rc = parse_options(argc, argv, &o);
  if (rc >= 0)
    return rc;

  mock m;
  memset(&m, 0, sizeof m);
  m.latency_ms = o.latency_ms;
  m.chunk_interval_ms = o.chunk_interval_ms;
  m.chunk_words = o.chunk_words;
  m.cost_per_token = o.cost_per_token;
  char err[512];
  if (o.rules_path) {
    if (lln_mock_rules_load(&m.rules, o.rules_path, err, sizeof err) != 0) {
      fprintf(stderr, "llmnet mock: %s\n", err);
      return 2;
    }
    LLN_INFO("mock: %zu rule%s loaded from %s", m.rules.count, m.rules.count == 1 ? "" : "s", o.rules_path);
  }

  /* A client that disconnects mid-write must cost an EPIPE, not the process. */
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&m.loop);
  lln_mock_record_init(&m.record, LLN_MOCK_RECORD_MAX);
  lln_mock_record_init(&m.sink, LLN_MOCK_RECORD_MAX);
  lln_http_limits limits;
  lln_http_limits_default(&limits);
  rc = 0;
  if (lln_http_server_start(&m.srv, &m.loop, o.bind_addr, (int)o.port, &limits, on_request, &m, err,
                            sizeof err) < 0) {
    fprintf(stderr, "llmnet mock: %s\n", err);
    m.srv = NULL;
    rc = 1;
  } else {
    uv_signal_init(&m.loop, &m.sigint);
    uv_signal_init(&m.loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    int v6 = strchr(o.bind_addr, ':') != NULL;
    printf("llmnet mock listening on http://%s%s%s:%d\n", v6 ? "[" : "", o.bind_addr, v6 ? "]" : "",
           lln_http_server_port(m.srv));
    fflush(stdout);
  }
  /* Also finishes closing a listener that failed to start. */
  uv_run(&m.loop, UV_RUN_DEFAULT);
  uv_loop_close(&m.loop);
  lln_mock_record_free(&m.record);
  lln_mock_record_free(&m.sink);
  lln_mock_rules_free(&m.rules);
  return rc;
}
