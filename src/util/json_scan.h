/* json_scan: a validating scanner for one JSON object that reports where
 * its top-level members lie in the buffer, so a caller can copy members
 * through as bytes instead of parsing and printing them. It allocates
 * nothing and does not recurse.
 *
 * What it accepts is RFC 8259 JSON and, for every input it accepts,
 * cJSON_ParseWithLength accepts it too and reads the same object (the fuzz
 * harness fuzz/fuzz_json_scan.c checks both). It is stricter than cJSON,
 * never looser: it rejects what cJSON lets through (bytes after the object
 * other than JSON whitespace; a UTF-8 byte order mark; control bytes as
 * whitespace; numbers outside JSON's grammar such as 01, 1. or -.5; raw
 * control characters (U+0000 to U+001F) in strings; malformed escapes and
 * the escape \u0000, which cJSON would read as the end of the string),
 * numbers longer than LLN_JSON_SCAN_MAX_NUMBER bytes (cJSON cannot read them
 * whole) and nesting deeper than LLN_JSON_SCAN_MAX_DEPTH. A caller falls
 * back to cJSON when it is rejected. */
#ifndef LLN_UTIL_JSON_SCAN_H
#define LLN_UTIL_JSON_SCAN_H

#include <stddef.h>

/* Arrays and objects nested in each other, the scanned object included. */
#define LLN_JSON_SCAN_MAX_DEPTH 64
/* The longest number in bytes (cJSON reads at most 63 bytes of one). */
#define LLN_JSON_SCAN_MAX_NUMBER 63

/* One top-level member: offsets into the scanned buffer. The key span is
 * inside its quotes, as written (escapes not decoded); the value span is the
 * whole value (a string's with its quotes). */
typedef struct lln_json_member {
  size_t key_off, key_len;
  size_t val_off, val_len;
  int key_escaped; /* the key holds a backslash escape: compare it decoded */
} lln_json_member;

/* Set in lln_json_scan.flags: */
/* A number whose value a reader of doubles would not see as written: -0,
 * one that overflows a double, or an integer of more than 15 digits. */
#define LLN_JSON_SCAN_INEXACT_NUMBER 1u
/* A top-level key holds an escape. */
#define LLN_JSON_SCAN_ESCAPED_KEY 2u

typedef struct lln_json_scan {
  lln_json_member *members; /* in: where the first `max` members go */
  size_t max;               /* in */
  size_t count;             /* out: members in the object; past `max`, the rest are
                               validated and counted but not reported */
  unsigned flags;           /* out: LLN_JSON_SCAN_* */
  size_t error_at;          /* out: the offset of the offending byte when rejected */
} lln_json_scan;

/* 0 when s[0..len) is one JSON object (JSON whitespace around it allowed);
 * -1 otherwise (sc->error_at says where). */
int lln_json_scan_object(const char *s, size_t len, lln_json_scan *sc);

/* The same for an object that need only start the text (after
 * whitespace): *end is the offset just past its closing brace; what
 * follows is not looked at. */
int lln_json_scan_object_at(const char *s, size_t len, lln_json_scan *sc, size_t *end);

/* 1 when member `m` of buffer `s` has the key `key` as written (no escapes). */
int lln_json_key_is(const char *s, const lln_json_member *m, const char *key);

#endif
