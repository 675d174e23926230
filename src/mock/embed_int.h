/* embed: the mock's POST /v1/embeddings answer: a deterministic vector per
 * input (a hash of the input spread over `dimensions` floats, default
 * LLN_MOCK_EMBED_DIMENSIONS), as floats or base64 of little-endian float32,
 * with usage counted in words (token arrays: one token per number). */
#ifndef LLN_MOCK_EMBED_H
#define LLN_MOCK_EMBED_H

#include <cjson/cJSON.h>

#include "util/arena.h"
#include "util/buf.h"

#define LLN_MOCK_EMBED_DIMENSIONS 8
/* The most floats per vector the mock makes (OpenAI's largest model has 3072). */
#define LLN_MOCK_EMBED_MAX_DIMENSIONS 4096
/* The most inputs one request may carry (OpenAI's own limit). */
#define LLN_MOCK_EMBED_MAX_INPUTS 2048

/* What the mock reads from an embeddings request. */
typedef struct lln_mock_embed {
  const char *model;      /* the request's model, "mock" when none */
  const char *first_text; /* the first input as text ("" for token arrays): rules match on it */
  const cJSON *input;     /* the request's input, borrowed from the body */
  int dimensions;
  int base64;
  double cost_per_token; /* > 0 (--cost-per-token): usage carries "cost" */
} lln_mock_embed;

/* Reads a parsed request body. Returns 0, or -1 with *why set to the
 * message of a 400 response (in `arena`). */
int lln_mock_embed_read(lln_mock_embed *out, const cJSON *body, lln_arena *arena, const char **why);

/* Appends the embeddings list answer for `e` to `out`. */
void lln_mock_embed_json(lln_buf *out, const lln_mock_embed *e);

#endif
