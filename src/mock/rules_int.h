/* rules: the `llmnet mock --rules FILE` document. Loading is strict (an
 * unknown key or a wrong type is an error naming the file, the rule and the
 * key) so a typo never silently turns a test scenario into the default
 * reply; matching picks the first rule that applies to a request and keeps
 * each rule's times/every counters.
 *
 * {"rules": [{"when": {"model", "contains", "matches", "router", "header"},
 *             "route", "reply", "status", "retry-after", "headers", "error",
 *             "delay-ms", "raw", "content-type", "tool-call": {"name", "arguments"},
 *             "reset", "cut-after", "times", "every"}]}
 * Comments are allowed. A matched rule answers with, in this order of
 * precedence: "reset" (below); "raw" (verbatim, with "status" or 200); an
 * OpenAI error when "status" >= 400 ("error" alone means 500); the
 * "tool-call"; for routing prompts "route", else "reply"; else the default
 * reply. "headers" and "retry-after" go on every answer of the rule,
 * "delay-ms" adds to --latency. "content-type" replaces application/json
 * on a "raw" body (a raw "text/event-stream" scripts a malformed stream).
 * "reset": true drops the connection without any response (after the
 * delay); "reset": N sends the head and the first N bytes of the response
 * body (chunked, so the client knows it is incomplete), then drops the
 * connection. Two conditions are implied: a rule with "route" only matches
 * routing prompts ("router": false beside it is an error), and a rule with
 * "tool-call" only matches requests offering tools; so neither spends its
 * times/every on requests it cannot answer.
 * "times" counts the answers a rule gave, "every" the requests its
 * when-part held for. */
#ifndef LLN_MOCK_RULES_H
#define LLN_MOCK_RULES_H

#include <regex.h>
#include <stddef.h>

#include "server/http.h"

typedef struct lln_mock_header {
  char *name;
  char *value;
} lln_mock_header;

typedef struct lln_mock_rule {
  /* when: every field set must hold */
  char *model;    /* exact request model, or NULL */
  char *contains; /* case-insensitive substring of the last user message, or NULL */
  char *matches;  /* the ERE source, or NULL; compiled into re */
  regex_t re;
  int router;      /* -1 any request, 0 only plain requests, 1 only routing prompts */
  int needs_tools; /* set by tool-call: only requests that offer tools */
  lln_mock_header *when_headers;
  size_t when_header_count;

  /* then */
  char *route;       /* routing prompts: the target name to answer */
  char *reply;       /* fixed content */
  int status;        /* 0 = 200, or 500 when only "error" is given */
  char *retry_after; /* Retry-After header value, or NULL */
  lln_mock_header *headers;
  size_t header_count;
  char *error; /* message of the OpenAI error body (status >= 400) */
  long delay_ms;
  char *raw;          /* body sent verbatim, or NULL */
  char *content_type; /* of the raw body; NULL = application/json */
  int reset;          /* drop the connection instead of finishing the answer */
  long reset_after;   /* body bytes sent before the drop; -1 = none at all */
  char *tool_name, *tool_args;
  long cut_after; /* streams: end after this many content chunks; -1 = never */
  long times;     /* applies to this many matches at most; 0 = no limit */
  long every;     /* applies to every Nth match only; 0 = each match */

  /* counters, advanced by lln_mock_rules_match */
  long seen;    /* requests the when-part held for */
  long applied; /* requests the rule answered */
} lln_mock_rule;

typedef struct lln_mock_rules {
  lln_mock_rule *items;
  size_t count;
} lln_mock_rules;

/* What matching looks at in a chat request. */
typedef struct lln_mock_request_view {
  const char *model;     /* NULL when the request has none */
  const char *last_user; /* text of the last user message; NULL = "" */
  int is_router;         /* the request is an llmnet routing prompt */
  int has_tools;         /* the request offers at least one tool */
  const lln_http_header *headers;
  size_t header_count;
} lln_mock_request_view;

/* Parses a rules document (JSON, comments allowed). `source` names it in
 * errors: "rules.json: rule 2: unknown key \"stauts\" (did you mean
 * \"status\"?) (line 4, column 7)", or "rules.json:3:5: ..." for a syntax
 * error. Returns 0, or -1 with err filled and *out left empty. */
int lln_mock_rules_parse(lln_mock_rules *out, const char *json, size_t len, const char *source, char *err,
                         size_t err_size);
/* Reads and parses a rules file; errors start with the path. */
int lln_mock_rules_load(lln_mock_rules *out, const char *path, char *err, size_t err_size);
/* Safe on a zeroed or already freed set. */
void lln_mock_rules_free(lln_mock_rules *rules);

/* The first rule, in file order, that applies to the request, or NULL.
 * Advances the counters of every rule whose when-part held up to the one
 * returned, so call it exactly once per request. */
lln_mock_rule *lln_mock_rules_match(lln_mock_rules *rules, const lln_mock_request_view *req);

#endif
