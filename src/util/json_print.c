/* json_print: integers exactly, other numbers with the shortest %.*g that
 * reads back to the same double, non-finite numbers as null (as cJSON does). */
#include "util/json_print.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lln_json_print_number(double d, lln_buf *out) {
  if (!isfinite(d)) {
    lln_buf_puts(out, "null");
    return;
  }
  if (d == floor(d) && fabs(d) < 9007199254740992.0) {
    char tmp[24];
    char *p = tmp + sizeof tmp;
    long long v = (long long)d;
    unsigned long long u = v < 0 ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v;
    do {
      *--p = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    if (v < 0)
      *--p = '-';
    lln_buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
    return;
  }
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%.15g", d);
  if (strtod(tmp, NULL) != d)
    n = snprintf(tmp, sizeof tmp, "%.17g", d);
  lln_buf_append(out, tmp, (size_t)n);
}

void lln_json_print(const cJSON *item, lln_buf *out) {
  switch (item->type & 0xFF) {
  case cJSON_NULL: lln_buf_puts(out, "null"); return;
  case cJSON_False: lln_buf_puts(out, "false"); return;
  case cJSON_True: lln_buf_puts(out, "true"); return;
  case cJSON_Number: lln_json_print_number(item->valuedouble, out); return;
  case cJSON_String:
    lln_buf_json_string(out, item->valuestring ? item->valuestring : "",
                        item->valuestring ? strlen(item->valuestring) : 0);
    return;
  case cJSON_Raw: lln_buf_puts(out, item->valuestring ? item->valuestring : "null"); return;
  case cJSON_Array:
  case cJSON_Object: {
    int object = (item->type & 0xFF) == cJSON_Object;
    lln_buf_putc(out, object ? '{' : '[');
    for (const cJSON *c = item->child; c; c = c->next) {
      if (c != item->child)
        lln_buf_putc(out, ',');
      if (object) {
        lln_buf_json_string(out, c->string ? c->string : "", c->string ? strlen(c->string) : 0);
        lln_buf_putc(out, ':');
      }
      lln_json_print(c, out);
    }
    lln_buf_putc(out, object ? '}' : ']');
    return;
  }
  default: lln_buf_puts(out, "null"); return;
  }
}
