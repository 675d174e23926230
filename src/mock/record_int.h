/* record: the log of chat requests the mock received, in arrival order,
 * served on GET /mock/requests so integration tests can assert on what a
 * gateway actually sent upstream (headers, rewritten bodies). */
#ifndef LLN_MOCK_RECORD_H
#define LLN_MOCK_RECORD_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "server/http.h"
#include "util/buf.h"

#define LLN_MOCK_RECORD_MAX 10000

typedef struct lln_mock_record {
  char **items; /* ring of serialised entries */
  size_t cap, start, count;
} lln_mock_record;

void lln_mock_record_init(lln_mock_record *r, size_t cap);
void lln_mock_record_free(lln_mock_record *r);
void lln_mock_record_clear(lln_mock_record *r);
/* Keeps {"path","headers","body"}; `body` is the parsed body, or NULL to
 * keep the raw bytes as a string. The oldest entry goes once cap is hit. */
void lln_mock_record_add(lln_mock_record *r, const lln_http_request *req, const cJSON *body);
/* Appends the JSON array of every kept entry. */
void lln_mock_record_json(const lln_mock_record *r, lln_buf *out);

#endif
