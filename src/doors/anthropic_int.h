/* anthropic_int: what the Anthropic door's response and stream translators
 * share: message ids, stop reasons and tool inputs. */
#ifndef LLN_DOORS_ANTHROPIC_INT_H
#define LLN_DOORS_ANTHROPIC_INT_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* "msg_" + the chat id's letters, digits, '-' and '_' (or `fallback`'s). */
void lln__anthropic_message_id(const char *chat_id, const char *fallback, char *out, size_t size);
/* 1 when `matched` is one of the request's stop_sequences. */
int lln__anthropic_is_stop_sequence(const cJSON *stop_sequences, const char *matched);
/* end_turn, max_tokens, tool_use, refusal or stop_sequence for a chat
 * finish_reason (NULL: end_turn). */
const char *lln__anthropic_stop_reason(const char *finish_reason, int stop_sequence);
/* A tool call's arguments as a tool_use input object ({} when they are not
 * a JSON object). */
cJSON *lln__anthropic_parse_input(const char *arguments);

#endif
