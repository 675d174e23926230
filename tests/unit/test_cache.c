/* test_cache: the response cache's pure parts: the key (object key order
 * does not matter at any depth; stream, stream_options, user and metadata
 * do not count; every other parameter, the entry node and the header
 * values do), the "response-cache" settings and their errors, a stored
 * entry turned back into a run's answer, and a relayed stream assembled
 * into a completion (content, tool calls, finish_reason, usage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config_fixtures.h"
#include "pipeline/cache.h"
#include "pipeline/cache_int.h"
#include "pipeline/cache_key_int.h"
#include "store/store.h"

static void key_of(const char *json, const char *entry, const lln_var_header *h, size_t n,
                   char out[LLN_SHA256_HEX_SIZE]) {
  cJSON *req = cJSON_Parse(json);
  if (!req)
    fail_msg("bad fixture: %s", json);
  lln_cache_key(req, entry, h, n, out);
  cJSON_Delete(req);
}

static int same_key(const char *a, const char *b) {
  char ka[LLN_SHA256_HEX_SIZE], kb[LLN_SHA256_HEX_SIZE];
  key_of(a, "entry", NULL, 0, ka);
  key_of(b, "entry", NULL, 0, kb);
  return strcmp(ka, kb) == 0;
}

#define BASE "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static void test_key_ignores_order(void **state) {
  (void)state;
  assert_true(same_key("{" BASE ",\"temperature\":0,\"model\":\"x\"}",
                       "{\"model\":\"x\",\"temperature\":0," BASE "}"));
  /* nested objects: a tool's parameters in another order */
  assert_true(
      same_key("{" BASE ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
               "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}}}]}",
               "{\"tools\":[{\"function\":{\"parameters\":{\"properties\":{\"a\":{\"type\":\"string\"}},"
               "\"type\":\"object\"},\"name\":\"f\"},\"type\":\"function\"}]," BASE "}"));
  assert_true(same_key("{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}]}", "{" BASE "}"));
  /* 0 and 0.0 are one number */
  assert_true(same_key("{" BASE ",\"temperature\":0.0}", "{" BASE ",\"temperature\":0}"));
}

static void test_key_excluded_and_counted(void **state) {
  (void)state;
  assert_true(same_key("{" BASE "}", "{" BASE ",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                                     "\"user\":\"u1\",\"metadata\":{\"a\":\"b\"}}"));
  assert_false(same_key("{" BASE "}", "{" BASE ",\"temperature\":0}"));
  assert_false(same_key("{" BASE ",\"temperature\":0}", "{" BASE ",\"temperature\":0.5}"));
  assert_false(same_key("{" BASE "}", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi!\"}]}"));
  assert_false(same_key("{" BASE "}", "{" BASE ",\"model\":\"other\"}"));
  assert_false(same_key("{" BASE "}", "{" BASE ",\"tools\":[]}"));
  /* an excluded name counts below the top level */
  assert_false(same_key("{" BASE ",\"response_format\":{\"user\":1}}", "{" BASE ",\"response_format\":{}}"));
  /* message order counts: arrays keep theirs */
  assert_false(same_key(
      "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"hi\"}]}",
      "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"system\",\"content\":\"s\"}]}"));
}

static void test_key_entry_and_headers(void **state) {
  (void)state;
  char a[LLN_SHA256_HEX_SIZE], b[LLN_SHA256_HEX_SIZE];
  key_of("{" BASE "}", "router", NULL, 0, a);
  key_of("{" BASE "}", "handler", NULL, 0, b);
  assert_string_not_equal(a, b);
  lln_var_header h1[] = {{"X-Tier", "free"}}, h2[] = {{"X-Tier", "pro"}};
  key_of("{" BASE "}", "router", h1, 1, a);
  key_of("{" BASE "}", "router", h2, 1, b);
  assert_string_not_equal(a, b);
  key_of("{" BASE "}", "router", h1, 1, b);
  assert_string_equal(a, b);
  key_of("{" BASE "}", "router", NULL, 0, b);
  assert_string_not_equal(a, b);
  assert_int_equal(strlen(a), 64);
}

static void test_canonical_text(void **state) {
  (void)state;
  cJSON *req = cJSON_Parse("{\"stream\":true,\"b\":{\"y\":1,\"x\":[2,\"s\",null,false]},\"a\":1.5}");
  lln_buf out;
  lln_buf_init(&out);
  lln_cache_canonical(req, &out);
  assert_string_equal(out.data, "{\"a\":1.5,\"b\":{\"x\":[2,\"s\",null,false],\"y\":1}}");
  lln_buf_free(&out);
  cJSON_Delete(req);
}

/* ---- settings ---- */

static char *compose(const char *top, const char *node_extra) {
  static const char fmt[] =
      "{\"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://127.0.0.1:9/v1\"}},%s\n"
      "\"architecture\": [{\"name\": \"a\", \"layer\": 0, \"model\": \"m\"%s}]}";
  size_t n = sizeof fmt + strlen(top) + strlen(node_extra);
  char *s = malloc(n);
  assert_non_null(s);
  snprintf(s, n, fmt, top, node_extra);
  return s;
}

static int try_load(lln_config *cfg, lln_diags *d, const char *top, const char *node_extra) {
  char *json = compose(top, node_extra);
  char path[] = "/tmp/llmnet-cache-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
  close(fd);
  free(json);
  lln_load_options opts = {.mode = LLN_LOAD_VALIDATE};
  lln_diags_init(d, path);
  int rc = lln_config_load(cfg, path, &opts, d);
  unlink(path);
  return rc;
}

static void load_ok(lln_config *cfg, const char *top, const char *node_extra) {
  lln_diags d;
  if (try_load(cfg, &d, top, node_extra) != 0) {
    lln_diags_print(&d, stderr);
    fail_msg("expected to load: %s / %s", top, node_extra);
  }
  lln_diags_free(&d);
}

static void load_error(const char *top, const char *node_extra, const char *needle1, const char *needle2) {
  lln_config cfg;
  lln_diags d;
  if (try_load(&cfg, &d, top, node_extra) == 0)
    fail_msg("expected an error: %s / %s", top, node_extra);
  if (!find_diag(&d, LLN_DIAG_ERROR, needle1, needle2, NULL)) {
    lln_diags_print(&d, stderr);
    fail_msg("no error with \"%s\" and \"%s\"", needle1, needle2 ? needle2 : "");
  }
  lln_diags_free(&d);
}

static void test_settings(void **state) {
  (void)state;
  lln_config cfg;
  load_ok(&cfg, "", "");
  assert_false(cfg.response_cache.enabled);
  assert_int_equal(cfg.nodes[0].response_cache, -1);
  lln_config_free(&cfg);
  load_ok(&cfg, "\"response-cache\": true,", ", \"response-cache\": false");
  assert_true(cfg.response_cache.enabled);
  assert_int_equal(cfg.response_cache.ttl_s, 600);
  assert_int_equal(cfg.response_cache.max_bytes, 64 * 1024 * 1024);
  assert_false(cfg.response_cache.any_temperature);
  assert_int_equal(cfg.nodes[0].response_cache, 0);
  lln_config_free(&cfg);
  load_ok(&cfg, "\"response-cache\": {\"ttl\": 30, \"max-bytes\": 100000, \"any-temperature\": true},",
          ", \"response-cache\": true");
  assert_true(cfg.response_cache.enabled);
  assert_int_equal(cfg.response_cache.ttl_s, 30);
  assert_int_equal(cfg.response_cache.max_bytes, 100000);
  assert_true(cfg.response_cache.any_temperature);
  assert_int_equal(cfg.nodes[0].response_cache, 1);
  lln_config_free(&cfg);
  load_ok(&cfg, "\"response-cache\": false,", "");
  assert_false(cfg.response_cache.enabled);
  lln_config_free(&cfg);
}

static void test_settings_errors(void **state) {
  (void)state;
  load_error("\"response-cache\": {\"tll\": 5},", "", "unknown key \"tll\"", "did you mean \"ttl\"");
  load_error("\"response-cache\": {\"ttl\": 0},", "", "\"ttl\" must be a whole number", "seconds");
  load_error("\"response-cache\": {\"max-bytes\": 10},", "", "\"max-bytes\"", "from 4096");
  load_error("\"response-cache\": {\"any-temperature\": 1},", "", "\"any-temperature\" must be true", NULL);
  load_error("\"response-cache\": 5,", "", "\"response-cache\" is false", NULL);
  load_error("\"response-cache\": true,", ", \"response-cache\": \"no\"",
             "node \"a\": \"response-cache\" must be", NULL);
}

/* ---- replay and stream assembly ---- */

typedef struct fixture {
  lln_config cfg;
  lln_run *r;
} fixture;

static int setup_run(void **state) {
  fixture *f = calloc(1, sizeof *f);
  load_text(&f->cfg, "{\"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://127.0.0.1:9/v1\"}},"
                     "\"response-cache\": true, \"architecture\": ["
                     "{\"name\": \"a\", \"layer\": 0, \"model\": \"m\", \"output-to\": [1]},"
                     "{\"name\": \"b\", \"layer\": 1, \"model\": \"m\"}]}");
  lln_run *r = calloc(1, sizeof *r);
  r->cfg = &f->cfg;
  r->trace = cJSON_CreateArray();
  lln_buf_init(&r->route);
  r->cache = calloc(1, sizeof *r->cache);
  r->cache->start = lln_config_node(&f->cfg, "a");
  r->cache->started_ns = uv_hrtime();
  f->r = r;
  *state = f;
  return 0;
}

static int teardown_run(void **state) {
  fixture *f = *state;
  lln_run *r = f->r;
  cJSON_Delete(r->trace);
  cJSON_Delete(r->final);
  free(r->output);
  lln_buf_free(&r->route);
  lln__cache_stream_free(r->cache->stream);
  free(r->cache);
  free(r);
  lln_config_free(&f->cfg);
  free(f);
  return 0;
}

static void test_restore(void **state) {
  fixture *f = *state;
  lln_run *r = f->r;
  const char *entry =
      "{\"route\":\"a>b\",\"hops\":[{\"node\":\"b\",\"role\":\"answer\"}],\"completion\":{"
      "\"model\":\"up\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
      "\"hello\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
      "\"completion_tokens\":2,\"total_tokens\":5,\"cost\":0.25}}}";
  assert_int_equal(lln__cache_restore(r, "{\"route\":\"\"}", 12), -1);
  assert_int_equal(lln__cache_restore(r, "not json", 8), -1);
  assert_int_equal(cJSON_GetArraySize(r->trace), 0);
  assert_int_equal(lln__cache_restore(r, entry, strlen(entry)), 0);
  assert_string_equal(r->route.data, "a>b");
  assert_string_equal(r->node->name, "b");
  assert_string_equal(r->output, "hello");
  assert_int_equal(r->usage[0], 3);
  assert_int_equal(r->usage[2], 5);
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(r->final, "usage");
  assert_true(cJSON_GetObjectItemCaseSensitive(usage, "cost")->valuedouble == 0);
  const cJSON *hop = cJSON_GetArrayItem(r->trace, 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "role")), "cache");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "node")), "a");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hop, "route")), "a>b");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(hop, "hops")), 1);
}

static void chunk(lln_run *r, const char *json) {
  cJSON *c = cJSON_Parse(json);
  assert_non_null(c);
  lln__cache_stream_chunk(r, c);
  cJSON_Delete(c);
}

static void test_stream_assembly(void **state) {
  fixture *f = *state;
  lln_run *r = f->r;
  r->node = lln_config_node(&f->cfg, "b");
  assert_null(lln__cache_stream_completion(r));
  chunk(r, "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}");
  chunk(r, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}");
  chunk(r, "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":"
           "\"function\",\"function\":{\"name\":\"get\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}");
  chunk(r, "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
           "\":1}\"}}]}}]}");
  /* not complete before the finish */
  assert_null(lln__cache_stream_completion(r));
  chunk(r, "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}");
  r->usage[0] = 4, r->usage[1] = 6, r->usage[2] = 10;
  cJSON *c = lln__cache_stream_completion(r);
  assert_non_null(c);
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "choices"), 0);
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "content")), "Hello");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason")),
                      "tool_calls");
  const cJSON *call = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"), 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(call, "id")), "call_1");
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "name")), "get");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "arguments")), "{\"a\":1}");
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(c, "usage");
  assert_int_equal(cJSON_GetObjectItemCaseSensitive(usage, "total_tokens")->valueint, 10);
  cJSON_Delete(c);
}

static void test_stream_of_two_choices_is_not_assembled(void **state) {
  fixture *f = *state;
  lln_run *r = f->r;
  r->node = lln_config_node(&f->cfg, "b");
  chunk(r, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}},{\"index\":1,\"delta\":{\"content\":"
           "\"b\"}}]}");
  chunk(r, "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}");
  assert_null(lln__cache_stream_completion(r));
}

static void test_memory_handle(void **state) {
  (void)state;
  lln_response_cache *c = lln_response_cache_new_memory(10000);
  assert_non_null(c);
  assert_int_equal(lln_response_cache_max_bytes(c), 10000);
  assert_non_null(lln_response_cache_store(c));
  lln_response_cache_retain(c);
  lln_response_cache_release(c);
  lln_response_cache_release(c);
}

static int got_status;
static void on_get(void *ud, int status, const char *value, size_t len) {
  (void)ud, (void)value, (void)len;
  got_status = status;
}

static int present(lln_store *s, const char *key) {
  got_status = -99;
  assert_null(lln_store_get_recent(s, key, on_get, NULL));
  return got_status == LLN_STORE_OK;
}

/* The in-process store evicts the least recently read value first when
 * reads go through lln_store_get_recent: an LRU. */
static void test_lru(void **state) {
  (void)state;
  lln_response_cache *c = lln_response_cache_new_memory(8192);
  lln_store *s = lln_response_cache_store(c);
  static char value[2000];
  memset(value, 'v', sizeof value);
  const char *keys[] = {"rc:a", "rc:b", "rc:c", "rc:d"};
  for (int i = 0; i < 3; i++) {
    lln_store_put p = {.key = keys[i], .value = value, .len = sizeof value, .ttl_ms = 60000};
    lln_store_put_value(s, &p, NULL, NULL);
  }
  assert_true(present(s, "rc:b"));
  assert_true(present(s, "rc:c"));
  assert_true(present(s, "rc:a")); /* now the most recently used */
  assert_true(lln_store_memory_bytes(s) > 3 * sizeof value);
  lln_store_put p = {.key = "rc:d", .value = value, .len = sizeof value, .ttl_ms = 60000};
  lln_store_put_value(s, &p, NULL, NULL);
  assert_true(present(s, "rc:d"));
  assert_true(present(s, "rc:a"));
  assert_false(present(s, "rc:b"));
  assert_true(lln_store_memory_bytes(s) <= 8192);
  lln_response_cache_release(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key_ignores_order),
      cmocka_unit_test(test_key_excluded_and_counted),
      cmocka_unit_test(test_key_entry_and_headers),
      cmocka_unit_test(test_canonical_text),
      cmocka_unit_test(test_settings),
      cmocka_unit_test(test_settings_errors),
      cmocka_unit_test_setup_teardown(test_restore, setup_run, teardown_run),
      cmocka_unit_test_setup_teardown(test_stream_assembly, setup_run, teardown_run),
      cmocka_unit_test_setup_teardown(test_stream_of_two_choices_is_not_assembled, setup_run, teardown_run),
      cmocka_unit_test(test_memory_handle),
      cmocka_unit_test(test_lru),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
