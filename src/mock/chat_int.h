/* chat: what the mock reads from a chat-completions request body: the
 * model, the last user message, the prompt's size in words, whether it is
 * an llmnet routing prompt (and its targets), stream options and tools. */
#ifndef LLN_MOCK_CHAT_H
#define LLN_MOCK_CHAT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "pipeline/router.h"
#include "util/arena.h"

typedef struct lln_mock_chat {
  const char *model;     /* the request's model, or NULL */
  const char *last_user; /* text of the last user message, "" when none */
  size_t prompt_words;   /* words in every message's text */
  int stream;
  int include_usage;            /* stream_options.include_usage */
  int has_tools;                /* a non-empty "tools" array */
  lln_route_candidate *targets; /* from the routing prompt, when there is one */
  size_t target_count;          /* 0 = not a routing prompt */
} lln_mock_chat;

/* Reads a parsed request body; strings are copied into `arena`. Returns 0,
 * or -1 with *why set to the message of a 400 response. */
int lln_mock_chat_read(lln_mock_chat *out, const cJSON *body, lln_arena *arena, const char **why);

/* The text of a message's content: a string as is, an array's
 * {"type":"text","text":...} parts joined with a space, else "". */
const char *lln_mock_content_text(const cJSON *content, lln_arena *arena);

#endif
