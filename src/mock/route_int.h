/* route: how the mock plays an llmnet routing model. It recognises the
 * routing prompt written by lln_router_system_prompt and chooses a target
 * the way a small model roughly would: by the words the user's message
 * shares with each target's name and use-case. */
#ifndef LLN_MOCK_ROUTE_H
#define LLN_MOCK_ROUTE_H

#include <stddef.h>

#include "pipeline/router.h"
#include "util/arena.h"

/* Reads the "Targets:" list of a routing prompt: the "- name" or
 * "- name: use-case" lines right after a line that is exactly "Targets:".
 * Returns the number of targets found (0 = not a routing prompt) and points
 * *out at them; names and use-cases live in `arena`. */
size_t lln_mock_parse_targets(const char *system_prompt, lln_arena *arena, lln_route_candidate **out);

/* The candidate whose name and use-case share the most words with
 * `message` (lowercase runs of letters and digits; equal, or a common
 * prefix of 4 letters or more as in "write"/"writing"; stop words ignored;
 * each message word counted once). Ties, and no overlap at all, go to the
 * earliest candidate. Returns -1 only when n == 0. */
int lln_mock_route_by_overlap(const char *message, const lln_route_candidate *cands, size_t n);

#endif
