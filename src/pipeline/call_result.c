/* call_result: reading what one upstream call brought back: a usable chat
 * completion, or a failure described twice: as data for the failover
 * decision (failover_int.h) and as the client's error (a message naming node,
 * model id and endpoint, with the upstream's own type, param and code when
 * its refusal is passed through). */
#include "pipeline/call_result_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "upstream/retry.h"

/* What the upstream said about a failure: its error object's fields. */
typedef struct upstream_error {
  const char *message, *type, *param, *code;
} upstream_error;

static void read_upstream_error(const lln_upstream_response *resp, lln__call_error *ce, upstream_error *u) {
  memset(u, 0, sizeof *u);
  if (resp->result != LLN_UP_OK)
    return;
  ce->doc = cJSON_ParseWithLength(resp->body, resp->body_len);
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(ce->doc, "error");
  u->message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message"));
  u->type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "type"));
  u->param = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "param"));
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
  u->code = cJSON_GetStringValue(code);
  if (cJSON_IsNumber(code)) {
    snprintf(ce->code_text, sizeof ce->code_text, "%.0f", code->valuedouble);
    u->code = ce->code_text;
  }
}

/* What the client is told about an upstream's refusal (lln_failover_refusal). */
static void describe_refusal(long status, lln_buf *why, lln_openai_error *body, const lln_model *ep) {
  switch (lln_failover_refusal((int)status)) {
  case LLN_REFUSAL_ACCOUNT:
    body->type = "upstream_error";
    if (status == 401) {
      lln_buf_printf(why, "the provider rejected llmnet's key (HTTP 401); check model \"%s\"'s api-key",
                     ep->key);
      body->code = "upstream_auth_failed";
    } else if (status == 402) {
      lln_buf_printf(why, "llmnet's account with the provider is out of credits (HTTP 402); top it up");
      body->code = "upstream_out_of_credits";
    } else {
      lln_buf_printf(why, "the provider forbids llmnet's key from using this model (HTTP 403); check the "
                          "key's permissions");
      body->code = "upstream_forbidden";
    }
    return;
  case LLN_REFUSAL_MODEL:
    lln_buf_printf(why, "the upstream does not know this model id (HTTP 404); check the node's "
                        "model_override (or its name, the model id without one)");
    return;
  case LLN_REFUSAL_REQUEST:
    lln_buf_printf(why, "the upstream refused the request (HTTP %ld)", status);
    return;
  case LLN_REFUSAL_NONE: lln_buf_printf(why, "the upstream answered HTTP %ld", status); return;
  }
}

/* The failure's kind and the sentence after "node ... (model ...): ". */
static void describe(const lln_upstream_response *resp, const lln_model *ep, lln__call_error *ce,
                     const upstream_error *u) {
  lln_buf *why = &ce->why;
  lln_failure *f = &ce->failure;
  lln_run_error *e = &ce->error;
  switch (resp->result) {
  case LLN_UP_TIMEOUT:
    f->kind = LLN_FAILURE_TIMEOUT;
    if (resp->error && strstr(resp->error, "first-byte"))
      lln_buf_printf(why, "the upstream sent no response within its first-byte-timeout (%.3g s)",
                     (double)ep->first_byte_timeout_ms / 1000.0);
    else
      lln_buf_printf(why, "the upstream did not answer within %.3g s", (double)ep->timeout_ms / 1000.0);
    return;
  case LLN_UP_CONNECT:
    f->kind = LLN_FAILURE_TRANSPORT;
    lln_buf_printf(why, "cannot connect to the upstream: %s",
                   resp->error ? resp->error : "connection failed");
    return;
  case LLN_UP_ERROR:
    f->kind = LLN_FAILURE_TRANSPORT;
    lln_buf_printf(why, "the upstream transfer failed: %s", resp->error ? resp->error : "unknown error");
    return;
  case LLN_UP_OK: break;
  }
  f->kind = LLN_FAILURE_HTTP;
  f->http_status = (int)resp->status;
  if (resp->status < 200 || resp->status > 299) {
    describe_refusal(resp->status, why, &e->body, ep);
    if (lln_failover_refusal((int)resp->status) == LLN_REFUSAL_REQUEST ||
        lln_failover_refusal((int)resp->status) == LLN_REFUSAL_MODEL) {
      e->body.type = u->type;
      e->body.param = u->param;
      e->body.code = u->code;
      e->body.relayed = 1;
    }
    if (u->message)
      lln_buf_printf(why, ": %.*s", LLN_UPSTREAM_MESSAGE_MAX, u->message);
  } else if (u->message) {
    /* some providers report errors with a 200 status */
    lln_buf_printf(why, "the upstream answered with an error: %.*s", LLN_UPSTREAM_MESSAGE_MAX, u->message);
  } else {
    lln_buf_puts(why, "the upstream answered with a body that is not a chat completion");
  }
}

void lln__call_error_read(lln__call_error *ce, const lln_node *n, const char *model_id,
                          const lln_upstream_response *resp) {
  memset(ce, 0, sizeof *ce);
  lln_buf_init(&ce->why);
  lln_buf_printf(&ce->why, "node \"%s\" (model \"%s\" at %s): ", n->name, model_id, n->endpoint->key);
  upstream_error u;
  read_upstream_error(resp, ce, &u);
  ce->failure.retryable = lln_retryable(resp);
  ce->failure.hint_ms = lln_retry_hint_ms(resp->retry_after, resp->rate_limit_reset, time(NULL));
  ce->error.retry_after = resp->retry_after;
  describe(resp, n->endpoint, ce, &u);
  ce->error.body.message = ce->why.data;
}

void lln__call_error_free(lln__call_error *ce) {
  cJSON_Delete(ce->doc);
  lln_buf_free(&ce->why);
}

/* A usable answer: a JSON object whose first choice has a message. */
cJSON *lln__parse_completion(const lln_upstream_response *resp, const cJSON **message) {
  if (resp->result != LLN_UP_OK || resp->status < 200 || resp->status > 299)
    return NULL;
  cJSON *json = cJSON_ParseWithLength(resp->body, resp->body_len);
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(json, "choices");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "message");
  if (!cJSON_IsObject(msg)) {
    cJSON_Delete(json);
    return NULL;
  }
  *message = msg;
  return json;
}
