/* arena: bump allocation from chained blocks. Large requests get a block of
 * their own so a big body does not waste the rest of a standard block, and
 * blocks of LLN_ARENA_BIG_BLOCK or more are mapped directly: malloc's
 * sliding mmap threshold would otherwise keep them in the heap after the
 * first one is freed, and the process would stay that large. A few freed
 * standard blocks are kept per thread for the next arenas. */
#include "util/arena.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct lln_arena_block {
  lln_arena_block *next;
  size_t cap;
  size_t mapped; /* bytes mapped for this block, 0 when it came from malloc */
  _Alignas(16) unsigned char data[];
};

void lln_arena_init(lln_arena *a) {
  a->head = NULL;
  a->cur = a->end = NULL;
}

/* Standard blocks a thread keeps for its next arenas, so a request's
 * arenas cost no malloc or free: at most ARENA_SPARE blocks
 * (LLN_ARENA_BLOCK each) per thread, freed when the thread ends. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_SPARE 0 /* ASan sees each block freed, and a use after the free */
#else
#define ARENA_SPARE 4
#endif
static _Thread_local lln_arena_block *spare;
static _Thread_local int n_spare, spare_key_set;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void free_spares(void *unused) {
  (void)unused;
  while (spare) {
    lln_arena_block *next = spare->next;
    free(spare);
    spare = next;
  }
  n_spare = 0;
}

static void make_spare_key(void) { pthread_key_create(&spare_key, free_spares); }

static void block_release(lln_arena_block *b) {
  if (b->mapped) {
    munmap(b, b->mapped);
    return;
  }
  if (b->cap == LLN_ARENA_BLOCK && n_spare < ARENA_SPARE) {
    if (!spare_key_set) { /* the thread's exit frees its spares */
      pthread_once(&spare_once, make_spare_key);
      spare_key_set = pthread_setspecific(spare_key, &spare_key_set) == 0;
      if (!spare_key_set) {
        free(b);
        return;
      }
    }
    b->next = spare;
    spare = b;
    n_spare++;
    return;
  }
  free(b);
}

void lln_arena_free(lln_arena *a) {
  lln_arena_block *b = a->head;
  while (b) {
    lln_arena_block *next = b->next;
    block_release(b);
    b = next;
  }
  lln_arena_init(a);
}

void lln_arena_reset(lln_arena *a) {
  lln_arena_block *keep = NULL;
  lln_arena_block *b = a->head;
  while (b) {
    lln_arena_block *next = b->next;
    if (!keep && !b->mapped && b->cap == LLN_ARENA_BLOCK) {
      keep = b;
    } else {
      block_release(b);
    }
    b = next;
  }
  lln_arena_init(a);
  if (keep) {
    keep->next = NULL;
    a->head = keep;
    a->cur = keep->data;
    a->end = keep->data + keep->cap;
  }
}

lln_arena *lln_arena_create(void) {
  lln_arena *a = malloc(sizeof *a);
  if (!a)
    abort();
  lln_arena_init(a);
  return a;
}

void lln_arena_destroy(lln_arena *a) {
  if (!a)
    return;
  lln_arena_free(a);
  free(a);
}

static lln_arena_block *new_block(size_t cap) {
  if (cap == LLN_ARENA_BLOCK && spare) {
    lln_arena_block *b = spare;
    spare = b->next;
    n_spare--;
    b->next = NULL;
    return b;
  }
  size_t total = sizeof(lln_arena_block) + cap;
  lln_arena_block *b;
  size_t mapped = 0;
  if (total >= LLN_ARENA_BIG_BLOCK) {
    size_t page = 4096;
    mapped = (total + page - 1) & ~(page - 1);
    void *m = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
      abort();
    b = m;
  } else {
    b = malloc(total);
    if (!b)
      abort();
  }
  b->next = NULL;
  b->cap = cap;
  b->mapped = mapped;
  return b;
}

void *lln__arena_take_slow(lln_arena *a, size_t size) {
  if (size > SIZE_MAX - 64)
    abort();
  size = (size + 15) & ~(size_t)15;
  if (size <= (size_t)(a->end - a->cur)) { /* lln_arena_take checks this first */
    void *p = a->cur;
    a->cur += size;
    return p;
  }
  if (size > LLN_ARENA_OWN_BLOCK) {
    lln_arena_block *big = new_block(size);
    /* Keep the current block at the head so its free space stays usable. */
    if (a->head) {
      big->next = a->head->next;
      a->head->next = big;
    } else {
      a->head = big; /* full: cur and end stay empty */
    }
    return big->data;
  }
  lln_arena_block *b = new_block(LLN_ARENA_BLOCK);
  b->next = a->head;
  a->head = b;
  a->cur = b->data + size;
  a->end = b->data + b->cap;
  return b->data;
}

void *lln_arena_alloc(lln_arena *a, size_t size) {
  void *p = lln_arena_take(a, size);
  memset(p, 0, size);
  return p;
}

size_t lln_arena_held(const lln_arena *a) {
  size_t n = 0;
  for (const lln_arena_block *b = a->head; b; b = b->next)
    n += b->mapped ? b->mapped : sizeof *b + b->cap;
  return n;
}

char *lln_arena_strndup(lln_arena *a, const char *s, size_t len) {
  char *p = lln_arena_take(a, len + 1);
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
