/* fuzz_router: the reading of a router model's reply (src/pipeline/router.c)
 * and the router's input (route_input.c). The input is a reply to the
 * seed's two handlers plus names that prefix each other: the full reading
 * answers a candidate, NONE or AMBIGUOUS, and for every prefix (replies up
 * to 512 bytes) an early decision is NONE or equals the full reading, as a
 * streaming router call relies on. The same bytes, as the newest user
 * message after an earlier exchange, become the router's input within a
 * budget derived from them: never over budget, and valid UTF-8 when the
 * messages are. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/route_input_int.h"
#include "pipeline/router.h"
#include "pipeline/text_int.h"
#include "util/utf8.h"

#define PREFIX_CHECK_MAX 512

static const lln_route_candidate CANDS[] = {
    {"creative-handler", "Creative writing"},
    {"technical-handler", "Code"},
    {"code", NULL},
    {"code-review", NULL},
    {"senior writer", NULL},
};
#define N_CANDS (sizeof CANDS / sizeof *CANDS)

static void check_reply(const char *data, size_t size) {
  int final = lln_router_parse_reply(data, size, CANDS, N_CANDS);
  if (final != LLN_ROUTER_NONE && final != LLN_ROUTER_AMBIGUOUS && (final < 0 || final >= (int)N_CANDS))
    abort();
  if (size > PREFIX_CHECK_MAX)
    return;
  for (size_t k = 0; k <= size; k++) {
    int early = lln_router_early(data, k, CANDS, N_CANDS);
    if (early != LLN_ROUTER_NONE && early != final)
      abort();
  }
}

static int valid(const char *s) { return lln_utf8_valid(s, strlen(s), NULL); }

static void check_input(const char *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    abort();
  memcpy(text, data, size);
  text[size] = '\0';
  cJSON *m = cJSON_CreateArray();
  cJSON *u1 = cJSON_CreateObject(), *a1 = cJSON_CreateObject(), *u2 = cJSON_CreateObject();
  cJSON_AddStringToObject(u1, "role", "user");
  cJSON_AddStringToObject(u1, "content", text + size / 2);
  cJSON_AddStringToObject(a1, "role", "assistant");
  cJSON_AddStringToObject(a1, "content", text + size / 3);
  cJSON_AddStringToObject(u2, "role", "user");
  cJSON_AddStringToObject(u2, "content", text);
  cJSON_AddItemToArray(m, u1);
  cJSON_AddItemToArray(m, a1);
  cJSON_AddItemToArray(m, u2);
  size_t budget = size ? (unsigned char)data[0] * 8u : 0;
  lln_buf out;
  lln_buf_init(&out);
  lln_route_input(m, size && (data[size - 1] & 1), budget, &out);
  if (!out.data || lln_utf8_length(out.data) > budget)
    abort();
  if (valid(text) && valid(text + size / 2) && valid(text + size / 3) &&
      !lln_utf8_valid(out.data, out.len, NULL))
    abort();
  char fp[LLN_HEX_DIGEST_SIZE];
  if (lln_session_fingerprint(m, fp) != 0 || strlen(fp) != 64)
    abort();
  lln_route_cache_key("router", CANDS, N_CANDS, out.data, fp);
  lln_buf_free(&out);
  cJSON_Delete(m);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_reply((const char *)data, size);
  check_input((const char *)data, size);
  return 0;
}
