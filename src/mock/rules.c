/* rules: loads the mock's rules file into lln_mock_rule structs and decides,
 * per request, which rule answers. Validation happens once at load so the
 * request path only compares strings and runs precompiled regexes. */
#include "mock/rules_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/jsonc.h"
#include "config/keys.h"
#include "util/buf.h"
#include "util/xalloc.h"

static const char *const TOP_KEYS[] = {"rules", NULL};
static const char *const RULE_KEYS[] = {
    "when", "route",        "reply",     "status", "retry-after", "headers", "error", "delay-ms",
    "raw",  "content-type", "tool-call", "reset",  "cut-after",   "times",   "every", NULL};
static const char *const WHEN_KEYS[] = {"model", "contains", "matches", "router", "header", NULL};
static const char *const TOOL_KEYS[] = {"name", "arguments", NULL};

/* Where a problem is: the document and the rule (1-based, 0 = none).
 * Messages read "FILE: rule N: problem (line L, column C)": the rule number
 * is what a user scans for, the position is where the editor goes. */
typedef struct loader {
  const lln_jsonc_doc *doc;
  const char *source;
  size_t rule;
  char *err;
  size_t err_size;
} loader;

static int fail_at(loader *ld, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(loader *ld, const char *pointer, const char *fmt, ...) {
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_printf(&b, "%s: ", ld->source);
  if (ld->rule)
    lln_buf_printf(&b, "rule %zu: ", ld->rule);
  va_list ap;
  va_start(ap, fmt);
  lln_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  int line, col;
  if (pointer && lln_jsonc_position(ld->doc, pointer, &line, &col) == 0)
    lln_buf_printf(&b, " (line %d, column %d)", line, col);
  if (ld->err_size)
    snprintf(ld->err, ld->err_size, "%s", b.data);
  lln_buf_free(&b);
  return -1;
}

/* JSON pointer of a member: parent pointer + "/" + escaped key. */
static void pointer_of(lln_buf *out, const char *parent, const char *key) {
  lln_buf_reset(out);
  lln_buf_puts(out, parent);
  lln_pointer_append(out, key);
}

/* Rejects a repeated key (JSON would silently keep one of them) and the
 * first key not in `known`, suggesting the closest known key: a misspelt
 * key is the usual cause. */
static int check_keys(loader *ld, const cJSON *obj, const char *pointer, const char *what,
                      const char *const *known) {
  for (const cJSON *it = obj->child; it; it = it->next) {
    for (const cJSON *prev = obj->child; prev != it; prev = prev->next) {
      if (strcmp(prev->string, it->string) == 0) {
        lln_buf p;
        lln_buf_init(&p);
        pointer_of(&p, pointer, it->string);
        fail_at(ld, p.data, "%sduplicate key \"%s\"", what, it->string);
        lln_buf_free(&p);
        return -1;
      }
    }
    if (lln_key_known(it->string, known))
      continue;
    const char *best = lln_key_suggest(it->string, known);
    lln_buf p;
    lln_buf_init(&p);
    pointer_of(&p, pointer, it->string);
    if (best)
      fail_at(ld, p.data, "%sunknown key \"%s\" (did you mean \"%s\"?)", what, it->string, best);
    else
      fail_at(ld, p.data, "%sunknown key \"%s\"", what, it->string);
    lln_buf_free(&p);
    return -1;
  }
  return 0;
}

static int get_string(loader *ld, const cJSON *it, const char *pointer, const char *what, char **dst) {
  if (!cJSON_IsString(it))
    return fail_at(ld, pointer, "%s\"%s\" must be a string", what, it->string);
  free(*dst);
  *dst = lln_xstrdup(it->valuestring);
  return 0;
}

static int get_int(loader *ld, const cJSON *it, const char *pointer, long min, long max, long *dst) {
  double d = it->valuedouble;
  if (!cJSON_IsNumber(it) || d < (double)min || d > (double)max || (double)(long)d != d)
    return fail_at(ld, pointer, "\"%s\" must be a whole number from %ld to %ld", it->string, min, max);
  *dst = (long)d;
  return 0;
}

/* Header names and values end up verbatim in a response head, so a line
 * break would let a rule corrupt the framing. */
static int bad_header_text(const char *s, int is_name) {
  if (is_name && !*s)
    return 1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '\r' || *p == '\n' || *p == '\0')
      return 1;
    if (is_name && (*p <= ' ' || *p == ':' || *p >= 0x7f))
      return 1;
  }
  return 0;
}

static int get_headers(loader *ld, const cJSON *obj, const char *pointer, const char *what,
                       lln_mock_header **dst, size_t *count) {
  if (!cJSON_IsObject(obj))
    return fail_at(ld, pointer, "%s\"%s\" must be an object of header names to string values", what,
                   obj->string);
  size_t n = (size_t)cJSON_GetArraySize(obj);
  lln_mock_header *h = calloc(n ? n : 1, sizeof *h);
  if (!h)
    abort();
  *dst = h;
  *count = 0;
  lln_buf p;
  lln_buf_init(&p);
  int rc = 0;
  for (const cJSON *it = obj->child; it; it = it->next) {
    pointer_of(&p, pointer, it->string);
    if (!cJSON_IsString(it)) {
      rc = fail_at(ld, p.data, "%s\"%s\": header \"%s\" must have a string value", what, obj->string,
                   it->string);
      break;
    }
    if (bad_header_text(it->string, 1) || bad_header_text(it->valuestring, 0)) {
      rc = fail_at(ld, p.data, "%s\"%s\": header \"%s\" is not a valid header name and value", what,
                   obj->string, it->string);
      break;
    }
    h[*count].name = lln_xstrdup(it->string);
    h[*count].value = lln_xstrdup(it->valuestring);
    (*count)++;
  }
  lln_buf_free(&p);
  return rc;
}

static int parse_when(loader *ld, lln_mock_rule *r, const cJSON *when, const char *pointer) {
  if (!cJSON_IsObject(when))
    return fail_at(ld, pointer, "\"when\" must be an object");
  if (check_keys(ld, when, pointer, "when: ", WHEN_KEYS))
    return -1;
  lln_buf p;
  lln_buf_init(&p);
  int rc = 0;
  for (const cJSON *it = when->child; it && rc == 0; it = it->next) {
    pointer_of(&p, pointer, it->string);
    if (strcmp(it->string, "model") == 0) {
      rc = get_string(ld, it, p.data, "when: ", &r->model);
    } else if (strcmp(it->string, "contains") == 0) {
      rc = get_string(ld, it, p.data, "when: ", &r->contains);
    } else if (strcmp(it->string, "matches") == 0) {
      if (r->matches) {
        regfree(&r->re);
        free(r->matches);
        r->matches = NULL;
      }
      char *src = NULL;
      rc = get_string(ld, it, p.data, "when: ", &src);
      if (rc == 0) {
        int e = regcomp(&r->re, src, REG_EXTENDED | REG_ICASE | REG_NOSUB);
        if (e != 0) {
          char msg[128];
          regerror(e, &r->re, msg, sizeof msg);
          rc = fail_at(ld, p.data, "when: \"matches\" is not a valid regular expression: %s", msg);
          free(src);
        } else {
          r->matches = src;
        }
      }
    } else if (strcmp(it->string, "router") == 0) {
      if (!cJSON_IsBool(it))
        rc = fail_at(ld, p.data, "when: \"router\" must be true or false");
      else
        r->router = cJSON_IsTrue(it) ? 1 : 0;
    } else if (strcmp(it->string, "header") == 0) {
      rc = get_headers(ld, it, p.data, "when: ", &r->when_headers, &r->when_header_count);
    }
  }
  lln_buf_free(&p);
  return rc;
}

static int parse_tool_call(loader *ld, lln_mock_rule *r, const cJSON *tc, const char *pointer) {
  if (!cJSON_IsObject(tc))
    return fail_at(ld, pointer, "\"tool-call\" must be an object with \"name\" and \"arguments\"");
  if (check_keys(ld, tc, pointer, "tool-call: ", TOOL_KEYS))
    return -1;
  lln_buf p;
  lln_buf_init(&p);
  int rc = 0;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(tc, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(tc, "arguments");
  if (!name || !cJSON_IsString(name) || !*name->valuestring) {
    rc = fail_at(ld, pointer, "tool-call: \"name\" must be a non-empty string");
  } else if (args && cJSON_IsString(args)) {
    r->tool_args = lln_xstrdup(args->valuestring);
  } else if (args && (cJSON_IsObject(args) || cJSON_IsArray(args))) {
    /* Convenience: an object is what the string would contain anyway. */
    r->tool_args = cJSON_PrintUnformatted(args);
    if (!r->tool_args)
      abort();
  } else if (args) {
    pointer_of(&p, pointer, "arguments");
    rc = fail_at(ld, p.data, "tool-call: \"arguments\" must be a JSON string (or an object)");
  } else {
    r->tool_args = lln_xstrdup("{}");
  }
  if (rc == 0) {
    free(r->tool_name);
    r->tool_name = lln_xstrdup(name->valuestring);
    r->needs_tools = 1;
  }
  lln_buf_free(&p);
  return rc;
}

static int parse_rule(loader *ld, lln_mock_rule *r, const cJSON *obj, const char *pointer) {
  r->router = -1;
  r->cut_after = -1;
  r->reset_after = -1;
  if (!cJSON_IsObject(obj))
    return fail_at(ld, pointer, "must be an object");
  if (check_keys(ld, obj, pointer, "", RULE_KEYS))
    return -1;
  lln_buf p;
  lln_buf_init(&p);
  int rc = 0;
  int router_given = 0;
  for (const cJSON *it = obj->child; it && rc == 0; it = it->next) {
    const char *k = it->string;
    pointer_of(&p, pointer, k);
    if (strcmp(k, "when") == 0) {
      rc = parse_when(ld, r, it, p.data);
      router_given = cJSON_GetObjectItemCaseSensitive(it, "router") != NULL;
    } else if (strcmp(k, "route") == 0) {
      rc = get_string(ld, it, p.data, "", &r->route);
      if (rc == 0 && !*r->route)
        rc = fail_at(ld, p.data, "\"route\" must name a target");
    } else if (strcmp(k, "reply") == 0) {
      rc = get_string(ld, it, p.data, "", &r->reply);
    } else if (strcmp(k, "status") == 0) {
      long v = 0;
      rc = get_int(ld, it, p.data, 100, 599, &v);
      r->status = (int)v;
    } else if (strcmp(k, "retry-after") == 0) {
      if (cJSON_IsNumber(it)) {
        long v = 0;
        rc = get_int(ld, it, p.data, 0, 1L << 30, &v);
        if (rc == 0) {
          char num[24];
          snprintf(num, sizeof num, "%ld", v);
          free(r->retry_after);
          r->retry_after = lln_xstrdup(num);
        }
      } else {
        rc = get_string(ld, it, p.data, "", &r->retry_after);
        if (rc == 0 && bad_header_text(r->retry_after, 0))
          rc = fail_at(ld, p.data, "\"retry-after\" must not contain a line break");
      }
    } else if (strcmp(k, "headers") == 0) {
      rc = get_headers(ld, it, p.data, "", &r->headers, &r->header_count);
    } else if (strcmp(k, "error") == 0) {
      rc = get_string(ld, it, p.data, "", &r->error);
    } else if (strcmp(k, "delay-ms") == 0) {
      rc = get_int(ld, it, p.data, 0, 24L * 3600 * 1000, &r->delay_ms);
    } else if (strcmp(k, "raw") == 0) {
      rc = get_string(ld, it, p.data, "", &r->raw);
    } else if (strcmp(k, "content-type") == 0) {
      rc = get_string(ld, it, p.data, "", &r->content_type);
      if (rc == 0 && (!*r->content_type || bad_header_text(r->content_type, 0)))
        rc = fail_at(ld, p.data, "\"content-type\" must be a one-line media type");
    } else if (strcmp(k, "reset") == 0) {
      if (cJSON_IsTrue(it)) {
        r->reset = 1;
      } else if (cJSON_IsFalse(it)) {
        r->reset = 0;
      } else if (cJSON_IsNumber(it)) {
        rc = get_int(ld, it, p.data, 0, 1L << 30, &r->reset_after);
        if (rc == 0)
          r->reset = 1;
      } else {
        rc = fail_at(ld, p.data,
                     "\"reset\" is true (drop the connection without answering) or a number of "
                     "response body bytes to send first");
      }
    } else if (strcmp(k, "tool-call") == 0) {
      rc = parse_tool_call(ld, r, it, p.data);
    } else if (strcmp(k, "cut-after") == 0) {
      rc = get_int(ld, it, p.data, 0, 1L << 30, &r->cut_after);
    } else if (strcmp(k, "times") == 0) {
      rc = get_int(ld, it, p.data, 1, 1L << 30, &r->times);
    } else if (strcmp(k, "every") == 0) {
      rc = get_int(ld, it, p.data, 1, 1L << 30, &r->every);
    }
  }
  lln_buf_free(&p);
  if (rc)
    return rc;
  if (r->route) {
    /* A route only means something to a routing prompt; matching it
     * against the handlers' requests too would spend its times/every. */
    if (r->router == 0)
      return fail_at(ld, pointer, "\"route\" answers routing prompts, but \"when\" has \"router\": false");
    if (!router_given)
      r->router = 1;
  }
  if (r->content_type && !r->raw)
    return fail_at(ld, pointer, "\"content-type\" applies to a \"raw\" body, but the rule has none");
  if (r->error && r->status == 0)
    r->status = 500;
  if (r->error && r->status < 400)
    return fail_at(ld, pointer, "\"error\" needs a \"status\" of 400 or more (got %d)", r->status);
  return 0;
}

static void rule_free(lln_mock_rule *r) {
  free(r->model);
  free(r->contains);
  if (r->matches) {
    regfree(&r->re);
    free(r->matches);
  }
  for (size_t i = 0; i < r->when_header_count; i++) {
    free(r->when_headers[i].name);
    free(r->when_headers[i].value);
  }
  free(r->when_headers);
  free(r->route);
  free(r->reply);
  free(r->retry_after);
  for (size_t i = 0; i < r->header_count; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  free(r->headers);
  free(r->error);
  free(r->raw);
  free(r->content_type);
  free(r->tool_name);
  free(r->tool_args);
}

void lln_mock_rules_free(lln_mock_rules *rules) {
  for (size_t i = 0; i < rules->count; i++)
    rule_free(&rules->items[i]);
  free(rules->items);
  rules->items = NULL;
  rules->count = 0;
}

static int parse_doc(lln_mock_rules *out, loader *ld) {
  const cJSON *root = ld->doc->root;
  if (!cJSON_IsObject(root))
    return fail_at(ld, "", "must be an object: {\"rules\": [...]}");
  if (check_keys(ld, root, "", "", TOP_KEYS))
    return -1;
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "rules");
  if (!list)
    return fail_at(ld, "", "missing \"rules\": expected {\"rules\": [...]}");
  if (!cJSON_IsArray(list))
    return fail_at(ld, "/rules", "\"rules\" must be an array");
  size_t n = (size_t)cJSON_GetArraySize(list);
  out->items = calloc(n ? n : 1, sizeof *out->items);
  if (!out->items)
    abort();
  lln_buf p;
  lln_buf_init(&p);
  int rc = 0;
  for (const cJSON *it = list->child; it; it = it->next) {
    lln_mock_rule *r = &out->items[out->count++];
    ld->rule = out->count;
    lln_buf_reset(&p);
    lln_buf_printf(&p, "/rules/%zu", out->count - 1);
    if ((rc = parse_rule(ld, r, it, p.data)) != 0)
      break;
  }
  lln_buf_free(&p);
  return rc;
}

int lln_mock_rules_parse(lln_mock_rules *out, const char *json, size_t len, const char *source, char *err,
                         size_t err_size) {
  out->items = NULL;
  out->count = 0;
  lln_jsonc_doc doc;
  memset(&doc, 0, sizeof doc);
  char perr[256];
  if (lln_jsonc_parse(&doc, json, len, perr, sizeof perr) != 0) {
    if (err_size)
      snprintf(err, err_size, "%s:%s", source, perr);
    return -1;
  }
  loader ld = {.doc = &doc, .source = source, .err = err, .err_size = err_size};
  int rc = parse_doc(out, &ld);
  lln_jsonc_free(&doc);
  if (rc)
    lln_mock_rules_free(out);
  return rc;
}

int lln_mock_rules_load(lln_mock_rules *out, const char *path, char *err, size_t err_size) {
  out->items = NULL;
  out->count = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  lln_buf b;
  lln_buf_init(&b);
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    lln_buf_append(&b, chunk, n);
  int read_err = ferror(f);
  fclose(f);
  int rc;
  if (read_err) {
    snprintf(err, err_size, "%s: cannot read", path);
    rc = -1;
  } else {
    rc = lln_mock_rules_parse(out, b.data ? b.data : "", b.len, path, err, err_size);
  }
  lln_buf_free(&b);
  return rc;
}

static int header_present(const lln_mock_request_view *v, const lln_mock_header *want) {
  for (size_t i = 0; i < v->header_count; i++)
    if (strcasecmp(v->headers[i].name, want->name) == 0 && strcmp(v->headers[i].value, want->value) == 0)
      return 1;
  return 0;
}

static int when_holds(const lln_mock_rule *r, const lln_mock_request_view *v) {
  const char *text = v->last_user ? v->last_user : "";
  if (r->router >= 0 && r->router != (v->is_router != 0))
    return 0;
  if (r->needs_tools && !v->has_tools)
    return 0;
  if (r->model && (!v->model || strcmp(r->model, v->model) != 0))
    return 0;
  if (r->contains && !strcasestr(text, r->contains))
    return 0;
  if (r->matches && regexec(&r->re, text, 0, NULL, 0) != 0)
    return 0;
  for (size_t i = 0; i < r->when_header_count; i++)
    if (!header_present(v, &r->when_headers[i]))
      return 0;
  return 1;
}

lln_mock_rule *lln_mock_rules_match(lln_mock_rules *rules, const lln_mock_request_view *req) {
  for (size_t i = 0; i < rules->count; i++) {
    lln_mock_rule *r = &rules->items[i];
    if (!when_holds(r, req))
      continue;
    r->seen++;
    if (r->every > 1 && r->seen % r->every != 0)
      continue;
    if (r->times > 0 && r->applied >= r->times)
      continue;
    r->applied++;
    return r;
  }
  return NULL;
}
