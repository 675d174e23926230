/* log: one line per call, written with a single fwrite so lines from
 * several threads do not interleave. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static lln_log_level g_level = LLN_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void lln_log_set_level(lln_log_level level) { g_level = level; }

int lln_log_parse_level(const char *name, lln_log_level *out) {
  for (int i = 0; i <= LLN_LOG_OFF; i++) {
    if (strcmp(name, names[i]) == 0) {
      *out = (lln_log_level)i;
      return 0;
    }
  }
  return -1;
}

int lln_log_enabled(lln_log_level level) { return level >= g_level && g_level != LLN_LOG_OFF; }

void lln_log(lln_log_level level, const char *fmt, ...) {
  if (!lln_log_enabled(level))
    return;
  char line[2048];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
  n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000L, names[level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0)
    m = 0;
  n += m;
  if ((size_t)n > sizeof line - 2)
    n = (int)sizeof line - 2;
  line[n++] = '\n';
  fwrite(line, 1, (size_t)n, stderr);
}
