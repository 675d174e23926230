/* jsonc: JSON with line (//) and block comments, parsed into cJSON, with line:column positions for syntax
 * errors and for any member path, so config messages can point at the line a user has to fix. */
#ifndef LLN_JSONC_H
#define LLN_JSONC_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct lln_jsonc_node;

typedef struct lln_jsonc_doc {
  cJSON *root; /* owned */
  char *text;  /* the source with comments blanked to spaces (newlines kept), NUL-terminated, owned;
                  a leading UTF-8 BOM is not part of it */
  size_t text_len;
  /* private: the path -> offset index, built at parse */
  struct lln_jsonc_node *nodes;
  size_t node_count;
  char *keys; /* decoded member keys the nodes refer to */
  size_t *line_starts;
  size_t line_count;
} lln_jsonc_doc;

/* Parses text (not necessarily NUL-terminated) strictly as JSON once comments are removed. On a syntax
 * error returns -1, leaves doc empty and fills err with "LINE:COL: message" (1-based, col in bytes). On
 * success returns 0; release with lln_jsonc_free. err may be NULL. */
int lln_jsonc_parse(lln_jsonc_doc *doc, const char *text, size_t len, char *err, size_t err_size);

/* Reads the file and parses it; errors are "PATH:LINE:COL: message" or "PATH: <strerror>". */
int lln_jsonc_load_file(lln_jsonc_doc *doc, const char *path, char *err, size_t err_size);

/* Safe on a zeroed or already freed doc. */
void lln_jsonc_free(lln_jsonc_doc *doc);

/* Position of the member or element at a JSON-pointer path (RFC 6901), e.g. "/architecture/2/if": the
 * key's position for object members, the value's position for array elements, the root value for "".
 * Returns 0 and fills 1-based line/col, or -1 when the path does not exist. With duplicate keys the
 * first one wins. */
int lln_jsonc_position(const lln_jsonc_doc *doc, const char *path, int *line, int *col);

#endif
