/* log: leveled log lines on stderr, as text or as one JSON object per line.
 * Callers never pass secrets, and message content only when the operator
 * asked for it; a loaded secret that slips in all the same is written as
 * [REDACTED] (util/secrets.h). Level and format are process-wide and set
 * once at start-up. */
#ifndef LLN_LOG_H
#define LLN_LOG_H

#include "util/buf.h"

typedef enum { LLN_LOG_DEBUG, LLN_LOG_INFO, LLN_LOG_WARN, LLN_LOG_ERROR, LLN_LOG_OFF } lln_log_level;

void lln_log_set_level(lln_log_level level);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 when unknown. */
int lln_log_parse_level(const char *name, lln_log_level *out);
int lln_log_enabled(lln_log_level level);
/* "text" (default) or "json"; returns -1 when unknown. */
int lln_log_set_format(const char *name);
int lln_log_json(void);
void lln_log(lln_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes a prepared record: in JSON mode `fields` holds the members after
 * ts and level (`"msg":"...",...` without braces); in text mode, the text. */
void lln_log_record(lln_log_level level, const lln_buf *fields);

#define LLN_DEBUG(...) lln_log(LLN_LOG_DEBUG, __VA_ARGS__)
#define LLN_INFO(...) lln_log(LLN_LOG_INFO, __VA_ARGS__)
#define LLN_WARN(...) lln_log(LLN_LOG_WARN, __VA_ARGS__)
#define LLN_ERROR(...) lln_log(LLN_LOG_ERROR, __VA_ARGS__)

#endif
