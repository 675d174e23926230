/* json_alloc: the cJSON allocator hooks and the thread's current arena
 * (see json_alloc.h for the tagging scheme and the rules). */
#include "util/json_alloc.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

/* An arena allocation starts this far past a 16-byte boundary. */
#define ARENA_TAG_OFFSET 8

static _Thread_local lln_arena *current;
static int installed;

static void *json_malloc(size_t size) {
  if (current) {
    unsigned char *p = lln_arena_take(current, size + ARENA_TAG_OFFSET);
    return p + ARENA_TAG_OFFSET;
  }
  /* aligned_alloc: 16 even where malloc only promises 8 (sanitizers) */
  return aligned_alloc(16, (size + 15) & ~(size_t)15);
}

static void json_free(void *p) {
  if (((uintptr_t)p & 15) == ARENA_TAG_OFFSET)
    return; /* freed with its arena */
  free(p);
}

void lln_json_hooks_init(void) {
  if (installed)
    return;
  installed = 1;
  cJSON_Hooks hooks = {.malloc_fn = json_malloc, .free_fn = json_free};
  cJSON_InitHooks(&hooks);
}

lln_arena *lln_json_scope_enter(lln_arena *a) {
  assert((installed || !a) && "lln_json_hooks_init was not called");
  lln_arena *previous = current;
  current = a;
  return previous;
}

void lln_json_scope_leave(lln_arena *previous) { current = previous; }

void lln__json_scope_restore(lln_arena **previous) { current = *previous; }

lln_arena *lln_json_scope_current(void) { return current; }

int lln_json_in_arena(const void *p) { return ((uintptr_t)p & 15) == ARENA_TAG_OFFSET; }

int lln_json_tree_in_arena(const void *tree) {
  const cJSON *node = tree;
  if (!node)
    return 1;
  if (!lln_json_in_arena(node))
    return 0;
  if (node->string && !(node->type & cJSON_StringIsConst) && !lln_json_in_arena(node->string))
    return 0;
  if (node->type & cJSON_IsReference)
    return 1;
  if (node->valuestring && !lln_json_in_arena(node->valuestring))
    return 0;
  for (const cJSON *c = node->child; c; c = c->next) {
    if (!lln_json_tree_in_arena(c))
      return 0;
  }
  return 1;
}
