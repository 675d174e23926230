/* graph: the composition's topology as a picture (`llmnet graph`): Mermaid
 * or Graphviz text with the nodes grouped by layer, each labelled with its
 * role, model, use-case and condition; output-to edges carry the condition
 * of a conditional target and mark the default one; fallbacks are dashed
 * edges; ws sinks stand apart with their condition. SVG comes from running
 * Graphviz's `dot` on the Graphviz text. */
#ifndef LLN_CONFIG_GRAPH_H
#define LLN_CONFIG_GRAPH_H

#include <stddef.h>

#include "config/config.h"
#include "util/buf.h"

typedef enum { LLN_GRAPH_MERMAID, LLN_GRAPH_DOT } lln_graph_format;

/* Appends the whole diagram of `cfg` in `format`. */
void lln_graph_write(const lln_config *cfg, lln_graph_format format, lln_buf *out);

/* Appends `s` as the inside of a double-quoted Mermaid label: characters
 * Mermaid or HTML would read (" # < > & | ` $$) become entity codes and a
 * newline becomes <br/>. */
void lln_graph_mermaid_text(lln_buf *out, const char *s);
/* Appends `s` as the inside of a double-quoted Graphviz string: quotes and
 * backslashes escaped, a newline as \n. */
void lln_graph_dot_text(lln_buf *out, const char *s);

/* Runs `program` (Graphviz's dot, found on PATH; never through a shell) as
 * `program -Tsvg` with `dot_text` on its standard input and its standard
 * output on `out_fd`. Returns 0, or -1 with a message in `err`: a missing
 * program says how to install it. */
int lln_graph_svg(const char *dot_text, const char *program, int out_fd, char *err, size_t err_size);

#endif
