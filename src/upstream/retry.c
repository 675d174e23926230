/* retry: backoff arithmetic and header reading, kept pure for unit tests. */
#include "upstream/retry.h"

#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>

int lln_retryable(const lln_upstream_response *resp) {
  if (resp->result != LLN_UP_OK)
    return 1;
  switch (resp->status) {
  case 429:
  case 500:
  case 502:
  case 503:
  case 504: return 1;
  default: return 0;
  }
}

/* Seconds to milliseconds, or an epoch difference, as a wait no longer than
 * LLN_RETRY_MAX_HINT_MS: an upstream's number is never cast unchecked (a
 * double beyond LONG_MAX converted to long is undefined behaviour). */
static long clamp_ms(double ms) {
  if (!(ms > 0))
    return 0;
  if (ms >= (double)LLN_RETRY_MAX_HINT_MS)
    return LLN_RETRY_MAX_HINT_MS;
  return (long)ms;
}

static int parse_number(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0) || !isfinite(v))
    return 0;
  *out = v;
  return 1;
}

long lln_retry_hint_ms(const char *retry_after, const char *rate_limit_reset, time_t now) {
  double v;
  if (retry_after && *retry_after) {
    if (parse_number(retry_after, &v))
      return clamp_ms(v * 1000.0);
    time_t at = curl_getdate(retry_after, NULL);
    if (at > 0)
      return at > now ? clamp_ms((double)(at - now) * 1000.0) : 0;
  }
  if (rate_limit_reset && parse_number(rate_limit_reset, &v)) {
    /* providers disagree: OpenRouter sends epoch milliseconds, others
     * epoch seconds or a number of seconds to wait */
    if (v > 1e12)
      return clamp_ms(v - (double)now * 1000.0);
    if (v > 1e9)
      return clamp_ms((v - (double)now) * 1000.0);
    return clamp_ms(v * 1000.0);
  }
  return -1;
}

long lln_backoff_ms(int retry, long base_ms, long cap_ms, uint64_t random) {
  long d = base_ms;
  for (int i = 0; i < retry && d < cap_ms; i++)
    d *= 2;
  if (d > cap_ms)
    d = cap_ms;
  double jitter = 0.5 + (double)(random % 1000) / 2000.0;
  return (long)((double)d * jitter);
}
