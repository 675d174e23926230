/* arena: a per-request memory pool, released in one call when the request
 * ends. Today only the HTTP server uses it, for an inbound request's path,
 * query and header strings; the run, its cJSON trees and buffers use malloc. */
#ifndef LLN_ARENA_H
#define LLN_ARENA_H

#include <stddef.h>

typedef struct lln_arena_block lln_arena_block;

typedef struct lln_arena {
  lln_arena_block *head;
} lln_arena;

void lln_arena_init(lln_arena *a);
void lln_arena_free(lln_arena *a);
/* Zeroed, 16-byte aligned memory that lives until lln_arena_free. */
void *lln_arena_alloc(lln_arena *a, size_t size);
char *lln_arena_strndup(lln_arena *a, const char *s, size_t len);
char *lln_arena_strdup(lln_arena *a, const char *s);
char *lln_arena_printf(lln_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
