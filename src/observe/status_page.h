/* status_page: the self-contained HTML status page llmnet serves at GET /
 * (src/observe/status.html, embedded into the binary at build time). */
#ifndef LLN_OBSERVE_STATUS_PAGE_H
#define LLN_OBSERVE_STATUS_PAGE_H

#include <stddef.h>

/* The page's bytes (UTF-8 HTML, NUL-terminated) and, in *len when len is
 * not NULL, their length without the NUL. Static storage: never freed. */
const char *lln_status_page(size_t *len);

#endif
