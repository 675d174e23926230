/* arena: a per-request memory pool, released in one call when the request
 * ends. The HTTP server keeps an inbound request's path, query and header
 * strings in one; each pipeline run owns one for everything it builds,
 * cJSON trees included (util/json_alloc.h). Blocks of LLN_ARENA_BIG_BLOCK
 * or more are mapped on their own and unmapped when the arena is freed, so
 * a large body's memory goes back to the system when its request ends. */
#ifndef LLN_ARENA_H
#define LLN_ARENA_H

#include <stddef.h>

/* A standard block; smaller requests share one. */
#define LLN_ARENA_BLOCK (8 * 1024)
/* Requests above this get a block of their own. */
#define LLN_ARENA_OWN_BLOCK (LLN_ARENA_BLOCK / 4)
/* Blocks of this size or more are mmap'ed and unmapped on free. */
#define LLN_ARENA_BIG_BLOCK (1024 * 1024)

typedef struct lln_arena_block lln_arena_block;

/* All zero (calloc) is an empty arena, as is lln_arena_init's. */
typedef struct lln_arena {
  lln_arena_block *head;
  unsigned char *cur, *end; /* the head block's free space */
} lln_arena;

void lln_arena_init(lln_arena *a);
/* Releases every block; the arena is empty and usable again. */
void lln_arena_free(lln_arena *a);
/* Forgets every allocation but keeps one standard block for reuse. */
void lln_arena_reset(lln_arena *a);
/* A heap-allocated arena (lln_arena_destroy frees it and its blocks). */
lln_arena *lln_arena_create(void);
void lln_arena_destroy(lln_arena *a);
/* Zeroed, 16-byte aligned memory that lives until lln_arena_free. */
void *lln_arena_alloc(lln_arena *a, size_t size);
/* The same, not zeroed: a bump of the head block's free space, inline;
 * lln__arena_take_slow chains a new block when it does not fit. */
void *lln__arena_take_slow(lln_arena *a, size_t size);
static inline void *lln_arena_take(lln_arena *a, size_t size) {
  size_t rounded = (size + 15) & ~(size_t)15;
  if (rounded >= size && rounded <= (size_t)(a->end - a->cur)) {
    void *p = a->cur;
    a->cur += rounded;
    return p;
  }
  return lln__arena_take_slow(a, size);
}
char *lln_arena_strndup(lln_arena *a, const char *s, size_t len);
char *lln_arena_strdup(lln_arena *a, const char *s);
char *lln_arena_printf(lln_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes held from the system (blocks), for tests and diagnostics. */
size_t lln_arena_held(const lln_arena *a);

#endif
