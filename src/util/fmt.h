/* fmt: vsnprintf for formats that only place strings (%s, %.<n>s and %%),
 * as the response header lines use: a copy per piece, where vsnprintf
 * costs thousands of instructions per line. */
#ifndef LLN_UTIL_FMT_H
#define LLN_UTIL_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Writes what vsnprintf(out, size, fmt, ap) writes (size > 0) and returns
 * 1, when `fmt` has no directive but %s, %.<n>s and %% and no argument is
 * NULL; else returns 0, with `out` undefined and `ap` partly consumed (the
 * caller formats a copy of its va_list with vsnprintf then). */
int lln_fmt_strings(char *out, size_t size, const char *fmt, va_list ap);

#endif
