/* test_config: loading compositions: every upstream example shape resolves
 * to the graph a request will walk, every mistake is reported at the line and
 * column a user has to fix, substitution comes from the environment and
 * --env-file (the environment wins), and no secret value ever appears in a
 * message. The fixtures live in tests/fixtures (LLN_FIXTURES). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conditions/cond.h"
#include "config/config.h"
#include "templates/template.h"
#include "util/buf.h"

#include "config_fixtures.h"

#define OPENROUTER_KEY "sk-or-v1-test-0123456789abcdef"

/* ---- helpers ---- */

static void dump_diags(const lln_diags *d) { lln_diags_print(d, stderr); }

static int load_path(lln_config *cfg, lln_diags *d, const char *path, lln_load_mode mode,
                     const char *env_file) {
  lln_load_options opts = {.mode = mode, .env_file = env_file};
  lln_diags_init(d, path);
  return lln_config_load(cfg, path, &opts, d);
}

static int load(lln_config *cfg, lln_diags *d, const char *name, lln_load_mode mode, const char *env_file) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", LLN_FIXTURES, name);
  return load_path(cfg, d, path, mode, env_file);
}

/* Loads a fixture that must have no error at all. */
static void load_ok(lln_config *cfg, lln_diags *d, const char *name, lln_load_mode mode) {
  if (load(cfg, d, name, mode, NULL) != 0 || d->errors) {
    dump_diags(d);
    fail_msg("%s: expected to load without errors", name);
  }
}

/* Loads the composition at `path` for a run; the test fails, printing the
 * diagnostics, when it does not load. */
static void load_path_ok(lln_config *cfg, lln_diags *d, const char *path, const char *env_file) {
  if (load_path(cfg, d, path, LLN_LOAD_RUN, env_file) != 0) {
    dump_diags(d);
    fail_msg("%s: expected to load", path);
  }
}

/* Loads a fixture that must fail; the config is then already freed. */
static void load_fails(lln_config *cfg, lln_diags *d, const char *name, lln_load_mode mode) {
  int rc = load(cfg, d, name, mode, NULL);
  if (rc == 0) {
    dump_diags(d);
    lln_config_free(cfg);
    fail_msg("%s: expected an error", name);
  }
  assert_true(d->errors > 0);
  assert_null(cfg->nodes);
  assert_null(cfg->models);
}

static void expect_at(const lln_diags *d, const lln_diag *g, int line, int col) {
  if (!g) {
    dump_diags(d);
    fail_msg("expected diagnostic not found");
  }
  if (g->line != line || g->col != col) {
    dump_diags(d);
    fail_msg("\"%s\" at %d:%d, expected %d:%d", g->message, g->line, g->col, line, col);
  }
}

static const lln_node *node(const lln_config *cfg, const char *name) {
  const lln_node *n = lln_config_node(cfg, name);
  if (!n)
    fail_msg("no node \"%s\"", name);
  return n;
}

static const lln_model *model(const lln_config *cfg, const char *key) {
  for (size_t i = 0; i < cfg->n_models; i++) {
    if (strcmp(cfg->models[i].key, key) == 0)
      return &cfg->models[i];
  }
  fail_msg("no model \"%s\"", key);
  return NULL;
}

/* Checks a node's targets by name, in order (NULL-terminated). */
static void expect_targets(const lln_node *n, ...) {
  va_list ap;
  va_start(ap, n);
  size_t i = 0;
  for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *), i++) {
    if (i >= n->n_targets)
      fail_msg("node \"%s\" has %zu targets; expected \"%s\" at %zu", n->name, n->n_targets, want, i);
    assert_string_equal(n->targets[i]->name, want);
  }
  va_end(ap);
  assert_int_equal(n->n_targets, i);
}

static void expect_model_ids(const lln_node *n, ...) {
  va_list ap;
  va_start(ap, n);
  size_t i = 0;
  for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *), i++) {
    if (i >= n->n_model_ids)
      fail_msg("node \"%s\" has %zu model ids; expected \"%s\" at %zu", n->name, n->n_model_ids, want, i);
    assert_string_equal(n->model_ids[i], want);
  }
  va_end(ap);
  assert_int_equal(n->n_model_ids, i);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

/* A fresh temporary path (the file exists and is empty). */
static void temp_path(char *out, size_t size, const char *tag) {
  snprintf(out, size, "/tmp/lln-test-config-%s-XXXXXX", tag);
  int fd = mkstemp(out);
  assert_true(fd >= 0);
  close(fd);
}

/* A fresh temporary file (its path in out) holding `text`. */
static void temp_file(char *out, size_t size, const char *tag, const char *text) {
  temp_path(out, size, tag);
  write_file(out, text);
}

static const char *cond_vars(void *ctx, const char *name, size_t len) {
  const char *const *kv = ctx;
  for (size_t i = 0; kv[i]; i += 2) {
    if (strlen(kv[i]) == len && strncmp(kv[i], name, len) == 0)
      return kv[i + 1];
  }
  return NULL;
}

/* 1 when the first pre hook of `n` runs for the request variables `vars`. */
static int n_pre_holds(const lln_node *n, const char *const *vars) {
  assert_int_equal(n->n_pre, 1);
  assert_non_null(n->pre[0].cond);
  return lln_cond_eval(n->pre[0].cond, cond_vars, (void *)vars);
}

/* ---- example shapes ---- */

static void test_seed_pipeline(void **state) {
  (void)state;
  setenv("OPENROUTER_API_KEY_FREE", OPENROUTER_KEY, 1);
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "seed-pipeline.json", LLN_LOAD_RUN);
  assert_int_equal(cfg.n_models, 2);
  assert_int_equal(cfg.n_nodes, 3);

  const lln_model *gemma = model(&cfg, "router-gemma");
  assert_string_equal(gemma->url, "https://openrouter.ai/api");
  assert_string_equal(gemma->chat_url, "https://openrouter.ai/api/v1/chat/completions");
  assert_string_equal(gemma->api_key, OPENROUTER_KEY);
  assert_int_equal(gemma->timeout_ms, 120000);
  assert_int_equal(gemma->connect_timeout_ms, 10000);
  assert_int_equal(gemma->retries, 2);

  const lln_node *router = node(&cfg, "router");
  assert_ptr_equal(cfg.entry, router);
  assert_ptr_equal(cfg.router, router);
  assert_int_equal(router->layer, 0);
  assert_true(router->routes_only);
  assert_ptr_equal(router->model, gemma);
  assert_ptr_equal(router->endpoint, gemma);
  assert_null(router->inherited_from);
  expect_targets(router, "creative-handler", "technical-handler", NULL);
  expect_model_ids(router, "google/gemma-3-27b-it:free", NULL);
  assert_int_equal(cJSON_GetArraySize(router->options), 0);

  const lln_node *creative = node(&cfg, "creative-handler");
  assert_int_equal(creative->layer, 1);
  assert_false(creative->routes_only);
  assert_int_equal(creative->n_targets, 0);
  assert_ptr_equal(creative->endpoint, model(&cfg, "handler-llama"));
  assert_string_equal(creative->use_case, "Creative writing, storytelling, poetry");
  expect_model_ids(creative, "meta-llama/llama-3.3-70b-instruct:free", NULL);

  /* The seed's technical-handler has no "model": it uses the router's. */
  const lln_node *tech = node(&cfg, "technical-handler");
  assert_null(tech->model);
  assert_ptr_equal(tech->endpoint, gemma);
  assert_ptr_equal(tech->inherited_from, router);
  assert_int_equal(tech->n_targets, 0);
  expect_model_ids(tech, "qwen/qwen3-coder:free", NULL);
  assert_int_equal(tech->index, 2);

  /* Run mode says so too, as a warning. */
  expect_at(&d, find_diag(&d, LLN_DIAG_WARNING, "technical-handler", "router-gemma", "\"router\"", NULL), 35,
            5);
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

static void test_seed_validate_reports_inheritance(void **state) {
  (void)state;
  unsetenv("OPENROUTER_API_KEY_FREE");
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "seed-pipeline.json", LLN_LOAD_VALIDATE);
  const lln_diag *g = find_diag(&d, LLN_DIAG_WARNING, "technical-handler", "inherits", "router-gemma",
                                "https://openrouter.ai/api", NULL);
  expect_at(&d, g, 35, 5);
  /* The unset key is only a warning at validate, naming model and variable. */
  expect_at(&d, find_diag(&d, LLN_DIAG_WARNING, "router-gemma", "OPENROUTER_API_KEY_FREE", NULL), 7, 7);
  assert_non_null(find_diag(&d, LLN_DIAG_WARNING, "handler-llama", "OPENROUTER_API_KEY_FREE", NULL));
  assert_int_equal(d.errors, 0);
  /* The reference is kept as written rather than becoming "". */
  assert_string_equal(model(&cfg, "router-gemma")->api_key, "$OPENROUTER_API_KEY_FREE");
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

static void test_seed_run_without_key_fails(void **state) {
  (void)state;
  unsetenv("OPENROUTER_API_KEY_FREE");
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "seed-pipeline.json", LLN_LOAD_RUN);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "model \"router-gemma\"", "$OPENROUTER_API_KEY_FREE", NULL), 7,
            7);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "model \"handler-llama\"", "$OPENROUTER_API_KEY_FREE", NULL));
  assert_int_equal(d.errors, 2);
  lln_diags_free(&d);
}

static void test_basic_chatbot(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "basic-chatbot.json", LLN_LOAD_RUN);
  assert_int_equal(d.warnings, 0);
  const lln_node *chat = node(&cfg, "chat");
  assert_ptr_equal(cfg.entry, chat);
  assert_int_equal(chat->adapter, LLN_ADAPTER_OPENAI);
  assert_int_equal(chat->bind_port, 8080); /* given as the string "8080" */
  assert_string_equal(chat->bind_addr, "127.0.0.1");
  assert_false(chat->routes_only); /* its only target is the output node: it answers */
  expect_targets(chat, "output", NULL);
  expect_model_ids(chat, "llama3.2", NULL);
  /* llmnet's own keys stay out of the upstream body; the rest go through. */
  assert_null(cJSON_GetObjectItemCaseSensitive(chat->options, "model_override"));
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(chat->options, "temperature");
  assert_true(cJSON_IsNumber(t));
  assert_true(t->valuedouble > 0.69 && t->valuedouble < 0.71);
  assert_int_equal(cJSON_GetArraySize(chat->options), 1);

  const lln_model *m = model(&cfg, "chatbot");
  assert_null(m->api_key); /* "api-key": null */
  assert_string_equal(m->chat_url, "http://localhost:11434/v1/chat/completions");

  const lln_node *out = node(&cfg, "output");
  assert_int_equal(out->adapter, LLN_ADAPTER_OUTPUT);
  assert_int_equal(out->layer, -1); /* no layer, and another node is layer 0 */
  assert_null(out->endpoint);
  assert_int_equal(out->bind_port, 0);
  expect_model_ids(out, "output", NULL);
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

static void test_dual_expert(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "dual-expert.json", LLN_LOAD_RUN);
  assert_int_equal(d.warnings, 0);
  const lln_node *router = node(&cfg, "router");
  assert_int_equal(router->bind_port, 8081); /* numeric */
  assert_null(router->bind_addr);
  assert_true(router->routes_only);
  expect_targets(router, "sales-expert", "support-expert", NULL);
  expect_model_ids(router, "router", NULL); /* no model_override: the node name */
  assert_false(node(&cfg, "sales-expert")->is_default);
  assert_true(node(&cfg, "support-expert")->is_default);
  expect_targets(node(&cfg, "sales-expert"), "output", NULL);
  assert_string_equal(node(&cfg, "sales-expert")->endpoint->chat_url,
                      "http://localhost:8001/v1/chat/completions");
  assert_string_equal(node(&cfg, "support-expert")->endpoint->chat_url,
                      "http://localhost:8002/v1/chat/completions");
  assert_int_equal(node(&cfg, "output")->layer, 2);
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

static void test_multi_layer_refiner(void **state) {
  (void)state;
  setenv("OPENROUTER_API_KEY_FREE", OPENROUTER_KEY, 1);
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "multi-layer.json", LLN_LOAD_RUN);
  assert_int_equal(d.warnings, 0);
  expect_targets(node(&cfg, "router"), "technical-handler", "creative-handler", NULL);
  const lln_node *tech = node(&cfg, "technical-handler");
  expect_targets(tech, "response-refiner", NULL);
  expect_targets(node(&cfg, "creative-handler"), "response-refiner", NULL);
  expect_model_ids(tech, "qwen/qwen3-coder:free", "qwen/qwen3-coder", NULL); /* array = fallbacks */
  assert_non_null(cJSON_GetObjectItemCaseSensitive(tech->options, "temperature"));
  assert_null(cJSON_GetObjectItemCaseSensitive(tech->options, "model_override"));
  assert_string_equal(tech->endpoint->chat_url, "https://openrouter.ai/api/v1/chat/completions");

  const lln_node *refiner = node(&cfg, "response-refiner");
  assert_int_equal(refiner->layer, 2);
  expect_targets(refiner, "output", NULL);
  assert_string_equal(refiner->system, "You polish answers.");
  assert_string_equal(refiner->prompt_template, "The user asked:\n{{INITIAL_INPUT}}\n\nDraft:\n{{INPUT}}");
  assert_null(cJSON_GetObjectItemCaseSensitive(refiner->options, "system"));
  assert_null(cJSON_GetObjectItemCaseSensitive(refiner->options, "prompt-template"));
  assert_null(cJSON_GetObjectItemCaseSensitive(refiner->options, "model_override"));
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(refiner->options, "max_tokens");
  assert_true(cJSON_IsNumber(mt));
  assert_int_equal(mt->valueint, 512);
  /* "${NAME}" substitutes like "$NAME". */
  assert_string_equal(model(&cfg, "refiner")->api_key, OPENROUTER_KEY);
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

static void test_conditional_routing(void **state) {
  (void)state;
  setenv("OPENROUTER_API_KEY_FREE", OPENROUTER_KEY, 1);
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "conditional-routing.json", LLN_LOAD_RUN);
  expect_targets(node(&cfg, "router"), "short-input-handler", "long-input-handler", NULL);
  /* Layer 2 holds the refiner and an output node: only the refiner counts. */
  expect_targets(node(&cfg, "long-input-handler"), "response-refiner", NULL);
  const lln_node *shrt = node(&cfg, "short-input-handler");
  const lln_node *lng = node(&cfg, "long-input-handler");
  assert_string_equal(shrt->if_src, "$WORD_COUNT < 10");
  assert_string_equal(lng->if_src, "$WORD_COUNT >= 10");
  assert_non_null(shrt->cond);
  assert_non_null(lng->cond);
  assert_null(node(&cfg, "router")->cond);
  const char *few[] = {"WORD_COUNT", "9", NULL};
  const char *many[] = {"WORD_COUNT", "10", NULL};
  assert_true(lln_cond_eval(shrt->cond, cond_vars, (void *)few));
  assert_false(lln_cond_eval(lng->cond, cond_vars, (void *)few));
  assert_false(lln_cond_eval(shrt->cond, cond_vars, (void *)many));
  assert_true(lln_cond_eval(lng->cond, cond_vars, (void *)many));
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

static void test_nemotron_router(void **state) {
  (void)state;
  setenv("NVIDIA_API_KEY", "nvapi-test-key-0123456789", 1);
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "nemotron-router.json", LLN_LOAD_RUN);
  expect_no_diag_contains(&d, "unknown key");
  const lln_model *nem = model(&cfg, "nemotron");
  assert_string_equal(nem->chat_url, "https://integrate.api.nvidia.com/v1/chat/completions");

  const lln_node *router = node(&cfg, "router");
  assert_ptr_equal(cfg.entry, router);
  assert_true(router->routes_only);
  expect_targets(router, "company-2024-q1", "company-2024-q4", NULL);
  assert_int_equal(router->n_header_keys, 1);
  assert_string_equal(router->header_keys[0], "OutputCustomKey");
  assert_null(cJSON_GetObjectItemCaseSensitive(router->options, "UseHeaderKeys"));
  assert_null(cJSON_GetObjectItemCaseSensitive(router->options, "model_override"));
  expect_model_ids(router, "nvidia/llama-3.1-nemotron-70b-instruct", NULL);

  /* The fine-tunes have no "model": they inherit the router's endpoint and
   * are called by their own names. */
  const lln_node *q1 = node(&cfg, "company-2024-q1");
  const lln_node *q4 = node(&cfg, "company-2024-q4");
  const lln_node *edge = node(&cfg, "company-2024-q4-edge-case");
  assert_null(q1->model);
  assert_ptr_equal(q1->endpoint, nem);
  assert_ptr_equal(q1->inherited_from, router);
  assert_ptr_equal(q4->endpoint, nem);
  assert_ptr_equal(q4->inherited_from, router);
  expect_model_ids(q4, "company-2024-q4", NULL);
  expect_targets(q4, "final-output", "company-2024-q4-edge-case", NULL);
  expect_targets(q1, "final-output", NULL);
  /* A chain of model-less nodes resolves too. */
  assert_ptr_equal(edge->endpoint, nem);
  assert_ptr_equal(edge->inherited_from, q4);
  assert_non_null(find_diag(&d, LLN_DIAG_WARNING, "company-2024-q4-edge-case", "\"company-2024-q4\"", NULL));

  const lln_node *fin = node(&cfg, "final-output");
  assert_int_equal(fin->adapter, LLN_ADAPTER_OUTPUT);
  assert_int_equal(fin->layer, -1);

  const lln_node *ws = node(&cfg, "output-to-ws");
  assert_int_equal(ws->adapter, LLN_ADAPTER_WS);
  assert_string_equal(ws->url, "ws://localhost:3000");
  assert_string_equal(ws->if_src, "$OutputCustomKey");
  assert_non_null(ws->cond);
  assert_null(ws->endpoint);
  assert_int_equal(ws->n_targets, 0);
  assert_int_equal(cJSON_GetArraySize(ws->options), 0);
  const char *with[] = {"OutputCustomKey", "yes", NULL};
  const char *without[] = {NULL};
  assert_true(lln_cond_eval(ws->cond, cond_vars, (void *)with));
  assert_false(lln_cond_eval(ws->cond, cond_vars, (void *)without));
  /* No node routes to the ws sink. */
  for (size_t i = 0; i < cfg.n_nodes; i++) {
    for (size_t k = 0; k < cfg.nodes[i].n_targets; k++)
      assert_ptr_not_equal(cfg.nodes[i].targets[k], ws);
  }
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

static void test_jsonc_comments(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "jsonc-comments.jsonc", LLN_LOAD_RUN);
  assert_int_equal(d.warnings, 0);
  const lln_model *m = model(&cfg, "local");
  assert_string_equal(m->api_key, "not // a comment /* either */");
  assert_string_equal(m->chat_url, "http://localhost:11434/v1/chat/completions");
  const lln_node *solo = node(&cfg, "solo");
  assert_ptr_equal(cfg.entry, solo);
  assert_int_equal(solo->layer, 0); /* no layer, and nothing else is layer 0 */
  assert_false(solo->routes_only);
  assert_int_equal(solo->n_targets, 0);
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

/* ---- errors with line:col ---- */

static void test_syntax_error(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-syntax.json", LLN_LOAD_VALIDATE);
  assert_int_equal(d.errors, 1);
  expect_at(&d, &d.items[0], 7, 5);
  assert_int_equal(d.items[0].severity, LLN_DIAG_ERROR);
  /* The printed form names file, line and column. */
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  assert_non_null(mem);
  lln_diags_print(&d, mem);
  fclose(mem);
  assert_non_null(strstr(text, "bad-syntax.json:7:5: error: "));
  free(text);
  lln_diags_free(&d);
}

static void test_missing_file(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "no-such-file.json", LLN_LOAD_VALIDATE);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "cannot open", NULL));
  lln_diags_free(&d);
}

static void test_missing_sections(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-missing-sections.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "\"models\"", NULL), 1, 1);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "\"architecture\"", NULL), 1, 1);
  assert_int_equal(d.errors, 2);
  lln_diags_free(&d);
}

static void test_unknown_model(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-unknown-model.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"a\"", "\"no-such-model\"", NULL), 6, 32);
  lln_diags_free(&d);
}

static void test_duplicate_names(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-duplicate-names.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "\"b\"", "twice", NULL), 8, 7);
  assert_int_equal(d.errors, 1);
  lln_diags_free(&d);
}

static void test_unknown_target(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-unknown-target.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"a\"", "\"nowhere\"", NULL), 6, 46);
  assert_int_equal(d.errors, 1);
  lln_diags_free(&d);
}

static void test_empty_layer(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-empty-layer.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"b\"", "layer 3", NULL), 7, 46);
  assert_int_equal(d.errors, 1);
  lln_diags_free(&d);
}

static void test_cycle(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-cycle.json", LLN_LOAD_VALIDATE);
  /* Only the loop itself, placed at the edge that closes it. */
  const lln_diag *g = find_diag(&d, LLN_DIAG_ERROR, "cycle", NULL);
  expect_at(&d, g, 8, 46);
  assert_non_null(strstr(g->message, ": a -> b -> a"));
  assert_null(strstr(g->message, "entry"));
  assert_int_equal(d.errors, 1);
  lln_diags_free(&d);
}

static void test_bad_condition(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-condition.json", LLN_LOAD_VALIDATE);
  const lln_diag *g = find_diag(&d, LLN_DIAG_ERROR, "node \"b\"", "$WORD_COUNT < ", "does not parse", NULL);
  expect_at(&d, g, 11, 9);       /* the "if" key */
  assert_int_equal(d.errors, 1); /* node c's condition is fine */
  lln_diags_free(&d);
}

static void test_bad_bind_port(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-bind-port.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"a\"", "bind-port", NULL), 6, 64);  /* "80x" */
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"b\"", "bind-port", NULL), 7, 46);  /* 70000 */
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"c\"", "bind-port", NULL), 8, 46);  /* "nan" */
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"d\"", "bind-port", NULL), 9, 46);  /* 80.5 */
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"e\"", "bind-port", NULL), 10, 46); /* true */
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"f\"", "bind-port", NULL), 11, 46); /* "0x1F90" */
  assert_int_equal(d.errors, 6);
  lln_diags_free(&d);
}

static void test_orphan_without_model(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-orphan-no-model.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"orphan\"", "no endpoint", NULL), 8, 5);
  assert_int_equal(d.errors, 1);
  /* "b" is reached by "a" and inherits instead. */
  assert_non_null(find_diag(&d, LLN_DIAG_WARNING, "node \"b\"", "inherits", NULL));
  lln_diags_free(&d);
}

static void test_bad_node_values(void **state) {
  (void)state;
  unsetenv("LLN_TEST_UNSET_HEADER");
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "bad-node-values.json", LLN_LOAD_RUN);
  /* A header's problem points at the header. */
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "model \"m\"", "X-Key", "LLN_TEST_UNSET_HEADER", NULL), 6, 20);
  /* Layer -1 is not "every node without a layer". */
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"a\"", "layer -1", NULL), 10, 46);
  /* A model id may not be empty, and a fallback list names at least one. */
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "model_override must not be empty", NULL), 11, 46);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "node \"c\"", "at least one model", NULL), 12, 46);
  assert_int_equal(d.errors, 4);
  lln_diags_free(&d);
}

static void test_unknown_keys_warn(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "warn-unknown-key.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_WARNING, "\"ouput-to\"", "did you mean \"output-to\"", NULL), 6, 46);
  expect_at(&d, find_diag(&d, LLN_DIAG_WARNING, "\"api_key\"", "did you mean \"api-key\"", NULL), 3, 61);
  expect_at(&d, find_diag(&d, LLN_DIAG_WARNING, "\"servr\"", "did you mean \"server\"", NULL), 9, 3);
  assert_int_equal(d.warnings, 3);
  /* The misspelt key is ignored: "a" has no output-to and is terminal. */
  assert_int_equal(node(&cfg, "a")->n_targets, 0);
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

static void test_keys_needing_pointer_escapes(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "warn-slash-key.json", LLN_LOAD_VALIDATE);
  /* A model key with '/' and '~' still places its problems in the file. */
  expect_at(&d, find_diag(&d, LLN_DIAG_WARNING, "\"timout\"", "did you mean \"timeout\"", NULL), 6, 7);
  assert_ptr_equal(node(&cfg, "a")->endpoint, model(&cfg, "meta/llama~3"));
  lln_config_free(&cfg);
  lln_diags_free(&d);
}

/* ---- substitution: environment, --env-file, secrets ---- */

#define SECRET_API_KEY "sk-live-SECRET-VALUE-do-not-print"

static void test_unset_variable_run_vs_validate(void **state) {
  (void)state;
  setenv("LLN_TEST_BASE_URL", "http://127.0.0.1:9", 1);
  setenv("LLN_TEST_API_KEY", SECRET_API_KEY, 1);
  unsetenv("LLN_TEST_UNSET_KEY");
  lln_config cfg;
  lln_diags d;
  load_fails(&cfg, &d, "env-vars.json", LLN_LOAD_RUN);
  const lln_diag *g = find_diag(&d, LLN_DIAG_ERROR, "model \"backup\"", "LLN_TEST_UNSET_KEY", NULL);
  expect_at(&d, g, 11, 7);
  assert_int_equal(d.errors, 1);
  expect_no_diag_contains(&d, SECRET_API_KEY);
  expect_no_diag_contains(&d, "SECRET-VALUE");
  lln_diags_free(&d);

  load_ok(&cfg, &d, "env-vars.json", LLN_LOAD_VALIDATE);
  expect_at(&d, find_diag(&d, LLN_DIAG_WARNING, "model \"backup\"", "LLN_TEST_UNSET_KEY", NULL), 11, 7);
  expect_no_diag_contains(&d, "SECRET-VALUE");
  const lln_model *primary = model(&cfg, "primary");
  assert_string_equal(primary->chat_url, "http://127.0.0.1:9/api/v1/chat/completions");
  assert_string_equal(primary->api_key, SECRET_API_KEY);
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_BASE_URL");
  unsetenv("LLN_TEST_API_KEY");
}

static void test_env_file_and_environment_wins(void **state) {
  (void)state;
  char env[256];
  temp_file(env, sizeof env, "env",
            "# test env\n"
            "LLN_TEST_BASE_URL=http://from-file.example:8000\n"
            "export LLN_TEST_API_KEY=\"file-key-value\"\n");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", LLN_FIXTURES, "env-file-vars.json");
  unsetenv("LLN_TEST_BASE_URL");
  unsetenv("LLN_TEST_API_KEY");

  /* Without the env-file both are unset. */
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load_path(&cfg, &d, path, LLN_LOAD_RUN, NULL), -1);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "LLN_TEST_BASE_URL", NULL));
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "LLN_TEST_API_KEY", NULL));
  lln_diags_free(&d);

  load_path_ok(&cfg, &d, path, env);
  const lln_model *m = model(&cfg, "primary");
  assert_string_equal(m->chat_url, "http://from-file.example:8000/api/v1/chat/completions");
  assert_string_equal(m->api_key, "file-key-value");
  expect_no_diag_contains(&d, "file-key-value");
  lln_config_free(&cfg);
  lln_diags_free(&d);

  /* The real environment wins over the file. */
  setenv("LLN_TEST_API_KEY", "env-key-value", 1);
  assert_int_equal(load_path(&cfg, &d, path, LLN_LOAD_RUN, env), 0);
  m = model(&cfg, "primary");
  assert_string_equal(m->api_key, "env-key-value");
  assert_string_equal(m->chat_url, "http://from-file.example:8000/api/v1/chat/completions");
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_API_KEY");

  /* A missing env-file is an error that names it. */
  unlink(env);
  assert_int_equal(load_path(&cfg, &d, path, LLN_LOAD_VALIDATE, env), -1);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "--env-file", NULL));
  lln_diags_free(&d);
}

#define SECRET_ENV_VALUE "env-secret-XYZZY-0123456789"
#define SECRET_FILE_VALUE "file-secret-PLUGH-9876543210"

static void test_secrets_in_headers(void **state) {
  (void)state;
  char env[256], comp[256];
  temp_path(env, sizeof env, "secret-env");
  temp_path(comp, sizeof comp, "secret-json");
  write_file(env, "FILE_TOKEN=" SECRET_FILE_VALUE "\nOTHER=unused\n");
  char text[2048];
  snprintf(
      text, sizeof text,
      "{\n"
      "  \"secrets\": {\n"
      "    \"from-env\": {\"source\": \"env\", \"variable\": \"LLN_TEST_SECRET_TOKEN\"},\n"
      "    \"from-file\": {\"source\": \"env-file\", \"path\": \"%s\", \"variables\": [\"FILE_TOKEN\"]}\n"
      "  },\n"
      "  \"models\": {\n"
      "    \"m\": {\n"
      "      \"type\": \"external\",\n"
      "      \"url\": \"http://localhost:1\",\n"
      "      \"api-key\": \"$secrets.from-file.FILE_TOKEN\",\n"
      "      \"headers\": {\n"
      "        \"X-Env\": \"Bearer $secrets.from-env.LLN_TEST_SECRET_TOKEN\",\n"
      "        \"X-File\": \"${secrets.from-file.FILE_TOKEN}\",\n"
      "        \"X-Title\": \"llmnet $$5\"\n"
      "      }\n"
      "    }\n"
      "  },\n"
      "  \"architecture\": [{\"name\": \"a\", \"model\": \"m\"}]\n"
      "}\n",
      env);
  write_file(comp, text);
  setenv("LLN_TEST_SECRET_TOKEN", SECRET_ENV_VALUE, 1);
  lln_config cfg;
  lln_diags d;
  load_path_ok(&cfg, &d, comp, NULL);
  const lln_model *m = model(&cfg, "m");
  assert_string_equal(m->api_key, SECRET_FILE_VALUE);
  assert_non_null(m->headers);
  assert_string_equal(m->headers[0], "X-Env: Bearer " SECRET_ENV_VALUE);
  assert_string_equal(m->headers[1], "X-File: " SECRET_FILE_VALUE);
  assert_string_equal(m->headers[2], "X-Title: llmnet $5");
  assert_null(m->headers[3]);
  assert_int_equal(cfg.n_secrets, 2);
  expect_no_diag_contains(&d, "XYZZY");
  expect_no_diag_contains(&d, "PLUGH");
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_SECRET_TOKEN");
  unlink(env);
  unlink(comp);
}

static void test_missing_secret_variable(void **state) {
  (void)state;
  char comp[256];
  temp_file(comp, sizeof comp, "secret-missing",
            "{\n"
            "  \"secrets\": {\n"
            "    \"vault-ish\": {\"source\": \"env\", \"variables\": [\"LLN_TEST_SECRET_TOKEN\",\n"
            "                                                   \"LLN_TEST_SECRET_MISSING\"]}\n"
            "  },\n"
            "  \"models\": {\n"
            "    \"m\": {\n"
            "      \"type\": \"external\",\n"
            "      \"url\": \"http://localhost:1\",\n"
            "      \"api-key\": \"$secrets.vault-ish.LLN_TEST_SECRET_TOKEN\",\n"
            "      \"headers\": {\"X-Other\": \"$secrets.nosuch.VAR\"}\n"
            "    }\n"
            "  },\n"
            "  \"architecture\": [{\"name\": \"a\", \"model\": \"m\"}]\n"
            "}\n");
  setenv("LLN_TEST_SECRET_TOKEN", SECRET_ENV_VALUE, 1);
  unsetenv("LLN_TEST_SECRET_MISSING");
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load_path(&cfg, &d, comp, LLN_LOAD_RUN, NULL), -1);
  expect_at(&d, find_diag(&d, LLN_DIAG_ERROR, "secret \"vault-ish\"", "LLN_TEST_SECRET_MISSING", NULL), 3, 5);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "model \"m\"", "secrets.nosuch.VAR", NULL));
  assert_int_equal(d.errors, 2);
  expect_no_diag_contains(&d, "XYZZY");
  lln_diags_free(&d);

  /* validate: the same problems are warnings. */
  assert_int_equal(load_path(&cfg, &d, comp, LLN_LOAD_VALIDATE, NULL), 0);
  assert_non_null(find_diag(&d, LLN_DIAG_WARNING, "secret \"vault-ish\"", "LLN_TEST_SECRET_MISSING", NULL));
  assert_string_equal(model(&cfg, "m")->api_key, SECRET_ENV_VALUE);
  expect_no_diag_contains(&d, "XYZZY");
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_SECRET_TOKEN");
  unlink(comp);
}

/* A condition's "$secrets.S.V" (the variable grammar every configuration
 * string shares) is bound at load, as literal text: a secret holding
 * "$INPUT" is compared as those characters and is never looked up per
 * request; other names stay request variables. A missing secret is an
 * error at run, a warning at validate. Before, "$secrets.tiers.gold" did
 * not parse in a condition. */
static const char *counting_vars(void *ctx, const char *name, size_t len) {
  if (len > 8 && strncmp(name, "secrets.", 8) == 0)
    fail_msg("secret %.*s looked up per request", (int)len, name);
  return cond_vars(ctx, name, len);
}

static void test_condition_secrets_bound_at_load(void **state) {
  (void)state;
  char comp[256];
  temp_file(
      comp, sizeof comp, "cond-secret",
      "{\n"
      "  \"secrets\": {\"tiers\": {\"source\": \"env\", \"variables\": [\"LLN_TEST_GOLD\", "
      "\"LLN_TEST_EVIL\"]}},\n"
      "  \"functions\": {\"f\": {\"type\": \"shell\", \"command\": \"true\"}},\n"
      "  \"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://localhost:1\"}},\n"
      "  \"architecture\": [\n"
      "    {\"name\": \"r\", \"layer\": 0, \"model\": \"m\", \"output-to\": [1]},\n"
      "    {\"name\": \"gold\", \"layer\": 1, \"model\": \"m\",\n"
      "     \"if\": \"$X_TIER == $secrets.tiers.LLN_TEST_GOLD\",\n"
      "     \"hooks\": {\"pre\": [{\"function\": \"f\", \"if\": \"${secrets.tiers.LLN_TEST_EVIL} == "
      "'$INPUT'\"}]}},\n"
      "    {\"name\": \"other\", \"layer\": 1, \"model\": \"m\", \"if\": \"$secrets.tiers.LLN_TEST_EVIL "
      "!= $INPUT\"}\n"
      "  ]\n"
      "}\n");
  setenv("LLN_TEST_GOLD", "g0ld", 1);
  setenv("LLN_TEST_EVIL", "$INPUT", 1);
  lln_config cfg;
  lln_diags d;
  load_path_ok(&cfg, &d, comp, NULL);
  const lln_node *gold = node(&cfg, "gold"), *other = node(&cfg, "other");
  const char *const gold_req[] = {"X_TIER", "g0ld", "INPUT", "hi", NULL};
  const char *const plain_req[] = {"X_TIER", "$secrets.tiers.LLN_TEST_GOLD", "INPUT", "$INPUT", NULL};
  assert_int_equal(lln_cond_eval(gold->cond, counting_vars, (void *)gold_req), 1);
  assert_int_equal(lln_cond_eval(gold->cond, counting_vars, (void *)plain_req), 0);
  assert_int_equal(n_pre_holds(gold, gold_req), 1);
  assert_int_equal(lln_cond_eval(other->cond, counting_vars, (void *)gold_req), 1);
  assert_int_equal(lln_cond_eval(other->cond, counting_vars, (void *)plain_req), 0);
  expect_no_diag_contains(&d, "g0ld");
  lln_config_free(&cfg);
  lln_diags_free(&d);

  unsetenv("LLN_TEST_GOLD");
  assert_int_equal(load_path(&cfg, &d, comp, LLN_LOAD_RUN, NULL), -1);
  const lln_diag *g = find_diag(&d, LLN_DIAG_ERROR, "node \"gold\": condition",
                                "$secrets.tiers.LLN_TEST_GOLD", "not set", NULL);
  expect_at(&d, g, 8, 6);
  lln_diags_free(&d);
  assert_int_equal(load_path(&cfg, &d, comp, LLN_LOAD_VALIDATE, NULL), 0);
  assert_non_null(find_diag(&d, LLN_DIAG_WARNING, "node \"gold\": condition", "LLN_TEST_GOLD", NULL));
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_EVIL");
  unlink(comp);
}

/* A node's "system" and "prompt-template" are compiled at load into
 * {{NAME}} templates (LLN_TMPL_BRACES): a call renders them with
 * lln_tmpl_render, and a value holding "{{NAME}}" is never expanded again.
 * Before, the text was scanned on every call (pipeline's render_template). */
static void test_prompt_templates_compiled_at_load(void **state) {
  (void)state;
  char comp[256];
  temp_file(
      comp, sizeof comp, "prompt-tmpl",
      "{\n"
      "  \"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://localhost:1\"}},\n"
      "  \"architecture\": [\n"
      "    {\"name\": \"a\", \"model\": \"m\", \"output-to\": [\"b\"],\n"
      "     \"extra-options\": {\"system\": \"You are {{ NODE }} for {{X-Tier}}; {{NOPE}} $HOME {{\"}},\n"
      "    {\"name\": \"b\", \"layer\": 1, \"model\": \"m\",\n"
      "     \"extra-options\": {\"prompt-template\": \"Q: {{INPUT}} (was {{INITIAL_INPUT}})\"}}\n"
      "  ]\n"
      "}\n");
  lln_config cfg;
  lln_diags d;
  load_path_ok(&cfg, &d, comp, NULL);
  const lln_node *a = node(&cfg, "a"), *b = node(&cfg, "b");
  assert_non_null(a->t_system);
  assert_null(a->t_prompt_template);
  assert_null(b->t_system);
  assert_non_null(b->t_prompt_template);
  assert_int_equal(lln_tmpl_var_count(a->t_system), 3);
  assert_int_equal(lln_tmpl_var_count(b->t_prompt_template), 2);
  const char *const vars[] = {"NODE",          "r", "X-Tier", "{{NODE}}", "INPUT", "{{INITIAL_INPUT}} $HOME",
                              "INITIAL_INPUT", "x", NULL};
  lln_buf out;
  lln_buf_init(&out);
  lln_tmpl_render(a->t_system, cond_vars, (void *)vars, NULL, &out);
  assert_string_equal(out.data, "You are r for {{NODE}}; {{NOPE}} $HOME {{");
  lln_buf_reset(&out);
  lln_tmpl_render(b->t_prompt_template, cond_vars, (void *)vars, NULL, &out);
  assert_string_equal(out.data, "Q: {{INITIAL_INPUT}} $HOME (was x)");
  lln_buf_free(&out);
  /* the text stays as written for anything that shows it */
  assert_string_equal(b->prompt_template, "Q: {{INPUT}} (was {{INITIAL_INPUT}})");
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unlink(comp);
}

static void test_dollar_in_url(void **state) {
  (void)state;
  char comp[256];
  temp_file(comp, sizeof comp, "dollar",
            "{\n"
            "  \"models\": {\n"
            "    \"escaped\": {\"type\": \"external\", \"url\": \"http://localhost:1/a$$b\"},\n"
            "    \"from-env\": {\"type\": \"external\", \"url\": \"$LLN_TEST_DOLLAR_URL\"}\n"
            "  },\n"
            "  \"architecture\": [{\"name\": \"a\", \"model\": \"escaped\", \"output-to\": [\"b\"]},\n"
            "                   {\"name\": \"b\", \"layer\": 1, \"model\": \"from-env\"}]\n"
            "}\n");
  /* A value may contain '$' once substituted; it is not substituted again. */
  setenv("LLN_TEST_DOLLAR_URL", "http://localhost:2/$HOME", 1);
  lln_config cfg;
  lln_diags d;
  load_path_ok(&cfg, &d, comp, NULL);
  assert_int_equal(d.count, 0);
  assert_string_equal(model(&cfg, "escaped")->chat_url, "http://localhost:1/a$b/v1/chat/completions");
  assert_string_equal(model(&cfg, "from-env")->chat_url, "http://localhost:2/$HOME/v1/chat/completions");
  assert_non_null(model(&cfg, "from-env")->chat_url);
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_DOLLAR_URL");
  unlink(comp);
}

static void test_free_is_idempotent(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  load_ok(&cfg, &d, "basic-chatbot.json", LLN_LOAD_RUN);
  lln_config_free(&cfg);
  assert_null(cfg.nodes);
  assert_int_equal(cfg.n_nodes, 0);
  lln_config_free(&cfg); /* safe on an already freed config */
  lln_diags_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seed_pipeline),
      cmocka_unit_test(test_seed_validate_reports_inheritance),
      cmocka_unit_test(test_seed_run_without_key_fails),
      cmocka_unit_test(test_basic_chatbot),
      cmocka_unit_test(test_dual_expert),
      cmocka_unit_test(test_multi_layer_refiner),
      cmocka_unit_test(test_conditional_routing),
      cmocka_unit_test(test_nemotron_router),
      cmocka_unit_test(test_jsonc_comments),
      cmocka_unit_test(test_syntax_error),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_missing_sections),
      cmocka_unit_test(test_unknown_model),
      cmocka_unit_test(test_duplicate_names),
      cmocka_unit_test(test_unknown_target),
      cmocka_unit_test(test_empty_layer),
      cmocka_unit_test(test_cycle),
      cmocka_unit_test(test_bad_condition),
      cmocka_unit_test(test_bad_bind_port),
      cmocka_unit_test(test_orphan_without_model),
      cmocka_unit_test(test_bad_node_values),
      cmocka_unit_test(test_unknown_keys_warn),
      cmocka_unit_test(test_keys_needing_pointer_escapes),
      cmocka_unit_test(test_unset_variable_run_vs_validate),
      cmocka_unit_test(test_env_file_and_environment_wins),
      cmocka_unit_test(test_secrets_in_headers),
      cmocka_unit_test(test_missing_secret_variable),
      cmocka_unit_test(test_dollar_in_url),
      cmocka_unit_test(test_condition_secrets_bound_at_load),
      cmocka_unit_test(test_prompt_templates_compiled_at_load),
      cmocka_unit_test(test_free_is_idempotent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
