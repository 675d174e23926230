/* text: what the pipeline reads out of messages: the text of a message's
 * content (a string or an array of parts), and word and character counts. */
#ifndef LLN_PIPELINE_TEXT_H
#define LLN_PIPELINE_TEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "util/buf.h"

/* Appends a content's text: a string as is; an array's text parts joined
 * with newlines; anything else adds nothing. */
void lln_content_text(const cJSON *content, lln_buf *out);
/* The last message with role "user", or NULL. */
const cJSON *lln_last_user_message(const cJSON *messages);
/* The text of the last message with role "user", or "" when none. */
void lln_last_user_text(const cJSON *messages, lln_buf *out);
size_t lln_word_count(const char *s);
/* Unicode code points in valid UTF-8 (invalid bytes count one each). */
size_t lln_utf8_length(const char *s);

#endif
