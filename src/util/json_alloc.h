/* json_alloc: cJSON's allocator, routed to a request's arena while a JSON
 * scope is open on this thread, to the heap otherwise.
 *
 * cJSON has one set of allocator hooks for the process. llmnet installs
 * them once (lln_json_hooks_init, first thing in main) and keeps a
 * thread-local "current arena". Every allocation is tagged by its address:
 * heap blocks are 16-byte aligned, arena blocks sit 8 bytes past a 16-byte
 * boundary. cJSON_Delete of an arena node is therefore a no-op (its memory
 * goes with the arena) and of a heap node a free(), whatever scope is open
 * at the time. Only allocation depends on the scope.
 *
 * The rules:
 * - A pipeline run opens its scope (LLN_JSON_SCOPE) at each of its entry
 *   points: start, upstream completion and data, timers, hook and
 *   rate-limit callbacks. Everything it builds then lives in its arena.
 * - A tree that must outlive the request (configuration, metrics, cached
 *   values, a detached job's data) is built outside any scope; code that
 *   builds one may assert it (LLN_JSON_ASSERT_HEAP), and a run calling
 *   into such code suspends its scope (LLN_JSON_HEAP).
 * - An arena tree is changed only inside its scope: a heap node added to it
 *   would leak, an arena node added to a heap tree would dangle (ASan and
 *   valgrind report both). */
#ifndef LLN_JSON_ALLOC_H
#define LLN_JSON_ALLOC_H

#include <assert.h>

#include "util/arena.h"

/* Installs the hooks; call before any cJSON allocation (idempotent). */
void lln_json_hooks_init(void);
/* Makes `a` (NULL: the heap) this thread's current arena; returns the
 * previous one for lln_json_scope_leave. */
lln_arena *lln_json_scope_enter(lln_arena *a);
void lln_json_scope_leave(lln_arena *previous);
lln_arena *lln_json_scope_current(void);
/* 1 when `p` came from cJSON's allocator inside an arena scope. */
int lln_json_in_arena(const void *p);

/* 1 when every node and string of `tree` is in an arena (references are
 * not followed: they point at trees someone else owns). Debug builds
 * check a run's trees with it when the run is released. */
int lln_json_tree_in_arena(const void *tree);

void lln__json_scope_restore(lln_arena **previous);
#define LLN__JSON_CAT2(a, b) a##b
#define LLN__JSON_CAT(a, b) LLN__JSON_CAT2(a, b)
/* Opens a scope until the end of the enclosing block. */
#define LLN_JSON_SCOPE(arena)                                                                                \
  lln_arena *LLN__JSON_CAT(lln__json_prev_, __LINE__)                                                        \
      __attribute__((cleanup(lln__json_scope_restore), unused)) = lln_json_scope_enter(arena)
/* Suspends any scope until the end of the enclosing block: long-lived trees. */
#define LLN_JSON_HEAP() LLN_JSON_SCOPE(NULL)
/* Debug builds: the caller builds trees that outlive any request. */
#define LLN_JSON_ASSERT_HEAP()                                                                               \
  assert(lln_json_scope_current() == NULL && "a long-lived tree inside a request's JSON scope")

#endif
