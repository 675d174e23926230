/* mock: `llmnet mock`, an OpenAI-compatible upstream simulator for demos,
 * integration tests and benchmarks: chat completions (plain, streamed,
 * tool calls, router prompts), models, health, a request log, and a rules
 * file that scripts errors, delays and broken streams. */
#ifndef LLN_MOCK_MOCK_H
#define LLN_MOCK_MOCK_H

/* Runs `llmnet mock [options]` (argv[0] is "mock") until SIGINT or SIGTERM.
 * Returns the process exit code: 0 after a clean stop, 1 when it cannot
 * listen, 2 for bad options or a bad rules file. */
int lln_mock_main(int argc, char **argv);

#endif
