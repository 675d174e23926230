/* runners: the local model servers llmnet starts and supervises (models
 * entries of type command, llama-cpp, ollama, vllm, docker), as the request
 * path and the health endpoints see them. Any thread, unless said. */
#ifndef LLN_UPSTREAM_RUNNERS_H
#define LLN_UPSTREAM_RUNNERS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "config/config.h"

/* How many runners are not ready yet (starting, restarting or failed);
 * their names, comma-separated, go into `out` (cut to `size`). 0 when
 * every runner is ready or there are none: GET /ready answers 503 while
 * this is not 0. */
int lln_runners_starting(char *out, size_t size);

/* Control thread: makes the running set match `cfg`'s runner entries.
 * An entry whose spec is unchanged keeps running; one that changed or
 * disappeared is stopped (its process group or container); a new one is
 * started. The first call starts the supervisor thread, which spawns every
 * runner (so the children's death signal is tied to a thread that lives as
 * long as llmnet). */
void lln_runners_apply(const lln_config *cfg);
/* Control thread: stops every runner (SIGTERM to its process group, SIGKILL
 * after the grace) and waits for them, then ends the supervisor. */
void lln_runners_stop_all(void);

/* The state a call sees. */
typedef enum {
  LLN_RUNNER_READY,    /* *port is where it listens */
  LLN_RUNNER_STARTING, /* starting or restarting: worth waiting for */
  LLN_RUNNER_FAILED    /* it does not start (or is unknown): fail over */
} lln_runner_state;

/* The chat-completions (or, `embeddings`, the embeddings) URL of the runner
 * of models entry `ep` into `url`. A call to a runner that is not ready
 * waits or fails over. */
lln_runner_state lln_runner_url(const lln_model *ep, int embeddings, char *url, size_t size);

/* Adds "runners": [{name, type, state, pid|container, port, restarts,
 * last_exit, uptime_s, error}] to `root` (GET /v1/llmnet/stats). */
void lln_runners_stats_json(cJSON *root);

#endif
