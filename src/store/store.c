/* store: the public API. Picks the backend from server.store's URL
 * ("memory" or redis://...), parses that URL, checks every operation's
 * arguments once for both backends, and answers the in-process backend's
 * operations synchronously. */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/percent.h"

int lln_store_create(lln_store **out, uv_loop_t *loop, const char *url, char *err, size_t err_size) {
  return lln_store_create_bounded(out, loop, url, 0, err, err_size);
}

int lln_store_create_bounded(lln_store **out, uv_loop_t *loop, const char *url, size_t memory_max_bytes,
                             char *err, size_t err_size) {
  *out = NULL;
  lln_store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  if (!url || !*url || strcmp(url, "memory") == 0) {
    s->mem = lln__store_mem_new(memory_max_bytes ? memory_max_bytes : LLN_STORE_MEM_MAX_BYTES,
                                LLN_STORE_MEM_MAX_ENTRIES);
    if (!s->mem) {
      snprintf(err, err_size, "out of memory");
      free(s);
      return -1;
    }
  } else if (strncmp(url, "redis://", 8) == 0 || strncmp(url, "rediss://", 9) == 0) {
    if (!loop) {
      snprintf(err, err_size, "a Redis store needs an event loop");
      free(s);
      return -1;
    }
    lln__redis_url u;
    if (lln__redis_url_parse(&u, url, err, err_size) != 0 ||
        lln__store_redis_create(&s->redis, loop, &u, err, err_size) != 0) {
      free(s);
      return -1;
    }
  } else {
    /* The value is not echoed: a mistyped URL may carry a password. */
    snprintf(err, err_size, "unknown store: use \"memory\" or \"redis://HOST:PORT[/DB]\"");
    free(s);
    return -1;
  }
  *out = s;
  return 0;
}

void lln_store_close(lln_store *s) {
  if (!s)
    return;
  if (s->redis)
    lln__store_redis_close(s->redis);
  lln__store_mem_free(s->mem);
  free(s);
}

int lln_store_shared(const lln_store *s) { return s && s->redis != NULL; }

lln__store_mem *lln__store_mem_of(lln_store *s) { return s ? s->mem : NULL; }

static int key_ok(const char *key) { return key && *key && strlen(key) <= LLN_STORE_MAX_KEY; }

lln_store_op *lln_store_get(lln_store *s, const char *key, long touch_ttl_ms, lln_store_get_cb cb, void *ud) {
  if (!s || !key_ok(key)) {
    cb(ud, LLN_STORE_EINVAL, NULL, 0);
    return NULL;
  }
  if (s->redis)
    return lln__store_redis_get(s->redis, key, touch_ttl_ms, cb, ud);
  char *value;
  size_t len;
  int rc = lln__store_mem_get(s->mem, key, touch_ttl_ms, &value, &len);
  cb(ud, rc, rc == LLN_STORE_OK ? value : NULL, len);
  free(value);
  return NULL;
}

lln_store_op *lln_store_put_value(lln_store *s, const lln_store_put *p, lln_store_done_cb cb, void *ud) {
  if (!s || !p || !key_ok(p->key) || (p->len && !p->value) || p->len > LLN_STORE_MAX_VALUE ||
      p->ttl_ms <= 0 || (p->group && !key_ok(p->group))) {
    if (cb)
      cb(ud, LLN_STORE_EINVAL);
    return NULL;
  }
  if (s->redis)
    return lln__store_redis_put(s->redis, p, cb, ud);
  int rc = lln__store_mem_put(s->mem, p);
  if (cb)
    cb(ud, rc);
  return NULL;
}

/* 1 when a take over `w` has something to count, its keys valid; else the
 * take is allowed at once (a caller's bug or no limit: as when the store
 * is down). */
static int take_args_ok(const lln_store *s, const lln_store_window *w, size_t n) {
  size_t active = 0;
  for (size_t i = 0; w && i < n; i++) {
    if (w[i].limit > 0 && w[i].window_ms > 0) {
      if (!key_ok(w[i].key))
        return 0;
      active++;
    }
  }
  return s && active > 0 && n <= LLN_STORE_MAX_WINDOWS;
}

lln_store_op *lln_store_take(lln_store *s, const lln_store_window *w, size_t n, int64_t now_ms,
                             lln_store_take_cb cb, void *ud) {
  if (!take_args_ok(s, w, n)) {
    cb(ud, 0);
    return NULL;
  }
  if (s->redis)
    return lln__store_redis_take(s->redis, w, n, cb, ud);
  cb(ud, lln__store_mem_take(s->mem, w, n, now_ms));
  return NULL;
}

lln_store_op *lln_store_take_counts(lln_store *s, const lln_store_window *w, size_t n, int64_t now_ms,
                                    lln_store_counts_cb cb, void *ud) {
  long counts[LLN_STORE_MAX_WINDOWS] = {0};
  if (!take_args_ok(s, w, n)) {
    for (size_t i = 0; i < n && i < LLN_STORE_MAX_WINDOWS; i++)
      counts[i] = -1;
    cb(ud, 0, counts, n < LLN_STORE_MAX_WINDOWS ? n : LLN_STORE_MAX_WINDOWS);
    return NULL;
  }
  if (s->redis)
    return lln__store_redis_take_counts(s->redis, w, n, cb, ud);
  long wait = lln__store_mem_take_counts(s->mem, w, n, now_ms, counts);
  cb(ud, wait, counts, n);
  return NULL;
}

lln_store_op *lln_store_add(lln_store *s, const lln_store_window *w, long delta, int64_t now_ms,
                            lln_store_count_cb cb, void *ud) {
  if (!s || !w || !key_ok(w->key) || w->window_ms <= 0 || delta < 0) {
    if (cb)
      cb(ud, -1);
    return NULL;
  }
  if (s->redis)
    return lln__store_redis_add(s->redis, w, delta, cb, ud);
  long count = lln__store_mem_add(s->mem, w, delta, now_ms);
  if (cb)
    cb(ud, count);
  return NULL;
}

lln_store_op *lln_store_raise(lln_store *s, const lln_store_window *w, long target, int64_t now_ms,
                              lln_store_count_cb cb, void *ud) {
  if (!s || !w || !key_ok(w->key) || w->window_ms <= 0 || target < 0) {
    if (cb)
      cb(ud, -1);
    return NULL;
  }
  if (s->redis)
    return lln__store_redis_raise(s->redis, w, target, cb, ud);
  long count = lln__store_mem_raise(s->mem, w, target, now_ms);
  if (cb)
    cb(ud, count);
  return NULL;
}

void lln_store_cancel(lln_store_op *op) {
  if (op)
    lln__store_redis_cancel(op);
}

lln_store_op *lln_store_get_recent(lln_store *s, const char *key, lln_store_get_cb cb, void *ud) {
  if (s && s->mem && key_ok(key))
    lln__store_mem_touch(s->mem, key);
  return lln_store_get(s, key, 0, cb, ud);
}

size_t lln_store_memory_bytes(lln_store *s) {
  size_t bytes = 0;
  if (s && s->mem)
    lln__store_mem_usage(s->mem, &bytes, NULL);
  return bytes;
}

/* ---- redis:// URLs ---- */

/* A copy of [s, s+n) with %XX decoded, so passwords may hold ':' '@' '/'. */
static char *dup_decoded(const char *s, size_t n) {
  char *out = malloc(n + 1);
  if (out)
    lln_percent_decode(s, n, out, NULL);
  return out;
}

static int parse_number(const char *s, size_t n, long max, long *out) {
  if (n == 0 || n > 9)
    return -1;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

void lln__redis_url_free(lln__redis_url *u) {
  free(u->host);
  free(u->user);
  free(u->password);
  memset(u, 0, sizeof *u);
}

static int url_fail(lln__redis_url *u, char *err, size_t err_size, const char *why) {
  snprintf(err, err_size, "%s", why);
  lln__redis_url_free(u);
  return -1;
}

/* [[USER]:PASSWORD@] before the host. */
static int parse_userinfo(lln__redis_url *u, const char *p, const char *at) {
  const char *colon = memchr(p, ':', (size_t)(at - p));
  if (!colon)
    return (u->password = dup_decoded(p, (size_t)(at - p))) ? 0 : -1;
  if (colon > p && !(u->user = dup_decoded(p, (size_t)(colon - p))))
    return -1;
  return (u->password = dup_decoded(colon + 1, (size_t)(at - colon - 1))) ? 0 : -1;
}

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]. Errors never quote the URL:
 * it may carry a password. */
int lln__redis_url_parse(lln__redis_url *u, const char *url, char *err, size_t err_size) {
  memset(u, 0, sizeof *u);
  if (strncmp(url, "rediss://", 9) == 0)
    return url_fail(u, err, err_size, "rediss:// (TLS) is not supported; use redis://HOST:PORT");
  const char *p = url + strlen("redis://");
  const char *end = p + strcspn(p, "/?#");
  const char *at = NULL;
  for (const char *q = p; q < end; q++) {
    if (*q == '@')
      at = q;
  }
  if (at) {
    if (parse_userinfo(u, p, at) != 0)
      return url_fail(u, err, err_size, "out of memory");
    p = at + 1;
  }
  const char *host = p, *host_end, *port = NULL;
  if (*p == '[') {
    host = p + 1;
    host_end = memchr(host, ']', (size_t)(end - host));
    if (!host_end)
      return url_fail(u, err, err_size, "bad Redis URL: unclosed '[' in the host");
    p = host_end + 1;
    if (p < end && *p != ':')
      return url_fail(u, err, err_size, "bad Redis URL: unexpected text after the host");
  } else {
    host_end = memchr(p, ':', (size_t)(end - p));
    if (!host_end)
      host_end = end;
    p = host_end;
  }
  if (host_end == host)
    return url_fail(u, err, err_size, "bad Redis URL: no host (use redis://HOST:PORT)");
  if (p < end && *p == ':')
    port = p + 1;
  long v = 6379;
  if (port && (parse_number(port, (size_t)(end - port), 65535, &v) != 0 || v == 0))
    return url_fail(u, err, err_size, "bad Redis URL: the port must be a number from 1 to 65535");
  u->port = (int)v;
  v = 0;
  if (*end == '/' && end[1] && parse_number(end + 1, strlen(end + 1), 100000, &v) != 0)
    return url_fail(u, err, err_size, "bad Redis URL: the path must be a database number (/0, /1 ...)");
  if (*end == '?' || *end == '#')
    return url_fail(u, err, err_size, "bad Redis URL: query strings and fragments are not supported");
  u->db = (int)v;
  if (!(u->host = malloc((size_t)(host_end - host) + 1)))
    return url_fail(u, err, err_size, "out of memory");
  memcpy(u->host, host, (size_t)(host_end - host));
  u->host[host_end - host] = '\0';
  return 0;
}
