/* eval_cases: reading `llmnet eval`'s cases file (JSON Lines). Strict, like
 * the composition: a line that is not a case is an error naming the file,
 * the line and the fix, and a label that names no node is one too, so a
 * typo never becomes a silent "wrong answer". */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/eval_int.h"
#include "util/buf.h"
#include "util/json_check.h"
#include "util/xalloc.h"

static const char CASE_SHAPE[] = "{\"prompt\": \"...\", \"expect\": \"NODE\"} or {\"messages\": [...], "
                                 "\"expect\": \"NODE\"}";

typedef struct reader {
  const char *path;
  const lln_config *cfg;
  FILE *err;
  size_t problems;
} reader;

static void problem(reader *r, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void problem(reader *r, long line, const char *fmt, ...) {
  if (r->problems++ >= LLN_EVAL_MAX_PROBLEMS)
    return;
  va_list ap;
  va_start(ap, fmt);
  if (line > 0)
    fprintf(r->err, "%s:%ld: ", r->path, line);
  else
    fprintf(r->err, "%s: ", r->path);
  vfprintf(r->err, fmt, ap);
  fputc('\n', r->err);
  va_end(ap);
}

/* The composition's node names, for an error about a label. */
static void node_names(const lln_config *cfg, lln_buf *out) {
  for (size_t i = 0; i < cfg->n_nodes; i++)
    lln_buf_printf(out, "%s%s", i ? ", " : "", cfg->nodes[i].name);
}

static int check_messages(reader *r, long line, const cJSON *m) {
  if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0) {
    problem(r, line,
            "\"messages\" must be a non-empty array of {\"role\": ..., \"content\": ...} objects, as in "
            "a chat completion request");
    return -1;
  }
  int i = 0;
  const cJSON *msg;
  cJSON_ArrayForEach(msg, m) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
    if (!cJSON_IsObject(msg) || !cJSON_IsString(role) || !role->valuestring[0]) {
      problem(r, line, "messages[%d] needs a \"role\" (system, developer, user, assistant or tool)", i);
      return -1;
    }
    i++;
  }
  return 0;
}

static int read_headers(reader *r, long line, const cJSON *h, lln_eval_case *c) {
  if (!cJSON_IsObject(h)) {
    problem(r, line, "\"headers\" must be an object of strings, like {\"x-tier\": \"gold\"}");
    return -1;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, h) {
    if (!cJSON_IsString(it)) {
      problem(r, line, "header \"%s\" must be a string", it->string);
      return -1;
    }
    if (c->n_headers == LLN_EVAL_MAX_HEADERS) {
      problem(r, line, "more than %d headers; give a case only the headers its routing reads",
              LLN_EVAL_MAX_HEADERS);
      return -1;
    }
    c->headers[c->n_headers].name = lln_xstrdup(it->string);
    c->headers[c->n_headers].value = lln_xstrdup(it->valuestring);
    c->n_headers++;
  }
  return 0;
}

/* The request the case routes: {"messages": [...]}, as text. */
static char *request_body(const cJSON *messages, const cJSON *prompt) {
  cJSON *body = cJSON_CreateObject();
  if (messages) {
    cJSON_AddItemToObject(body, "messages", cJSON_Duplicate(messages, 1));
  } else {
    cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", prompt->valuestring);
    cJSON_AddItemToArray(msgs, m);
  }
  char *s = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if (!s)
    abort();
  return s;
}

static int check_keys(reader *r, long line, const cJSON *o) {
  static const char *const KEYS[] = {"messages", "prompt", "expect", "session", "headers", "note", NULL};
  const cJSON *it;
  cJSON_ArrayForEach(it, o) {
    int known = 0;
    for (size_t k = 0; KEYS[k] && !known; k++)
      known = strcmp(it->string, KEYS[k]) == 0;
    if (!known) {
      problem(r, line,
              "unknown key \"%s\"; a case has \"messages\" or \"prompt\", \"expect\", and optionally "
              "\"session\", \"headers\" and \"note\"",
              it->string);
      return -1;
    }
  }
  return 0;
}

static int check_expect(reader *r, long line, const cJSON *expect) {
  if (!cJSON_IsString(expect) || !expect->valuestring[0]) {
    problem(r, line, "\"expect\" is missing: name the node the router should choose, as in %s", CASE_SHAPE);
    return -1;
  }
  if (!lln_config_node(r->cfg, expect->valuestring)) {
    lln_buf names;
    lln_buf_init(&names);
    node_names(r->cfg, &names);
    problem(r, line,
            "\"expect\": \"%s\" is not a node of %s (its nodes: %s); label the case with the node that "
            "should answer",
            expect->valuestring, r->cfg->path, names.data ? names.data : "");
    lln_buf_free(&names);
    return -1;
  }
  return 0;
}

/* Reads one line's case into `c`; returns 0 or -1 (the problem told). */
static int read_case(reader *r, long line, const char *text, size_t len, lln_eval_case *c) {
  size_t bad_at = 0;
  const char *why = NULL;
  if (lln_json_check(text, len, &bad_at, &why) != 0) {
    problem(r, line, "not valid JSON at byte %zu (%s); each line is one case, %s", bad_at + 1, why,
            CASE_SHAPE);
    return -1;
  }
  const char *end = NULL;
  cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!o) {
    const char *at = cJSON_GetErrorPtr();
    size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
    problem(r, line, "not valid JSON (near byte %zu); each line is one case, %s", off + 1, CASE_SHAPE);
    return -1;
  }
  if (!cJSON_IsObject(o)) {
    problem(r, line, "not a JSON object; each line is one case, %s", CASE_SHAPE);
    cJSON_Delete(o);
    return -1;
  }
  const cJSON *messages = cJSON_GetObjectItemCaseSensitive(o, "messages");
  const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(o, "prompt");
  const cJSON *expect = cJSON_GetObjectItemCaseSensitive(o, "expect");
  const cJSON *session = cJSON_GetObjectItemCaseSensitive(o, "session");
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive(o, "headers");
  int rc = check_keys(r, line, o);
  if (rc == 0 && !!messages == !!prompt) {
    problem(r, line, "a case has either \"messages\" or \"prompt\"%s: %s", messages ? ", not both" : "",
            CASE_SHAPE);
    rc = -1;
  }
  if (rc == 0 && messages)
    rc = check_messages(r, line, messages);
  if (rc == 0 && prompt && !cJSON_IsString(prompt)) {
    problem(r, line, "\"prompt\" must be a string: the user's message");
    rc = -1;
  }
  if (rc == 0)
    rc = check_expect(r, line, expect);
  if (rc == 0 && session && (!cJSON_IsString(session) || !session->valuestring[0])) {
    problem(r, line, "\"session\" must be a non-empty string: the conversation's x-session-id");
    rc = -1;
  }
  if (rc == 0 && session) {
    c->headers[0].name = lln_xstrdup("x-session-id");
    c->headers[0].value = lln_xstrdup(session->valuestring);
    c->n_headers = 1;
  }
  if (rc == 0 && headers)
    rc = read_headers(r, line, headers, c);
  if (rc == 0) {
    c->line = line;
    c->expect = lln_xstrdup(expect->valuestring);
    c->body = request_body(messages, prompt);
  }
  cJSON_Delete(o);
  return rc;
}

static int blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
      return 0;
  return 1;
}

static void case_free(lln_eval_case *c) {
  free(c->body);
  free(c->expect);
  for (size_t i = 0; i < c->n_headers; i++) {
    free(c->headers[i].name);
    free(c->headers[i].value);
  }
  free(c->chose);
  free(c->decided);
  free(c->error);
  free(c->reply);
  free(c->reason);
  memset(c, 0, sizeof *c);
}

/* Reads every line of `f` into cases, telling the problems. */
static void read_lines(reader *r, FILE *f, lln_eval_cases *cs, size_t *cap) {
  char *line = NULL;
  size_t line_cap = 0;
  ssize_t got;
  long lineno = 0;
  size_t total = 0;
  while ((got = getline(&line, &line_cap, f)) >= 0) {
    lineno++;
    size_t len = (size_t)got;
    total += len;
    if (total > LLN_EVAL_MAX_FILE) {
      problem(r, lineno, "the cases file is over %d MiB; split it", LLN_EVAL_MAX_FILE / (1024 * 1024));
      break;
    }
    if (blank(line, len))
      continue;
    if (len > LLN_EVAL_MAX_LINE) {
      problem(r, lineno, "the line is %zu bytes, over the limit of %d; split the conversation", len,
              LLN_EVAL_MAX_LINE);
      continue;
    }
    if (cs->n >= LLN_EVAL_MAX_CASES) {
      problem(r, lineno, "more than %d cases; split the file", LLN_EVAL_MAX_CASES);
      break;
    }
    if (cs->n == *cap) {
      *cap = *cap ? *cap * 2 : 64;
      cs->items = realloc(cs->items, *cap * sizeof *cs->items);
      if (!cs->items)
        abort();
    }
    lln_eval_case *c = &cs->items[cs->n];
    memset(c, 0, sizeof *c);
    if (read_case(r, lineno, line, len, c) == 0)
      cs->n++;
    else
      case_free(c);
  }
  free(line);
}

int lln_eval_cases_read(lln_eval_cases *cs, const char *path, const lln_config *cfg, FILE *err) {
  memset(cs, 0, sizeof *cs);
  reader r = {.path = path, .cfg = cfg, .err = err};
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(err, "%s: cannot read the cases file: %s\n", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > LLN_EVAL_MAX_FILE) {
    fprintf(err, "%s: the cases file is over %d MiB; split it\n", path, LLN_EVAL_MAX_FILE / (1024 * 1024));
    fclose(f);
    return -1;
  }
  size_t cap = 0;
  read_lines(&r, f, cs, &cap);
  fclose(f);
  if (r.problems == 0 && cs->n == 0)
    problem(&r, 0, "no cases; write one JSON object a line, %s", CASE_SHAPE);
  if (r.problems > LLN_EVAL_MAX_PROBLEMS)
    fprintf(err, "%s: ... and %zu more problems\n", path, r.problems - LLN_EVAL_MAX_PROBLEMS);
  if (r.problems) {
    lln_eval_cases_free(cs);
    return -1;
  }
  return 0;
}

void lln_eval_cases_free(lln_eval_cases *cs) {
  for (size_t i = 0; i < cs->n; i++)
    case_free(&cs->items[i]);
  free(cs->items);
  memset(cs, 0, sizeof *cs);
}

int lln_eval_case_correct(const lln_eval_case *c) {
  return c->status < 400 && !c->error && c->chose && strcmp(c->chose, c->expect) == 0;
}
