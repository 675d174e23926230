/* cache_handle: the response cache's handle (cache.h): the store it keeps
 * entries in, owned (in process) or borrowed (Redis), and a reference
 * count shared by worker threads. */
#include <stdatomic.h>
#include <stdlib.h>

#include "pipeline/cache.h"
#include "store/store.h"

struct lln_response_cache {
  atomic_int refs;
  struct lln_store *store;
  int owned; /* the store is this cache's own (in process) */
  size_t max_bytes;
};

lln_response_cache *lln_response_cache_new_memory(size_t max_bytes) {
  lln_response_cache *c = calloc(1, sizeof *c);
  char err[200];
  if (!c || lln_store_create_bounded(&c->store, NULL, NULL, max_bytes, err, sizeof err) != 0) {
    free(c);
    return NULL;
  }
  atomic_init(&c->refs, 1);
  c->owned = 1;
  c->max_bytes = max_bytes;
  return c;
}

lln_response_cache *lln_response_cache_new_shared(struct lln_store *store) {
  lln_response_cache *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  atomic_init(&c->refs, 1);
  c->store = store;
  return c;
}

size_t lln_response_cache_max_bytes(const lln_response_cache *c) { return c && c->owned ? c->max_bytes : 0; }

void lln_response_cache_retain(lln_response_cache *c) {
  if (c)
    atomic_fetch_add(&c->refs, 1);
}

void lln_response_cache_release(lln_response_cache *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
    return;
  if (c->owned)
    lln_store_close(c->store);
  free(c);
}

struct lln_store *lln_response_cache_store(const lln_response_cache *c) {
  return c ? c->store : NULL;
}
