/* route_flow: the choice a routing node makes among several candidates
 * (docs/OPERATIONS.md "Routing decisions"), in this order:
 *   1. no user text to read: the default target ("no-input"), no router call;
 *   2. the session's pin ("pin"): session mode, any turn; turn mode, only a
 *      tool result or an assistant continuation (a turn of either kind
 *      without a pin is routed as usual);
 *   3. the decision cache ("cache"): the same routing input decided before;
 *   4. the router model (route_call.c): "router", or "ambiguous"/"default".
 * Pins and cache entries live in server.store as "pin:<node>:<sha256 of
 * the session id>" and "route:<cache key>" (in Redis under the store's
 * "llmnet:" prefix), the cache bounded per routing node by the group
 * "route:<node>"; their answers may come later (Redis), so a pending one is
 * a ticket of the run. A store that fails is routed around (as if it held
 * nothing). */
#include "pipeline/route_flow_int.h"

#include <stdio.h>
#include <string.h>

#include "observe/metrics.h"
#include "pipeline/decide_int.h"
#include "store/store.h"
#include "util/json_alloc.h"
#include "util/log.h"
#include "util/sha256.h"

#define PIN_PREFIX "pin:"
#define CACHE_PREFIX "route:"
#define CACHE_GROUP_PREFIX "route:"

const char *lln__route_setup(lln_run *r, const lln_run_params *p) {
  r->routing.store = p->store;
  r->routing.route_only = p->route_only;
  r->routing.stateless = p->stateless;
  lln_buf_init(&r->routing.reply);
  lln_buf_init(&r->routing.raw);
  r->routing.turn = lln_route_turn_kind(r->messages);
  const char *given = p->header ? p->header(p->header_ctx, LLN_SESSION_HEADER) : NULL;
  if (given) {
    if (!lln_session_id_valid(given)) {
      char why[300];
      snprintf(
          why, sizeof why,
          "the " LLN_SESSION_HEADER " header must be 1 to %d printable ASCII characters, not starting or "
          "ending with a space; send a shorter id, or leave the header out to let llmnet fingerprint the "
          "conversation",
          LLN_SESSION_ID_MAX);
      return lln_arena_strdup(r->arena, why);
    }
    r->routing.session = lln_arena_strdup(r->arena, given);
  }
  return NULL;
}

/* The fingerprint costs a digest of the conversation's opening: it is
 * taken only when something needs the session (a routing choice, a
 * route-only answer), not for every request. */
const char *lln__route_session(lln_run *r) {
  if (!r->routing.session && !r->routing.fingerprinted) {
    r->routing.fingerprinted = 1;
    char fp[LLN_HEX_DIGEST_SIZE];
    if (lln_session_fingerprint(r->messages, fp) == 0)
      r->routing.session = lln_arena_strdup(r->arena, fp);
  }
  return r->routing.session;
}

lln_route_candidate *lln__route_candidates(const lln_run *r) {
  lln_route_candidate *rc = lln_arena_take(r->arena, (r->call.n_cands ? r->call.n_cands : 1) * sizeof *rc);
  for (size_t i = 0; i < r->call.n_cands; i++)
    rc[i] = (lln_route_candidate){r->call.cands[i]->name, r->call.cands[i]->use_case};
  return rc;
}

/* The candidate a stored value names, or NULL (a name that is no longer a
 * candidate: the composition changed, or a condition ruled it out). */
static const lln_node *candidate_named(const lln_run *r, const char *value, size_t len) {
  for (size_t i = 0; i < r->call.n_cands; i++) {
    const char *name = r->call.cands[i]->name;
    if (strlen(name) == len && memcmp(name, value, len) == 0)
      return r->call.cands[i];
  }
  return NULL;
}

static int stateful(const lln_run *r) { return r->routing.store && !r->routing.stateless; }

/* The pin's key: the routing node and a digest of the session id (which
 * may hold any printable character, ':' included), or NULL when nothing is
 * pinned. */
static char *pin_key(lln_run *r) {
  if (!stateful(r) || r->routing.from->routing.sticky == LLN_STICKY_OFF || !lln__route_session(r))
    return NULL;
  unsigned char d[LLN_SHA256_DIGEST_LEN];
  char hex[LLN_SHA256_HEX_SIZE];
  lln_sha256(r->routing.session, strlen(r->routing.session), d);
  lln_sha256_hex(d, hex);
  size_t n = sizeof PIN_PREFIX + strlen(r->routing.from->name) + 1 + sizeof hex;
  char *key = lln_arena_take(r->arena, n);
  snprintf(key, n, PIN_PREFIX "%s:%s", r->routing.from->name, hex);
  return key;
}

static double elapsed_ms(const lln_run *r) { return (double)(uv_hrtime() - r->routing.started_ns) / 1e6; }

/* A router's (or the cache's) decision becomes the session's pin; a
 * router's also goes into the decision cache. Nobody waits for the writes. */
static void remember(lln_run *r, const lln_node *t, const char *decided) {
  if (!stateful(r))
    return;
  const lln_routing *rs = &r->routing.from->routing;
  if (!r->routing.pin_key)
    r->routing.pin_key = pin_key(r);
  if (r->routing.pin_key) {
    lln_store_put p = {.key = r->routing.pin_key,
                       .value = t->name,
                       .len = strlen(t->name),
                       .ttl_ms = rs->session_ttl_s * 1000L};
    lln_store_put_value(r->routing.store, &p, NULL, NULL);
  }
  if (strcmp(decided, "router") == 0 && r->routing.cache_key && rs->cache_ttl_s > 0) {
    char group[LLN_STORE_MAX_KEY];
    snprintf(group, sizeof group, CACHE_GROUP_PREFIX "%s", r->routing.from->name);
    lln_store_put p = {.key = r->routing.cache_key,
                       .value = t->name,
                       .len = strlen(t->name),
                       .ttl_ms = rs->cache_ttl_s * 1000L,
                       .group = group,
                       .max_entries = rs->cache_max_entries};
    lln_store_put_value(r->routing.store, &p, NULL, NULL);
  }
}

void lln__route_decide(lln_run *r, const lln_node *target, const char *decided, cJSON *hop) {
  const lln_node *from = r->routing.from;
  double ms = elapsed_ms(r);
  if (!hop)
    hop = lln_run_trace_hop(r, from, "router", NULL, ms);
  cJSON_AddStringToObject(hop, "decided", decided);
  cJSON_AddStringToObject(hop, "chose", target->name);
  r->routing.decision_ms += ms;
  const char *labels[] = {from->name, decided};
  lln_metric_observe(&LLN_M_DECISION_SECONDS, labels, ms / 1000.0);
  if (strcmp(decided, "pin") == 0 || strcmp(decided, "cache") == 0 || strcmp(decided, "no-input") == 0)
    lln_metric_add(&LLN_M_ROUTER_AVOIDED, labels, 1);
  if (strcmp(decided, "router") == 0 || strcmp(decided, "cache") == 0)
    remember(r, target, decided);
  lln_run_go_to(r, target, decided);
}

void lln__route_default(lln_run *r, cJSON *hop, const char *reason) {
  const lln_node *from = r->routing.from;
  const lln_node *t = lln_decide_default(r->call.cands, r->call.n_cands);
  int ambiguous = strcmp(reason, "ambiguous") == 0;
  int no_input = strcmp(reason, "no-input") == 0;
  if (!hop)
    hop = lln_run_trace_hop(r, from, "router", NULL, elapsed_ms(r));
  if (no_input) {
    LLN_DEBUG("request %s: no user text for \"%s\" to route; its default target \"%s\" answers",
              r->request_id, from->name, t->name);
    lln__route_decide(r, t, "no-input", hop);
    return;
  }
  cJSON_AddStringToObject(hop, "reason", ambiguous ? "ambiguous router reply" : reason);
  const char *labels[] = {from->name, reason};
  lln_metric_add(&LLN_M_ROUTE_FALLBACKS, labels, 1);
  LLN_WARN("request %s: routing after \"%s\" fell back to its default target \"%s\" (%s)", r->request_id,
           from->name, t->name, ambiguous ? "ambiguous router reply" : reason);
  lln__route_decide(r, t, ambiguous ? "ambiguous" : "default", hop);
}

/* ---- the pin, then the cache, then the router ---- */

static void ask_store(lln_run *r, const char *key, long touch_ms);

static void ask_cache(lln_run *r) {
  const lln_routing *rs = &r->routing.from->routing;
  if (!stateful(r) || rs->cache_ttl_s <= 0 || rs->cache_max_entries <= 0) {
    lln__route_call(r);
    return;
  }
  char hex[LLN_HEX_DIGEST_SIZE];
  lln_route_cache_key(r->routing.from->name, lln__route_candidates(r), r->call.n_cands, r->routing.input,
                      hex);
  size_t n = sizeof CACHE_PREFIX + sizeof hex;
  r->routing.cache_key = lln_arena_take(r->arena, n);
  snprintf(r->routing.cache_key, n, CACHE_PREFIX "%s", hex);
  ask_store(r, r->routing.cache_key, 0);
}

/* A missing pin routes anew (through the cache), as does a pin naming a
 * node that is no longer a candidate, or one the store could not read. */
static void after_pin_miss(lln_run *r, int status, const char *value, size_t len) {
  if (status == LLN_STORE_OK)
    LLN_DEBUG("request %s: the session's pin at \"%s\" names \"%.*s\", no longer a candidate; routing anew",
              r->request_id, r->routing.from->name, (int)(len > 200 ? 200 : len), value);
  else if (status != LLN_STORE_ENOTFOUND)
    LLN_WARN("request %s: routing node \"%s\": the session's pin could not be read (store error %d); "
             "routing as if unpinned; check server.store",
             r->request_id, r->routing.from->name, status);
  ask_cache(r);
}

static void after_cache_miss(lln_run *r, int status) {
  if (status != LLN_STORE_OK && status != LLN_STORE_ENOTFOUND)
    LLN_WARN("request %s: routing node \"%s\": the decision cache could not be read (store error %d); "
             "asking the router; check server.store",
             r->request_id, r->routing.from->name, status);
  lln__route_call(r);
}

/* The store's answer to the pin read or, once cache_key is set, to the
 * cache read. */
static void on_stored(void *ud, int status, const char *value, size_t len) {
  lln_run *r = ud;
  LLN_JSON_SCOPE(r->arena);
  r->tickets.store_op = NULL;
  if (r->finished)
    return;
  int cache = r->routing.cache_key != NULL;
  const lln_node *t = status == LLN_STORE_OK ? candidate_named(r, value, len) : NULL;
  if (t)
    lln__route_decide(r, t, cache ? "cache" : "pin", NULL);
  else if (cache)
    after_cache_miss(r, status);
  else
    after_pin_miss(r, status, value, len);
}

/* Reads `key`; the answer comes now (the callback already ran: NULL) or
 * later, a ticket of the run until then. */
static void ask_store(lln_run *r, const char *key, long touch_ms) {
  lln_store_op *op = lln_store_get(r->routing.store, key, touch_ms, on_stored, r);
  if (op)
    r->tickets.store_op = op;
}

/* Whether this turn may follow a pin: session mode, any turn; turn mode,
 * only a turn that goes on with the last one (a tool result, an assistant
 * continuation). */
static int pin_applies(const lln_run *r) {
  lln_sticky sticky = r->routing.from->routing.sticky;
  if (sticky == LLN_STICKY_SESSION)
    return 1;
  return sticky == LLN_STICKY_TURN &&
         (r->routing.turn == LLN_TURN_TOOL || r->routing.turn == LLN_TURN_ASSISTANT);
}

void lln__route_choose(lln_run *r, const lln_node *from) {
  r->routing.from = from;
  r->routing.started_ns = uv_hrtime();
  r->routing.pin_key = NULL;
  r->routing.cache_key = NULL;
  lln__route_session(r); /* pins read it; every call from here on forwards it */
  const lln_routing *rs = &from->routing;
  lln_buf in;
  lln_buf_init(&in);
  int has_text;
  if (r->output)
    has_text = lln_route_input_text(r->output, rs->max_input_chars, &in);
  else
    has_text = lln_route_input(r->messages, rs->sticky == LLN_STICKY_TURN, rs->max_input_chars, &in);
  r->routing.input = lln_arena_strdup(r->arena, in.data ? in.data : "");
  lln_buf_free(&in);
  if (!has_text) {
    lln__route_default(r, NULL, "no-input");
    return;
  }
  if (pin_applies(r))
    r->routing.pin_key = pin_key(r);
  if (!r->routing.pin_key) {
    ask_cache(r);
    return;
  }
  ask_store(r, r->routing.pin_key, rs->session_ttl_s * 1000L);
}
