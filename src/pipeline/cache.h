/* cache: the response cache's handle (docs/CONFIG.md "Response cache").
 * The server makes one and hands it to every run (lln_run_params.cache):
 * with server.store "memory", an in-process store of its own, bounded by
 * response-cache.max-bytes and shared by every worker; with a Redis
 * server.store, that store (entries expire by ttl, Redis's maxmemory bounds
 * them). Reference counted: a run holds its handle until it is freed, so a
 * reload may replace the handle while requests still use the old one. */
#ifndef LLN_PIPELINE_CACHE_H
#define LLN_PIPELINE_CACHE_H

#include <stddef.h>

struct lln_store; /* store/store.h */

typedef struct lln_response_cache lln_response_cache;

/* An in-process cache of at most `max_bytes`; NULL when out of memory. */
lln_response_cache *lln_response_cache_new_memory(size_t max_bytes);
/* A cache in `store` (a worker's Redis store), which must outlive it. */
lln_response_cache *lln_response_cache_new_shared(struct lln_store *store);
/* The bound of an in-process cache; 0 for one in a shared store. */
size_t lln_response_cache_max_bytes(const lln_response_cache *c);
void lln_response_cache_retain(lln_response_cache *c);
/* Frees the cache (and its own store) when the last holder lets go. */
void lln_response_cache_release(lln_response_cache *c);
/* The store entries live in. */
struct lln_store *lln_response_cache_store(const lln_response_cache *c);

#endif
