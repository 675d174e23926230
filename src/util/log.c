/* log: one line per call, written with a single fwrite so lines from
 * several threads do not interleave, with every loaded secret value
 * replaced by [REDACTED] (util/secrets.h). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/secrets.h"

static lln_log_level g_level = LLN_LOG_INFO;
static int g_json;
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

int lln_log_set_format(const char *name) {
  if (strcmp(name, "json") == 0)
    g_json = 1;
  else if (strcmp(name, "text") == 0)
    g_json = 0;
  else
    return -1;
  return 0;
}

int lln_log_json(void) { return g_json; }

static void timestamp(char *out, size_t size) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* Writes one line; `scrub` when its text has not been scrubbed yet. */
static void write_line(lln_log_level level, const lln_buf *fields, int scrub) {
  char ts[40];
  timestamp(ts, sizeof ts);
  lln_buf line;
  lln_buf_init(&line);
  if (g_json)
    lln_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",%s}\n", ts, names[level],
                   fields->data ? fields->data : "");
  else
    lln_buf_printf(&line, "%s %-5s %s\n", ts, names[level], fields->data ? fields->data : "");
  /* the last line of defence: no loaded secret reaches the log as written */
  if (scrub)
    lln_secrets_scrub_buf(&line);
  fwrite(line.data, 1, line.len, stderr);
  lln_buf_free(&line);
}

void lln_log_record(lln_log_level level, const lln_buf *fields) {
  if (lln_log_enabled(level))
    write_line(level, fields, 1);
}

void lln_log(lln_log_level level, const char *fmt, ...) {
  if (!lln_log_enabled(level))
    return;
  lln_buf msg, fields;
  lln_buf_init(&msg);
  lln_buf_init(&fields);
  va_list ap;
  va_start(ap, fmt);
  lln_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  /* before JSON escaping, which would hide a secret holding '"' or '\\';
   * the rest of the line is llmnet's own, so it is not scanned again */
  lln_secrets_scrub_buf(&msg);
  if (g_json) {
    lln_buf_puts(&fields, "\"msg\":");
    lln_buf_json_string(&fields, msg.data ? msg.data : "", msg.len);
    write_line(level, &fields, 0);
  } else {
    write_line(level, &msg, 0);
  }
  lln_buf_free(&msg);
  lln_buf_free(&fields);
}
