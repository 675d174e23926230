/* xalloc: allocations that cannot fail quietly (running out of memory
 * aborts, as lln_buf does), and NULL-terminated string vectors. */
#ifndef LLN_UTIL_XALLOC_H
#define LLN_UTIL_XALLOC_H

/* A copy of `s` ("" for NULL). */
char *lln_xstrdup(const char *s);
/* Frees every string of a NULL-terminated vector, then the vector. */
void lln_strv_free(char **v);

#endif
