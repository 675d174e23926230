/* test_runner_config: runner entries (src/config/runner.c): the argv and
 * health each preset builds, overrides, "env" and "$NAME" substitution at
 * load with $PORT and $MODEL kept for each start, and lln_runner_expand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/runner.h"
#include "config_fixtures.h"

static const lln_runner_spec *spec_of(const lln_config *cfg, const char *key) {
  for (size_t i = 0; i < cfg->n_models; i++) {
    if (strcmp(cfg->models[i].key, key) == 0)
      return cfg->models[i].runner;
  }
  fail_msg("no model %s", key);
  return NULL;
}

static void assert_argv(char **argv, const char *const *want) {
  size_t i = 0;
  for (; want[i]; i++) {
    assert_non_null(argv[i]);
    assert_string_equal(argv[i], want[i]);
  }
  assert_null(argv[i]);
}

static void test_presets(void **state) {
  (void)state;
  setenv("LLN_TEST_RUNNER_DIR", "/srv/models", 1);
  lln_config cfg;
  load_text(&cfg,
            "{\"models\": {"
            "\"l\": {\"type\": \"llama-cpp\", \"model\": \"$LLN_TEST_RUNNER_DIR/r.gguf\", \"args\": [\"-c\", "
            "\"2048\"]},"
            "\"o\": {\"type\": \"ollama\", \"model\": \"qwen2.5:1.5b\"},"
            "\"v\": {\"type\": \"vllm\", \"model\": \"Qwen/Qwen2.5-7B-Instruct\", \"startup-timeout\": 600},"
            "\"d\": {\"type\": \"docker\", \"engine\": \"docker\", \"image\": \"img:1\", \"container-port\": "
            "9000, \"env\": {\"A\": \"b\"}},"
            "\"c\": {\"type\": \"command\", \"command\": [\"srv\", \"--listen=127.0.0.1:${PORT}\"], "
            "\"health\": \"/ping\", \"cwd\": \"/tmp\"}},"
            "\"architecture\": [{\"name\": \"a\", \"layer\": 0, \"model\": \"l\"}]}");
  const lln_runner_spec *l = spec_of(&cfg, "l");
  assert_argv(l->argv, (const char *const[]){"llama-server", "-m", "$MODEL", "--host", "127.0.0.1", "--port",
                                             "$PORT", "-c", "2048", NULL});
  assert_string_equal(l->model, "/srv/models/r.gguf");
  assert_string_equal(l->health, "/health");
  assert_int_equal(l->startup_timeout_ms, 120000);
  const lln_runner_spec *o = spec_of(&cfg, "o");
  assert_argv(o->argv, (const char *const[]){"ollama", "serve", NULL});
  assert_argv(o->env, (const char *const[]){"OLLAMA_HOST=127.0.0.1:$PORT", NULL});
  assert_string_equal(o->health, "/api/version");
  const lln_runner_spec *v = spec_of(&cfg, "v");
  assert_argv(v->argv, (const char *const[]){"vllm", "serve", "$MODEL", "--host", "127.0.0.1", "--port",
                                             "$PORT", NULL});
  assert_int_equal(v->startup_timeout_ms, 600000);
  const lln_runner_spec *d = spec_of(&cfg, "d");
  assert_argv(d->argv, (const char *const[]){"docker", "run", "--rm", "--name", "llmnet-d", "--label",
                                             "llmnet.runner=llmnet-d", "-p", "127.0.0.1:$PORT:9000", "-e",
                                             "A=b", "img:1", NULL});
  assert_string_equal(d->container, "llmnet-d");
  const lln_runner_spec *c = spec_of(&cfg, "c");
  assert_argv(c->argv, (const char *const[]){"srv", "--listen=127.0.0.1:$PORT", NULL});
  assert_string_equal(c->health, "/ping");
  assert_string_equal(c->cwd, "/tmp");
  assert_string_equal(cfg.models[0].url, "http://127.0.0.1:$PORT/v1");
  lln_config_free(&cfg);
}

static void test_expand(void **state) {
  (void)state;
  char *s = lln_runner_expand("--port=$PORT ${PORT} -m $MODEL $PORTABLE $$PORT", 4321, "/m.gguf");
  assert_string_equal(s, "--port=4321 4321 -m /m.gguf $PORTABLE $PORT");
  free(s);
}

static void test_environment_port_is_not_used(void **state) {
  (void)state;
  setenv("PORT", "9999", 1);
  lln_config cfg;
  load_text(&cfg, "{\"models\": {\"c\": {\"type\": \"command\", \"command\": [\"srv\", \"$PORT\"]}},"
                  "\"architecture\": [{\"name\": \"a\", \"layer\": 0, \"model\": \"c\"}]}");
  assert_string_equal(cfg.models[0].runner->argv[1], "$PORT");
  lln_config_free(&cfg);
  unsetenv("PORT");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_presets),
      cmocka_unit_test(test_expand),
      cmocka_unit_test(test_environment_port_is_not_used),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
