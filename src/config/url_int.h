/* url: where a model's chat-completions endpoint is, given its base URL. */
#ifndef LLN_CONFIG_URL_INT_H
#define LLN_CONFIG_URL_INT_H

#include <stddef.h>

/* Joins a model's base `url` and `/chat/completions`: appends
 * `/v1/chat/completions` unless the path already ends in `/v1` (then only
 * `/chat/completions`). Trailing slashes are ignored. Returns a malloc'd
 * string, or NULL when the URL is not http(s)://host... */
char *lln_url_chat_completions(const char *base);
/* The same rule for `/embeddings` (POST /v1/embeddings is forwarded there). */
char *lln_url_embeddings(const char *base);

#endif
