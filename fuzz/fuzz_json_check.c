/* fuzz_json_check: the lexical check run on request bodies before cJSON
 * (src/util/json_check.h). For any input it must:
 *   - refuse with an offset inside the input and a description;
 *   - pass every input without control bytes and without backslashes
 *     (nothing it refuses can be there);
 *   - refuse, at the same offset, any input whose first failing byte it
 *     reported, when the input is cut just after that byte (the verdict
 *     depends only on what comes before);
 *   - agree with cJSON on what it lets through: when it passes and cJSON
 *     parses, cJSON's own unformatted print of the tree passes it too (no
 *     string cJSON decoded can carry a NUL, and escapes it prints are
 *     well formed). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_check.h"

static int plain(const uint8_t *data, size_t size) {
  for (size_t i = 0; i < size; i++) {
    if (data[i] < 0x20 || data[i] == '\\')
      return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  size_t at = 0;
  const char *why = NULL;
  int rc = lln_json_check(s, size, &at, &why);
  if (rc != 0) {
    if (rc != -1 || at >= size || !why || !*why || plain(data, size))
      abort();
    size_t at2 = 0;
    if (lln_json_check(s, at + 1, &at2, NULL) != -1 || at2 != at)
      abort();
    return 0;
  }
  cJSON *v = cJSON_ParseWithLength(s, size);
  if (v) {
    char *printed = cJSON_PrintUnformatted(v);
    if (printed && lln_json_check(printed, strlen(printed), NULL, NULL) != 0)
      abort();
    free(printed);
    cJSON_Delete(v);
  }
  return 0;
}
