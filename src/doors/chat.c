/* chat: the chat completions door. The pipeline speaks chat completions,
 * so there is nothing to translate: every callback is NULL and the
 * gateway passes the body, answer, events and errors through unchanged
 * (no copy: the chat path's speed is benchmarked). */
#include "doors/door.h"

const lln_door lln_door_chat = {.name = "chat"};
