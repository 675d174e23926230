/* test_graph: `llmnet graph`'s pictures: every label character that Mermaid
 * or Graphviz would read as syntax is escaped, layers become groups, the
 * condition of a conditional target sits on its edge, the default target and
 * inherited models are marked, fallbacks are dashed, ws sinks stand apart,
 * and SVG comes from running dot (or a clear error when it is missing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/graph.h"

#include "config_fixtures.h"

static char *render(const lln_config *cfg, lln_graph_format f) {
  lln_buf b;
  lln_buf_init(&b);
  lln_graph_write(cfg, f, &b);
  return lln_buf_steal(&b);
}

static void expect_contains(const char *text, const char *needle) {
  if (!strstr(text, needle))
    fail_msg("expected to find\n  %s\nin\n%s", needle, text);
}

static void expect_lacks(const char *text, const char *needle) {
  if (strstr(text, needle))
    fail_msg("did not expect\n  %s\nin\n%s", needle, text);
}

static char *escaped(void (*esc)(lln_buf *, const char *), const char *s) {
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_reserve(&b, 0);
  esc(&b, s);
  return lln_buf_steal(&b);
}

/* A composition with every feature the pictures show. */
static const char *const TRICKY =
    "{\"models\": {\"m\": {\"type\": \"external\", \"url\": \"http://localhost:1\"},"
    "              \"n\": {\"type\": \"external\", \"url\": \"http://localhost:2\"}},"
    " \"architecture\": ["
    "  {\"name\": \"entry\", \"layer\": 0, \"model\": \"m\", \"output-to\": [1]},"
    "  {\"name\": \"a\", \"layer\": 1, \"model\": \"n\", \"use-case\": \"Say \\\"hi\\\" <b> & a|b\\nnext `x` "
    "$$y\","
    "   \"if\": \"$WORD_COUNT < 10 && $INPUT contains \\\"|\\\"\", \"output-to\": [\"out\"], \"fallback\": "
    "[\"b\", \"c\"],"
    "   \"extra-options\": {\"model_override\": [\"first/id\", \"second/id\"]}},"
    "  {\"name\": \"b\", \"layer\": 1, \"default\": true, \"use-case\": \"back\\\\slash\"},"
    "  {\"name\": \"c\", \"layer\": 1, \"model\": \"n\"},"
    "  {\"name\": \"out\", \"adapter\": \"output\"},"
    "  {\"name\": \"tap\", \"adapter\": \"ws\", \"url\": \"ws://localhost:9/x\", \"if\": \"$NODE == 'a'\"}"
    "]}";

/* ---- escaping ---- */

static void test_mermaid_escaping(void **state) {
  (void)state;
  char *s = escaped(lln_graph_mermaid_text, "a\"b<c>d&e|f#g`h\ni$$j $k\r\tl");
  assert_string_equal(s, "a#quot;b#lt;c#gt;d#amp;e#124;f#35;g#96;h<br/>i#36;$j $k l");
  free(s);
  s = escaped(lln_graph_mermaid_text, "plain text: ok (1) [2] {3}");
  assert_string_equal(s, "plain text: ok (1) [2] {3}");
  free(s);
}

static void test_dot_escaping(void **state) {
  (void)state;
  char *s = escaped(lln_graph_dot_text, "a\"b\\c\nd<e>|f{g}\r\x01h");
  assert_string_equal(s, "a\\\"b\\\\c\\nd<e>|f{g} h");
  free(s);
  /* \N, \G and friends are Graphviz escapes: a backslash must stay literal */
  s = escaped(lln_graph_dot_text, "\\N");
  assert_string_equal(s, "\\\\N");
  free(s);
}

/* ---- the seed: layers, inherited model, unconditional edges ---- */

static void test_seed_mermaid(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "seed-pipeline.json");
  char *m = render(&cfg, LLN_GRAPH_MERMAID);
  expect_contains(m, "flowchart LR\n");
  expect_contains(
      m, "  subgraph layer0[\"layer 0\"]\n    n0{{\"router<br/>router, entry<br/>model: router-gemma<br/>"
         "id: google/gemma-3-27b-it:free\"}}\n  end\n");
  expect_contains(m, "  subgraph layer1[\"layer 1\"]\n");
  expect_contains(m, "n1[\"creative-handler<br/>answers (terminal)<br/>model: handler-llama<br/>");
  expect_contains(
      m, "n2[\"technical-handler<br/>answers (terminal)<br/>model: router-gemma (inherited from router)"
         "<br/>id: qwen/qwen3-coder:free<br/>use-case: Technical questions,<br/>coding, math, science\"]");
  expect_contains(m, "  n0 --> n1\n  n0 --> n2\n");
  expect_lacks(m, "-.->");
  free(m);
  lln_config_free(&cfg);
}

static void test_seed_dot(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "seed-pipeline.json");
  char *d = render(&cfg, LLN_GRAPH_DOT);
  expect_contains(d, "digraph llmnet {\n  rankdir=LR;\n");
  expect_contains(d, "  subgraph cluster_layer0 {\n    label=\"layer 0\";\n");
  expect_contains(
      d, "n0 [label=\"router\\nrouter, entry\\nmodel: router-gemma\\nid: google/gemma-3-27b-it:free\", "
         "shape=hexagon, penwidth=2];");
  expect_contains(d, "model: router-gemma (inherited from router)\\nid: qwen/qwen3-coder:free");
  expect_contains(d, "  n0 -> n1;\n  n0 -> n2;\n");
  assert_int_equal(d[strlen(d) - 2], '}');
  free(d);
  lln_config_free(&cfg);
}

/* ---- conditions on edges ---- */

static void test_conditional_edges(void **state) {
  (void)state;
  lln_config cfg;
  load_fixture(&cfg, "conditional-routing.json");
  char *m = render(&cfg, LLN_GRAPH_MERMAID);
  expect_contains(m, "  n0 -->|\"if $WORD_COUNT #lt; 10\"| n1\n");
  expect_contains(m, "  n0 -->|\"if $WORD_COUNT #gt;= 10\"| n2\n");
  /* the node itself says its condition too */
  expect_contains(m, "<br/>if $WORD_COUNT #lt; 10\"]");
  /* the output node: a stadium (this fixture gives it a layer), named once */
  expect_contains(m, "\n    n4([\"output\"])\n  end\n");
  expect_contains(m, "  n3 --> n4\n");
  expect_contains(m, "subgraph layer2");
  char *d = render(&cfg, LLN_GRAPH_DOT);
  expect_contains(d, "  n0 -> n1 [label=\"if $WORD_COUNT < 10\"];\n");
  expect_contains(d, "  n0 -> n2 [label=\"if $WORD_COUNT >= 10\"];\n");
  expect_contains(d, "  n4 [label=\"output\", shape=ellipse];\n");
  free(m);
  free(d);
  lln_config_free(&cfg);
}

/* ---- defaults, fallbacks, model ids, sinks, escaping in context ---- */

static void test_tricky_mermaid(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, TRICKY);
  char *m = render(&cfg, LLN_GRAPH_MERMAID);
  /* fallbacks in order, dashed */
  expect_contains(m, "  n1 -.->|\"fallback 1\"| n2\n  n1 -.->|\"fallback 2\"| n3\n");
  /* the default target: on its edge and in its role */
  expect_contains(m, "  n0 -->|\"default\"| n2\n");
  expect_contains(m, "b<br/>answers (terminal), default<br/>model: m (inherited from entry)<br/>id: b");
  /* fallback model ids in order */
  expect_contains(m, "model: n<br/>ids: first/id,<br/>then second/id");
  /* a condition with a quote and a pipe on an edge */
  expect_contains(m,
                  "  n0 -->|\"if $WORD_COUNT #lt; 10 #amp;#amp; $INPUT contains #quot;#124;#quot;\"| n1\n");
  /* a use-case with every special character, wrapped */
  expect_contains(m, "use-case: Say #quot;hi#quot; #lt;b#gt; #amp; a#124;b<br/>next #96;x#96; #36;$y");
  /* the ws sink: in its own group, with its condition and no edge */
  expect_contains(m, "  subgraph sinks[\"ws sinks\"]\n    n5[/\"tap<br/>ws sink: gets each response<br/>"
                     "url: ws://localhost:9/x<br/>if $NODE == 'a'\"/]\n  end\n");
  expect_lacks(m, "--> n5");
  /* no raw quote inside any label: every line's quotes pair up */
  for (const char *line = m; *line;) {
    const char *end = strchr(line, '\n');
    size_t quotes = 0;
    for (const char *p = line; p < end; p++)
      quotes += *p == '"';
    if (quotes % 2)
      fail_msg("unbalanced quotes in: %.*s", (int)(end - line), line);
    line = end + 1;
  }
  free(m);
  lln_config_free(&cfg);
}

static void test_tricky_dot(void **state) {
  (void)state;
  lln_config cfg;
  load_text(&cfg, TRICKY);
  char *d = render(&cfg, LLN_GRAPH_DOT);
  expect_contains(d, "  n1 -> n2 [label=\"fallback 1\", style=dashed];\n");
  expect_contains(d, "  n1 -> n3 [label=\"fallback 2\", style=dashed];\n");
  expect_contains(d, "  n0 -> n2 [label=\"default\"];\n");
  expect_contains(d, "  n0 -> n1 [label=\"if $WORD_COUNT < 10 && $INPUT contains \\\"|\\\"\"];\n");
  expect_contains(d, "use-case: Say \\\"hi\\\" <b> & a|b\\nnext `x` $$y");
  expect_contains(d, "use-case: back\\\\slash");
  expect_contains(d, "subgraph cluster_sinks {");
  expect_contains(d, "shape=parallelogram");
  free(d);
  lln_config_free(&cfg);
}

/* ---- SVG through Graphviz ---- */

static void test_svg_missing_program(void **state) {
  (void)state;
  char err[512] = "";
  int rc = lln_graph_svg("digraph x {}\n", "llmnet-test-no-such-dot-program", STDOUT_FILENO, err, sizeof err);
  assert_int_equal(rc, -1);
  expect_contains(err, "not on PATH");
  expect_contains(err, "apt-get install graphviz");
}

static int have_dot(void) {
  const char *path = getenv("PATH");
  if (!path)
    return 0;
  char *copy = strdup(path);
  int found = 0;
  for (char *dir = strtok(copy, ":"); dir && !found; dir = strtok(NULL, ":")) {
    char file[4096];
    snprintf(file, sizeof file, "%s/dot", dir);
    found = access(file, X_OK) == 0;
  }
  free(copy);
  return found;
}

static void test_svg_renders(void **state) {
  (void)state;
  if (!have_dot())
    skip();
  lln_config cfg;
  load_text(&cfg, TRICKY);
  char *d = render(&cfg, LLN_GRAPH_DOT);
  lln_config_free(&cfg);
  char path[] = "/tmp/llmnet-test-svg-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  char err[512] = "";
  int rc = lln_graph_svg(d, "dot", fd, err, sizeof err);
  free(d);
  if (rc != 0)
    fail_msg("dot failed: %s", err);
  off_t size = lseek(fd, 0, SEEK_END);
  char *svg = calloc((size_t)size + 1, 1);
  assert_int_equal(pread(fd, svg, (size_t)size, 0), size);
  close(fd);
  unlink(path);
  expect_contains(svg, "<svg");
  /* Graphviz turned the label's characters into XML entities */
  expect_contains(svg, "Say &quot;hi&quot; &lt;b&gt; &amp; a|b");
  free(svg);
  /* input dot rejects is an error, not an empty picture */
  fd = open("/dev/null", O_WRONLY);
  rc = lln_graph_svg("digraph {", "dot", fd, err, sizeof err);
  close(fd);
  assert_int_equal(rc, -1);
  expect_contains(err, "failed");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mermaid_escaping),  cmocka_unit_test(test_dot_escaping),
      cmocka_unit_test(test_seed_mermaid),      cmocka_unit_test(test_seed_dot),
      cmocka_unit_test(test_conditional_edges), cmocka_unit_test(test_tricky_mermaid),
      cmocka_unit_test(test_tricky_dot),        cmocka_unit_test(test_svg_missing_program),
      cmocka_unit_test(test_svg_renders),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
