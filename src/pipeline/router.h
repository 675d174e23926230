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

/* max_tokens of a router call unless the router node's extra-options set
 * max_tokens or max_completion_tokens (a reasoning router needs more). */
#define LLN_ROUTER_MAX_TOKENS 64

#define LLN_ROUTER_NONE (-1)      /* the reply names no candidate */
#define LLN_ROUTER_AMBIGUOUS (-2) /* it names several and says nothing that picks one */

/* Reads the router's whole reply (docs/CONFIG.md "Routing"): reasoning
 * (<think>...</think> and the like) is dropped; the first line that is
 * exactly a candidate's name (after trimming quotes and markup) wins; else
 * the candidate named in the final answer line, mentions after "not" or
 * "rather than" ignored. Returns the candidate's index, LLN_ROUTER_NONE or
 * LLN_ROUTER_AMBIGUOUS. */
int lln_router_parse_reply(const char *reply, size_t len, const lln_route_candidate *cands, size_t n);

/* The early decision on a reply still streaming: the candidate's index when
 * a complete line outside any reasoning block is exactly one candidate's
 * name (what lln_router_parse_reply would then answer too), else
 * LLN_ROUTER_NONE: read on. */
int lln_router_early(const char *so_far, size_t len, const lln_route_candidate *cands, size_t n);

#endif
