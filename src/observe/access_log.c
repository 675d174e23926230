/* access_log: a request line in the log's format (text or JSON). Errors go
 * out at warn level so `--log-level warn` keeps only the failures. */
#include "observe/access_log.h"

#include <math.h>
#include <string.h>

#include "util/buf.h"
#include "util/json_print.h"
#include "util/log.h"

static int g_content;

void lln_access_log_content(int on) { g_content = on; }

static int count_retries(const cJSON *hops) {
  int n = 0;
  const cJSON *hop;
  cJSON_ArrayForEach(hop, hops) {
    if (cJSON_GetObjectItemCaseSensitive(hop, "retry_in_ms"))
      n++;
  }
  return n;
}

/* A cost in US dollars as the shortest number that reads back the same, or
 * "-" (text) / null (JSON) when no call had one. */
static void put_cost(lln_buf *b, const lln_access *a, const char *unknown) {
  if (!a->cost_known || !isfinite(a->cost_usd))
    lln_buf_puts(b, unknown);
  else
    lln_json_print_number(a->cost_usd, b);
}

static void text_line(const lln_access *a, lln_buf *b) {
  lln_buf_printf(b, "request id=%s door=%s status=%d ms=%.2f route=%s tokens=%ld cost=", a->request_id,
                 a->door ? a->door : "chat", a->status, a->latency_ms, a->route && *a->route ? a->route : "-",
                 a->tokens);
  put_cost(b, a, "-");
  lln_buf_printf(b, " retries=%d%s hops=", count_retries(a->hops), a->streamed ? " stream" : "");
  int first = 1;
  const cJSON *hop;
  cJSON_ArrayForEach(hop, a->hops) {
    const char *node = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "node"));
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "model"));
    lln_buf_printf(b, "%s%s:%s%s", first ? "" : ",", node ? node : "?", model ? model : "?",
                   cJSON_GetObjectItemCaseSensitive(hop, "error") ? "!" : "");
    first = 0;
  }
  if (first)
    lln_buf_putc(b, '-');
  if (a->error) {
    lln_buf_puts(b, " error=");
    lln_buf_json_string(b, a->error, strlen(a->error));
  }
  if (g_content && a->input) {
    lln_buf_puts(b, " input=");
    lln_buf_json_string(b, a->input, strlen(a->input));
  }
}

static void json_fields(const lln_access *a, lln_buf *b) {
  lln_buf_puts(b, "\"msg\":\"request\",\"request_id\":");
  lln_buf_json_string(b, a->request_id, strlen(a->request_id));
  lln_buf_printf(b, ",\"door\":\"%s\"", a->door ? a->door : "chat");
  lln_buf_printf(b, ",\"status\":%d,\"latency_ms\":%.3f,\"route\":", a->status, a->latency_ms);
  lln_buf_json_string(b, a->route ? a->route : "", a->route ? strlen(a->route) : 0);
  lln_buf_printf(b, ",\"tokens\":%ld,\"cost\":", a->tokens);
  put_cost(b, a, "null");
  lln_buf_printf(b, ",\"retries\":%d,\"stream\":%s,\"hops\":", count_retries(a->hops),
                 a->streamed ? "true" : "false");
  lln_buf_puts(b, "[");
  int first = 1;
  const cJSON *hop;
  cJSON_ArrayForEach(hop, a->hops) {
    cJSON *slim = cJSON_CreateObject();
    static const char *const keep[] = {"node", "role",        "model", "latency_ms", "usage",
                                       "cost", "cost_source", "error", "retry_in_ms"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(hop, keep[i]);
      if (v)
        cJSON_AddItemToObject(slim, keep[i], cJSON_Duplicate(v, 1));
    }
    if (!first)
      lln_buf_putc(b, ',');
    lln_json_print(slim, b);
    cJSON_Delete(slim);
    first = 0;
  }
  lln_buf_puts(b, "]");
  if (a->error) {
    lln_buf_puts(b, ",\"error\":");
    lln_buf_json_string(b, a->error, strlen(a->error));
  }
  if (g_content && a->input) {
    lln_buf_puts(b, ",\"input\":");
    lln_buf_json_string(b, a->input, strlen(a->input));
  }
}

void lln_access_log(const lln_access *a) {
  lln_log_level level = a->status >= 400 || a->error ? LLN_LOG_WARN : LLN_LOG_INFO;
  if (!lln_log_enabled(level))
    return;
  lln_buf b;
  lln_buf_init(&b);
  if (lln_log_json())
    json_fields(a, &b);
  else
    text_line(a, &b);
  lln_log_record(level, &b);
  lln_buf_free(&b);
}
