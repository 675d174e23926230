/* xalloc: allocations that cannot fail quietly (running out of memory
 * aborts, as lln_buf does), and NULL-terminated string vectors. */
#ifndef LLN_UTIL_XALLOC_H
#define LLN_UTIL_XALLOC_H

#include <stddef.h>

/* A copy of `s` ("" for NULL). */
char *lln_xstrdup(const char *s);
/* Frees every string of a NULL-terminated vector, then the vector. */
void lln_strv_free(char **v);
/* A child process's environment: this process's, where the `n` entries of
 * `own` ("NAME=value"; taken over, `own` itself stays the caller's) replace
 * the variables of the same names. NULL-terminated; lln_strv_free frees it. */
char **lln_strv_env_with(char **own, size_t n);

#endif
