/* fmt: the string-only subset of vsnprintf (util/fmt.h): text runs and
 * string arguments copied, cut where vsnprintf cuts (size - 1 bytes and the
 * terminator). */
#include "util/fmt.h"

#include <string.h>

int lln_fmt_strings(char *out, size_t size, const char *fmt, va_list ap) {
  size_t used = 0;
  for (const char *f = fmt; *f; f++) {
    const char *s = f;
    size_t n = 1;
    if (*f != '%') { /* a run of text */
      while (f[1] && f[1] != '%')
        f++;
      n = (size_t)(f - s) + 1;
    } else {
      f++;
      if (*f == '%') {
        s = f;
      } else {
        size_t max = (size_t)-1;
        if (*f == '.') {
          max = 0;
          for (f++; *f >= '0' && *f <= '9'; f++)
            max = max * 10 + (size_t)(*f - '0');
        }
        if (*f != 's')
          return 0;
        s = va_arg(ap, const char *);
        if (!s)
          return 0; /* vsnprintf's "(null)" */
        n = strnlen(s, max);
      }
    }
    size_t room = size - 1 - used;
    if (n > room)
      n = room;
    memcpy(out + used, s, n);
    used += n;
  }
  out[used] = '\0';
  return 1;
}
