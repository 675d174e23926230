/* config_fixtures: loading compositions in unit tests, from the fixtures
 * folder or from text written by the test. Include after cmocka.h. */
#ifndef LLN_TEST_CONFIG_FIXTURES_H
#define LLN_TEST_CONFIG_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#ifndef LLN_FIXTURES
#error "LLN_FIXTURES must name the fixtures directory"
#endif

/* Loads `path` in validate mode; the test fails, printing the
 * diagnostics, when it does not load. */
static inline void load_file(lln_config *cfg, const char *path) {
  lln_load_options opts = {.mode = LLN_LOAD_VALIDATE};
  lln_diags d;
  lln_diags_init(&d, path);
  if (lln_config_load(cfg, path, &opts, &d) != 0) {
    lln_diags_print(&d, stderr);
    lln_diags_free(&d);
    fail_msg("%s: expected to load", path);
  }
  lln_diags_free(&d);
}

static inline void load_fixture(lln_config *cfg, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", LLN_FIXTURES, name);
  load_file(cfg, path);
}

/* Loads a composition written by the test, through a temporary file. */
static inline void load_text(lln_config *cfg, const char *json) {
  char path[] = "/tmp/llmnet-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
  close(fd);
  load_file(cfg, path);
  unlink(path);
}

#endif
