/* text: message content helpers used for routing, conditions and the
 * INPUT_LENGTH / WORD_COUNT variables. */
#include "pipeline/text_int.h"

#include <ctype.h>
#include <string.h>

#include "util/utf8.h"

void lln_content_text(const cJSON *content, lln_buf *out) {
  if (cJSON_IsString(content)) {
    lln_buf_puts(out, content->valuestring);
    return;
  }
  int first = 1;
  const cJSON *part;
  const cJSON *parts = cJSON_IsArray(content) ? content : NULL;
  cJSON_ArrayForEach(part, parts) {
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (!cJSON_IsString(text))
      continue;
    if (!first)
      lln_buf_putc(out, '\n');
    lln_buf_puts(out, text->valuestring);
    first = 0;
  }
  if (!out->data) /* callers read out->data as a string even when nothing was added */
    lln_buf_append(out, "", 0);
}

const cJSON *lln_last_user_message(const cJSON *messages) {
  const cJSON *last = NULL, *m;
  cJSON_ArrayForEach(m, messages) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
      last = m;
  }
  return last;
}

void lln_last_user_text(const cJSON *messages, lln_buf *out) {
  const cJSON *last = lln_last_user_message(messages);
  if (last)
    lln_content_text(cJSON_GetObjectItemCaseSensitive(last, "content"), out);
  if (!out->data) /* reserve alone leaves the new storage unterminated */
    lln_buf_append(out, "", 0);
}

size_t lln_word_count(const char *s) {
  size_t n = 0;
  int in_word = 0;
  for (; *s; s++) {
    int space = isspace((unsigned char)*s);
    if (!space && !in_word)
      n++;
    in_word = !space;
  }
  return n;
}

size_t lln_utf8_length(const char *s) {
  /* Counts a well-formed sequence as one, and every byte that does not start
   * one (stray continuation bytes, overlongs, surrogates, truncations) as one
   * too, as the header promises. */
  size_t n = 0, len = strlen(s);
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len; n++) {
    unsigned char c = p[i];
    size_t k = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (k > 1 && (i + k > len || !lln_utf8_valid(s + i, k, NULL)))
      k = 1;
    i += k;
  }
  return n;
}
