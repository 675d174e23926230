/* arena: bump allocation from chained blocks; large requests get a block of
 * their own so a big body does not waste the rest of a standard block. */
#include "util/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 8192

struct lln_arena_block {
  lln_arena_block *next;
  size_t used;
  size_t cap;
  _Alignas(16) unsigned char data[];
};

void lln_arena_init(lln_arena *a) { a->head = NULL; }

void lln_arena_free(lln_arena *a) {
  lln_arena_block *b = a->head;
  while (b) {
    lln_arena_block *next = b->next;
    free(b);
    b = next;
  }
  a->head = NULL;
}

static lln_arena_block *new_block(size_t cap) {
  lln_arena_block *b = malloc(sizeof *b + cap);
  if (!b)
    abort();
  b->next = NULL;
  b->used = 0;
  b->cap = cap;
  return b;
}

/* Uninitialised memory; lln_arena_alloc zeroes it. */
static void *arena_take(lln_arena *a, size_t size);

void *lln_arena_alloc(lln_arena *a, size_t size) {
  void *p = arena_take(a, size);
  memset(p, 0, size);
  return p;
}

static void *arena_take(lln_arena *a, size_t size) {
  size = (size + 15) & ~(size_t)15;
  lln_arena_block *b = a->head;
  if (!b || b->cap - b->used < size) {
    if (size > BLOCK_SIZE / 4) {
      lln_arena_block *big = new_block(size);
      /* Keep the current block at the head so its free space stays usable. */
      if (b) {
        big->next = b->next;
        b->next = big;
      } else {
        a->head = big;
      }
      big->used = size;
      return big->data;
    }
    b = new_block(BLOCK_SIZE);
    b->next = a->head;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += size;
  return p;
}

char *lln_arena_strndup(lln_arena *a, const char *s, size_t len) {
  char *p = arena_take(a, len + 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *lln_arena_strdup(lln_arena *a, const char *s) { return lln_arena_strndup(a, s, strlen(s)); }

char *lln_arena_printf(lln_arena *a, const char *fmt, ...) {
  va_list ap, copy;
  va_start(ap, fmt);
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0)
    n = 0;
  char *p = lln_arena_alloc(a, (size_t)n + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}
