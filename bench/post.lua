-- make bench: the wrk request (a non-streaming chat completion) and a
-- machine-readable summary line for bench/run.sh.
--   BENCH_BODY      the JSON body (default: a short technical question)
--   BENCH_HEADERS   extra headers, "Name: value" separated by "|"
--                   (run.sh sets Portkey's x-portkey-* headers this way)
local body = os.getenv("BENCH_BODY")
if body == nil or body == "" then
  body = '{"model":"llmnet","messages":[{"role":"user","content":"How do I reverse a linked list in python?"}]}'
end
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer mock-key"
local extra = os.getenv("BENCH_HEADERS")
if extra ~= nil and extra ~= "" then
  for pair in string.gmatch(extra, "[^|]+") do
    local name, value = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
    if name then wrk.headers[name] = value end
  end
end

-- One line run.sh parses: counts, the duration and latency percentiles in
-- microseconds. "status" counts responses that were not 2xx/3xx.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
