/* test_cond: the "if" expression language: what each operator means, how
 * tightly it binds, and that every malformed expression is refused with a
 * column instead of quietly evaluating to something. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conditions/cond.h"

/* Variables as NULL-terminated name/value pairs. */
/* clang-format off */
static const char *const VARS[] = {
    "A", "1",             "B", "2",
    "TEN", "10",          "NINE", "9",
    "EMPTY", "",          "WORD", "hello world",
    "NAME", "code-handler",
    "FLOAT", "2.50",      "NEG", "-3",
    "SPACED", " 10",      "HEX", "0x10",
    "NAN", "nan",         "PAT", "^h.*d$",
    "BADPAT", "a(",       "AAA", "aaa",
    "Q", "it's \"q\"",    "NL", "a\nb",
    "TAB", "a\tb",        "ZERO", "0",
    "FALSE", "false",     "lower", "x",
    "OutputCustomKey", "yes",
    NULL};
/* clang-format on */

typedef struct {
  const char *const *vars;
  int calls;
} lookup_ctx;

static const char *lookup(void *ctx, const char *name, size_t len) {
  lookup_ctx *c = ctx;
  c->calls++;
  for (size_t i = 0; c->vars[i]; i += 2)
    if (strlen(c->vars[i]) == len && memcmp(c->vars[i], name, len) == 0)
      return c->vars[i + 1];
  return NULL;
}

static lln_cond *parse_ok(const char *expr) {
  lln_cond *c = (lln_cond *)(uintptr_t)1;
  char err[256];
  int col = -1;
  if (lln_cond_parse(expr, &c, err, sizeof err, &col) != 0)
    fail_msg("parse of [%s] failed at column %d: %s", expr, col, err);
  assert_non_null(c);
  assert_int_equal(col, 0);
  return c;
}

static int eval_with(const char *expr, const char *const *vars) {
  lln_cond *c = parse_ok(expr);
  lookup_ctx ctx = {vars, 0};
  int r = lln_cond_eval(c, lookup, &ctx);
  lln_cond_free(c);
  return r;
}

typedef struct {
  const char *expr;
  int want;
} case_t;

static void run_cases(const case_t *cases, size_t n, const char *const *vars) {
  for (size_t i = 0; i < n; i++) {
    int got = eval_with(cases[i].expr, vars);
    if (got != cases[i].want)
      fail_msg("[%s] evaluated to %d, want %d", cases[i].expr, got, cases[i].want);
  }
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0], VARS)

static void test_truth_of_lone_values(void **state) {
  (void)state;
  static const case_t cases[] = {
      {"$A", 1},
      {"$EMPTY", 0},
      {"$UNSET", 0},
      {"${A}", 1},
      {"${EMPTY}", 0},
      {"${UNSET}", 0},
      {"$ZERO", 1},
      {"$FALSE", 1},
      {"$lower", 1},
      {"$LOWER", 0},
      {"'x'", 1},
      {"''", 0},
      {"\"\"", 0},
      {"\"0\"", 1},
      {"0", 1},
      {"-1", 1},
      {"true", 1},
      {"false", 0},
      {"(true)", 1},
      {"((false))", 0},
      {"$OutputCustomKey", 1},
      {"$outputcustomkey", 0},
      {"${OutputCustomKey}", 1},
  };
  RUN(cases);
}

static void test_numeric_comparison(void **state) {
  (void)state;
  static const case_t cases[] = {
      /* "10" < "9" as strings, so these only pass when compared as numbers */
      {"$TEN > $NINE", 1},  {"$TEN > 9", 1},       {"$NINE < $TEN", 1},    {"'9' > '10'", 0},
      {"$TEN == 10.0", 1},  {"$TEN == '10'", 1},   {"$TEN == 1e1", 1},     {"$TEN == 10", 1},
      {"$TEN != 10", 0},    {"$TEN >= 10", 1},     {"$TEN <= 10", 1},      {"$TEN < 10", 0},
      {"$TEN > 10", 0},     {"$FLOAT == 2.5", 1},  {"$FLOAT == '2.5'", 1}, {"$FLOAT != 2.5", 0},
      {"$FLOAT > 2.49", 1}, {"$NEG < -2", 1},      {"$NEG < 0", 1},        {"$NEG >= -3", 1},
      {"$NEG > -3", 0},     {"$NEG <= -3", 1},     {".5 < 1", 1},          {"-0.5 < 0", 1},
      {"1E3 == 1000", 1},   {"2.5e-1 == 0.25", 1}, {"'+4' == 4", 1},       {"$A == 1 && $B == 2", 1},
  };
  RUN(cases);
}

static void test_string_comparison(void **state) {
  (void)state;
  static const case_t cases[] = {
      /* not entirely a decimal number, so compared as text */
      {"$SPACED == 10", 0},
      {"$SPACED < 10", 1},
      {"$HEX == 16", 0},
      {"$HEX == '0x10'", 1},
      {"$NAN == $NAN", 1},
      {"'1.2.3' < '1.10'", 0},
      {"'10' < 'abc'", 1},
      {"'apple' < 'banana'", 1},
      {"'banana' > 'apple'", 1},
      {"'B' < 'a'", 1},
      {"'abc' < 'abd'", 1},
      {"'ab' < 'abc'", 1},
      {"'abc' <= 'abc'", 1},
      {"'abc' >= 'abd'", 0},
      {"'\xc3\xa9' > 'z'", 1}, /* byte-wise: UTF-8 lead bytes sort after ASCII */
      {"$NAME == 'code-handler'", 1},
      {"$NAME == \"code-handler\"", 1},
      {"$NAME != 'code-handler'", 0},
      {"$NAME == 'Code-handler'", 0},
      {"$NAME == $NAME", 1},
      {"$WORD == 'hello'", 0},
  };
  RUN(cases);
}

static void test_unset_is_empty_string(void **state) {
  (void)state;
  static const case_t cases[] = {
      {"$UNSET == ''", 1}, {"$UNSET != ''", 0},       {"$UNSET == $EMPTY", 1},    {"$UNSET == $OTHER", 1},
      {"$UNSET < 10", 1},  {"$UNSET == 0", 0},        {"$UNSET > 'a'", 0},        {"${UNSET} == \"\"", 1},
      {"'' == $UNSET", 1}, {"$UNSET contains ''", 1}, {"$UNSET contains 'a'", 0},
  };
  RUN(cases);
}

static void test_contains(void **state) {
  (void)state;
  static const case_t cases[] = {
      {"$WORD contains 'lo w'", 1}, {"$WORD contains 'xyz'", 0}, {"$WORD contains ''", 1},
      {"$WORD contains $UNSET", 1}, {"'abc' contains 'ABC'", 0}, {"$TEN contains 1", 1},
      {"$WORD contains $WORD", 1},  {"'lo' contains $WORD", 0},  {"$NAME contains \"-\"", 1},
  };
  RUN(cases);
}

static void test_matches(void **state) {
  (void)state;
  static const case_t cases[] = {
      {"$WORD matches '^hello'", 1},
      {"$WORD matches '^world'", 0},
      {"$AAA matches \"^a+$\"", 1},
      {"$WORD matches \"^a+$\"", 0},
      {"$WORD matches 'HELLO'", 0},
      {"$WORD matches 'o w|xyz'", 1}, /* extended syntax: alternation */
      {"$WORD matches '^(hel)+lo [a-z]{5}$'", 1},
      {"$TEN matches 10", 1},
      {"$UNSET matches ''", 1},
      {"$UNSET matches 'a'", 0},
      {"'a.b' matches '^a\\.b$'", 1}, /* \. survives the string escapes */
      {"'axb' matches '^a\\.b$'", 0},
      {"'axb' matches '^a.b$'", 1},
      {"$FALSE matches false", 1},
      /* pattern from a variable: compiled per evaluation */
      {"$WORD matches $PAT", 1},
      {"$AAA matches $PAT", 0},
      {"$WORD matches ${PAT}", 1},
      /* an invalid pattern from a variable never matches */
      {"$WORD matches $BADPAT", 0},
      {"'a(' matches $BADPAT", 0},
      {"!($WORD matches $BADPAT)", 1},
  };
  RUN(cases);
}

/* Patterns whose compilation would blow up (regcomp copies each repeated
 * subexpression) are refused at parse time, and never match when they come
 * from a variable: a client must not be able to send one. */
static void test_unsafe_patterns(void **state) {
  (void)state;
  static const char *const unsafe[] = {
      "$WORD matches 'a++++++++++++++++++++++++'",
      "$WORD matches '(a{1,1000}){1,1000}'",
      "$WORD matches 'a{101}'",
      "$WORD matches '(a+)*'",
      "$WORD matches '((ab)+c)+'",
      "$WORD matches 'a*?'",
  };
  for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
    lln_cond *c = NULL;
    char err[200];
    int col = 0;
    assert_int_equal(lln_cond_parse(unsafe[i], &c, err, sizeof err, &col), -1);
    assert_non_null(strstr(err, "unsafe regular expression"));
    assert_int_equal(col, 15);
  }
  static const case_t fine[] = {
      {"$WORD matches '^(hel)+lo [a-z]{5}$'", 1},
      {"$WORD matches '[+*]?hello'", 1},
      {"$WORD matches 'a\\+\\+'", 0},
      {"'(x)' matches '\\(x\\)+'", 1},
      {"$WORD matches $BOMB", 0},
  };
  const char *vars[] = {"WORD", "hello world", "BOMB", "(a{1,1000}){1,1000}", NULL};
  run_cases(fine, sizeof fine / sizeof fine[0], vars);
}

static void test_logic_and_precedence(void **state) {
  (void)state;
  static const case_t cases[] = {
      {"$A && $B", 1},
      {"$A && $EMPTY", 0},
      {"$EMPTY && $A", 0},
      {"$EMPTY || $A", 1},
      {"$A || $EMPTY", 1},
      {"$EMPTY || $UNSET", 0},
      {"$A && $B && $TEN && $NINE", 1},
      {"$A && $B && $UNSET && $NINE", 0},
      {"$EMPTY || $UNSET || false || $A", 1},
      /* && binds tighter than || */
      {"$A || $EMPTY && $UNSET", 1},
      {"($A || $EMPTY) && $UNSET", 0},
      {"$EMPTY && $UNSET || $A", 1},
      {"$EMPTY && ($UNSET || $A)", 0},
      {"$A == 1 || $B == 9 && $A == 9", 1},
      {"($A == 1 || $B == 9) && $A == 9", 0},
      /* comparisons bind tighter than && and || */
      {"$A == 1 && $B == 3", 0},
      {"$A == 2 || $B == 2", 1},
      {"$WORD contains 'x' || $WORD contains 'h'", 1},
      /* ! binds tightest */
      {"!$A", 0},
      {"!$UNSET", 1},
      {"!$A || $B", 1},
      {"!$A || $EMPTY", 0},
      {"!$A && $B", 0},
      {"!$EMPTY && $B", 1},
      {"!($A || $B)", 0},
      {"!($A && $EMPTY)", 1},
      {"!!$A", 1},
      {"!!!$A", 0},
      {"! $A", 0},
      {"!$UNSET && !$EMPTY", 1},
      {"!($A == 2)", 1},
      {"$A != 2 && !($B != 2)", 1},
      {"!true", 0},
      {"!false", 1},
      {"!''", 1},
      {"!(((($A))))", 0},
  };
  RUN(cases);
}

static void test_boolean_subexpression_as_operand(void **state) {
  (void)state;
  static const case_t cases[] = {
      {"($A == 1) == true", 1},   {"($A == 2) == false", 1},
      {"(!$UNSET) == 'true'", 1}, {"($A && $B) contains 'ru'", 1},
      {"true == 'true'", 1},      {"$FALSE == false", 1},
      {"true != false", 1},       {"($TEN) > (9)", 1}, /* parentheses alone only group */
  };
  RUN(cases);
}

static void test_quotes_and_escapes(void **state) {
  (void)state;
  static const case_t cases[] = {
      {"'it\\'s' == \"it's\"", 1},
      {"$Q == 'it\\'s \"q\"'", 1},
      {"$Q == \"it's \\\"q\\\"\"", 1},
      {"$NL == 'a\\nb'", 1},
      {"$NL == 'anb'", 0},
      {"$TAB == \"a\\tb\"", 1},
      {"'a\\\\b' contains '\\\\'", 1},
      {"'a\\\\b' == 'a\\\\\\\\b'", 0},
      {"'\\.' contains '\\\\'", 1}, /* unknown escapes keep their backslash */
      {"'\\q' == '\\\\q'", 1},
      {"'say \"hi\"' contains '\"'", 1},
      {"\"don't\" contains \"'\"", 1},
      {"'&& || ! ( )' contains '||'", 1},
      {"'$A' == '$A'", 1}, /* no substitution inside literals */
      {"'$A' == $A", 0},
      {"'multi\nline' contains 'i\nl'", 1},
  };
  RUN(cases);
}

static void test_whitespace(void **state) {
  (void)state;
  static const case_t cases[] = {
      {"  $A\t==\n1\r\n  ", 1},        {"$A==1", 1},      {"($A)&&($B)", 1}, {"!$UNSET||$EMPTY", 1},
      {"$TEN>=$NINE&&$NINE<=$TEN", 1}, {"${A}==${B}", 0},
  };
  RUN(cases);
}

static void test_documented_examples(void **state) {
  (void)state;
  static const char *const short_text[] = {"WORD_COUNT", "7",   "HOP_COUNT", "0", "PREV_NODE", "code-handler",
                                           "X",          "xyz", "Y",         "b", NULL};
  static const char *const long_code[] = {"WORD_COUNT",      "51", "HOP_COUNT", "1", "PREV_NODE",
                                          "code-handler",    "X",  "xabcx",     "Y", "aaa",
                                          "OutputCustomKey", "on", NULL};
  static const char *const other[] = {"WORD_COUNT", "500", "HOP_COUNT", "00", "PREV_NODE", "router",
                                      "X",          "abc", "Y",         "ab", NULL};
  static const char *const exprs[] = {
      "$WORD_COUNT < 10",
      "$HOP_COUNT == \"0\"",
      "$PREV_NODE == \"code-handler\" && $WORD_COUNT > 50",
      "!($X contains 'abc') || $Y matches \"^a+$\"",
      "$OutputCustomKey",
  };
  static const int want_short[] = {1, 1, 0, 1, 0};
  static const int want_long[] = {0, 0, 1, 1, 1};
  static const int want_other[] = {0, 1 /* "00" == "0" numerically */, 0, 0, 0};
  for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
    if (eval_with(exprs[i], short_text) != want_short[i])
      fail_msg("[%s] with short text: want %d", exprs[i], want_short[i]);
    if (eval_with(exprs[i], long_code) != want_long[i])
      fail_msg("[%s] with long code: want %d", exprs[i], want_long[i]);
    if (eval_with(exprs[i], other) != want_other[i])
      fail_msg("[%s] with other: want %d", exprs[i], want_other[i]);
  }
}

typedef struct {
  const char *expr;
  int col;
  const char *msg; /* a fragment the message must contain */
} bad_case;

static void test_malformed(void **state) {
  (void)state;
  static const bad_case cases[] = {
      {"", 1, "empty condition"},
      {"   ", 4, "empty condition"},
      {"$", 1, "expected a variable name after '$'"},
      {"$1", 1, "variable name"},
      {"$ A", 1, "variable name"},
      {"${", 1, "expected a variable name after '${'"},
      {"${}", 1, "variable name"},
      {"${ A}", 1, "variable name"},
      {"${X", 4, "expected '}' to close '${' at column 1"},
      {"${X }", 4, "expected '}'"},
      {"$X == ${Y-1}", 10, "expected '}' to close '${' at column 7"},
      {"${lower}x", 9, "unknown word 'x'"},
      {"$X ==", 6, "expected a value after '==', found end of condition"},
      {"$X contains", 12, "after 'contains'"},
      {"$X matches", 11, "after 'matches'"},
      {"$X >= ", 7, "after '>='"},
      {"== 1", 1, "expected a value, found '=='"},
      {"&& $X", 1, "expected a value, found '&&'"},
      {"$X = 1", 4, "'=' is not an operator: use '=='"},
      {"$X => 1", 4, "'=' is not an operator"},
      {"$X =~ 'a'", 4, "use 'matches'"},
      {"$X !== 1", 6, "'=' is not an operator"},
      {"$X <> 1", 5, "expected a value after '<', found '>'"},
      {"$X & $Y", 4, "use '&&'"},
      {"$X | $Y", 4, "use '||'"},
      {"$X &&", 6, "expected a value after '&&'"},
      {"$X || || $Y", 7, "expected a value after '||', found '||'"},
      {"$X && )", 7, "found ')'"},
      {"($X", 4, "expected ')' to close '(' at column 1, found end of condition"},
      {"(($X)", 6, "expected ')' to close '(' at column 1"},
      {"$A && ($B || $C", 16, "expected ')' to close '(' at column 7"},
      {"($X $Y)", 5, "expected ')' to close '(' at column 1, found '$Y'"},
      {"$X)", 3, "unmatched ')'"},
      {"($X))", 5, "unmatched ')'"},
      {"()", 2, "expected a value after '(', found ')'"},
      {")", 1, "expected a value, found ')'"},
      {"$X $Y", 4, "expected '&&', '||' or end of condition, found '$Y'"},
      {"$X == 1 2", 9, "found '2'"},
      {"$X 'a'", 4, "found ''a''"},
      {"true false", 6, "found 'false'"},
      {"\"abc", 1, "unterminated string"},
      {"$X == 'abc", 7, "unterminated string: add a closing '"},
      {"'abc\\'", 1, "unterminated string"},
      {"'abc\\", 1, "unterminated string"},
      {"$X == \"a' ", 7, "unterminated string: add a closing \""},
      {"$X matches \"a(\"", 12, "invalid regular expression"},
      {"$X matches '[z-a]'", 12, "invalid regular expression"},
      {"$X matches 'a{2,1}'", 12, "invalid regular expression"},
      {"$X matches ('(')", 12, "invalid regular expression"},
      {"$X foo 'a'", 4, "unknown word 'foo'"},
      {"$X and $Y", 4, "unknown word 'and': did you mean '&&'?"},
      {"$X OR $Y", 4, "did you mean '||'?"},
      {"not $X", 1, "did you mean '!'?"},
      {"TRUE", 1, "unknown word 'TRUE'"},
      {"$X == code-handler", 7, "unknown word 'code'"},
      {"$X == yes", 7, "quote text (\"yes\")"},
      {"X", 1, "write variables with '$' ($X)"},
      {"$X Contains 'a'", 4, "unknown word 'Contains'"},
      {"$X == 10abc", 7, "invalid number '10abc'"},
      {"$X == 1.2.3", 7, "invalid number '1.2.3'"},
      {"$X == 0x10", 7, "invalid number '0x10'"},
      {"$X == 1e", 7, "invalid number '1e'"},
      {"$X == -", 7, "'-' must be followed by a number"},
      {"-$X", 1, "'-' must be followed by a number"},
      {"$X == 1 == 1", 9, "comparisons cannot be chained"},
      {"$X < $Y < $Z", 9, "comparisons cannot be chained"},
      {"!$X == 1", 5, "'!' at column 1 applies only to the value right after it: write '!(a == b)'"},
      {"$A && !$X contains 'a'", 11, "'!' at column 7"},
      {"!!$X matches 'a'", 6, "'!' at column 2"},
      {"$X == !$Y", 7, "expected a value after '==', found '!'"},
      {"!", 2, "expected a value after '!', found end of condition"},
      {"$X @ 1", 4, "unexpected character '@'"},
      {"$X == \"a\" #", 11, "unexpected character '#'"},
      {"$X == \xc3\xa9", 7, "unexpected byte 0xc3"},
      {"$X == .", 7, "unexpected character '.'"},
      {"$X\x01", 3, "unexpected byte 0x01"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    lln_cond *c = (lln_cond *)(uintptr_t)1;
    char err[256];
    int col = -1;
    int rc = lln_cond_parse(cases[i].expr, &c, err, sizeof err, &col);
    if (rc != -1) {
      lln_cond_free(rc == 0 ? c : NULL);
      fail_msg("[%s] parsed but must not", cases[i].expr);
    }
    if (c != NULL)
      fail_msg("[%s] left *out set on failure", cases[i].expr);
    if (col != cases[i].col)
      fail_msg("[%s] error at column %d, want %d (%s)", cases[i].expr, col, cases[i].col, err);
    if (!strstr(err, cases[i].msg))
      fail_msg("[%s] message \"%s\" lacks \"%s\"", cases[i].expr, err, cases[i].msg);
  }
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail) {
  size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
  char *s = malloc(hl + ul * n + tl + 1);
  assert_non_null(s);
  memcpy(s, head, hl);
  for (size_t i = 0; i < n; i++)
    memcpy(s + hl + i * ul, unit, ul);
  memcpy(s + hl + ul * n, tail, tl + 1);
  return s;
}

static char *nested(size_t depth) {
  char *open = repeat("", "(", depth, "$A");
  char *s = repeat(open, ")", depth, "");
  free(open);
  return s;
}

static void test_nesting_limit(void **state) {
  (void)state;
  char err[256];
  int col;
  lln_cond *c;

  char *s = nested(64);
  assert_int_equal(eval_with(s, VARS), 1);
  free(s);

  s = nested(65);
  assert_int_equal(lln_cond_parse(s, &c, err, sizeof err, &col), -1);
  assert_int_equal(col, 65);
  assert_non_null(strstr(err, "nested too deeply"));
  free(s);

  s = repeat("", "!", 64, "$A");
  assert_int_equal(eval_with(s, VARS), 1);
  free(s);
  s = repeat("", "!", 65, "$A");
  assert_int_equal(lln_cond_parse(s, &c, err, sizeof err, &col), -1);
  assert_int_equal(col, 65);
  free(s);

  /* '!' and '(' share the budget */
  s = repeat("", "!(", 32, "$A");
  char *t = repeat(s, ")", 32, "");
  assert_int_equal(eval_with(t, VARS), 1);
  free(s);
  free(t);
  s = repeat("", "!(", 33, "$A");
  assert_int_equal(lln_cond_parse(s, &c, err, sizeof err, &col), -1);
  assert_int_equal(col, 65);
  free(s);

  /* hostile input fails fast instead of overflowing the stack */
  s = repeat("", "(", 1000000, "");
  assert_int_equal(lln_cond_parse(s, &c, err, sizeof err, &col), -1);
  assert_int_equal(col, 65);
  assert_null(c);
  free(s);
}

static void test_long_chains(void **state) {
  (void)state;
  /* && / || chains are flat, so length is not limited by nesting depth */
  char *s = repeat("", "$A && ", 100000, "$B");
  assert_int_equal(eval_with(s, VARS), 1);
  free(s);
  s = repeat("", "$A && ", 100000, "$UNSET");
  assert_int_equal(eval_with(s, VARS), 0);
  free(s);
  s = repeat("", "$EMPTY || ", 100000, "$A");
  assert_int_equal(eval_with(s, VARS), 1);
  free(s);
  s = repeat("", "$A == 1 && $B > 1 || ", 50000, "false");
  assert_int_equal(eval_with(s, VARS), 1);
  free(s);
}

static void test_short_circuit(void **state) {
  (void)state;
  lln_cond *c = parse_ok("$A || $B || $TEN");
  lookup_ctx ctx = {VARS, 0};
  assert_int_equal(lln_cond_eval(c, lookup, &ctx), 1);
  assert_int_equal(ctx.calls, 1);
  lln_cond_free(c);

  c = parse_ok("$EMPTY && $B && $TEN");
  ctx.calls = 0;
  assert_int_equal(lln_cond_eval(c, lookup, &ctx), 0);
  assert_int_equal(ctx.calls, 1);
  lln_cond_free(c);
}

static void test_api_edges(void **state) {
  (void)state;
  lln_cond *c = (lln_cond *)(uintptr_t)1;
  int col = -1;
  /* no error buffer, no column: still refused */
  assert_int_equal(lln_cond_parse("$A ==", &c, NULL, 0, NULL), -1);
  assert_null(c);
  assert_int_equal(lln_cond_parse(NULL, &c, NULL, 0, &col), -1);
  assert_int_equal(col, 1);

  /* a short buffer gets a truncated, terminated message */
  char small[8];
  memset(small, 'x', sizeof small);
  assert_int_equal(lln_cond_parse("$X = 1", &c, small, sizeof small, &col), -1);
  assert_int_equal(col, 4);
  assert_int_equal(strlen(small), sizeof small - 1);
  assert_memory_equal(small, "'=' is", 6);

  /* a failure leaves no stale message behind on later success */
  char err[64] = "stale";
  c = parse_ok("$A");
  lln_cond_free(c);
  assert_int_equal(lln_cond_parse("$A", &c, err, sizeof err, &col), 0);
  assert_string_equal(err, "");
  assert_int_equal(col, 0);

  /* without a lookup every variable is unset */
  assert_int_equal(lln_cond_eval(c, NULL, NULL), 0);
  lln_cond_free(c);
  c = parse_ok("$A == ''");
  assert_int_equal(lln_cond_eval(c, NULL, NULL), 1);
  lln_cond_free(c);

  assert_int_equal(lln_cond_eval(NULL, lookup, NULL), 0);
  lln_cond_free(NULL);
}

static void test_lookup_gets_bare_name(void **state) {
  (void)state;
  static const char *const vars[] = {"NAME_2", "v", NULL};
  assert_int_equal(eval_with("${NAME_2} == 'v' && $NAME_2 == 'v'", vars), 1);
  /* the name ends at the first character that cannot be in one */
  assert_int_equal(eval_with("($NAME_2)", vars), 1);
  assert_int_equal(eval_with("$NAME_2=='v'", vars), 1);
  assert_int_equal(eval_with("$NAME_", vars), 0);
}

/* Variable references are the template engine's dollar syntax
 * (lln_tmpl_dollar_ref): "$secrets.S.V" is one name, as in every other
 * configuration string, and a name has the engine's length limit. Before
 * the lexer used the engine, "$secrets.s.v" was refused at the '.' and a
 * 300-byte name was taken. */
static void test_shared_variable_grammar(void **state) {
  (void)state;
  static const char *const vars[] = {"secrets.s.v", "tok", "secrets.my-s.key-1", "k", "secrets",
                                     "bare",        NULL};
  assert_int_equal(eval_with("$secrets.s.v == 'tok'", vars), 1);
  assert_int_equal(eval_with("${secrets.s.v} == 'tok' && ${secrets.my-s.key-1} == 'k'", vars), 1);
  assert_int_equal(eval_with("$secrets == 'bare'", vars), 1);
  assert_int_equal(eval_with("$secrets.s.v=='tok'&&($secrets.my-s.key-1)", vars), 1);
  /* the grammar agrees with the engine on where each name ends */
  static const char *const srcs[] = {"$secrets.s.v", "${secrets.my-s.key-1}", "$NAME_2", "${X}"};
  for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
    lln_tmpl *t = lln_tmpl_compile(srcs[i], LLN_TMPL_DOLLAR);
    assert_int_equal(t->n, 1);
    char expr[64];
    snprintf(expr, sizeof expr, "%s == 'v'", srcs[i]);
    const char *const one[] = {t->segs[0].text, "v", NULL};
    if (eval_with(expr, one) != 1)
      fail_msg("[%s] does not look up \"%s\"", expr, t->segs[0].text);
    lln_tmpl_free(t);
  }

  char name[LLN_TMPL_MAX_NAME + 2];
  memset(name, 'N', sizeof name);
  name[LLN_TMPL_MAX_NAME] = '\0';
  char expr[LLN_TMPL_MAX_NAME + 16];
  snprintf(expr, sizeof expr, "$%s", name);
  const char *const longest[] = {name, "set", NULL};
  assert_int_equal(eval_with(expr, longest), 1);
  name[LLN_TMPL_MAX_NAME] = 'N';
  name[LLN_TMPL_MAX_NAME + 1] = '\0';
  static const char *const fmts[] = {"$%s", "${%s}", "$secrets.%s.v"};
  for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
    snprintf(expr, sizeof expr, fmts[i], name);
    lln_cond *c = NULL;
    char err[256];
    int col = 0;
    assert_int_equal(lln_cond_parse(expr, &c, err, sizeof err, &col), -1);
    assert_null(c);
    assert_non_null(strstr(err, "variable name longer than 255 bytes"));
    assert_int_equal(col, i == 1 ? 3 : 2);
  }
  lln_cond *c = NULL;
  char err[256];
  int col = 0;
  assert_int_equal(lln_cond_parse("${secrets.s.v x", &c, err, sizeof err, &col), -1);
  assert_non_null(strstr(err, "expected '}' to close '${' at column 1"));
  assert_int_equal(col, 14);
  assert_int_equal(lln_cond_parse("$$A", &c, err, sizeof err, &col), -1);
  assert_non_null(strstr(err, "expected a variable name after '$'"));
}

/* Quoted strings are literal text: nothing in a condition is scanned for
 * variables per request, and a variable's value is only compared, never
 * expanded again. */
static void test_values_are_not_expanded(void **state) {
  (void)state;
  static const char *const vars[] = {"INPUT", "$NODE", "NODE", "x", "DOLLARS", "$$", NULL};
  assert_int_equal(eval_with("$INPUT == \"$NODE\"", vars), 1);
  assert_int_equal(eval_with("$INPUT == '${NODE}'", vars), 0);
  assert_int_equal(eval_with("$INPUT == $NODE", vars), 0);
  assert_int_equal(eval_with("$INPUT contains '$'", vars), 1);
  assert_int_equal(eval_with("$DOLLARS == '$$'", vars), 1);
  assert_int_equal(eval_with("'$NODE' == \"$NODE\" && '$NODE' != 'x'", vars), 1);
  assert_int_equal(eval_with("$INPUT matches '^[$]NODE$'", vars), 1);
}

/* Load-time values for lln_cond_bind: $secrets.t.* are bound, every other
 * name stays a request variable. */
static const char *const BOUND[] = {"secrets.t.evil",
                                    "$INPUT",
                                    "secrets.t.pat",
                                    "^ab+c$",
                                    "secrets.t.bad",
                                    "a(",
                                    "secrets.t.ten",
                                    "10",
                                    "secrets.t.empty",
                                    "",
                                    NULL};

static lln_tmpl_bind_result bind_secrets(void *ctx, const char *name, const char **value) {
  (*(int *)ctx)++;
  if (strncmp(name, "secrets.", 8) != 0)
    return LLN_TMPL_KEEP;
  for (size_t i = 0; BOUND[i]; i += 2) {
    if (strcmp(BOUND[i], name) == 0) {
      *value = BOUND[i + 1];
      return LLN_TMPL_VALUE;
    }
  }
  return LLN_TMPL_MISSING;
}

static int eval_bound(const char *expr, const char *const *vars, int *lookups) {
  lln_cond *c = parse_ok(expr);
  int offered = 0;
  char missing[64];
  int n_missing = lln_cond_bind(c, bind_secrets, &offered, missing, sizeof missing);
  assert_int_equal(n_missing, 0);
  assert_string_equal(missing, "");
  lookup_ctx ctx = {vars, 0};
  int r = lln_cond_eval(c, lookup, &ctx);
  if (lookups)
    *lookups = ctx.calls;
  lln_cond_free(c);
  return r;
}

static void test_bind_load_time_values(void **state) {
  (void)state;
  static const char *const vars[] = {"INPUT", "abbc", "secrets.t.evil", "looked up", NULL};
  static const char *const dollar[] = {"INPUT", "$INPUT", NULL};
  int lookups = -1;
  /* a bound value holding "$INPUT" is that text: never expanded again */
  assert_int_equal(eval_bound("$secrets.t.evil == \"$INPUT\"", vars, &lookups), 1);
  assert_int_equal(lookups, 0);
  assert_int_equal(eval_bound("$secrets.t.evil == $INPUT", vars, NULL), 0);
  assert_int_equal(eval_bound("$secrets.t.evil == $INPUT", dollar, NULL), 1);
  assert_int_equal(eval_bound("${secrets.t.evil} contains 'INPUT'", vars, NULL), 1);
  /* a bound value is classified as a literal: numbers compare as numbers */
  assert_int_equal(eval_bound("$secrets.t.ten > 9", vars, NULL), 1);
  assert_int_equal(eval_bound("$secrets.t.ten > '9'", vars, NULL), 1);
  assert_int_equal(eval_bound("$secrets.t.empty || !$secrets.t.empty", vars, NULL), 1);
  assert_int_equal(eval_bound("$secrets.t.empty", vars, NULL), 0);
  /* a bound pattern is compiled once; a bad one never matches */
  assert_int_equal(eval_bound("$INPUT matches $secrets.t.pat", vars, NULL), 1);
  assert_int_equal(eval_bound("'abd' matches $secrets.t.pat", vars, NULL), 0);
  assert_int_equal(eval_bound("$INPUT matches $secrets.t.bad", vars, NULL), 0);
  assert_int_equal(eval_bound("!($INPUT matches $secrets.t.bad) && $INPUT", vars, NULL), 1);
  /* request variables are kept and looked up per request */
  assert_int_equal(eval_bound("$INPUT == 'abbc' && ($secrets.t.ten == 10 || $X)", vars, &lookups), 1);
  assert_int_equal(lookups, 1);

  lln_cond *c = parse_ok("$secrets.t.none || $secrets.t.other || $INPUT");
  int offered = 0;
  char missing[64];
  assert_int_equal(lln_cond_bind(c, bind_secrets, &offered, missing, sizeof missing), 2);
  assert_string_equal(missing, "secrets.t.none");
  assert_int_equal(offered, 3);
  lookup_ctx ctx = {vars, 0};
  assert_int_equal(lln_cond_eval(c, lookup, &ctx), 1); /* a missing one stays unset */
  assert_int_equal(lln_cond_bind(c, NULL, NULL, NULL, 0), 0);
  assert_int_equal(lln_cond_bind(NULL, bind_secrets, &offered, missing, 1), 0);
  lln_cond_free(c);
}

typedef struct {
  const lln_cond *c;
  int bad;
} thread_arg;

static void *eval_many(void *p) {
  thread_arg *a = p;
  static const char *const hit[] = {"WORD", "hello world", "PAT", "o w", NULL};
  static const char *const miss[] = {"WORD", "goodbye", "PAT", "o w", NULL};
  for (int i = 0; i < 2000; i++) {
    lookup_ctx h = {hit, 0}, m = {miss, 0};
    if (lln_cond_eval(a->c, lookup, &h) != 1 || lln_cond_eval(a->c, lookup, &m) != 0)
      a->bad++;
  }
  return NULL;
}

static void test_concurrent_eval(void **state) {
  (void)state;
  lln_cond *c = parse_ok("$WORD matches '^h.*d$' && $WORD matches $PAT && $WORD contains 'lo'");
  pthread_t th[4];
  thread_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (thread_arg){c, 0};
    assert_int_equal(pthread_create(&th[i], NULL, eval_many, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(args[i].bad, 0);
  }
  lln_cond_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_truth_of_lone_values),
      cmocka_unit_test(test_numeric_comparison),
      cmocka_unit_test(test_string_comparison),
      cmocka_unit_test(test_unset_is_empty_string),
      cmocka_unit_test(test_contains),
      cmocka_unit_test(test_matches),
      cmocka_unit_test(test_unsafe_patterns),
      cmocka_unit_test(test_logic_and_precedence),
      cmocka_unit_test(test_boolean_subexpression_as_operand),
      cmocka_unit_test(test_quotes_and_escapes),
      cmocka_unit_test(test_whitespace),
      cmocka_unit_test(test_documented_examples),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_nesting_limit),
      cmocka_unit_test(test_long_chains),
      cmocka_unit_test(test_short_circuit),
      cmocka_unit_test(test_api_edges),
      cmocka_unit_test(test_lookup_gets_bare_name),
      cmocka_unit_test(test_concurrent_eval),
      cmocka_unit_test(test_shared_variable_grammar),
      cmocka_unit_test(test_values_are_not_expanded),
      cmocka_unit_test(test_bind_load_time_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
