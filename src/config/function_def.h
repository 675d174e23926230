/* function_def: a user function a hook calls, as loaded from the composition
 * ("functions"). Config parses and owns it; the hooks module runs it
 * (hooks/function.h). Field values may hold request variables ($INPUT,
 * $NODE, ...), compiled at load into templates
 * and rendered per call. */
#ifndef LLN_CONFIG_FUNCTION_DEF_H
#define LLN_CONFIG_FUNCTION_DEF_H

#include "templates/template.h"

typedef enum { LLN_FN_SHELL, LLN_FN_REST, LLN_FN_WEBSOCKET, LLN_FN_GRPC } lln_fn_type;

typedef struct lln_function {
  char *name;
  lln_fn_type type;
  long timeout_ms; /* default 10000 */
  /* shell: run directly (execvp), never through a shell */
  char *command;
  char **args; /* NULL-terminated */
  char **env;  /* NULL-terminated "NAME=VALUE", added to llmnet's environment */
  char *cwd;
  /* rest (url and headers are shared with websocket) */
  char *method;   /* GET, POST, PUT, PATCH, DELETE */
  char *url;      /* rest: http(s)://; websocket: ws:// or wss:// */
  char **headers; /* NULL-terminated "Name: value" */
  char *body;     /* JSON text, or NULL */
  /* websocket (url and headers as for rest) */
  char *message;  /* the text sent; variables JSON-escaped when it starts with '{' or '[' */
  int wait_reply; /* 1: wait for one message back and use it as the result */
  /* The fields above as the loader compiled them (load-time values bound,
   * request variables left): what each call renders. NULL in a definition
   * built by hand, whose text fields are then compiled per call. */
  lln_tmpl *t_command, *t_url, *t_body, *t_message;
  lln_tmpl **t_args;    /* one per args entry */
  lln_tmpl **t_env;     /* one per env entry: the whole "NAME=value" */
  lln_tmpl **t_headers; /* one per headers line: the whole "Name: value" */
} lln_function;

#endif
