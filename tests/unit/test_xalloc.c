/* test_xalloc: string vectors; a child's environment built from this
 * process's with some variables replaced (lln_strv_env_with, shared by
 * shell functions and runners). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/xalloc.h"

static const char *find(char **env, const char *name) {
  size_t n = strlen(name);
  const char *hit = NULL;
  for (char **p = env; *p; p++)
    if (strncmp(*p, name, n) == 0 && (*p)[n] == '=') {
      assert_null(hit); /* a name at most once */
      hit = *p + n + 1;
    }
  return hit;
}

static void test_env_with_replaces_and_adds(void **state) {
  (void)state;
  setenv("LLN_XA_KEPT", "parent", 1);
  setenv("LLN_XA_REPLACED", "parent", 1);
  setenv("LLN_XA_REPLACED_LONGER", "parent", 1); /* a longer name, same prefix */
  unsetenv("LLN_XA_NEW");
  char **own = calloc(3, sizeof *own);
  own[0] = lln_xstrdup("LLN_XA_REPLACED=own");
  own[1] = lln_xstrdup("LLN_XA_NEW=added");
  char **env = lln_strv_env_with(own, 2);
  free(own);
  assert_string_equal(find(env, "LLN_XA_KEPT"), "parent");
  assert_string_equal(find(env, "LLN_XA_REPLACED"), "own");
  assert_string_equal(find(env, "LLN_XA_REPLACED_LONGER"), "parent");
  assert_string_equal(find(env, "LLN_XA_NEW"), "added");
  lln_strv_free(env);
}

static void test_env_with_nothing_own_is_a_copy(void **state) {
  (void)state;
  setenv("LLN_XA_ONLY", "x", 1);
  char **env = lln_strv_env_with(NULL, 0);
  assert_string_equal(find(env, "LLN_XA_ONLY"), "x");
  lln_strv_free(env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_env_with_replaces_and_adds),
      cmocka_unit_test(test_env_with_nothing_own_is_a_copy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
