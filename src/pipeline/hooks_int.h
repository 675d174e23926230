/* hooks: a node's pre and post hooks around its model call, in the order
 * written: observe hooks start and the request goes on; transform hooks
 * are waited for and their result replaces the node's input (pre) or
 * answer (post); a failure either continues or, with on_failure "abort",
 * fails the request naming the hook and its function. Internal to
 * src/pipeline. */
#ifndef LLN_PIPELINE_HOOKS_H
#define LLN_PIPELINE_HOOKS_H

#include "pipeline/run_state_int.h"

/* Runs `n`'s pre (post = 0) or post hooks, then calls next(r) unless the
 * run failed. */
void lln_hooks_run(lln_run *r, const lln_node *n, int post, void (*next)(lln_run *r));
/* 1 when `n` has a post hook in transform mode: its answer cannot be
 * streamed as it arrives. */
int lln_hooks_transform_output(const lln_node *n);
/* Stops a hook being waited for. */
void lln_hooks_cancel(lln_run *r);

#endif
