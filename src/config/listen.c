/* listen: the listening address and port of `llmnet run`, from the command
 * line, the environment, the composition or the defaults, in that order. */
#include "config/listen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lln_listen_parse_port(const char *s, int *out) {
  size_t n = strlen(s);
  if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
    return -1;
  long v = strtol(s, NULL, 10);
  if (v > 65535)
    return -1;
  *out = (int)v;
  return 0;
}

int lln_listen_choose(const lln_config *cfg, const char *cli_addr, int cli_port, const char *env_addr,
                      const char *env_port, lln_listen *out, char *err, size_t err_size) {
  const lln_node *entry = cfg ? cfg->entry : NULL;
  if (cli_addr) {
    out->addr = cli_addr;
    out->addr_from = "--bind-addr";
  } else if (env_addr && *env_addr) {
    out->addr = env_addr;
    out->addr_from = LLN_ENV_BIND_ADDR;
  } else if (entry && entry->bind_addr) {
    out->addr = entry->bind_addr;
    out->addr_from = "bind-addr";
  } else {
    out->addr = LLN_LISTEN_DEFAULT_ADDR;
    out->addr_from = "default";
  }
  if (cli_port >= 0) {
    out->port = cli_port;
    out->port_from = "--port";
  } else if (env_port && *env_port) {
    if (lln_listen_parse_port(env_port, &out->port) != 0) {
      /* a port is no secret: shown, cut */
      snprintf(err, err_size,
               LLN_ENV_PORT " is \"%.40s\"; it must be a port number from 0 to 65535 (0: any free "
                            "port), or unset to use the entry node's bind-port",
               env_port);
      return -1;
    }
    out->port_from = LLN_ENV_PORT;
  } else if (entry && entry->bind_port) {
    out->port = entry->bind_port;
    out->port_from = "bind-port";
  } else {
    out->port = LLN_LISTEN_DEFAULT_PORT;
    out->port_from = "default";
  }
  return 0;
}
