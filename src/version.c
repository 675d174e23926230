/* version: `llmnet --version`: the version, the git revision captured at
 * build time (build_info.h, cmake/build_info.cmake), and for each library
 * the version of the headers it was compiled against and, where the library
 * can tell, the version loaded at run time (a distribution upgrade changes
 * the second without a rebuild). llhttp is compiled into the binary.
 * libwebsockets' header clashes with llhttp's (both declare the HTTP status
 * enumerators), so its versions come from version_lws.c. */
#include "version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <llhttp.h>
#include <uv.h>

#include "build_info.h"

void lln_version_print(FILE *out) {
  const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
  fprintf(out, "llmnet %s\n", LLN_VERSION);
  fprintf(out, "revision: %s\n", LLN_GIT_REVISION);
  fprintf(out, "libuv: built with %d.%d.%d, running %s\n", UV_VERSION_MAJOR, UV_VERSION_MINOR,
          UV_VERSION_PATCH, uv_version_string());
  fprintf(out, "libcurl: built with %s, running %s (%s)\n", LIBCURL_VERSION, curl->version,
          curl->ssl_version ? curl->ssl_version : "no TLS");
  fprintf(out, "cJSON: built with %d.%d.%d, running %s\n", CJSON_VERSION_MAJOR, CJSON_VERSION_MINOR,
          CJSON_VERSION_PATCH, cJSON_Version());
  fprintf(out, "llhttp: %d.%d.%d (compiled in)\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR,
          LLHTTP_VERSION_PATCH);
  fprintf(out, "hiredis: built with %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
  const char *lws_built, *lws_running;
  lln_version_lws(&lws_built, &lws_running);
  fprintf(out, "libwebsockets: built with %s, running %s\n", lws_built, lws_running);
}
