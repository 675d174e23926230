/* fuzz_json_scan: the object scanner that lets streamed events and answers
 * be copied through as bytes (src/util/json_scan.h). For any input:
 *   - when the scanner accepts, cJSON_ParseWithLength reads an object with
 *     as many members, each reported key (unescaped ones compared as bytes)
 *     is that member's name, and each reported value span parsed alone is
 *     equal to that member;
 *   - lln_json_scan_object_at agrees: it accepts every input the scanner
 *     accepts, with the same members, ending at the closing brace; what it
 *     accepts with bytes after the object is, cut at its end, an object the
 *     scanner and cJSON accept alike;
 *   - when it rejects, the offset is inside the input or at its end;
 *   - it never accepts what cJSON refuses, and when cJSON reads an object
 *     the scanner refuses, the input is outside what the scanner documents
 *     it takes (it is stricter, never looser): cJSON's own unformatted
 *     print of that object, a strict text, is then accepted unless it nests
 *     deeper than LLN_JSON_SCAN_MAX_DEPTH or holds a number cJSON prints
 *     longer than the scanner's bound.
 * Members past the caller's bound are counted, not reported. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_scan.h"

#define MAX_MEMBERS 8

static int depth(const cJSON *v) {
  int d = 0;
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next) {
    int k = depth(c);
    if (k > d)
      d = k;
  }
  return (cJSON_IsArray(v) || cJSON_IsObject(v)) ? d + 1 : 0;
}

/* Compared as printed: cJSON_Compare finds no two infinities equal, and
 * takes time exponential in the depth of nested objects. */
static int same_print(const cJSON *a, const cJSON *b) {
  char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
  int same = pa && pb && strcmp(pa, pb) == 0;
  free(pa);
  free(pb);
  return same;
}

static void check_members(const char *s, const lln_json_scan *sc, const cJSON *tree) {
  if (!cJSON_IsObject(tree) || (size_t)cJSON_GetArraySize(tree) != sc->count)
    abort();
  const cJSON *c = tree->child;
  for (size_t i = 0; i < sc->count && i < sc->max; i++, c = c->next) {
    const lln_json_member *m = &sc->members[i];
    if (!m->key_escaped && (strlen(c->string) != m->key_len || memcmp(c->string, s + m->key_off, m->key_len)))
      abort();
    cJSON *v = cJSON_ParseWithLength(s + m->val_off, m->val_len);
    if (!v || !same_print(v, c))
      abort();
    cJSON_Delete(v);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  lln_json_member members[MAX_MEMBERS];
  lln_json_scan sc = {.members = members, .max = MAX_MEMBERS};
  int rc = lln_json_scan_object(s, size, &sc);
  cJSON *tree = cJSON_ParseWithLength(s, size);
  lln_json_member at_members[MAX_MEMBERS];
  lln_json_scan at = {.members = at_members, .max = MAX_MEMBERS};
  size_t end = 0;
  int at_rc = lln_json_scan_object_at(s, size, &at, &end);
  if (at_rc == 0) {
    if (end > size || s[end - 1] != '}' || lln_json_scan_object(s, end, &sc) != 0 || sc.count != at.count)
      abort();
    for (size_t i = 0; i < at.count && i < MAX_MEMBERS; i++) {
      if (members[i].key_off != at_members[i].key_off || members[i].key_len != at_members[i].key_len ||
          members[i].val_off != at_members[i].val_off || members[i].val_len != at_members[i].val_len ||
          members[i].key_escaped != at_members[i].key_escaped)
        abort();
    }
    cJSON *prefix = cJSON_ParseWithLength(s, end);
    check_members(s, &sc, prefix);
    cJSON_Delete(prefix);
    sc.count = 0;
    rc = lln_json_scan_object(s, size, &sc);
  } else if (rc == 0) {
    abort();
  }
  if (rc == 0) {
    check_members(s, &sc, tree);
  } else {
    if (rc != -1 || sc.error_at > size)
      abort();
    if (cJSON_IsObject(tree) && depth(tree) <= LLN_JSON_SCAN_MAX_DEPTH) {
      char *printed = cJSON_PrintUnformatted(tree);
      lln_json_scan again = {.members = members, .max = MAX_MEMBERS};
      if (printed && lln_json_scan_object(printed, strlen(printed), &again) != 0) {
        /* cJSON prints some doubles in more bytes than the scanner takes */
        const char *bad = printed + again.error_at;
        if (!(*bad == '-' || (*bad >= '0' && *bad <= '9')))
          abort();
      }
      free(printed);
    }
  }
  cJSON_Delete(tree);
  return 0;
}
