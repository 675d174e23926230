/* listen: where `llmnet run` listens. The command line (--port,
 * --bind-addr) wins over the environment (LLMNET_PORT, LLMNET_BIND_ADDR),
 * which wins over the composition (the entry node's bind-port and
 * bind-addr); then 8080 on 127.0.0.1. */
#ifndef LLN_CONFIG_LISTEN_H
#define LLN_CONFIG_LISTEN_H

#include <stddef.h>

#include "config/config.h"

/* The environment variables read, for messages and docs. */
#define LLN_ENV_PORT "LLMNET_PORT"
#define LLN_ENV_BIND_ADDR "LLMNET_BIND_ADDR"
#define LLN_LISTEN_DEFAULT_PORT 8080
#define LLN_LISTEN_DEFAULT_ADDR "127.0.0.1"

typedef struct lln_listen {
  const char *addr; /* points into the arguments or cfg: copy it before cfg is freed */
  int port;
  const char *addr_from; /* "--bind-addr", "LLMNET_BIND_ADDR", "bind-addr" or "default" */
  const char *port_from; /* "--port", "LLMNET_PORT", "bind-port" or "default" */
} lln_listen;

/* A port as --port and LLMNET_PORT give it: decimal digits only, 0 to
 * 65535 (0: any free port). 0, or -1 when `s` is not one. */
int lln_listen_parse_port(const char *s, int *out);

/* Chooses the address and port. cli_addr NULL and cli_port < 0 mean not
 * given; env_addr and env_port are the variables' values (NULL or empty:
 * not set). Returns 0, or -1 with `err` naming the variable when
 * LLMNET_PORT is not a port number. */
int lln_listen_choose(const lln_config *cfg, const char *cli_addr, int cli_port, const char *env_addr,
                      const char *env_port, lln_listen *out, char *err, size_t err_size);

#endif
