/* test_template: src/templates/template.c, the one variable grammar. The
 * segments a text compiles to, binding load-time values into literal text
 * (never scanned again: the item 15 regression), rendering the references
 * left with each escape, the {{VAR}} syntax, and the text form compiling
 * back to the same template. test_subst.c and test_expand.c keep the
 * grammar's older cases through their wrappers (lln_subst, lln_expand). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "hooks/expand_int.h"
#include "templates/template.h"

#include "lookup_vars.h"

#ifndef LLN_FIXTURES
#error "LLN_FIXTURES must name the fixtures directory"
#endif

/* Load-time values: environment and secrets. */
static const var LOAD[] = {
    {"PASSWORD", "pa$INPUTss$$word"},
    {"EVIL_SECRET", "$INPUT"},
    {"secrets.vault.TOKEN", "tok$$en${NODE}"},
    {"QUOTED", "say \"hi\"\n"},
    {NULL, NULL},
};

/* Request variables, filled per call. */
static const var REQUEST[] = {
    {"INPUT", "user text $PASSWORD $$"},
    {"NODE", "router"},
    {NULL, NULL},
};

static int is_request_var(const char *name) { return var_find(REQUEST, name, strlen(name)) != NULL; }

static lln_tmpl_bind_result binder(void *ctx, const char *name, const char **value) {
  (void)ctx;
  if (is_request_var(name))
    return LLN_TMPL_KEEP;
  *value = var_find(LOAD, name, strlen(name));
  return *value ? LLN_TMPL_VALUE : LLN_TMPL_MISSING;
}

static const char *request_lookup(void *ctx, const char *name, size_t len) {
  int *calls = ctx;
  if (calls)
    (*calls)++;
  return var_find(REQUEST, name, len);
}

/* t rendered with `lookup`, into a static buffer (so a test reads as one
 * line); never NULL. */
static const char *rendered(const lln_tmpl *t, lln_tmpl_lookup lookup, void *ctx, lln_tmpl_escape escape) {
  static char out[1024];
  lln_buf b;
  lln_buf_init(&b);
  lln_tmpl_render(t, lookup, ctx, escape, &b);
  assert_non_null(b.data);
  assert_true(b.len < sizeof out);
  memcpy(out, b.data, b.len + 1);
  lln_buf_free(&b);
  return out;
}

/* compile + bind + render in one */
static const char *run(const char *src, lln_tmpl_escape bind_escape, lln_tmpl_escape render_escape) {
  lln_tmpl *t = lln_tmpl_compile(src, LLN_TMPL_DOLLAR);
  lln_tmpl_bind(t, binder, NULL, bind_escape, NULL, 0);
  const char *out = rendered(t, request_lookup, NULL, render_escape);
  lln_tmpl_free(t);
  return out;
}

static void test_dollar_ref_for_lexers(void **state) {
  (void)state;
  size_t off = 99, n = 99;
  assert_int_equal(lln_tmpl_dollar_ref("$INPUT_LENGTH > 3", &off, &n), 13);
  assert_int_equal(off, 1);
  assert_int_equal(n, 12);
  assert_int_equal(lln_tmpl_dollar_ref("${NODE}x", &off, &n), 7);
  assert_int_equal(off, 2);
  assert_int_equal(n, 4);
  assert_int_equal(lln_tmpl_dollar_ref("$secrets.a-b.C d", &off, &n), 14);
  assert_int_equal(lln_tmpl_dollar_ref("$$X", &off, &n), 0);
  assert_int_equal(lln_tmpl_dollar_ref("$5", &off, &n), 0);
  assert_int_equal(lln_tmpl_dollar_ref("${NODE", &off, &n), 0);
  assert_int_equal(lln_tmpl_dollar_ref("x$A", &off, &n), 0);
}

static void test_segments(void **state) {
  (void)state;
  lln_tmpl *t = lln_tmpl_compile("a$$b${NODE}c$INPUT_LENGTH $5 ${x-y} $secrets.my-v.K!", LLN_TMPL_DOLLAR);
  assert_int_equal(t->n, 7);
  assert_int_equal(t->segs[0].kind, LLN_TMPL_LITERAL);
  assert_string_equal(t->segs[0].text, "a$b");
  assert_int_equal(t->segs[1].kind, LLN_TMPL_VAR);
  assert_string_equal(t->segs[1].text, "NODE");
  assert_string_equal(t->segs[1].raw, "${NODE}");
  assert_null(t->segs[0].raw);
  assert_string_equal(t->segs[2].text, "c");
  assert_string_equal(t->segs[3].text, "INPUT_LENGTH"); /* whole names */
  assert_string_equal(t->segs[4].text, " $5 ${x-y} ");
  assert_string_equal(t->segs[5].text, "secrets.my-v.K");
  assert_string_equal(t->segs[6].text, "!");
  assert_int_equal(lln_tmpl_var_count(t), 3);
  lln_tmpl_free(t);

  t = lln_tmpl_compile(NULL, LLN_TMPL_DOLLAR);
  assert_int_equal(t->n, 0);
  assert_string_equal(rendered(t, NULL, NULL, NULL), "");
  lln_tmpl_free(t);
}

/* Item 15: "pa$INPUTss$$word" from the environment was sent as "pa$word";
 * a secret "$INPUT" spliced the user's text in. */
static void test_bound_value_never_scanned_again(void **state) {
  (void)state;
  assert_string_equal(run("$PASSWORD", NULL, NULL), "pa$INPUTss$$word");
  assert_string_equal(run("X-Auth: ${PASSWORD}", NULL, lln_tmpl_escape_header), "X-Auth: pa$INPUTss$$word");
  assert_string_equal(run("$EVIL_SECRET", NULL, NULL), "$INPUT");
  assert_string_equal(run("$EVIL_SECRET/$INPUT", NULL, NULL), "$INPUT/user text $PASSWORD $$");
  assert_string_equal(run("$secrets.vault.TOKEN", NULL, NULL), "tok$$en${NODE}");
  /* and the request's own text is not scanned either */
  assert_string_equal(run("[$INPUT]", NULL, NULL), "[user text $PASSWORD $$]");
}

static void test_bind_escape(void **state) {
  (void)state;
  /* a load-time value inside a JSON string is escaped like a request value */
  assert_string_equal(
      run("{\"s\": \"$QUOTED\", \"n\": \"$NODE\"}", lln_tmpl_escape_json, lln_tmpl_escape_json),
      "{\"s\": \"say \\\"hi\\\"\\n\", \"n\": \"router\"}");
  assert_string_equal(run("http://h/$INPUT?p=$PASSWORD", NULL, lln_tmpl_escape_url),
                      "http://h/user%20text%20%24PASSWORD%20%24%24?p=pa$INPUTss$$word");
}

static void test_missing_kept_as_text(void **state) {
  (void)state;
  lln_tmpl *t = lln_tmpl_compile("a $NOPE ${NOPE2} $NODE", LLN_TMPL_DOLLAR);
  char missing[32];
  assert_int_equal(lln_tmpl_bind(t, binder, NULL, NULL, missing, sizeof missing), 2);
  assert_string_equal(missing, "NOPE");
  assert_int_equal(lln_tmpl_var_count(t), 1);
  int calls = 0;
  assert_string_equal(rendered(t, request_lookup, &calls, NULL), "a $NOPE ${NOPE2} router");
  assert_int_equal(calls, 1); /* only the request variable is looked up per call */
  lln_tmpl_free(t);
}

static void test_format_round_trip(void **state) {
  (void)state;
  lln_tmpl *t = lln_tmpl_compile("a$$b $PASSWORD $INPUT", LLN_TMPL_DOLLAR);
  lln_tmpl_bind(t, binder, NULL, NULL, NULL, 0);
  lln_buf text;
  lln_buf_init(&text);
  lln_tmpl_format(t, &text);
  assert_string_equal(text.data, "a$$b pa$$INPUTss$$$$word ${INPUT}");
  lln_tmpl *again = lln_tmpl_compile(text.data, LLN_TMPL_DOLLAR);
  assert_int_equal(again->n, t->n);
  for (size_t i = 0; i < t->n; i++) {
    assert_int_equal(again->segs[i].kind, t->segs[i].kind);
    assert_string_equal(again->segs[i].text, t->segs[i].text);
  }
  lln_buf_free(&text);
  lln_tmpl_free(again);
  lln_tmpl_free(t);
}

static void test_prepend(void **state) {
  (void)state;
  lln_tmpl *t = lln_tmpl_compile("$INPUT tail", LLN_TMPL_DOLLAR);
  lln_tmpl_prepend(t, "X-$Name: ", 9);
  lln_tmpl_prepend(t, ">", 1);
  assert_string_equal(rendered(t, request_lookup, NULL, NULL), ">X-$Name: user text $PASSWORD $$ tail");
  lln_tmpl_free(t);
}

static void test_braces_syntax(void **state) {
  (void)state;
  lln_tmpl *t = lln_tmpl_compile("Q: {{ INPUT }} on {{NODE}}; {{ X-User-Id  }} {x} {{}} {{", LLN_TMPL_BRACES);
  assert_int_equal(lln_tmpl_var_count(t), 3);
  assert_string_equal(t->segs[5].text, "X-User-Id");
  /* an unknown name stays exactly as written in this syntax */
  assert_string_equal(rendered(t, request_lookup, NULL, NULL),
                      "Q: user text $PASSWORD $$ on router; {{ X-User-Id  }} {x} {{}} {{");
  lln_tmpl_free(t);
  /* '$' means nothing in this syntax */
  t = lln_tmpl_compile("$INPUT {{INPUT}}", LLN_TMPL_BRACES);
  assert_int_equal(lln_tmpl_var_count(t), 1);
  assert_string_equal(t->segs[0].text, "$INPUT ");
  lln_tmpl_free(t);
}

/* LLN_TMPL_MAX_NAME is the one name limit (the conditions lexer refuses a
 * longer name): the longest name is a reference in both syntaxes, one byte
 * more is literal text. */
static void test_name_limit(void **state) {
  (void)state;
  char name[LLN_TMPL_MAX_NAME + 2], src[LLN_TMPL_MAX_NAME + 16];
  memset(name, 'N', sizeof name);
  for (int extra = 0; extra <= 1; extra++) {
    name[LLN_TMPL_MAX_NAME + extra] = '\0';
    size_t off, n;
    snprintf(src, sizeof src, "$%s", name);
    assert_int_equal(lln_tmpl_dollar_ref(src, &off, &n), extra ? 0 : LLN_TMPL_MAX_NAME + 1);
    lln_tmpl *t = lln_tmpl_compile(src, LLN_TMPL_DOLLAR);
    assert_int_equal(lln_tmpl_var_count(t), extra ? 0 : 1);
    lln_tmpl_free(t);
    snprintf(src, sizeof src, "{{ %s }}", name);
    t = lln_tmpl_compile(src, LLN_TMPL_BRACES);
    assert_int_equal(lln_tmpl_var_count(t), extra ? 0 : 1);
    assert_string_equal(rendered(t, NULL, NULL, NULL), src); /* unknown or too long: as written */
    lln_tmpl_free(t);
    name[LLN_TMPL_MAX_NAME + extra] = 'N';
  }
}

/* A {{NAME}} prompt template is compiled once and each call only looks its
 * variables up: a value holding "{{NODE}}" or "$NODE" is appended as is. */
static void test_braces_value_not_expanded(void **state) {
  (void)state;
  static const var vals[] = {{"INPUT", "{{NODE}} {{ NODE }} $NODE"}, {"NODE", "router"}, {NULL, NULL}};
  lln_tmpl *t = lln_tmpl_compile("[{{INPUT}}] by {{NODE}}", LLN_TMPL_BRACES);
  for (int call = 0; call < 2; call++)
    assert_string_equal(rendered(t, var_lookup, (void *)vals, NULL), "[{{NODE}} {{ NODE }} $NODE] by router");
  lln_tmpl_free(t);
}

/* The loader compiles hook function fields once: what a call renders holds
 * environment values byte for byte and only the request variables filled. */
static void test_loader_compiles_function_fields(void **state) {
  (void)state;
  setenv("LLN_TEST_HOOK_SECRET", "pa$INPUTss$$word\"q", 1);
  char path[1024];
  snprintf(path, sizeof path, "%s/hook-secrets.json", LLN_FIXTURES);
  lln_load_options opts = {.mode = LLN_LOAD_RUN};
  lln_diags d;
  lln_diags_init(&d, path);
  lln_config cfg;
  if (lln_config_load(&cfg, path, &opts, &d) != 0) {
    lln_diags_print(&d, stderr);
    fail_msg("hook-secrets.json should load");
  }
  const lln_function *rest = &cfg.functions[0], *shell = &cfg.functions[1];
  lln_buf b;
  lln_buf_init(&b);
  lln_expand_field(rest->t_headers[0], NULL, LLN_EXPAND_HEADER, request_lookup, NULL, &b);
  assert_string_equal(b.data, "X-Secret: pa$INPUTss$$word\"q");
  lln_buf_reset(&b);
  lln_expand_field(rest->t_body, NULL, LLN_EXPAND_JSON, request_lookup, NULL, &b);
  assert_string_equal(b.data, "{\"secret\":\"pa$INPUTss$$word\\\"q\",\"text\":\"user text $PASSWORD $$\"}");
  lln_buf_reset(&b);
  lln_expand_field(shell->t_args[0], NULL, LLN_EXPAND_TEXT, request_lookup, NULL, &b);
  assert_string_equal(b.data, "--token=pa$INPUTss$$word\"q");
  lln_buf_reset(&b);
  lln_expand_field(shell->t_env[0], NULL, LLN_EXPAND_TEXT, request_lookup, NULL, &b);
  assert_string_equal(b.data, "HOOK_TOKEN=pa$INPUTss$$word\"q:user text $PASSWORD $$");
  /* the text form compiles back to the same thing (hand-built path) */
  lln_buf_reset(&b);
  lln_expand(rest->headers[0], LLN_EXPAND_HEADER, request_lookup, NULL, &b);
  assert_string_equal(b.data, "X-Secret: pa$INPUTss$$word\"q");
  lln_buf_free(&b);
  lln_config_free(&cfg);
  lln_diags_free(&d);
  unsetenv("LLN_TEST_HOOK_SECRET");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_segments),
      cmocka_unit_test(test_dollar_ref_for_lexers),
      cmocka_unit_test(test_name_limit),
      cmocka_unit_test(test_braces_value_not_expanded),
      cmocka_unit_test(test_bound_value_never_scanned_again),
      cmocka_unit_test(test_bind_escape),
      cmocka_unit_test(test_missing_kept_as_text),
      cmocka_unit_test(test_format_round_trip),
      cmocka_unit_test(test_prepend),
      cmocka_unit_test(test_braces_syntax),
      cmocka_unit_test(test_loader_compiles_function_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
