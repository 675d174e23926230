/* envfile: dotenv files (KEY=VALUE lines) for --env-file and env-file secrets. Values are secrets, so
 * no error message from this module ever contains one: keys and line numbers only. */
#ifndef LLN_ENVFILE_H
#define LLN_ENVFILE_H

#include <stddef.h>

typedef struct lln_env_entry {
  char *key;
  char *value;
} lln_env_entry;

typedef struct lln_envfile {
  lln_env_entry *entries; /* in order of first appearance, keys unique */
  size_t count;
} lln_envfile;

/* Parses dotenv text (not necessarily NUL-terminated): blank lines and # comment lines skipped, an
 * optional leading "export ", KEY=VALUE with optional spaces around '='. KEY is [A-Za-z_][A-Za-z0-9_]*.
 * VALUE is unquoted (trailing spaces and a comment starting with whitespace + '#' stripped), "double
 * quoted" (escapes \n \t \r \" \\, other backslashes kept as written; may span lines) or 'single
 * quoted' (literal; may span lines); after a closing quote only spaces and a # comment may follow.
 * Later duplicates override earlier. Returns 0, or -1 with out empty and err "LINE: message" (e.g.
 * "expected KEY=VALUE", "unterminated quoted value for KEY"). err may be NULL. */
int lln_envfile_parse(lln_envfile *out, const char *text, size_t len, char *err, size_t err_size);

/* Reads and parses a file; a leading "~/" expands to $HOME. Errors are "PATH:LINE: message" or
 * "PATH: <strerror>", PATH as given. */
int lln_envfile_load(lln_envfile *out, const char *path, char *err, size_t err_size);

/* The value for key, or NULL. */
const char *lln_envfile_get(const lln_envfile *f, const char *key);

/* Safe on a zeroed or already freed file. */
void lln_envfile_free(lln_envfile *f);

#endif
