/* test_routing_config: the "routing" settings (src/config/routing.c): the
 * defaults, the top-level object, a routing node's own one over it key by
 * key, the decision cache as false/true/object, strict keys and types, the
 * warning on a node that does not route, and the node name rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config_fixtures.h"

/* A seed-like composition: a router over two handlers and a plain node.
 * TOP is the top-level members before "architecture", ROUTER_EXTRA and
 * OTHER_EXTRA go into the router's and the creative handler's objects. */
static char *compose(const char *top, const char *router_extra, const char *other_extra) {
  static const char fmt[] =
      "{\"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://127.0.0.1:9/v1\"}},%s\n"
      "\"architecture\": [\n"
      " {\"name\": \"router\", \"layer\": 0, \"model\": \"m\", \"output-to\": [1]%s},\n"
      " {\"name\": \"creative-handler\", \"layer\": 1, \"model\": \"m\", \"use-case\": \"poems\","
      "  \"output-to\": [\"out\"]%s},\n"
      " {\"name\": \"technical-handler\", \"layer\": 1, \"model\": \"m\", \"use-case\": \"code\","
      "  \"output-to\": [\"out\"]},\n"
      " {\"name\": \"out\", \"adapter\": \"output\"}]}";
  size_t n = sizeof fmt + strlen(top) + strlen(router_extra) + strlen(other_extra);
  char *s = malloc(n);
  assert_non_null(s);
  snprintf(s, n, fmt, top, router_extra, other_extra);
  return s;
}

/* Loads text; returns the loader's result and keeps the diagnostics. */
static int try_load(lln_config *cfg, lln_diags *d, const char *json) {
  char path[] = "/tmp/llmnet-routing-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
  close(fd);
  lln_load_options opts = {.mode = LLN_LOAD_VALIDATE};
  lln_diags_init(d, path);
  int rc = lln_config_load(cfg, path, &opts, d);
  unlink(path);
  return rc;
}

static void load_ok(lln_config *cfg, const char *top, const char *router_extra, const char *other_extra) {
  char *json = compose(top, router_extra, other_extra);
  lln_diags d;
  if (try_load(cfg, &d, json) != 0) {
    lln_diags_print(&d, stderr);
    fail_msg("expected to load: %s", json);
  }
  lln_diags_free(&d);
  free(json);
}

/* Loading fails with an error holding every needle. */
static void load_error(const char *top, const char *router_extra, const char *needle1, const char *needle2) {
  char *json = compose(top, router_extra, "");
  lln_config cfg;
  lln_diags d;
  if (try_load(&cfg, &d, json) == 0)
    fail_msg("expected an error: %s", json);
  if (!find_diag(&d, LLN_DIAG_ERROR, needle1, needle2, NULL)) {
    lln_diags_print(&d, stderr);
    fail_msg("no error with \"%s\" and \"%s\"", needle1, needle2 ? needle2 : "");
  }
  lln_diags_free(&d);
  free(json);
}

static const lln_node *node(const lln_config *cfg, const char *name) {
  const lln_node *n = lln_config_node(cfg, name);
  assert_non_null(n);
  return n;
}

static void test_defaults(void **state) {
  (void)state;
  lln_config cfg;
  load_ok(&cfg, "", "", "");
  assert_int_equal(cfg.routing.sticky, LLN_STICKY_SESSION);
  assert_int_equal(cfg.routing.session_ttl_s, 1800);
  assert_int_equal(cfg.routing.max_input_chars, 8000);
  assert_int_equal(cfg.routing.cache_ttl_s, 600);
  assert_int_equal(cfg.routing.cache_max_entries, 10000);
  for (size_t i = 0; i < cfg.n_nodes; i++)
    assert_memory_equal(&cfg.nodes[i].routing, &cfg.routing, sizeof cfg.routing);
  lln_config_free(&cfg);
}

static void test_top_level(void **state) {
  (void)state;
  lln_config cfg;
  load_ok(&cfg,
          "\"routing\": {\"sticky\": \"turn\", \"session-ttl\": 60, \"max-input-chars\": 2000,"
          " \"decision-cache\": {\"ttl\": 30, \"max-entries\": 5}},",
          "", "");
  assert_int_equal(cfg.routing.sticky, LLN_STICKY_TURN);
  assert_int_equal(cfg.routing.session_ttl_s, 60);
  assert_int_equal(cfg.routing.max_input_chars, 2000);
  assert_int_equal(cfg.routing.cache_ttl_s, 30);
  assert_int_equal(cfg.routing.cache_max_entries, 5);
  assert_memory_equal(&node(&cfg, "router")->routing, &cfg.routing, sizeof cfg.routing);
  assert_memory_equal(&node(&cfg, "out")->routing, &cfg.routing, sizeof cfg.routing);
  lln_config_free(&cfg);

  load_ok(&cfg, "\"routing\": {\"sticky\": \"off\", \"decision-cache\": false},", "", "");
  assert_int_equal(cfg.routing.sticky, LLN_STICKY_OFF);
  assert_int_equal(cfg.routing.cache_ttl_s, 0);
  assert_int_equal(cfg.routing.session_ttl_s, 1800);
  lln_config_free(&cfg);

  load_ok(&cfg, "\"routing\": {\"decision-cache\": true},", "", "");
  assert_int_equal(cfg.routing.cache_ttl_s, 600);
  assert_int_equal(cfg.routing.cache_max_entries, 10000);
  lln_config_free(&cfg);
}

static void test_node_overrides_key_by_key(void **state) {
  (void)state;
  lln_config cfg;
  load_ok(
      &cfg,
      "\"routing\": {\"sticky\": \"turn\", \"session-ttl\": 60, \"decision-cache\": {\"max-entries\": 7}},",
      ", \"routing\": {\"sticky\": \"session\", \"decision-cache\": {\"ttl\": 5}}", "");
  const lln_node *r = node(&cfg, "router");
  assert_int_equal(r->routing.sticky, LLN_STICKY_SESSION);
  assert_int_equal(r->routing.session_ttl_s, 60);     /* from the top level */
  assert_int_equal(r->routing.max_input_chars, 8000); /* the default */
  assert_int_equal(r->routing.cache_ttl_s, 5);        /* its own */
  assert_int_equal(r->routing.cache_max_entries, 7);  /* the top level's */
  assert_int_equal(cfg.routing.sticky, LLN_STICKY_TURN);
  assert_int_equal(node(&cfg, "creative-handler")->routing.sticky, LLN_STICKY_TURN);
  lln_config_free(&cfg);

  /* off at the top, on again (with the default ttl) on the node */
  load_ok(&cfg, "\"routing\": {\"decision-cache\": false},",
          ", \"routing\": {\"decision-cache\": {\"max-entries\": 9}}", "");
  assert_int_equal(cfg.routing.cache_ttl_s, 0);
  assert_int_equal(node(&cfg, "router")->routing.cache_ttl_s, 600);
  assert_int_equal(node(&cfg, "router")->routing.cache_max_entries, 9);
  lln_config_free(&cfg);
}

static void test_node_that_does_not_route_warns(void **state) {
  (void)state;
  char *json = compose("", "", ", \"routing\": {\"sticky\": \"off\"}");
  lln_config cfg;
  lln_diags d;
  assert_int_equal(try_load(&cfg, &d, json), 0);
  const lln_diag *g =
      find_diag(&d, LLN_DIAG_WARNING, "node \"creative-handler\" does not route", "no effect", NULL);
  assert_non_null(g);
  assert_true(g->line > 0);
  /* the router's own routing draws no warning */
  assert_null(find_diag(&d, LLN_DIAG_WARNING, "node \"router\" does not route", NULL));
  lln_diags_free(&d);
  lln_config_free(&cfg);
  free(json);
}

static void test_errors(void **state) {
  (void)state;
  load_error("\"routing\": {\"stickey\": \"turn\"},", "", "routing: unknown key \"stickey\"",
             "did you mean \"sticky\"");
  load_error("\"routing\": {\"colour\": 1},", "", "unknown key \"colour\"", "the keys are \"sticky\"");
  load_error("\"routing\": {\"sticky\": \"always\"},", "", "\"sticky\" is \"session\"", "\"off\"");
  load_error("\"routing\": {\"sticky\": true},", "", "\"sticky\" is \"session\"", NULL);
  load_error("\"routing\": {\"session-ttl\": \"30m\"},", "",
             "\"session-ttl\" must be a whole number of seconds", "from 1 to 2592000");
  load_error("\"routing\": {\"session-ttl\": 0},", "", "\"session-ttl\"", NULL);
  load_error("\"routing\": {\"session-ttl\": 1.5},", "", "\"session-ttl\"", NULL);
  load_error("\"routing\": {\"max-input-chars\": 10},", "",
             "\"max-input-chars\" must be a whole number of characters", "from 200 to 200000");
  load_error("\"routing\": {\"max-input-chars\": 1e9},", "", "\"max-input-chars\"", NULL);
  load_error("\"routing\": {\"decision-cache\": \"yes\"},", "",
             "\"decision-cache\" is false (no cache), true", NULL);
  load_error("\"routing\": {\"decision-cache\": {\"ttl\": -1}},", "", "routing.decision-cache: \"ttl\"",
             NULL);
  load_error("\"routing\": {\"decision-cache\": {\"size\": 3}},", "",
             "routing.decision-cache: unknown key \"size\"", NULL);
  load_error("\"routing\": {\"decision-cache\": {\"max-entries\": 0}},", "", "\"max-entries\"", NULL);
  load_error("\"routing\": \"session\",", "", "routing must be an object", "\"sticky\": \"session\"");
  load_error("", ", \"routing\": {\"sticky\": \"sometimes\"}", "node \"router\": routing: \"sticky\"", NULL);
  load_error("", ", \"routing\": []", "node \"router\": routing must be an object", NULL);
}

static void test_error_places(void **state) {
  (void)state;
  char *json = compose("\n\"routing\": {\n\"sticky\": \"x\"},", "", "");
  lln_config cfg;
  lln_diags d;
  assert_int_equal(try_load(&cfg, &d, json), -1);
  const lln_diag *g = find_diag(&d, LLN_DIAG_ERROR, "\"sticky\"", NULL);
  assert_non_null(g);
  assert_int_equal(g->line, 3); /* at the member itself */
  lln_diags_free(&d);
  free(json);
}

/* A composition with two handlers named a and b. */
static void names_error(const char *a, const char *b, const char *needle) {
  char json[1024];
  snprintf(json, sizeof json,
           "{\"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://127.0.0.1:9/v1\"}},"
           "\"architecture\": [{\"name\": \"r\", \"layer\": 0, \"model\": \"m\", \"output-to\": [1]},"
           "{\"name\": \"%s\", \"layer\": 1}, {\"name\": \"%s\", \"layer\": 1}]}",
           a, b);
  lln_config cfg;
  lln_diags d;
  int rc = try_load(&cfg, &d, json);
  if (!needle) {
    if (rc != 0) {
      lln_diags_print(&d, stderr);
      fail_msg("expected %s and %s to load", a, b);
    }
    lln_config_free(&cfg);
  } else {
    assert_int_equal(rc, -1);
    if (!find_diag(&d, LLN_DIAG_ERROR, needle, NULL)) {
      lln_diags_print(&d, stderr);
      fail_msg("no error with \"%s\"", needle);
    }
  }
  lln_diags_free(&d);
}

static void test_node_names(void **state) {
  (void)state;
  names_error("creative", "technical", NULL);
  names_error("Creative", "creative", "differs from \"Creative\" (entry 1) only in case");
  names_error("creative-handler", "CREATIVE-HANDLER", "only in case");
  names_error("a\\nb", "c", "contains a control character (\\x0a");
  names_error("tab\\there", "c", "control character");
  names_error("a:b", "c", "contains ':'");
  names_error("a>b", "c", "contains '>'");
  names_error("a->b", "c", "contains '>'");
  names_error("gpt-4.1 (fast)", "c", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_top_level),
      cmocka_unit_test(test_node_overrides_key_by_key),
      cmocka_unit_test(test_node_that_does_not_route_warns),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_error_places),
      cmocka_unit_test(test_node_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
