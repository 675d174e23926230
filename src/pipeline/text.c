/* text: message content helpers used for routing, conditions and the
 * INPUT_LENGTH / WORD_COUNT variables. */
#include "pipeline/text.h"

#include <ctype.h>
#include <string.h>

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
}

void lln_last_user_text(const cJSON *messages, lln_buf *out) {
  const cJSON *last = NULL, *m;
  cJSON_ArrayForEach(m, messages) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
      last = m;
  }
  if (last)
    lln_content_text(cJSON_GetObjectItemCaseSensitive(last, "content"), out);
  if (!out->data)
    lln_buf_reserve(out, 0);
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
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p & 0xC0) != 0x80)
      n++;
  }
  return n;
}
