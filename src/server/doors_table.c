/* doors_table: which door serves which path. A new door is one line here
 * (and its lln_door in src/doors/). Every door path is POST and behind
 * server.api-keys. */
#include <stdio.h>
#include <string.h>

#include "doors/anthropic.h"
#include "doors/responses.h"
#include "server/door_int.h"

static const lln__door_path doors[] = {
    {"/v1/chat/completions", "/chat/completions", &lln_door_chat},
    {"/v1/responses", "/responses", &lln_door_responses},
    {"/v1/messages", "/messages", &lln_door_anthropic},
};

const lln_door *lln__door_for(const char *path) {
  for (size_t i = 0; i < sizeof doors / sizeof doors[0]; i++) {
    if (strcmp(path, doors[i].path) == 0 || (doors[i].alt && strcmp(path, doors[i].alt) == 0))
      return doors[i].door;
  }
  return NULL;
}

void lln__door_paths(char *out, size_t size) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof doors / sizeof doors[0] && used < size; i++) {
    int n = snprintf(out + used, size - used, "POST %s, ", doors[i].path);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}
