/* graph: Mermaid and Graphviz renderings of a loaded composition. Both are
 * built from the same plain-text labels (lines joined by '\n'), so the two
 * pictures say the same things and only the escaping differs. */
#include "config/graph.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Use-cases are sentences; wrapped, they keep the boxes narrow. */
#define WRAP_COLUMNS 36

/* ---- escaping ---- */

void lln_graph_mermaid_text(lln_buf *out, const char *s) {
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    switch (c) {
    case '"': lln_buf_puts(out, "#quot;"); break;
    case '#': lln_buf_puts(out, "#35;"); break;
    case '<': lln_buf_puts(out, "#lt;"); break;
    case '>': lln_buf_puts(out, "#gt;"); break;
    case '&': lln_buf_puts(out, "#amp;"); break;
    case '|': lln_buf_puts(out, "#124;"); break;
    case '`': lln_buf_puts(out, "#96;"); break;
    case '\n': lln_buf_puts(out, "<br/>"); break;
    case '\r': break;
    case '$':
      /* "$$" opens a KaTeX formula in recent Mermaid */
      lln_buf_puts(out, p[1] == '$' ? "#36;" : "$");
      break;
    default: lln_buf_putc(out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
    }
  }
}

void lln_graph_dot_text(lln_buf *out, const char *s) {
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"' || c == '\\') {
      lln_buf_putc(out, '\\');
      lln_buf_putc(out, (char)c);
    } else if (c == '\n') {
      lln_buf_puts(out, "\\n");
    } else if (c != '\r') {
      lln_buf_putc(out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
    }
  }
}

/* A comment line holds the file's path; a newline in it would end the
 * comment and leave the rest as diagram text. */
static void put_comment_text(lln_buf *out, const char *s) {
  for (const char *p = s; *p; p++)
    lln_buf_putc(out, (unsigned char)*p < 0x20 ? ' ' : *p);
}

/* ---- labels ---- */

/* Appends `s` broken at spaces into lines of about WRAP_COLUMNS bytes; the
 * first line already holds `col` bytes. */
static void put_wrapped(lln_buf *b, const char *s, size_t col) {
  while (*s) {
    size_t word = strcspn(s, " \n");
    if (col && col + 1 + word > WRAP_COLUMNS) {
      lln_buf_putc(b, '\n');
      col = 0;
    } else if (col) {
      lln_buf_putc(b, ' ');
      col++;
    }
    lln_buf_append(b, s, word);
    col += word;
    s += word;
    if (*s == '\n')
      col = WRAP_COLUMNS; /* the writer's own line break starts a new line */
    while (*s == ' ' || *s == '\n')
      s++;
  }
}

static void put_role(lln_buf *b, const lln_config *cfg, const lln_node *n) {
  size_t start = b->len;
  lln_buf_puts(b, n->adapter == LLN_ADAPTER_OUTPUT ? "output"
                  : n->adapter == LLN_ADAPTER_WS   ? "ws sink: gets each response"
                  : n->routes_only                 ? "router"
                  : n->n_targets == 0              ? "answers (terminal)"
                                                   : "answers");
  if (n == cfg->entry)
    lln_buf_puts(b, ", entry");
  if (n->is_default)
    lln_buf_puts(b, ", default");
  /* an output node is usually named "output": say it once */
  if (strcmp(b->data + start, n->name) == 0) {
    b->len = start - 1;
    b->data[b->len] = '\0';
  }
}

/* The node's label as plain text, one fact per line. */
static void node_label(lln_buf *b, const lln_config *cfg, const lln_node *n) {
  lln_buf_puts(b, n->name);
  lln_buf_putc(b, '\n');
  put_role(b, cfg, n);
  if (n->adapter == LLN_ADAPTER_OPENAI) {
    if (n->endpoint) {
      lln_buf_printf(b, "\nmodel: %s", n->endpoint->key);
      if (n->inherited_from)
        lln_buf_printf(b, " (inherited from %s)", n->inherited_from->name);
      lln_buf_puts(b, n->n_model_ids > 1 ? "\nids:" : "\nid:");
      for (size_t k = 0; k < n->n_model_ids; k++)
        lln_buf_printf(b, "%s%s", k ? ",\nthen " : " ", n->model_ids[k]);
    } else {
      lln_buf_puts(b, "\nno model");
    }
  }
  if (n->url)
    lln_buf_printf(b, "\nurl: %s", n->url);
  if (n->use_case && *n->use_case) {
    lln_buf_puts(b, "\nuse-case:");
    put_wrapped(b, n->use_case, strlen("use-case:"));
  }
  if (n->if_src)
    lln_buf_printf(b, "\nif %s", n->if_src);
}

/* The label of the edge from a node to its target: the condition that
 * keeps the target a candidate, and whether routing falls back to it. */
static void edge_label(lln_buf *b, const lln_node *t) {
  if (t->if_src)
    lln_buf_printf(b, "if %s", t->if_src);
  if (t->is_default)
    lln_buf_puts(b, t->if_src ? " (default)" : "default");
}

/* ---- layout shared by both formats ---- */

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* The distinct layers of the nodes drawn in layer groups, ascending. */
static size_t layers_of(const lln_config *cfg, int *layers) {
  size_t n = 0;
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *node = &cfg->nodes[i];
    if (node->layer < 0 || node->adapter == LLN_ADAPTER_WS)
      continue;
    size_t k = 0;
    while (k < n && layers[k] != node->layer)
      k++;
    if (k == n)
      layers[n++] = node->layer;
  }
  qsort(layers, n, sizeof *layers, cmp_int);
  return n;
}

/* Which group a node is drawn in: a layer, the ws sinks, or none. */
enum { GROUP_NONE = -1, GROUP_SINKS = -2 };

static int group_of(const lln_node *n) {
  if (n->adapter == LLN_ADAPTER_WS)
    return GROUP_SINKS;
  return n->layer >= 0 ? n->layer : GROUP_NONE;
}

typedef struct renderer {
  void (*open_group)(lln_buf *out, int group);
  void (*close_group)(lln_buf *out);
  void (*node)(lln_buf *out, const lln_config *cfg, const lln_node *n, const char *indent, const char *label);
  void (*edge)(lln_buf *out, const lln_node *from, const lln_node *to, const char *label, int fallback);
} renderer;

static void put_nodes(lln_buf *out, const lln_config *cfg, const renderer *r, int group, const char *indent) {
  lln_buf label;
  lln_buf_init(&label);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *n = &cfg->nodes[i];
    if (group_of(n) != group)
      continue;
    lln_buf_reset(&label);
    node_label(&label, cfg, n);
    r->node(out, cfg, n, indent, label.data);
  }
  lln_buf_free(&label);
}

static void render(const lln_config *cfg, const renderer *r, lln_buf *out) {
  int *layers = calloc(cfg->n_nodes + 1, sizeof *layers);
  if (!layers)
    abort();
  size_t n_layers = layers_of(cfg, layers);
  for (size_t i = 0; i < n_layers; i++) {
    r->open_group(out, layers[i]);
    put_nodes(out, cfg, r, layers[i], "    ");
    r->close_group(out);
  }
  free(layers);
  int sinks = 0;
  for (size_t i = 0; i < cfg->n_nodes; i++)
    sinks |= cfg->nodes[i].adapter == LLN_ADAPTER_WS;
  if (sinks) {
    r->open_group(out, GROUP_SINKS);
    put_nodes(out, cfg, r, GROUP_SINKS, "    ");
    r->close_group(out);
  }
  put_nodes(out, cfg, r, GROUP_NONE, "  ");
  lln_buf label;
  lln_buf_init(&label);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const lln_node *n = &cfg->nodes[i];
    for (size_t k = 0; k < n->n_targets; k++) {
      lln_buf_reset(&label);
      lln_buf_reserve(&label, 0);
      edge_label(&label, n->targets[k]);
      r->edge(out, n, n->targets[k], label.data, 0);
    }
    for (size_t k = 0; k < n->n_fallbacks; k++) {
      lln_buf_reset(&label);
      if (n->n_fallbacks > 1)
        lln_buf_printf(&label, "fallback %zu", k + 1);
      else
        lln_buf_puts(&label, "fallback");
      r->edge(out, n, n->fallbacks[k], label.data, 1);
    }
  }
  lln_buf_free(&label);
}

/* ---- Mermaid ---- */

static void mm_open(lln_buf *out, int group) {
  if (group == GROUP_SINKS)
    lln_buf_puts(out, "  subgraph sinks[\"ws sinks\"]\n");
  else
    lln_buf_printf(out, "  subgraph layer%d[\"layer %d\"]\n", group, group);
}

static void mm_close(lln_buf *out) { lln_buf_puts(out, "  end\n"); }

static void mm_node(lln_buf *out, const lln_config *cfg, const lln_node *n, const char *indent,
                    const char *label) {
  (void)cfg;
  /* the shape says the role at a glance: router, handler, exit, sink */
  const char *open = "[\"", *close = "\"]";
  if (n->adapter == LLN_ADAPTER_OUTPUT) {
    open = "([\"";
    close = "\"])";
  } else if (n->adapter == LLN_ADAPTER_WS) {
    open = "[/\"";
    close = "\"/]";
  } else if (n->routes_only) {
    open = "{{\"";
    close = "\"}}";
  }
  lln_buf_printf(out, "%sn%d%s", indent, n->index, open);
  lln_graph_mermaid_text(out, label);
  lln_buf_printf(out, "%s\n", close);
}

static void mm_edge(lln_buf *out, const lln_node *from, const lln_node *to, const char *label, int fallback) {
  lln_buf_printf(out, "  n%d %s", from->index, fallback ? "-.->" : "-->");
  if (*label) {
    lln_buf_puts(out, "|\"");
    lln_graph_mermaid_text(out, label);
    lln_buf_puts(out, "\"|");
  }
  lln_buf_printf(out, " n%d\n", to->index);
}

/* ---- Graphviz ---- */

static void dot_open(lln_buf *out, int group) {
  if (group == GROUP_SINKS)
    lln_buf_puts(out, "  subgraph cluster_sinks {\n    label=\"ws sinks\";\n");
  else
    lln_buf_printf(out, "  subgraph cluster_layer%d {\n    label=\"layer %d\";\n", group, group);
  lln_buf_puts(out, "    style=\"rounded,dashed\";\n    color=gray50;\n");
}

static void dot_close(lln_buf *out) { lln_buf_puts(out, "  }\n"); }

static void dot_node(lln_buf *out, const lln_config *cfg, const lln_node *n, const char *indent,
                     const char *label) {
  const char *shape = n->adapter == LLN_ADAPTER_OUTPUT ? "ellipse"
                      : n->adapter == LLN_ADAPTER_WS   ? "parallelogram"
                      : n->routes_only                 ? "hexagon"
                                                       : "box";
  lln_buf_printf(out, "%sn%d [label=\"", indent, n->index);
  lln_graph_dot_text(out, label);
  lln_buf_printf(out, "\", shape=%s%s%s];\n", shape, strcmp(shape, "box") == 0 ? ", style=rounded" : "",
                 n == cfg->entry ? ", penwidth=2" : "");
}

static void dot_edge(lln_buf *out, const lln_node *from, const lln_node *to, const char *label,
                     int fallback) {
  lln_buf_printf(out, "  n%d -> n%d", from->index, to->index);
  if (!*label && !fallback) {
    lln_buf_puts(out, ";\n");
    return;
  }
  lln_buf_puts(out, " [");
  if (*label) {
    lln_buf_puts(out, "label=\"");
    lln_graph_dot_text(out, label);
    lln_buf_puts(out, fallback ? "\", " : "\"");
  }
  lln_buf_puts(out, fallback ? "style=dashed];\n" : "];\n");
}

void lln_graph_write(const lln_config *cfg, lln_graph_format format, lln_buf *out) {
  if (format == LLN_GRAPH_MERMAID) {
    static const renderer mermaid = {mm_open, mm_close, mm_node, mm_edge};
    lln_buf_puts(out, "%% llmnet graph of ");
    put_comment_text(out, cfg->path);
    lln_buf_puts(out, "\nflowchart LR\n");
    render(cfg, &mermaid, out);
    return;
  }
  static const renderer dot = {dot_open, dot_close, dot_node, dot_edge};
  lln_buf_puts(out, "// llmnet graph of ");
  put_comment_text(out, cfg->path);
  lln_buf_puts(out, "\ndigraph llmnet {\n  rankdir=LR;\n  fontname=\"Helvetica\";\n  node "
                    "[fontname=\"Helvetica\", fontsize=11];\n"
                    "  edge [fontname=\"Helvetica\", fontsize=10];\n");
  render(cfg, &dot, out);
  lln_buf_puts(out, "}\n");
}

/* ---- SVG through Graphviz ---- */

static int write_all(int fd, const char *p, size_t len) {
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Finds `program` as execvp would (a name with a '/' is used as is), so a
 * missing program is told apart from one that failed: not every
 * posix_spawnp reports a failed exec (valgrind's, older C libraries'). */
static int find_program(const char *program, char *out, size_t size) {
  if (strchr(program, '/')) {
    snprintf(out, size, "%s", program);
    return access(out, X_OK);
  }
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/bin:/bin:/usr/bin";
  for (const char *dir = path;; dir++) {
    size_t len = strcspn(dir, ":");
    /* an empty PATH entry means the current directory */
    int n = len ? snprintf(out, size, "%.*s/%s", (int)len, dir, program) : snprintf(out, size, "%s", program);
    if (n > 0 && (size_t)n < size && access(out, X_OK) == 0)
      return 0;
    dir += len;
    if (!*dir)
      return -1;
  }
}

int lln_graph_svg(const char *dot_text, const char *program, int out_fd, char *err, size_t err_size) {
  char file[4096];
  if (find_program(program, file, sizeof file) != 0) {
    snprintf(err, err_size,
             "--format svg needs Graphviz's \"%s\" program, which is not on PATH "
             "(Debian: apt-get install graphviz); --format dot prints the text to render elsewhere",
             program);
    return -1;
  }
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) {
    snprintf(err, err_size, "cannot create a pipe to %s: %s", file, strerror(errno));
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  if (out_fd != 1)
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  char *argv[] = {(char *)program, "-Tsvg", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, file, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  if (rc != 0) {
    close(in[1]);
    snprintf(err, err_size, "cannot run %s: %s", file, strerror(rc));
    return -1;
  }
  /* a dot that exits early must not kill us with SIGPIPE: its status says why */
  struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, &old);
  int wrote = write_all(in[1], dot_text, strlen(dot_text));
  sigaction(SIGPIPE, &old, NULL);
  close(in[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFEXITED(status))
      snprintf(err, err_size, "%s -Tsvg failed (exit status %d)", program, WEXITSTATUS(status));
    else
      snprintf(err, err_size, "%s -Tsvg was killed by signal %d", program,
               WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
  }
  if (wrote != 0) {
    snprintf(err, err_size, "%s -Tsvg stopped reading its input", program);
    return -1;
  }
  return 0;
}
