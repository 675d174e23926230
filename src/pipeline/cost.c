/* cost: see cost.h. */
#include "pipeline/cost.h"

#include <math.h>

#include "util/log.h"

/* A token count is a whole number in [0, 2^53) (exact as a double). */
#define LLN_COST_MAX_TOKENS 9007199254740992.0
#define TOKENS_PER_PRICE_UNIT 1e6 /* prices are per million tokens */

static int tokens_ok(const cJSON *v) {
  if (!cJSON_IsNumber(v))
    return 0;
  double d = v->valuedouble;
  return d >= 0 && d < LLN_COST_MAX_TOKENS && d == floor(d);
}

static int usd_ok(double d) { return isfinite(d) && d >= 0 && d <= LLN_COST_MAX_USD; }

/* usage.cost when it is a usable number of dollars: 1; absent (or null):
 * 0; there but unusable: -1. */
static int reported(const cJSON *usage, const char *who, double *usd) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, "cost");
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsNumber(v)) {
    LLN_DEBUG("%s: usage.cost is not a number; ignored", who);
    return -1;
  }
  if (!usd_ok(v->valuedouble)) {
    LLN_DEBUG("%s: usage.cost %g is not a cost in US dollars (0 to %g); ignored", who, v->valuedouble,
              LLN_COST_MAX_USD);
    return -1;
  }
  *usd = v->valuedouble;
  return 1;
}

/* The cached prompt tokens the price applies to: usage's
 * prompt_tokens_details.cached_tokens when the price has a cached-prompt
 * price and the count is good and at most `prompt`; else 0. */
static double cached_tokens(const cJSON *usage, const lln_price *price, double prompt, const char *who) {
  if (!price->has_cached)
    return 0;
  const cJSON *details = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(details, "cached_tokens");
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!tokens_ok(v) || v->valuedouble > prompt) {
    LLN_DEBUG("%s: usage.prompt_tokens_details.cached_tokens is not a count of at most prompt_tokens; "
              "every prompt token is priced as uncached",
              who);
    return 0;
  }
  return v->valuedouble;
}

static int computed(const cJSON *usage, const lln_price *price, const char *who, double *usd) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
  if (!tokens_ok(p) || !tokens_ok(c)) {
    LLN_DEBUG("%s: usage has no valid prompt_tokens and completion_tokens; the price cannot apply", who);
    return 0;
  }
  double cached = cached_tokens(usage, price, p->valuedouble, who);
  double d = ((p->valuedouble - cached) * price->prompt + cached * price->cached_prompt +
              c->valuedouble * price->completion) /
             TOKENS_PER_PRICE_UNIT;
  if (!usd_ok(d)) {
    LLN_DEBUG("%s: the price gives %g US dollars for one call; ignored", who, d);
    return 0;
  }
  *usd = d;
  return 1;
}

lln_cost lln_cost_of(const cJSON *usage, const lln_price *price, const char *who) {
  lln_cost out = {.source = LLN_COST_UNKNOWN};
  int priced = price && price->set;
  if (!cJSON_IsObject(usage)) {
    out.why = "the upstream reported no usage";
    return out;
  }
  int rep = reported(usage, who, &out.usd);
  if (rep > 0) {
    out.source = LLN_COST_REPORTED;
    return out;
  }
  if (!priced) {
    out.telling = rep < 0;
    out.why = rep < 0
                  ? "the upstream's usage.cost is not a number of US dollars and the model has no \"price\""
                  : "the upstream reported no usage.cost and the model has no \"price\"";
    return out;
  }
  if (computed(usage, price, who, &out.usd)) {
    out.source = LLN_COST_COMPUTED;
    return out;
  }
  out.telling = 1;
  out.why = "the upstream reported no usable usage.cost, and no token counts the price could apply to";
  return out;
}

const char *lln_cost_source_name(lln_cost_source source) {
  switch (source) {
  case LLN_COST_REPORTED: return "reported";
  case LLN_COST_COMPUTED: return "computed";
  case LLN_COST_UNKNOWN: break;
  }
  return NULL;
}
