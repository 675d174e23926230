/* stream: the final hop of a "stream": true request. The upstream's SSE
 * events are relayed as they arrive, under one id and created time, with
 * usage summed over every hop; an answer that had to be buffered is
 * replayed as chunks; errors after the first byte end the stream with an
 * error event. Internal to src/pipeline. */
#ifndef LLN_PIPELINE_STREAM_H
#define LLN_PIPELINE_STREAM_H

#include "pipeline/run_state_int.h"

/* Sets up the stream state and the keep-alive timer for a streaming run. */
void lln_stream_init(lln_run *r);
/* Turns a chat body into a streaming one and the request into a relay. */
void lln_stream_prepare_call(lln_run *r, cJSON *body, lln_upstream_request *req);
/* The streaming call ended; reports the run's result. */
void lln_stream_call_done(lln_run *r, const lln_upstream_response *resp);
/* Sends the buffered final answer (r->final) as chunks and ends the run. */
void lln_stream_replay(lln_run *r);
/* Ends a started stream with an error event; returns 0 when the stream
 * has not started (the caller answers with an error status instead). */
int lln_stream_fail(lln_run *r, const lln_openai_error *e);
void lln_stream_free(lln_run *r);

/* An ordinary upstream event relayed without parsing it
 * (stream_splice.c): 1 when it went out, 0 when the caller must take the
 * tree path. */
int lln__stream_splice(lln_run *r, const char *data, size_t len);
/* Relays one event the client sees (counted in stream.events). */
void lln__stream_relay(lln_run *r, const char *data, size_t len);

#endif
