/* reply: serialises mock completions. Field order and values follow what
 * OpenAI sends today (system_fingerprint, refusal, logprobs) so clients that
 * check for those fields see a realistic upstream. */
#include "mock/reply_int.h"

#include <string.h>

#include "util/json_print.h"

static int is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

size_t lln_mock_count_words(const char *s) {
  size_t n = 0;
  int in_word = 0;
  for (; s && *s; s++) {
    if (is_blank(*s)) {
      in_word = 0;
    } else if (!in_word) {
      in_word = 1;
      n++;
    }
  }
  return n;
}

static int is_continuation(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

size_t lln_mock_utf8_cut(const char *s, size_t len, size_t max) {
  if (len <= max)
    return len;
  /* Back up over continuation bytes (10xxxxxx) to the lead byte of the
   * sequence that would straddle the cut. */
  while (max > 0 && is_continuation(s[max]))
    max--;
  return max;
}

size_t lln_mock_next_arg_piece(const char *s, size_t len, size_t pos) {
  size_t size = len / 2 < 32 ? len / 2 : 32;
  if (size == 0)
    size = 1;
  size_t end = pos + lln_mock_utf8_cut(s + pos, len - pos, size);
  if (end == pos) {
    /* A sequence longer than the piece size: take it whole. */
    end++;
    while (end < len && is_continuation(s[end]))
      end++;
  }
  return end;
}

size_t lln_mock_next_piece(const char *s, size_t len, size_t pos, unsigned nwords) {
  if (nwords == 0)
    nwords = 1;
  size_t i = pos;
  for (unsigned w = 0; w < nwords && i < len; w++) {
    while (i < len && is_blank(s[i]))
      i++;
    while (i < len && !is_blank(s[i]))
      i++;
  }
  /* Trailing blanks would otherwise make a piece of their own. */
  size_t j = i;
  while (j < len && is_blank(s[j]))
    j++;
  return j == len ? len : i;
}

static void put_head(lln_buf *out, const lln_mock_completion *c, const char *object) {
  lln_buf_puts(out, "{\"id\":");
  lln_buf_json_string(out, c->id, strlen(c->id));
  lln_buf_printf(out, ",\"object\":\"%s\",\"created\":%lld,\"model\":", object, c->created);
  lln_buf_json_string(out, c->model, strlen(c->model));
  lln_buf_puts(out, ",\"system_fingerprint\":\"fp_mock\"");
}

/* usage.cost as OpenRouter sends it (US dollars). */
static void put_cost(lln_buf *out, const lln_mock_completion *c) {
  lln_buf_puts(out, ",\"cost\":");
  lln_json_print_number((double)(c->prompt_tokens + c->completion_tokens) * c->cost_per_token, out);
}

static void put_usage(lln_buf *out, const lln_mock_completion *c) {
  lln_buf_printf(out, "\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,\"total_tokens\":%zu",
                 c->prompt_tokens, c->completion_tokens, c->prompt_tokens + c->completion_tokens);
  if (c->cost_per_token > 0)
    put_cost(out, c);
  lln_buf_putc(out, '}');
}

static void put_tool_call(lln_buf *out, const lln_mock_completion *c, int with_index, const char *args,
                          size_t args_len) {
  lln_buf_puts(out, "{");
  if (with_index)
    lln_buf_puts(out, "\"index\":0,");
  lln_buf_puts(out, "\"id\":");
  lln_buf_json_string(out, c->tool_id, strlen(c->tool_id));
  lln_buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
  lln_buf_json_string(out, c->tool_name, strlen(c->tool_name));
  lln_buf_puts(out, ",\"arguments\":");
  lln_buf_json_string(out, args, args_len);
  lln_buf_puts(out, "}}");
}

void lln_mock_completion_json(lln_buf *out, const lln_mock_completion *c) {
  put_head(out, c, "chat.completion");
  lln_buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  if (c->tool_name) {
    lln_buf_puts(out, "null,\"tool_calls\":[");
    put_tool_call(out, c, 0, c->tool_args, strlen(c->tool_args));
    lln_buf_puts(out, "]");
  } else {
    lln_buf_json_string(out, c->content, strlen(c->content));
  }
  lln_buf_printf(out, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"%s\"}],",
                 c->tool_name ? "tool_calls" : "stop");
  put_usage(out, c);
  lln_buf_puts(out, "}");
}

/* Opens "data: {...,"choices":[{"index":0,"delta":" — the caller writes
 * the delta and closes with close_chunk. */
static void open_chunk(lln_buf *out, const lln_mock_completion *c) {
  lln_buf_puts(out, "data: ");
  put_head(out, c, "chat.completion.chunk");
  lln_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":");
}

static void close_chunk(lln_buf *out, const char *finish_reason) {
  lln_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":");
  if (finish_reason)
    lln_buf_printf(out, "\"%s\"}]}\n\n", finish_reason);
  else
    lln_buf_puts(out, "null}]}\n\n");
}

void lln_mock_chunk_first(lln_buf *out, const lln_mock_completion *c) {
  open_chunk(out, c);
  if (c->tool_name) {
    lln_buf_puts(out, "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[");
    put_tool_call(out, c, 1, "", 0);
    lln_buf_puts(out, "]}");
  } else {
    lln_buf_puts(out, "{\"role\":\"assistant\",\"content\":\"\"}");
  }
  close_chunk(out, NULL);
}

void lln_mock_chunk_content(lln_buf *out, const lln_mock_completion *c, const char *piece, size_t len) {
  open_chunk(out, c);
  lln_buf_puts(out, "{\"content\":");
  lln_buf_json_string(out, piece, len);
  lln_buf_puts(out, "}");
  close_chunk(out, NULL);
}

void lln_mock_chunk_tool_args(lln_buf *out, const lln_mock_completion *c, const char *piece, size_t len) {
  open_chunk(out, c);
  lln_buf_puts(out, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":");
  lln_buf_json_string(out, piece, len);
  lln_buf_puts(out, "}}]}");
  close_chunk(out, NULL);
}

void lln_mock_chunk_finish(lln_buf *out, const lln_mock_completion *c) {
  open_chunk(out, c);
  lln_buf_puts(out, "{}");
  close_chunk(out, c->tool_name ? "tool_calls" : "stop");
}

void lln_mock_chunk_usage(lln_buf *out, const lln_mock_completion *c) {
  lln_buf_puts(out, "data: ");
  put_head(out, c, "chat.completion.chunk");
  lln_buf_puts(out, ",\"choices\":[],");
  put_usage(out, c);
  lln_buf_puts(out, "}\n\n");
}
