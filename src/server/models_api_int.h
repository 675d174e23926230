/* models_api: the answers of GET /v1/models and GET /v1/models/{id}.
 * Internal to src/server. */
#ifndef LLN_SERVER_MODELS_API_INT_H
#define LLN_SERVER_MODELS_API_INT_H

#include "config/config.h"
#include "server/http.h"

void lln__models_list(const lln_config *cfg, lln_http_request *req, const char *const *headers);
/* `raw_id`: the path's {id}, still %-encoded. */
void lln__models_one(const lln_config *cfg, lln_http_request *req, const char *const *headers,
                     const char *raw_id);

#endif
