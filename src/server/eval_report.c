/* eval_report: what `llmnet eval` prints once every case has run: the
 * accuracy, the confusion table (expected rows, chosen columns), the
 * router's latency percentiles over the cases it decided, its tokens, how
 * each case was decided and the failures; as text for a reader or as one
 * JSON object (--format json) for scripts. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/eval_int.h"

/* The confusion column of a case that chose nothing (its run failed). */
#define NO_CHOICE "(error)"
/* The "decided" of a case whose run said nothing about it. */
#define NOT_DECIDED "(none)"
/* Characters of a router reply shown in the text report. */
#define REPLY_SHOWN 200

typedef struct summary {
  size_t correct;
  double *latency; /* decision_ms of the cases the router decided, sorted */
  size_t n_latency;
  long tokens;
  long router_calls;
  /* the confusion table: rows are the expected nodes, columns the nodes
   * expected or chosen (so the diagonal shows), in the composition's
   * order, then NO_CHOICE when a run failed */
  const char **rows, **cols;
  size_t n_rows, n_cols;
  size_t *matrix;       /* n_rows x n_cols */
  const char **decided; /* distinct "decided" values, first seen first */
  size_t *decided_n;
  size_t n_decided;
} summary;

static const char *chosen_label(const lln_eval_case *c) { return c->chose ? c->chose : NO_CHOICE; }
static const char *decided_label(const lln_eval_case *c) { return c->decided ? c->decided : NOT_DECIDED; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static size_t label_index(const char *const *labels, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(labels[i], name) == 0)
      return i;
  return n;
}

/* Whether some case expects `name` (as_expected) or chose it. */
static int label_used(const lln_eval_cases *cs, const char *name, int as_expected) {
  for (size_t i = 0; i < cs->n; i++) {
    const lln_eval_case *c = &cs->items[i];
    if (as_expected ? strcmp(c->expect, name) == 0 : strcmp(chosen_label(c), name) == 0)
      return 1;
  }
  return 0;
}

static void count_decided(summary *s, const char *d) {
  for (size_t i = 0; i < s->n_decided; i++) {
    if (strcmp(s->decided[i], d) == 0) {
      s->decided_n[i]++;
      return;
    }
  }
  s->decided[s->n_decided] = d;
  s->decided_n[s->n_decided++] = 1;
}

static int router_decided(const lln_eval_case *c) {
  return c->decided && (strcmp(c->decided, "router") == 0 || strcmp(c->decided, "ambiguous") == 0);
}

static void *zalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p)
    abort();
  return p;
}

static void summarize(const lln_eval_cases *cs, const lln_config *cfg, summary *s) {
  memset(s, 0, sizeof *s);
  s->rows = zalloc(cfg->n_nodes, sizeof *s->rows);
  s->cols = zalloc(cfg->n_nodes + 1, sizeof *s->cols);
  for (size_t i = 0; i < cfg->n_nodes; i++) {
    const char *name = cfg->nodes[i].name;
    int expected = label_used(cs, name, 1);
    if (expected)
      s->rows[s->n_rows++] = name;
    if (expected || label_used(cs, name, 0))
      s->cols[s->n_cols++] = name;
  }
  if (label_used(cs, NO_CHOICE, 0))
    s->cols[s->n_cols++] = NO_CHOICE;
  s->matrix = zalloc(s->n_rows * s->n_cols, sizeof *s->matrix);
  s->latency = zalloc(cs->n, sizeof *s->latency);
  s->decided = zalloc(cs->n, sizeof *s->decided);
  s->decided_n = zalloc(cs->n, sizeof *s->decided_n);
  for (size_t i = 0; i < cs->n; i++) {
    const lln_eval_case *c = &cs->items[i];
    s->correct += (size_t)lln_eval_case_correct(c);
    size_t row = label_index(s->rows, s->n_rows, c->expect);
    size_t col = label_index(s->cols, s->n_cols, chosen_label(c));
    if (row < s->n_rows && col < s->n_cols) /* every label is a node of cfg: always counted */
      s->matrix[row * s->n_cols + col]++;
    if (router_decided(c))
      s->latency[s->n_latency++] = c->decision_ms;
    s->tokens += c->tokens;
    s->router_calls += c->router_calls;
    count_decided(s, decided_label(c));
  }
  qsort(s->latency, s->n_latency, sizeof *s->latency, cmp_double);
}

static void summary_free(summary *s) {
  free(s->rows);
  free(s->cols);
  free(s->matrix);
  free(s->latency);
  free(s->decided);
  free(s->decided_n);
}

/* The nearest-rank percentile p (0..100) of the sorted latencies. */
static double percentile(const summary *s, double p) {
  size_t rank = (size_t)ceil(p / 100.0 * (double)s->n_latency);
  return s->latency[rank ? rank - 1 : 0];
}

static double accuracy(const lln_eval_cases *cs, const summary *s) {
  return cs->n ? (double)s->correct / (double)cs->n : 0.0;
}

static void text_confusion(const summary *s, FILE *out) {
  int w = (int)strlen("expected \\ chosen");
  for (size_t i = 0; i < s->n_rows; i++)
    w = (int)strlen(s->rows[i]) > w ? (int)strlen(s->rows[i]) : w;
  fprintf(out, "confusion (rows: expected, columns: chosen):\n  %-*s", w, "expected \\ chosen");
  for (size_t j = 0; j < s->n_cols; j++)
    fprintf(out, "  %s", s->cols[j]);
  fputc('\n', out);
  for (size_t i = 0; i < s->n_rows; i++) {
    fprintf(out, "  %-*s", w, s->rows[i]);
    for (size_t j = 0; j < s->n_cols; j++)
      fprintf(out, "  %*zu", (int)strlen(s->cols[j]), s->matrix[i * s->n_cols + j]);
    fputc('\n', out);
  }
}

/* A reply or error on one line, cut to REPLY_SHOWN bytes. */
static void text_quoted(FILE *out, const char *s) {
  size_t n = strlen(s), cut = n > REPLY_SHOWN ? REPLY_SHOWN : n;
  while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
    cut--;
  fputc('"', out);
  for (size_t i = 0; i < cut; i++) {
    if (s[i] == '\n')
      fputs("\\n", out);
    else if (s[i] == '"' || s[i] == '\\')
      fprintf(out, "\\%c", s[i]);
    else
      fputc(s[i], out);
  }
  fputs(cut < n ? "...\"" : "\"", out);
}

static void text_failures(const lln_eval_cases *cs, const summary *s, FILE *out) {
  size_t failures = cs->n - s->correct;
  if (!failures) {
    fputs("failures: none\n", out);
    return;
  }
  fprintf(out, "failures (%zu):\n", failures);
  for (size_t i = 0; i < cs->n; i++) {
    const lln_eval_case *c = &cs->items[i];
    if (lln_eval_case_correct(c))
      continue;
    fprintf(out, "  line %ld: expected %s, chose %s (decided: %s)\n", c->line, c->expect,
            c->chose ? c->chose : "nothing", decided_label(c));
    if (c->reply) {
      fputs("    router reply: ", out);
      text_quoted(out, c->reply);
      fputc('\n', out);
    }
    if (c->reason) {
      fputs("    default taken: ", out);
      text_quoted(out, c->reason);
      fputc('\n', out);
    }
    if (c->error) {
      fputs("    error: ", out);
      text_quoted(out, c->error);
      fputc('\n', out);
    }
  }
}

void lln_eval_report_text(const lln_eval_cases *cs, const lln_config *cfg, const char *cases_path,
                          FILE *out) {
  summary s;
  summarize(cs, cfg, &s);
  fprintf(out, "llmnet eval %s %s: %zu case%s, routing decisions only (no handler was called)\n", cfg->path,
          cases_path, cs->n, cs->n == 1 ? "" : "s");
  fprintf(out, "accuracy: %.1f%% (%zu of %zu correct)\n\n", accuracy(cs, &s) * 100.0, s.correct, cs->n);
  text_confusion(&s, out);
  fputc('\n', out);
  if (s.n_latency)
    fprintf(out, "router latency (ms, %zu case%s the router decided): p50 %.1f, p95 %.1f, p99 %.1f\n",
            s.n_latency, s.n_latency == 1 ? "" : "s", percentile(&s, 50), percentile(&s, 95),
            percentile(&s, 99));
  else
    fputs("router latency: no case was decided by the router\n", out);
  fprintf(out, "router tokens: %ld (%ld router call%s)\n", s.tokens, s.router_calls,
          s.router_calls == 1 ? "" : "s");
  fputs("decided:", out);
  for (size_t i = 0; i < s.n_decided; i++)
    fprintf(out, "%s %s %zu", i ? "," : "", s.decided[i], s.decided_n[i]);
  fputs("\n\n", out);
  text_failures(cs, &s, out);
  summary_free(&s);
}

static cJSON *json_failure(const lln_eval_case *c) {
  cJSON *f = cJSON_CreateObject();
  cJSON_AddNumberToObject(f, "line", (double)c->line);
  cJSON_AddStringToObject(f, "expect", c->expect);
  cJSON_AddItemToObject(f, "chose", c->chose ? cJSON_CreateString(c->chose) : cJSON_CreateNull());
  cJSON_AddItemToObject(f, "decided", c->decided ? cJSON_CreateString(c->decided) : cJSON_CreateNull());
  if (c->reply)
    cJSON_AddStringToObject(f, "reply", c->reply);
  if (c->reason)
    cJSON_AddStringToObject(f, "reason", c->reason);
  if (c->error)
    cJSON_AddStringToObject(f, "error", c->error);
  return f;
}

void lln_eval_report_json(const lln_eval_cases *cs, const lln_config *cfg, FILE *out) {
  summary s;
  summarize(cs, cfg, &s);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "cases", (double)cs->n);
  cJSON_AddNumberToObject(o, "correct", (double)s.correct);
  cJSON_AddNumberToObject(o, "accuracy", accuracy(cs, &s));
  cJSON *conf = cJSON_AddObjectToObject(o, "confusion");
  for (size_t i = 0; i < s.n_rows; i++) {
    cJSON *row = cJSON_AddObjectToObject(conf, s.rows[i]);
    for (size_t j = 0; j < s.n_cols; j++) {
      size_t v = s.matrix[i * s.n_cols + j];
      if (v)
        cJSON_AddNumberToObject(row, s.cols[j], (double)v);
    }
  }
  cJSON *lat = cJSON_AddObjectToObject(o, "latency_ms");
  static const double PCT[] = {50, 95, 99};
  static const char *const PCT_KEYS[] = {"p50", "p95", "p99"};
  for (size_t i = 0; i < 3; i++)
    cJSON_AddItemToObject(lat, PCT_KEYS[i],
                          s.n_latency ? cJSON_CreateNumber(percentile(&s, PCT[i])) : cJSON_CreateNull());
  cJSON_AddNumberToObject(o, "tokens", (double)s.tokens);
  cJSON_AddNumberToObject(o, "router_calls", (double)s.router_calls);
  cJSON *dec = cJSON_AddObjectToObject(o, "decided");
  for (size_t i = 0; i < s.n_decided; i++)
    cJSON_AddNumberToObject(dec, s.decided[i], (double)s.decided_n[i]);
  cJSON *fails = cJSON_AddArrayToObject(o, "failures");
  for (size_t i = 0; i < cs->n; i++)
    if (!lln_eval_case_correct(&cs->items[i]))
      cJSON_AddItemToArray(fails, json_failure(&cs->items[i]));
  char *text = cJSON_Print(o);
  if (!text)
    abort();
  fputs(text, out);
  fputc('\n', out);
  cJSON_free(text);
  cJSON_Delete(o);
  summary_free(&s);
}
