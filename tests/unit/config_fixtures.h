/* config_fixtures: loading compositions in unit tests, from the fixtures
 * folder or from text written by the test, and finding what the loader
 * reported. Include after cmocka.h. */
#ifndef LLN_TEST_CONFIG_FIXTURES_H
#define LLN_TEST_CONFIG_FIXTURES_H

#include <stdarg.h>
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

/* The first diagnostic of this severity whose message contains every
 * NULL-terminated needle, or NULL. */
static inline const lln_diag *find_diag(const lln_diags *d, lln_diag_severity sev, ...) {
  for (size_t i = 0; i < d->count; i++) {
    const lln_diag *g = &d->items[i];
    if (g->severity != sev)
      continue;
    int all = 1;
    va_list ap;
    va_start(ap, sev);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *)) {
      if (!strstr(g->message, n))
        all = 0;
    }
    va_end(ap);
    if (all)
      return g;
  }
  return NULL;
}

/* Fails when any message shows `text` (a secret, an injected header). */
static inline void expect_no_diag_contains(const lln_diags *d, const char *text) {
  for (size_t i = 0; i < d->count; i++) {
    if (strstr(d->items[i].message, text))
      fail_msg("a message shows \"%s\": %s", text, d->items[i].message);
  }
}

#endif
