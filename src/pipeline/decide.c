/* decide: one node's step of the request flow, as rules with no state of
 * their own, so the flow and `llmnet explain` apply the very same ones. */
#include "pipeline/decide_int.h"

lln_enter_kind lln_decide_enter(const lln_node *n) {
  if (n->adapter == LLN_ADAPTER_OUTPUT)
    return LLN_ENTER_RESPOND;
  if (n->routes_only)
    return LLN_ENTER_ROUTE;
  return LLN_ENTER_ANSWER;
}

int lln_decide_target_holds(lln_vars *v, const lln_node *target, time_t now, lln_cond_lookup lookup,
                            void *ctx) {
  if (!target->cond)
    return 1; /* no variable to format */
  lln_vars_set_target(v, target, now);
  return lln_cond_eval(target->cond, lookup, ctx);
}

lln_next_kind lln_decide_next(const lln_node *from, size_t n_cands, int answered) {
  if (n_cands == 0)
    /* every condition said no before anyone answered: the entry answers */
    return !answered && from->routes_only ? LLN_NEXT_ANSWER_ITSELF : LLN_NEXT_RESPOND;
  return n_cands == 1 ? LLN_NEXT_GO : LLN_NEXT_ROUTE;
}

const lln_node *lln_decide_default(const lln_node *const *cands, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (cands[i]->is_default)
      return cands[i];
  }
  return n ? cands[0] : NULL;
}

const lln_node *lln_decide_router(const lln_config *cfg) {
  const lln_node *router = cfg->router;
  return router && router->endpoint ? router : NULL;
}

int lln_decide_ends_pipeline(const lln_node *n) {
  for (size_t i = 0; i < n->n_targets; i++) {
    if (n->targets[i]->adapter != LLN_ADAPTER_OUTPUT)
      return 0;
  }
  return 1;
}
