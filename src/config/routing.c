/* routing: the top-level "routing" object and a routing node's own one
 * (docs/CONFIG.md "Routing"): sticky mode, session-ttl, max-input-chars and
 * the decision cache. cfg->routing holds the top-level settings with their
 * defaults; every node holds the settings in effect for it (its own keys
 * over the top-level ones, key by key). A node's "routing" only means
 * something on a node that routes (two or more model-node targets). */
#include <stdio.h>
#include <string.h>

#include "config/keys.h"
#include "config/loader_int.h"
#include "util/buf.h"

static const char *const ROUTING_KEYS[] = {"sticky", "session-ttl", "max-input-chars", "decision-cache",
                                           NULL};
static const char *const CACHE_KEYS[] = {"ttl", "max-entries", NULL};

static const lln_routing DEFAULTS = {
    .sticky = LLN_STICKY_SESSION,
    .session_ttl_s = LLN_ROUTING_SESSION_TTL_S,
    .max_input_chars = LLN_ROUTING_MAX_INPUT_CHARS,
    .cache_ttl_s = LLN_ROUTING_CACHE_TTL_S,
    .cache_max_entries = LLN_ROUTING_CACHE_MAX_ENTRIES,
};

/* Where a routing object is and how messages name it. */
typedef struct where {
  const char *path;  /* JSON pointer of the object */
  const char *owner; /* "routing" or "node \"x\": routing" */
} where;

static void member_path(lln_buf *p, const where *w, const char *key, const char *sub) {
  lln_buf_reset(p);
  lln_buf_puts(p, w->path);
  lln_pointer_append(p, key);
  if (sub)
    lln_pointer_append(p, sub);
}

/* Unknown keys are errors: a misspelt "sticky" would silently route every
 * turn again. */
static int check_keys(lln_loader *L, const cJSON *obj, const where *w, const char *in,
                      const char *const *known) {
  int ok = 1;
  lln_buf p;
  lln_buf_init(&p);
  const cJSON *item;
  cJSON_ArrayForEach(item, obj) {
    if (lln_key_known(item->string, known))
      continue;
    ok = 0;
    member_path(&p, w, in ? in : item->string, in ? item->string : NULL);
    const char *best = lln_key_suggest(item->string, known);
    lln_buf list;
    lln_buf_init(&list);
    for (size_t i = 0; known[i]; i++)
      lln_buf_printf(&list, "%s\"%s\"", i ? ", " : "", known[i]);
    if (best)
      lln_loader_report(L, LLN_DIAG_ERROR, p.data, "%s%s%s: unknown key \"%s\"; did you mean \"%s\"?",
                        w->owner, in ? "." : "", in ? in : "", item->string, best);
    else
      lln_loader_report(L, LLN_DIAG_ERROR, p.data, "%s%s%s: unknown key \"%s\"; the keys are %s", w->owner,
                        in ? "." : "", in ? in : "", item->string, list.data);
    lln_buf_free(&list);
  }
  lln_buf_free(&p);
  return ok;
}

/* A whole number from min to max at obj[key]; 0 when absent or reported. */
static int whole_number(lln_loader *L, const cJSON *obj, const char *key, const where *w, const char *in,
                        long min, long max, const char *unit, long *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v)
    return 0;
  if (cJSON_IsNumber(v) && v->valuedouble >= (double)min && v->valuedouble <= (double)max &&
      v->valuedouble == (double)(long)v->valuedouble) {
    *out = (long)v->valuedouble;
    return 1;
  }
  lln_buf p;
  lln_buf_init(&p);
  member_path(&p, w, in ? in : key, in ? key : NULL);
  lln_loader_report(L, LLN_DIAG_ERROR, p.data, "%s%s%s: \"%s\" must be a whole number of %s from %ld to %ld",
                    w->owner, in ? "." : "", in ? in : "", key, unit, min, max);
  lln_buf_free(&p);
  return 0;
}

static void load_sticky(lln_loader *L, const cJSON *obj, const where *w, lln_routing *r) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "sticky");
  if (!v)
    return;
  if (cJSON_IsString(v) && strcmp(v->valuestring, "session") == 0) {
    r->sticky = LLN_STICKY_SESSION;
  } else if (cJSON_IsString(v) && strcmp(v->valuestring, "turn") == 0) {
    r->sticky = LLN_STICKY_TURN;
  } else if (cJSON_IsString(v) && strcmp(v->valuestring, "off") == 0) {
    r->sticky = LLN_STICKY_OFF;
  } else {
    lln_buf p;
    lln_buf_init(&p);
    member_path(&p, w, "sticky", NULL);
    lln_loader_report(L, LLN_DIAG_ERROR, p.data,
                      "%s: \"sticky\" is \"session\" (a session keeps its handler), \"turn\" (each user "
                      "turn is routed again) or \"off\" (every request is routed on its own)",
                      w->owner);
    lln_buf_free(&p);
  }
}

/* "decision-cache": false (off), true (the defaults) or {"ttl", "max-entries"}. */
static void load_cache(lln_loader *L, const cJSON *obj, const where *w, lln_routing *r) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "decision-cache");
  if (!v)
    return;
  if (cJSON_IsFalse(v)) {
    r->cache_ttl_s = 0;
    return;
  }
  if (cJSON_IsTrue(v)) {
    if (r->cache_ttl_s == 0)
      r->cache_ttl_s = LLN_ROUTING_CACHE_TTL_S;
    return;
  }
  if (!cJSON_IsObject(v)) {
    lln_buf p;
    lln_buf_init(&p);
    member_path(&p, w, "decision-cache", NULL);
    lln_loader_report(
        L, LLN_DIAG_ERROR, p.data,
        "%s: \"decision-cache\" is false (no cache), true, or {\"ttl\": %d, \"max-entries\": %d}", w->owner,
        LLN_ROUTING_CACHE_TTL_S, LLN_ROUTING_CACHE_MAX_ENTRIES);
    lln_buf_free(&p);
    return;
  }
  check_keys(L, v, w, "decision-cache", CACHE_KEYS);
  if (r->cache_ttl_s == 0) /* turned off above it: an object turns it on again */
    r->cache_ttl_s = LLN_ROUTING_CACHE_TTL_S;
  whole_number(L, v, "ttl", w, "decision-cache", 1, LLN_ROUTING_CACHE_TTL_MAX_S, "seconds", &r->cache_ttl_s);
  whole_number(L, v, "max-entries", w, "decision-cache", 1, LLN_ROUTING_CACHE_MAX_ENTRIES_MAX, "entries",
               &r->cache_max_entries);
}

/* Reads a routing object over `r` (already holding what it overrides). */
static void load_routing(lln_loader *L, const cJSON *obj, const where *w, lln_routing *r) {
  if (!obj)
    return;
  if (!cJSON_IsObject(obj)) {
    lln_loader_report(L, LLN_DIAG_ERROR, w->path,
                      "%s must be an object, e.g. {\"sticky\": \"session\", \"session-ttl\": %d, "
                      "\"max-input-chars\": %d, \"decision-cache\": {\"ttl\": %d, \"max-entries\": %d}}",
                      w->owner, LLN_ROUTING_SESSION_TTL_S, LLN_ROUTING_MAX_INPUT_CHARS,
                      LLN_ROUTING_CACHE_TTL_S, LLN_ROUTING_CACHE_MAX_ENTRIES);
    return;
  }
  check_keys(L, obj, w, NULL, ROUTING_KEYS);
  load_sticky(L, obj, w, r);
  whole_number(L, obj, "session-ttl", w, NULL, 1, LLN_ROUTING_SESSION_TTL_MAX_S, "seconds",
               &r->session_ttl_s);
  long chars;
  if (whole_number(L, obj, "max-input-chars", w, NULL, LLN_ROUTING_MAX_INPUT_CHARS_MIN,
                   LLN_ROUTING_MAX_INPUT_CHARS_MAX, "characters", &chars))
    r->max_input_chars = (size_t)chars;
  load_cache(L, obj, w, r);
}

void lln_loader_routing(lln_loader *L, const cJSON *routing) {
  L->cfg->routing = DEFAULTS;
  where w = {"/routing", "routing"};
  load_routing(L, routing, &w, &L->cfg->routing);
}

/* A node routes when it chooses among two or more model nodes. */
static int node_routes(const lln_node *n) {
  size_t models = 0;
  for (size_t i = 0; i < n->n_targets; i++)
    models += n->targets[i]->adapter == LLN_ADAPTER_OPENAI;
  return models >= 2;
}

void lln_loader_node_routing(lln_loader *L, lln_node *n, const cJSON *routing) {
  n->routing = L->cfg->routing;
  if (!routing)
    return;
  lln_buf path, owner;
  lln_buf_init(&path);
  lln_buf_init(&owner);
  lln_buf_printf(&path, "/architecture/%d/routing", n->index);
  lln_buf_printf(&owner, "node \"%s\": routing", n->name);
  where w = {path.data, owner.data};
  load_routing(L, routing, &w, &n->routing);
  if (!node_routes(n))
    lln_loader_report(
        L, LLN_DIAG_WARNING, path.data,
        "node \"%s\" does not route (it has fewer than two model-node targets in \"output-to\"), "
        "so its \"routing\" has no effect; move it to the node that routes, or to the top-level "
        "\"routing\"",
        n->name);
  lln_buf_free(&path);
  lln_buf_free(&owner);
}
