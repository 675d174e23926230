/* test_door_anthropic: the Anthropic Messages door's translators, by
 * tables: Messages requests to chat completion requests (and the 400s
 * Anthropic would answer), chat.completion answers to messages, chunk
 * streams to Anthropic's event sequence (block indexes, tool calls, stop
 * reasons, usage, the error event of a failed stream) and error types.
 * JSON in the tables is written with ' for " to stay readable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "doors/anthropic.h"
#include "util/json_print.h"

static cJSON *parse_q(const char *quoted) {
  char *s = strdup(quoted);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  cJSON *j = cJSON_Parse(s);
  if (!j)
    fail_msg("bad test JSON: %s", s);
  free(s);
  return j;
}

static char *print(const cJSON *j) {
  lln_buf b;
  lln_buf_init(&b);
  lln_json_print(j, &b);
  return lln_buf_steal(&b);
}

static void assert_json_eq(const cJSON *got, const char *want_q) {
  cJSON *want = parse_q(want_q);
  if (!cJSON_Compare(got, want, 1)) {
    char *g = print(got), *w = print(want);
    fail_msg("got  %s\nwant %s", g, w);
  }
  cJSON_Delete(want);
}

/* ---- requests ---- */

typedef struct req_case {
  const char *in;
  const char *want; /* the chat request, or NULL when `err` */
  const char *err;  /* a substring of the 400 message */
} req_case;

static const req_case requests[] = {
    /* a string system prompt, string content, every scalar */
    {"{'model':'llmnet','max_tokens':64,'system':'be brief','temperature':0.5,'top_p':0.9,"
     "'stop_sequences':['END'],'metadata':{'user_id':'u1'},'top_k':5,"
     "'messages':[{'role':'user','content':'hi'}]}",
     "{'model':'llmnet','max_tokens':64,'temperature':0.5,'top_p':0.9,'stop':['END'],'user':'u1',"
     "'messages':[{'role':'system','content':'be brief'},{'role':'user','content':'hi'}]}",
     NULL},
    /* system as text blocks (cache_control ignored), one text block becomes a string */
    {"{'model':'m','max_tokens':8,'system':[{'type':'text','text':'a','cache_control':{'type':'ephemeral'}},"
     "{'type':'text','text':'b'}],'messages':[{'role':'user','content':[{'type':'text','text':'q'}]}]}",
     "{'model':'m','max_tokens':8,'messages':[{'role':'system','content':'a\\nb'},{'role':'user','content':'"
     "q'}]}",
     NULL},
    /* images: base64 and url sources become image_url parts */
    {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'text','text':'what?'},"
     "{'type':'image','source':{'type':'base64','media_type':'image/png','data':'AAAA'}},"
     "{'type':'image','source':{'type':'url','url':'https://x/y.png'}}]}]}",
     "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'text','text':'what?'},"
     "{'type':'image_url','image_url':{'url':'data:image/png;base64,AAAA'}},"
     "{'type':'image_url','image_url':{'url':'https://x/y.png'}}]}]}",
     NULL},
    /* the tool loop: tool_use -> tool_calls, tool_result -> tool messages, thinking dropped */
    {"{'model':'m','max_tokens':8,'stream':true,'messages':[{'role':'user','content':'weather?'},"
     "{'role':'assistant','content':[{'type':'thinking','thinking':'hm','signature':'s'},"
     "{'type':'text','text':'let me see'},"
     "{'type':'tool_use','id':'toolu_1','name':'get_weather','input':{'city':'Paris'}}]},"
     "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_1','content':'sunny'},"
     "{'type':'text','text':'and tomorrow?'}]}],"
     "'tools':[{'name':'get_weather','description':'d','input_schema':{'type':'object'}}],"
     "'tool_choice':{'type':'any','disable_parallel_tool_use':true}}",
     "{'model':'m','max_tokens':8,'stream':true,'stream_options':{'include_usage':true},"
     "'messages':[{'role':'user','content':'weather?'},"
     "{'role':'assistant','content':'let me see','tool_calls':[{'id':'toolu_1','type':'function',"
     "'function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}}]},"
     "{'role':'tool','tool_call_id':'toolu_1','content':'sunny'},{'role':'user','content':'and tomorrow?'}],"
     "'tools':[{'type':'function','function':{'name':'get_weather','description':'d','parameters':"
     "{'type':'object'}}}],'tool_choice':'required','parallel_tool_calls':false}",
     NULL},
    /* tool_result content as blocks, is_error, an image in a result; no text: no user message */
    {"{'model':'m','max_tokens':8,'messages':[{'role':'assistant','content':[{'type':'tool_use','id':'a',"
     "'name':'f','input':{}}]},{'role':'user','content':[{'type':'tool_result','tool_use_id':'a',"
     "'is_error':true,'content':[{'type':'text','text':'boom'},{'type':'image','source':{'type':'url',"
     "'url':'u'}}]}]}],'tool_choice':{'type':'tool','name':'f'}}",
     "{'model':'m','max_tokens':8,'messages':[{'role':'assistant','content':null,'tool_calls':[{'id':'a',"
     "'type':'function','function':{'name':'f','arguments':'{}'}}]},{'role':'tool','tool_call_id':'a',"
     "'content':'[tool error] "
     "boom'},{'role':'user','content':[{'type':'image_url','image_url':{'url':'u'}}]}],"
     "'tool_choice':{'type':'function','function':{'name':'f'}}}",
     NULL},
    {"{'model':'m','max_tokens':8,'tool_choice':{'type':'none'},'messages':[{'role':'user','content':'x'}]}",
     "{'model':'m','max_tokens':8,'tool_choice':'none','messages':[{'role':'user','content':'x'}]}", NULL},
    {"{'model':'m','max_tokens':8,'tool_choice':{'type':'auto'},'messages':[{'role':'user','content':'x'}]}",
     "{'model':'m','max_tokens':8,'tool_choice':'auto','messages':[{'role':'user','content':'x'}]}", NULL},
    /* what Anthropic refuses */
    {"{'model':'m','messages':[{'role':'user','content':'x'}]}", NULL, "max_tokens: required"},
    {"{'model':'m','max_tokens':0,'messages':[{'role':'user','content':'x'}]}", NULL, "max_tokens"},
    {"{'model':'m','max_tokens':1.5,'messages':[{'role':'user','content':'x'}]}", NULL, "max_tokens"},
    {"{'max_tokens':8,'messages':[{'role':'user','content':'x'}]}", NULL, "model: required"},
    {"{'model':'m','max_tokens':8}", NULL, "messages: required"},
    {"{'model':'m','max_tokens':8,'messages':[]}", NULL, "messages: required"},
    {"{'model':'m','max_tokens':8,'messages':[{'role':'system','content':'x'}]}", NULL, "messages.0.role"},
    {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':5}]}", NULL, "messages.0.content"},
    {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'document'}]}]}", NULL,
     "messages.0.content.0.type: \"document\""},
    {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'tool_use','id':'a','name':'"
     "f',"
     "'input':{}}]}]}",
     NULL, "not supported in user messages"},
    {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'image','source':"
     "{'type':'file'}}]}]}",
     NULL, "messages.0.content.0.source"},
    {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'tool_result'}]}]}", NULL,
     "tool_use_id"},
    {"{'model':'m','max_tokens':8,'messages':[{'role':'assistant','content':[{'type':'tool_use','id':'a',"
     "'name':'f','input':'x'}]}]}",
     NULL, "input"},
    {"{'model':'m','max_tokens':8,'tools':[{'type':'web_search_20250305','name':'web_search'}],"
     "'messages':[{'role':'user','content':'x'}]}",
     NULL, "server tool \"web_search_20250305\""},
    {"{'model':'m','max_tokens':8,'tools':[{'name':'f'}],'messages':[{'role':'user','content':'x'}]}", NULL,
     "input_schema"},
    {"{'model':'m','max_tokens':8,'tool_choice':{'type':'maybe'},'messages':[{'role':'user','content':'x'}]}",
     NULL, "tool_choice.type"},
    {"{'model':'m','max_tokens':8,'tool_choice':{'type':'tool'},'messages':[{'role':'user','content':'x'}]}",
     NULL, "tool_choice.name"},
    {"{'model':'m','max_tokens':8,'stop_sequences':[1],'messages':[{'role':'user','content':'x'}]}", NULL,
     "stop_sequences"},
    {"{'model':'m','max_tokens':8,'temperature':'hot','messages':[{'role':'user','content':'x'}]}", NULL,
     "temperature"},
    {"{'model':'m','max_tokens':8,'stream':'yes','messages':[{'role':'user','content':'x'}]}", NULL,
     "stream"},
    {"{'model':'m','max_tokens':8,'system':[{'type':'image'}],'messages':[{'role':'user','content':'x'}]}",
     NULL, "system.0"},
    {"[]", NULL, "JSON object"},
};

static void test_requests(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
    const req_case *rc = &requests[i];
    cJSON *in = parse_q(rc->in);
    char err[LLN_ANTHROPIC_ERR_MAX] = "";
    cJSON *out = lln_anthropic_request(in, err, sizeof err);
    if (rc->want) {
      if (!out)
        fail_msg("case %zu refused: %s", i, err);
      assert_json_eq(out, rc->want);
    } else {
      if (out)
        fail_msg("case %zu accepted: %s", i, print(out));
      if (!strstr(err, rc->err))
        fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, rc->err);
    }
    cJSON_Delete(out);
    cJSON_Delete(in);
  }
}

/* ---- responses ---- */

typedef struct resp_case {
  const char *chat, *request, *want;
} resp_case;

static const resp_case responses[] = {
    {"{'id':'chatcmpl-1','model':'qwen','choices':[{'index':0,'message':{'role':'assistant','content':'hello'"
     "},"
     "'finish_reason':'stop'}],'usage':{'prompt_tokens':5,'completion_tokens':2,'total_tokens':7}}",
     "{'model':'llmnet'}",
     "{'id':'msg_chatcmpl-1','type':'message','role':'assistant','model':'qwen','content':[{'type':'text',"
     "'text':'hello'}],'stop_reason':'end_turn','stop_sequence':null,'usage':{'input_tokens':5,"
     "'output_tokens':2}}"},
    /* tool calls: parsed input objects, tool_use stop */
    {"{'id':'c2','model':'q','choices':[{'message':{'role':'assistant','content':null,'tool_calls':["
     "{'id':'call_1','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}"
     "'}},"
     "{'id':'call_2','type':'function','function':{'name':'g','arguments':'not json'}}]},"
     "'finish_reason':'tool_calls'}]}",
     "{'model':'llmnet'}",
     "{'id':'msg_c2','type':'message','role':'assistant','model':'q','content':[{'type':'tool_use','id':'"
     "call_1',"
     "'name':'get_weather','input':{'city':'Paris'}},{'type':'tool_use','id':'call_2','name':'g','input':{}}]"
     ","
     "'stop_reason':'tool_use','stop_sequence':null,'usage':{'input_tokens':0,'output_tokens':0}}"},
    {"{'id':'c3','choices':[{'message':{'content':'cut'},'finish_reason':'length'}]}", "{'model':'asked'}",
     "{'id':'msg_c3','type':'message','role':'assistant','model':'asked','content':[{'type':'text','text':'"
     "cut'}],"
     "'stop_reason':'max_tokens','stop_sequence':null,'usage':{'input_tokens':0,'output_tokens':0}}"},
    /* a server that names the stop string it met */
    {"{'id':'c4','model':'v','choices':[{'message':{'content':'a'},'finish_reason':'stop','stop_reason':'END'"
     "}]}",
     "{'model':'m','stop_sequences':['END']}",
     "{'id':'msg_c4','type':'message','role':'assistant','model':'v','content':[{'type':'text','text':'a'}],"
     "'stop_reason':'stop_sequence','stop_sequence':'END','usage':{'input_tokens':0,'output_tokens':0}}"},
};

static void test_responses(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof responses / sizeof responses[0]; i++) {
    cJSON *chat = parse_q(responses[i].chat), *req = parse_q(responses[i].request);
    cJSON *msg = lln_anthropic_response(chat, req);
    assert_json_eq(msg, responses[i].want);
    cJSON_Delete(msg);
    cJSON_Delete(chat);
    cJSON_Delete(req);
  }
}

/* ---- streams ---- */

typedef struct stream_case {
  const char *request;
  const char *events[8]; /* the run's events, NULL-terminated */
  const char *want;      /* event names and data, ' for " */
} stream_case;

static const stream_case streams[] = {
    /* text, usage, [DONE] */
    {"{'model':'llmnet'}",
     {"{'model':'qwen','choices':[{'delta':{'role':'assistant','content':''}}]}",
      "{'choices':[{'delta':{'content':'Hel'}}]}",
      "{'choices':[{'delta':{'content':'lo'},'finish_reason':'stop'}]}",
      "{'choices':[],'usage':{'prompt_tokens':3,'completion_tokens':2}}", "[DONE]", NULL},
     "event: message_start\ndata: {'type':'message_start','message':{'id':'msg_r1','type':'message','role':"
     "'assistant','model':'qwen','content':[],'stop_reason':null,'stop_sequence':null,'usage':{'input_tokens'"
     ":0,"
     "'output_tokens':0}}}\n\n"
     "event: content_block_start\ndata: "
     "{'type':'content_block_start','index':0,'content_block':{'type':'text',"
     "'text':''}}\n\n"
     "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
     "'text':'Hel'}}\n\n"
     "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
     "'text':'lo'}}\n\n"
     "event: content_block_stop\ndata: {'type':'content_block_stop','index':0}\n\n"
     "event: message_delta\ndata: "
     "{'type':'message_delta','delta':{'stop_reason':'end_turn','stop_sequence':null},"
     "'usage':{'input_tokens':3,'output_tokens':2}}\n\n"
     "event: message_stop\ndata: {'type':'message_stop'}\n\n"},
    /* text then two tool calls: one block each, indexes 0, 1, 2 (an id repeated on a fragment is the
     * same call) */
    {"{'model':'m'}",
     {"{'model':'q','choices':[{'delta':{'content':'ok'}}]}",
      "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'call_a','function':{'name':'f','arguments':''}}]}"
      "}]}",
      "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':'{\\'x\\':'}}]}}]}",
      "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'call_a','function':{'arguments':'1}'}}]}}]}",
      "{'choices':[{'delta':{'tool_calls':[{'index':1,'id':'call_b','function':{'name':'g','arguments':'{}'}}"
      "]},"
      "'finish_reason':'tool_calls'}]}",
      "[DONE]", NULL},
     "event: message_start\ndata: {'type':'message_start','message':{'id':'msg_r1','type':'message','role':"
     "'assistant','model':'q','content':[],'stop_reason':null,'stop_sequence':null,'usage':{'input_tokens':0,"
     "'output_tokens':0}}}\n\n"
     "event: content_block_start\ndata: "
     "{'type':'content_block_start','index':0,'content_block':{'type':'text',"
     "'text':''}}\n\n"
     "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
     "'text':'ok'}}\n\n"
     "event: content_block_stop\ndata: {'type':'content_block_stop','index':0}\n\n"
     "event: content_block_start\ndata: {'type':'content_block_start','index':1,'content_block':{'type':"
     "'tool_use','id':'call_a','name':'f','input':{}}}\n\n"
     "event: content_block_delta\ndata: {'type':'content_block_delta','index':1,'delta':{'type':"
     "'input_json_delta','partial_json':'{\\'x\\':'}}\n\n"
     "event: content_block_delta\ndata: {'type':'content_block_delta','index':1,'delta':{'type':"
     "'input_json_delta','partial_json':'1}'}}\n\n"
     "event: content_block_stop\ndata: {'type':'content_block_stop','index':1}\n\n"
     "event: content_block_start\ndata: {'type':'content_block_start','index':2,'content_block':{'type':"
     "'tool_use','id':'call_b','name':'g','input':{}}}\n\n"
     "event: content_block_delta\ndata: {'type':'content_block_delta','index':2,'delta':{'type':"
     "'input_json_delta','partial_json':'{}'}}\n\n"
     "event: content_block_stop\ndata: {'type':'content_block_stop','index':2}\n\n"
     "event: message_delta\ndata: "
     "{'type':'message_delta','delta':{'stop_reason':'tool_use','stop_sequence':null},"
     "'usage':{'input_tokens':0,'output_tokens':0}}\n\n"
     "event: message_stop\ndata: {'type':'message_stop'}\n\n"},
    /* a stream that fails after its first text: an error event, no message_stop */
    {"{'model':'m'}",
     {"{'model':'q','choices':[{'delta':{'content':'par'}}]}",
      "{'error':{'message':'node \\'x\\': the upstream ended the stream before "
      "[DONE]','type':'upstream_error',"
      "'param':null,'code':'bad_gateway'}}",
      "[DONE]", NULL},
     "event: message_start\ndata: {'type':'message_start','message':{'id':'msg_r1','type':'message','role':"
     "'assistant','model':'q','content':[],'stop_reason':null,'stop_sequence':null,'usage':{'input_tokens':0,"
     "'output_tokens':0}}}\n\n"
     "event: content_block_start\ndata: "
     "{'type':'content_block_start','index':0,'content_block':{'type':'text',"
     "'text':''}}\n\n"
     "event: content_block_delta\ndata: {'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
     "'text':'par'}}\n\n"
     "event: error\ndata: {'type':'error','error':{'type':'api_error','message':'node \\'x\\': the upstream "
     "ended "
     "the stream before [DONE]'}}\n\n"},
    /* the run's own 503 (shutdown) as an overloaded_error; a length stop */
    {"{'model':'m'}",
     {"{'error':{'message':'shutting down','type':'server_error','param':null,'code':'unavailable'}}", NULL},
     "event: error\ndata: {'type':'error','error':{'type':'overloaded_error','message':'shutting "
     "down'}}\n\n"},
    {"{'model':'m','stop_sequences':['Z']}",
     {"{'choices':[{'delta':{},'finish_reason':'stop','stop_reason':'Z'}]}", "[DONE]", NULL},
     "event: message_start\ndata: {'type':'message_start','message':{'id':'msg_r1','type':'message','role':"
     "'assistant','model':'m','content':[],'stop_reason':null,'stop_sequence':null,'usage':{'input_tokens':0,"
     "'output_tokens':0}}}\n\n"
     "event: message_delta\ndata: "
     "{'type':'message_delta','delta':{'stop_reason':'stop_sequence','stop_sequence':"
     "'Z'},'usage':{'input_tokens':0,'output_tokens':0}}\n\n"
     "event: message_stop\ndata: {'type':'message_stop'}\n\n"},
};

static void test_streams(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
    const stream_case *sc = &streams[i];
    cJSON *req = parse_q(sc->request);
    lln_anthropic_stream s;
    lln_anthropic_stream_init(&s, req, "r1");
    lln_buf out;
    lln_buf_init(&out);
    for (size_t k = 0; sc->events[k]; k++) {
      char *ev = strdup(sc->events[k]);
      for (char *p = ev; *p; p++)
        if (*p == '\'')
          *p = '"';
      lln_anthropic_stream_event(&s, ev, strlen(ev), &out);
      free(ev);
    }
    char *want = strdup(sc->want);
    for (char *p = want; *p; p++)
      if (*p == '\'')
        *p = '"';
    if (strcmp(out.data ? out.data : "", want) != 0)
      fail_msg("case %zu:\ngot:\n%s\nwant:\n%s", i, out.data, want);
    free(want);
    lln_buf_free(&out);
    cJSON_Delete(req);
  }
}

static void test_error_types(void **state) {
  (void)state;
  static const struct {
    int status;
    const char *type;
  } t[] = {{400, "invalid_request_error"},
           {401, "authentication_error"},
           {403, "permission_error"},
           {404, "not_found_error"},
           {405, "invalid_request_error"},
           {413, "request_too_large"},
           {429, "rate_limit_error"},
           {500, "api_error"},
           {502, "api_error"},
           {503, "overloaded_error"},
           {504, "api_error"},
           {529, "overloaded_error"}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    assert_string_equal(lln_anthropic_error_type(t[i].status), t[i].type);
  lln_buf b;
  lln_buf_init(&b);
  lln_anthropic_error_json(&b, "rate_limit_error", "slow \"down\"");
  assert_string_equal(b.data,
                      "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow "
                      "\\\"down\\\"\"}}");
  lln_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests),
      cmocka_unit_test(test_responses),
      cmocka_unit_test(test_streams),
      cmocka_unit_test(test_error_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
