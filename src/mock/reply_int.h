/* reply: the bytes of a mock answer in OpenAI's shapes: the whole
 * chat.completion object, the chat.completion.chunk events of a stream, and
 * how a reply is cut into stream pieces. Token usage is counted in words so
 * the numbers are deterministic and easy to assert on; with
 * --cost-per-token, usage.cost is (prompt + completion words) times it. */
#ifndef LLN_MOCK_REPLY_H
#define LLN_MOCK_REPLY_H

#include <stddef.h>

#include "util/buf.h"

typedef struct lln_mock_completion {
  const char *id; /* "mockcmpl-7" */
  long long created;
  const char *model;
  const char *content;   /* the reply text; NULL for a tool call */
  const char *tool_id;   /* tool call: "call_mock_3" */
  const char *tool_name; /* set for a tool call */
  const char *tool_args; /* the arguments, a JSON text */
  size_t prompt_tokens, completion_tokens;
  double cost_per_token; /* > 0: usage carries "cost", every token at this many US dollars */
} lln_mock_completion;

/* Whitespace-separated words: the mock's token count. */
size_t lln_mock_count_words(const char *s);

/* The length of `s` (of `len` bytes) cut to at most `max` bytes without
 * splitting a UTF-8 sequence. */
size_t lln_mock_utf8_cut(const char *s, size_t len, size_t max);

/* The end of the stream piece that starts at `pos`: the blanks before the
 * next word plus `nwords` words (the blanks between them included, trailing
 * blanks of the text too), so concatenated pieces give back the text. */
size_t lln_mock_next_piece(const char *s, size_t len, size_t pos, unsigned nwords);

/* The end of the next piece of tool-call arguments starting at `pos`:
 * small enough that any arguments of two bytes or more stream as at least
 * two pieces (clients must concatenate them), never inside a UTF-8
 * sequence. */
size_t lln_mock_next_arg_piece(const char *s, size_t len, size_t pos);

/* The whole non-streaming response body. */
void lln_mock_completion_json(lln_buf *out, const lln_mock_completion *c);

/* Stream events, each "data: {...}\n\n". The first carries the role (and,
 * for a tool call, its id, name and empty arguments); then content or
 * argument pieces; then the finish chunk; then, when asked for, usage. */
void lln_mock_chunk_first(lln_buf *out, const lln_mock_completion *c);
void lln_mock_chunk_content(lln_buf *out, const lln_mock_completion *c, const char *piece, size_t len);
void lln_mock_chunk_tool_args(lln_buf *out, const lln_mock_completion *c, const char *piece, size_t len);
void lln_mock_chunk_finish(lln_buf *out, const lln_mock_completion *c);
void lln_mock_chunk_usage(lln_buf *out, const lln_mock_completion *c);

#endif
