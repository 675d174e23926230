/* runners: the local model servers llmnet starts and supervises (models
 * entries of type command, llama-cpp, ollama, vllm, docker), as the request
 * path and the health endpoints see them. Any thread. */
#ifndef LLN_UPSTREAM_RUNNERS_H
#define LLN_UPSTREAM_RUNNERS_H

#include <stddef.h>

/* How many runners are not ready yet (starting, restarting or failed);
 * their names, comma-separated, go into `out` (cut to `size`). 0 when
 * every runner is ready or there are none: GET /ready answers 503 while
 * this is not 0. */
int lln_runners_starting(char *out, size_t size);

#endif
