/* version_lws: libwebsockets' versions for `llmnet --version` (version.c),
 * in a file of their own: libwebsockets.h and llhttp.h cannot be included
 * together. */
#include <libwebsockets.h>

#include "version.h"

void lln_version_lws(const char **built, const char **running) {
  *built = LWS_LIBRARY_VERSION;
  *running = lws_get_library_version();
}
