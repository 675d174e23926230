/* router: what the routing model is asked and how its answer becomes a
 * choice. The prompt lists each candidate as "- name: use-case" under a
 * "Targets:" line; `llmnet mock` recognises that shape to act as a router. */
#ifndef LLN_PIPELINE_ROUTER_H
#define LLN_PIPELINE_ROUTER_H

#include <stddef.h>

#include "util/buf.h"

typedef struct lln_route_candidate {
  const char *name;
  const char *use_case; /* may be NULL */
} lln_route_candidate;

#define LLN_ROUTER_TARGETS_LINE "Targets:"

/* Writes the router's system prompt for these candidates. */
void lln_router_system_prompt(lln_buf *out, const lln_route_candidate *cands, size_t n);

/* Matches the router's reply to a candidate: exactly (after trimming
 * whitespace, quotes, backticks and a trailing period), then
 * case-insensitively, then as the longest candidate name contained in the
 * reply (case-insensitive). Returns the index, or -1 when nothing matches. */
int lln_router_parse_reply(const char *reply, size_t len, const lln_route_candidate *cands, size_t n);

#endif
