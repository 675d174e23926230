/* status_page: hands out the status page's HTML, which cmake/embed.cmake
 * turns into a C array (status_html.c in the build tree) at build time. */
#include "observe/status_page.h"

/* Defined by the generated file: the bytes of src/observe/status.html
 * followed by a NUL, and their count without the NUL. */
extern const unsigned char lln_status_html[];
extern const size_t lln_status_html_len;

const char *lln_status_page(size_t *len) {
  if (len)
    *len = lln_status_html_len;
  return (const char *)lln_status_html;
}
