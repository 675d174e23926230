/* upstream client internals: the state client.c (transfers and the public
 * API), client_socks.c (curl's sockets on the libuv loop) and client_setup.c
 * (an easy handle's options for a call) share. */
#ifndef LLN_UPSTREAM_CLIENT_INT_H
#define LLN_UPSTREAM_CLIENT_INT_H

#include <curl/curl.h>
#include <uv.h>

#include "upstream/client.h"
#include "util/buf.h"

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

/* client.c */
void lln__up_handle_closed(lln_upstream *u); /* one of u's libuv handles finished closing */
void lln__up_after_curl(lln_upstream *u);    /* after curl returned: finished transfers, deferred work */
size_t lln__up_header_cb(char *data, size_t size, size_t n, void *ud);
size_t lln__up_write_cb(char *data, size_t size, size_t n, void *ud);

/* client_socks.c: CURLMOPT_SOCKETFUNCTION, CURLOPT_OPENSOCKETFUNCTION,
 * CURLOPT_CLOSESOCKETFUNCTION, and closing one socket's poll */
int lln__up_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp);
curl_socket_t lln__up_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a);
int lln__up_close_socket(void *clientp, curl_socket_t fd);
void lln__up_sock_close(sock_ctx *s);

/* client_setup.c */
/* The options every call on a handle shares; `no_proxy_env`: none of
 * libcurl's proxy variables is set. */
CURLcode lln__up_easy_constants(lln_upstream *u, CURL *e, int no_proxy_env);
/* The Accept-Encoding line a call sends (the encodings this libcurl
 * decodes), or NULL when it decodes none; set by the first call. */
const char *lln__up_accept_encoding(void);
/* The options of this call: 0, or -1 when curl or malloc refused. */
int lln__up_call_setup(lln_upstream_call *c, const lln_upstream_request *req);
void lln__up_urls_free(lln_upstream *u);

#endif
