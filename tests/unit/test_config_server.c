/* test_config_server: "$VAR" in every "server" setting (numbers written as
 * strings, cors, log-format, store, api-keys), server.drain-delay, and
 * where `llmnet run` listens: --port/--bind-addr over LLMNET_PORT /
 * LLMNET_BIND_ADDR over the entry node's bind-port/bind-addr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/listen.h"

#include "config_fixtures.h"

#define MODELS                                                                                               \
  "\"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://127.0.0.1:1\", \"api-key\": \"k\"}},"      \
  "\"architecture\": [{\"name\": \"a\", \"layer\": 0, \"model\": \"m\"}],"

/* Loads `server` (the text of the "server" object) in `mode`; returns what
 * lln_config_load returns, with the diagnostics in `d` (free them). */
static int load_server(lln_config *cfg, lln_diags *d, const char *server, lln_load_mode mode) {
  char path[] = "/tmp/llmnet-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  char text[4096];
  int n = snprintf(text, sizeof text, "{" MODELS "\"server\": %s}", server);
  assert_int_equal(write(fd, text, (size_t)n), n);
  close(fd);
  lln_load_options opts = {.mode = mode};
  lln_diags_init(d, path);
  int rc = lln_config_load(cfg, path, &opts, d);
  unlink(path);
  return rc;
}

static void test_numbers_from_variables(void **state) {
  (void)state;
  setenv("LLN_T_WORKERS", "3", 1);
  setenv("LLN_T_DELAY", " 2.5 ", 1);
  setenv("LLN_T_GRACE", "12", 1);
  setenv("LLN_T_BODY", "65536", 1);
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load_server(&cfg, &d,
                               "{\"workers\": \"$LLN_T_WORKERS\", \"drain-delay\": \"${LLN_T_DELAY}\", "
                               "\"shutdown-grace\": \"$LLN_T_GRACE\", \"max-body-bytes\": \"$LLN_T_BODY\", "
                               "\"max-hops\": \"4\"}",
                               LLN_LOAD_RUN),
                   0);
  assert_int_equal(d.errors, 0);
  assert_int_equal(cfg.server.workers, 3);
  assert_int_equal(cfg.server.drain_delay_ms, 2500);
  assert_int_equal(cfg.server.shutdown_grace_ms, 12000);
  assert_int_equal(cfg.server.max_body_bytes, 65536);
  assert_int_equal(cfg.server.max_hops, 4);
  lln_diags_free(&d);
  lln_config_free(&cfg);
}

static void test_drain_delay_default_and_range(void **state) {
  (void)state;
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load_server(&cfg, &d, "{}", LLN_LOAD_RUN), 0);
  assert_int_equal(cfg.server.drain_delay_ms, 0);
  lln_diags_free(&d);
  lln_config_free(&cfg);
  assert_int_equal(load_server(&cfg, &d, "{\"drain-delay\": 301}", LLN_LOAD_VALIDATE), -1);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "\"drain-delay\" must be a number from 0 to 300", NULL));
  lln_diags_free(&d);
  assert_int_equal(load_server(&cfg, &d, "{\"drain-delay\": true}", LLN_LOAD_VALIDATE), -1);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "\"drain-delay\"", "$VAR", NULL));
  lln_diags_free(&d);
}

/* A variable that does not hold a number is named, its value never shown
 * (a mistyped name may hold a secret). */
static void test_number_variable_not_a_number(void **state) {
  (void)state;
  setenv("LLN_T_SECRETISH", "sk-or-v1-0123456789", 1);
  setenv("LLN_T_HEX", "0x10", 1);
  for (int mode = 0; mode < 2; mode++) {
    lln_config cfg;
    lln_diags d;
    assert_int_equal(load_server(&cfg, &d,
                                 "{\"workers\": \"$LLN_T_SECRETISH\", \"max-hops\": \"$LLN_T_HEX\"}",
                                 mode ? LLN_LOAD_RUN : LLN_LOAD_VALIDATE),
                     -1);
    assert_non_null(
        find_diag(&d, LLN_DIAG_ERROR, "\"workers\" is not a number", "$LLN_T_SECRETISH", "0 to 256", NULL));
    assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "\"max-hops\"", "$LLN_T_HEX", NULL));
    expect_no_diag_contains(&d, "sk-or-v1");
    lln_diags_free(&d);
  }
}

static void test_number_variable_out_of_range(void **state) {
  (void)state;
  setenv("LLN_T_MANY", "999", 1);
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load_server(&cfg, &d, "{\"workers\": \"$LLN_T_MANY\"}", LLN_LOAD_RUN), -1);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "\"workers\" is 999 (from $LLN_T_MANY)", "0 to 256", NULL));
  lln_diags_free(&d);
}

/* Unset: a warning at validate (the default stays), an error at run. */
static void test_unset_number_variable(void **state) {
  (void)state;
  unsetenv("LLN_T_UNSET");
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load_server(&cfg, &d, "{\"drain-delay\": \"$LLN_T_UNSET\"}", LLN_LOAD_VALIDATE), 0);
  assert_non_null(find_diag(&d, LLN_DIAG_WARNING, "drain-delay", "$LLN_T_UNSET", "not set", NULL));
  assert_int_equal(cfg.server.drain_delay_ms, 0);
  lln_diags_free(&d);
  lln_config_free(&cfg);
  assert_int_equal(load_server(&cfg, &d, "{\"drain-delay\": \"$LLN_T_UNSET\"}", LLN_LOAD_RUN), -1);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "drain-delay", "$LLN_T_UNSET", "not set", NULL));
  lln_diags_free(&d);
}

static void test_strings_from_variables(void **state) {
  (void)state;
  setenv("LLN_T_FORMAT", "json", 1);
  setenv("LLN_T_STORE", "redis://127.0.0.1:6399/2", 1);
  setenv("LLN_T_KEY", "inbound-key", 1);
  setenv("LLN_T_ORIGINS", "https://a.example, https://b.example", 1);
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load_server(&cfg, &d,
                               "{\"log-format\": \"$LLN_T_FORMAT\", \"store\": \"$LLN_T_STORE\", "
                               "\"api-keys\": [\"$LLN_T_KEY\"], \"cors\": \"$LLN_T_ORIGINS\"}",
                               LLN_LOAD_RUN),
                   0);
  assert_string_equal(cfg.server.log_format, "json");
  assert_string_equal(cfg.server.store, "redis://127.0.0.1:6399/2");
  assert_int_equal(cfg.server.n_api_keys, 1);
  assert_string_equal(cfg.server.api_keys[0], "inbound-key");
  assert_int_equal(cfg.server.n_cors_origins, 2);
  assert_string_equal(cfg.server.cors_origins[0], "https://a.example");
  assert_string_equal(cfg.server.cors_origins[1], "https://b.example");
  lln_diags_free(&d);
  lln_config_free(&cfg);

  setenv("LLN_T_FORMAT", "yaml", 1);
  assert_int_equal(load_server(&cfg, &d, "{\"log-format\": \"$LLN_T_FORMAT\"}", LLN_LOAD_RUN), -1);
  assert_non_null(find_diag(&d, LLN_DIAG_ERROR, "\"log-format\" is \"text\" or \"json\"", NULL));
  lln_diags_free(&d);
}

static void test_cors_from_variables(void **state) {
  (void)state;
  static const struct {
    const char *value;
    size_t n;
    const char *first;
  } cases[] = {{"true", 1, "*"},
               {"*", 1, "*"},
               {"false", 0, NULL},
               {"", 0, NULL},
               {"https://x.example", 1, "https://x.example"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    setenv("LLN_T_CORS", cases[i].value, 1);
    lln_config cfg;
    lln_diags d;
    assert_int_equal(load_server(&cfg, &d, "{\"cors\": \"$LLN_T_CORS\"}", LLN_LOAD_RUN), 0);
    assert_int_equal(cfg.server.n_cors_origins, cases[i].n);
    if (cases[i].first)
      assert_string_equal(cfg.server.cors_origins[0], cases[i].first);
    lln_diags_free(&d);
    lln_config_free(&cfg);
  }
  /* allow-origins: each entry substituted, or one string listing them */
  setenv("LLN_T_ORIGIN", "https://app.example", 1);
  setenv("LLN_T_ORIGINS", "https://a.example https://b.example", 1);
  lln_config cfg;
  lln_diags d;
  assert_int_equal(load_server(&cfg, &d,
                               "{\"cors\": {\"allow-origins\": [\"$LLN_T_ORIGIN\", \"https://z.example\"]}}",
                               LLN_LOAD_RUN),
                   0);
  assert_int_equal(cfg.server.n_cors_origins, 2);
  assert_string_equal(cfg.server.cors_origins[0], "https://app.example");
  lln_diags_free(&d);
  lln_config_free(&cfg);
  assert_int_equal(load_server(&cfg, &d, "{\"cors\": {\"allow-origins\": \"$LLN_T_ORIGINS\"}}", LLN_LOAD_RUN),
                   0);
  assert_int_equal(cfg.server.n_cors_origins, 2);
  assert_string_equal(cfg.server.cors_origins[1], "https://b.example");
  lln_diags_free(&d);
  lln_config_free(&cfg);
}

/* ---- where `llmnet run` listens ---- */

static void test_listen_precedence(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, "{" MODELS "\"server\": {}}");
  lln_listen at;
  char err[256];
  /* nothing given: the defaults */
  assert_int_equal(lln_listen_choose(&cfg, NULL, -1, NULL, NULL, &at, err, sizeof err), 0);
  assert_string_equal(at.addr, "127.0.0.1");
  assert_int_equal(at.port, 8080);
  /* the composition */
  cfg.entry->bind_addr = strdup("10.0.0.1");
  cfg.entry->bind_port = 9001;
  assert_int_equal(lln_listen_choose(&cfg, NULL, -1, NULL, NULL, &at, err, sizeof err), 0);
  assert_string_equal(at.addr, "10.0.0.1");
  assert_int_equal(at.port, 9001);
  assert_string_equal(at.port_from, "bind-port");
  /* the environment over the composition; empty is unset */
  assert_int_equal(lln_listen_choose(&cfg, NULL, -1, "0.0.0.0", "9100", &at, err, sizeof err), 0);
  assert_string_equal(at.addr, "0.0.0.0");
  assert_int_equal(at.port, 9100);
  assert_string_equal(at.port_from, "LLMNET_PORT");
  assert_int_equal(lln_listen_choose(&cfg, NULL, -1, "", "", &at, err, sizeof err), 0);
  assert_string_equal(at.addr, "10.0.0.1");
  assert_int_equal(at.port, 9001);
  /* the command line over the environment */
  assert_int_equal(lln_listen_choose(&cfg, "127.0.0.2", 0, "0.0.0.0", "9100", &at, err, sizeof err), 0);
  assert_string_equal(at.addr, "127.0.0.2");
  assert_int_equal(at.port, 0);
  assert_string_equal(at.addr_from, "--bind-addr");
  /* a bad LLMNET_PORT is an error naming it, unless --port wins anyway */
  static const char *const bad[] = {"http", "-1", "65536", "80 ", "0x50", "123456"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(lln_listen_choose(&cfg, NULL, -1, NULL, bad[i], &at, err, sizeof err), -1);
    assert_non_null(strstr(err, "LLMNET_PORT"));
    assert_non_null(strstr(err, "0 to 65535"));
    assert_int_equal(lln_listen_choose(&cfg, NULL, 8081, NULL, bad[i], &at, err, sizeof err), 0);
    assert_int_equal(at.port, 8081);
  }
  lln_config_free(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numbers_from_variables),
      cmocka_unit_test(test_drain_delay_default_and_range),
      cmocka_unit_test(test_number_variable_not_a_number),
      cmocka_unit_test(test_number_variable_out_of_range),
      cmocka_unit_test(test_unset_number_variable),
      cmocka_unit_test(test_strings_from_variables),
      cmocka_unit_test(test_cors_from_variables),
      cmocka_unit_test(test_listen_precedence),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
