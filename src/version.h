/* version: what `llmnet --version` prints: the version, the git revision it
 * was built from, and the versions of the libraries it was built with and
 * runs with. */
#ifndef LLN_VERSION_INFO_H
#define LLN_VERSION_INFO_H

#include <stdio.h>

void lln_version_print(FILE *out);

/* libwebsockets' version: the headers' and the loaded library's. */
void lln_version_lws(const char **built, const char **running);

#endif
