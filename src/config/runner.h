/* runner (config side): the models entries llmnet runs itself (types
 * command, llama-cpp, ollama, vllm, docker): which types those are, the
 * command line a preset fills in, the runner variables $PORT and $MODEL,
 * and how the result is shown. docs/CONFIG.md "Runners". */
#ifndef LLN_CONFIG_RUNNER_H
#define LLN_CONFIG_RUNNER_H

#include "config/config.h"
#include "util/buf.h"

/* Bounds: a runner's command line and environment. */
#define LLN_RUNNER_MAX_ARGS 256
#define LLN_RUNNER_MAX_ENV 128
#define LLN_RUNNER_STARTUP_TIMEOUT_S 120
/* The port a docker runner's image serves on inside the container. */
#define LLN_RUNNER_CONTAINER_PORT 8080

/* 1 when a models "type" is one llmnet runs itself. */
int lln_runner_type(const char *type);
/* `s` with every $PORT / ${PORT} replaced by `port` and $MODEL / ${MODEL}
 * by `model` ("" when NULL); "$$" stays as written (it was a literal $ at
 * load). free() it. */
char *lln_runner_expand(const char *s, int port, const char *model);
/* The command line (shell-quoted where needed), env, cwd and health path,
 * as `llmnet validate` prints them. */
void lln_runner_describe(const lln_runner_spec *spec, lln_buf *out);
void lln_runner_spec_free(lln_runner_spec *spec);

#endif
