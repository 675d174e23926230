#!/usr/bin/env bash
# make bench, doors (issue 12 "Speed"): each door against chat completions,
# in the same run, on the 1-hop composition (bench/one-hop.json), "model" the
# node name "chat" (straight to the node, no routing).
#   1. CPU per request, non-streamed: POST /v1/chat/completions,
#      /v1/responses and /v1/messages with the same question, wrk -t1 -c16
#      against `llmnet mock` (examples/mock-rules.json, latency 0), llmnet's
#      CPU time (bench/lib.sh cpu_ns) / the requests it served; ROUNDS rounds
#      with the doors alternated, the ratio to chat taken per round and the
#      median kept (target: at most 1.20).
#   2. time to first token, streamed: bench/doors.mjs, sequential requests,
#      the doors in turn, the first content delta event of each API, p50 over
#      TTFB_N each (target: within 100 µs of chat completions).
#
#   bench/doors.sh              runs alone: prints the doors report
#   bench/doors.sh RESULTS      (bench/run.sh) appends its "dr.*" figures to
#                               RESULTS, prints nothing else
#   BENCH_SECONDS (default 10): each wrk round is BENCH_SECONDS/5 s (at least
#   1), so the whole is about 6 x BENCH_SECONDS/5 + 5 s (17 s by default);
#   BENCH_SECONDS=3 is the short run for development. DOORS_ROUNDS (default
#   3), DOORS_TTFB_N (default 500). LLMNET_BIN, BENCH_KEEP=1 as for run.sh.
# Exit status: 0, or 1 when a door could not be measured (a non-200 answer).
# shellcheck disable=SC2034,SC2154
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
CONC=16
ROUNDS=${DOORS_ROUNDS:-3}
TTFB_N=${DOORS_TTFB_N:-500}
MODEL=chat # the entry node of bench/one-hop.json
DOORS="chat responses messages"

# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
scenario_start doors "$@"

# the request of each door: the question run.sh sends, in that API's shape
q='How do I reverse a linked list in python?'
door_path() {
  case $1 in
  chat) echo /v1/chat/completions ;;
  responses) echo /v1/responses ;;
  messages) echo /v1/messages ;;
  esac
}
door_body() {
  case $1 in
  chat) printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]}' "$MODEL" "$q" ;;
  responses) printf '{"model":"%s","input":"%s"}' "$MODEL" "$q" ;;
  messages) printf '{"model":"%s","max_tokens":1024,"messages":[{"role":"user","content":"%s"}]}' "$MODEL" "$q" ;;
  esac
}
door_headers() { [ "$1" != messages ] || echo 'anthropic-version: 2023-06-01'; }

# ---------------------------------------------------------------- start everything
log "doors: starting the mocks and llmnet (1-hop)"
mock mockD --rules "$root/examples/mock-rules.json"
mockD_pid=$MOCK_PID mockD_url=$MOCK_URL
mock mockF --rules "$bench/mock-stream-rules.json" # "benchmark ttfb": a short streamed reply
mockF_url=$MOCK_URL
gateway dcpu "$bench/one-hop.json" "$mockD_url"
dcpu_pid=$GW_PID dcpu_url=$GW_URL
gateway dttfb "$bench/one-hop.json" "$mockF_url"
dttfb_pid=$GW_PID dttfb_url=$GW_URL

failed=0
# one request through each door, so a door that is missing shows here
for d in $DOORS; do
  hdr=$(door_headers "$d")
  code=$(curl -s -o "$tmp/check.$d.json" -w '%{http_code}' --max-time 10 -X POST "$dcpu_url$(door_path "$d")" \
    -H 'Content-Type: application/json' -H 'Authorization: Bearer mock-key' ${hdr:+-H "$hdr"} \
    -d "$(door_body "$d")" || true)
  put "dr.check.$d" "$code"
  if [ "$code" != 200 ]; then
    log "doors: $d ($(door_path "$d")) answered HTTP $code: $(head -c 300 "$tmp/check.$d.json")"
    failed=1
  fi
done

# ---------------------------------------------------------------- 1. CPU per request
secs=$((S / 5))
[ "$secs" -ge 1 ] || secs=1
put dr.cpu.seconds "$secs"
put dr.cpu.rounds "$ROUNDS"
put dr.cpu.conc "$CONC"
put dr.model "$MODEL"
log "doors: [1/2] CPU per request, wrk -t1 -c$CONC, $ROUNDS rounds of ${secs} s per door"
for d in $DOORS; do # warm-up: connections and pools open; not measured
  BENCH_HEADERS=$(door_headers "$d") BENCH_BODY=$(door_body "$d") wrk -t1 -c"$CONC" -d1s \
    -s "$bench/post.lua" "$dcpu_url$(door_path "$d")" >/dev/null 2>&1 || true
done
for r in $(seq 1 "$ROUNDS"); do
  # the order rotates each round, so no door always runs first
  # shellcheck disable=SC2086 # the door names, split on purpose
  set -- $DOORS
  for _ in $(seq 2 "$r"); do set -- "$@" "$1" && shift; done
  for d in "$@"; do
    body=$(door_body "$d") WRK_PATH=$(door_path "$d") WRK_SECONDS=$secs \
      wrk_run "dr.cpu.$d.r$r" "$CONC" "$dcpu_url" "$dcpu_pid" llmnet "$mockD_pid" "$mockD_url" "$(door_headers "$d")"
  done
done

# ---------------------------------------------------------------- 2. time to first token
log "doors: [2/2] time to first token, streamed, $TTFB_N sequential requests per door"
out=$(node "$bench/doors.mjs" ttfb "$dttfb_url" "$TTFB_N" "$MODEL" 2>"$tmp/ttfb.err" | tail -n 1) || true
if [ -z "$out" ] || printf '%s' "$out" | grep -q '"error"'; then
  log "doors: ttfb failed: ${out:-$(head -c 400 "$tmp/ttfb.err")}"
  failed=1
fi
put dr.ttfb "${out:-{\"error\":\"no output\"\}}"

for n in dcpu dttfb; do
  eval "p=\$${n}_pid"
  if ! kill -0 "$p" 2>/dev/null; then
    put "dr.crash.$n" 1
    log "doors: llmnet ($n) is no longer running: $(tail -c 600 "$tmp/$n.log")"
    failed=1
  fi
done
put dr.failed "$failed"

if [ "$standalone" = 1 ]; then
  node "$bench/report.mjs" --doors "$R"
fi
[ "$failed" = 0 ] || { log "doors: FAILED (see above)"; exit 1; }
