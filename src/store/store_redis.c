/* store_redis: the shared backend (placeholder until the Redis backend
 * lands: a redis:// store cannot be created yet). */
#include <stdio.h>

#include "store/store_int.h"

int lln__store_redis_create(lln__store_redis **out, uv_loop_t *loop, lln__redis_url *u, char *err,
                            size_t err_size) {
  (void)loop;
  *out = NULL;
  lln__redis_url_free(u);
  snprintf(err, err_size, "the Redis store is not built yet");
  return -1;
}
void lln__store_redis_close(lln__store_redis *r) { (void)r; }
lln_store_op *lln__store_redis_get(lln__store_redis *r, const char *key, long touch_ttl_ms,
                                   lln_store_get_cb cb, void *ud) {
  (void)r, (void)key, (void)touch_ttl_ms;
  cb(ud, LLN_STORE_EUNAVAIL, NULL, 0);
  return NULL;
}
lln_store_op *lln__store_redis_put(lln__store_redis *r, const lln_store_put *p, lln_store_done_cb cb,
                                   void *ud) {
  (void)r, (void)p;
  if (cb)
    cb(ud, LLN_STORE_EUNAVAIL);
  return NULL;
}
lln_store_op *lln__store_redis_take(lln__store_redis *r, const lln_store_window *w, size_t n,
                                    lln_store_take_cb cb, void *ud) {
  (void)r, (void)w, (void)n;
  cb(ud, 0);
  return NULL;
}
void lln__store_redis_cancel(lln_store_op *op) { (void)op; }
