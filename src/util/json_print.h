/* json_print: cJSON trees to compact JSON text, appended to a buffer.
 * cJSON's own printer formats every number with sprintf("%1.15g") and reads
 * it back with sscanf to check it; on llmnet's hot path (request bodies,
 * responses, stream chunks) most numbers are integers, which this prints
 * directly. */
#ifndef LLN_UTIL_JSON_PRINT_H
#define LLN_UTIL_JSON_PRINT_H

#include <cjson/cJSON.h>

#include "util/buf.h"

void lln_json_print(const cJSON *item, lln_buf *out);
/* One number as lln_json_print writes it: exact for integers, else the
 * shortest %g that reads back the same; null when not finite. */
void lln_json_print_number(double d, lln_buf *out);

#endif
