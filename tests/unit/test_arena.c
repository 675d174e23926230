/* test_arena: the request arena (util/arena.h) and cJSON through it
 * (util/json_alloc.h): alignment, big blocks that are mapped on their own
 * and returned on free, reset keeping one block, and the tagging that makes
 * cJSON_Delete of an arena tree a no-op and of a heap tree a free, whatever
 * scope is open (issue 10, item 11 and "one owner per request"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "util/arena.h"
#include "util/json_alloc.h"

static void test_alignment_and_zeroing(void **state) {
  (void)state;
  lln_arena a;
  lln_arena_init(&a);
  for (size_t size = 1; size < 5000; size += 37) {
    unsigned char *p = lln_arena_alloc(&a, size);
    assert_int_equal((uintptr_t)p % 16, 0);
    for (size_t i = 0; i < size; i++)
      assert_int_equal(p[i], 0);
    memset(p, 0xab, size);
  }
  char *s = lln_arena_printf(&a, "%s-%d", "req", 42);
  assert_string_equal(s, "req-42");
  assert_string_equal(lln_arena_strndup(&a, "abcdef", 3), "abc");
  lln_arena_free(&a);
  assert_null(a.head);
}

static void test_big_blocks_are_returned(void **state) {
  (void)state;
  lln_arena a;
  lln_arena_init(&a);
  char *small = lln_arena_strdup(&a, "small");
  size_t before = lln_arena_held(&a);
  size_t big = 6u * 1024 * 1024;
  unsigned char *p = lln_arena_take(&a, big);
  assert_int_equal((uintptr_t)p % 16, 0);
  memset(p, 1, big);
  assert_true(lln_arena_held(&a) >= before + big);
  /* the standard block stays usable after a big one */
  char *after = lln_arena_strdup(&a, "after");
  assert_true(after > small && after < small + LLN_ARENA_BLOCK);
  lln_arena_reset(&a);
  assert_int_equal(lln_arena_held(&a), before); /* one standard block kept */
  assert_non_null(lln_arena_strdup(&a, "again"));
  lln_arena_free(&a);
  assert_int_equal(lln_arena_held(&a), 0);
}

static void test_cjson_in_arena(void **state) {
  (void)state;
  lln_arena *a = lln_arena_create();
  cJSON *heap = cJSON_CreateObject(); /* no scope: the heap */
  assert_false(lln_json_in_arena(heap));
  cJSON *tree;
  {
    LLN_JSON_SCOPE(a);
    assert_ptr_equal(lln_json_scope_current(), a);
    tree = cJSON_Parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":1.5}");
    assert_non_null(tree);
    assert_true(lln_json_in_arena(tree));
    assert_true(lln_json_in_arena(tree->child->string));
    cJSON_AddStringToObject(tree, "added", "x");
    /* a heap tree deleted inside a scope is really freed (valgrind and
     * LSan would report it otherwise) */
    {
      LLN_JSON_HEAP();
      assert_null(lln_json_scope_current());
      cJSON_AddStringToObject(heap, "k", "v");
    }
    assert_ptr_equal(lln_json_scope_current(), a);
    /* a big string goes to its own mapped block */
    size_t n = 2u * 1024 * 1024;
    char *text = lln_arena_take(a, n + 1);
    memset(text, 'x', n);
    text[n] = '\0';
    cJSON_AddStringToObject(tree, "big", text);
    assert_true(lln_json_in_arena(cJSON_GetObjectItem(tree, "big")->valuestring));
  }
  assert_null(lln_json_scope_current());
  assert_string_equal(cJSON_GetObjectItem(tree, "added")->valuestring, "x");
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(tree, "messages"), 0), "role")->valuestring,
      "user");
  assert_true(lln_json_tree_in_arena(tree));
  {
    /* a heap node put into an arena tree is what the debug check finds */
    cJSON *stray = cJSON_CreateString("heap");
    cJSON_AddItemToObject(tree, "stray", stray);
    assert_false(lln_json_tree_in_arena(tree));
    cJSON_DetachItemViaPointer(tree, stray);
    cJSON_Delete(stray);
    assert_true(lln_json_tree_in_arena(tree));
  }
  cJSON_Delete(tree); /* a no-op: the arena owns it */
  assert_string_equal(cJSON_GetObjectItem(tree, "added")->valuestring, "x");
  cJSON_Delete(heap);
  /* printing through the hooks (no realloc with custom hooks) */
  cJSON *small = cJSON_CreateArray();
  cJSON_AddItemToArray(small, cJSON_CreateNumber(3));
  char *printed = cJSON_PrintUnformatted(small);
  assert_string_equal(printed, "[3]");
  cJSON_free(printed);
  cJSON_Delete(small);
  lln_arena_destroy(a);
}

static void test_scopes_nest(void **state) {
  (void)state;
  lln_arena a, b;
  lln_arena_init(&a);
  lln_arena_init(&b);
  {
    LLN_JSON_SCOPE(&a);
    {
      LLN_JSON_SCOPE(&b);
      assert_ptr_equal(lln_json_scope_current(), &b);
      assert_true(lln_json_in_arena(cJSON_CreateTrue()));
    }
    assert_ptr_equal(lln_json_scope_current(), &a);
  }
  assert_null(lln_json_scope_current());
  assert_non_null(b.head);
  lln_arena_free(&a);
  lln_arena_free(&b);
}

int main(void) {
  lln_json_hooks_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alignment_and_zeroing),
      cmocka_unit_test(test_big_blocks_are_returned),
      cmocka_unit_test(test_cjson_in_arena),
      cmocka_unit_test(test_scopes_nest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
