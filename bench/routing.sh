#!/usr/bin/env bash
# make bench, routing (issue 11 "Speed"): the seed topology
# (examples/offline-demo.json) in each "routing" mode against `llmnet mock`.
#   1. router calls of a 5-turn conversation and of a 10-step tool loop in
#      sticky "session" mode (each must be exactly 1: the script fails when
#      the mock counted more);
#   2. router calls per user request on a mixed workload in each mode, and
#      what that leaves of a free tier's 50 requests a day;
#   3. the time a pinned and a cached decision add over a plain 1-hop request
#      (wrk -c1, rounds alternated);
#   4. early decision: time to route against a router that answers the name
#      on its first line, then explains itself at one word every 30 ms,
#      against the same reply with the name on its last line (read whole).
#
#   bench/routing.sh              runs alone: prints the routing report
#   bench/routing.sh RESULTS      (bench/run.sh) appends its "rt.*" figures
#                                 to RESULTS, prints nothing else
#   BENCH_SECONDS (default 10), LLMNET_BIN, BENCH_KEEP=1 as for bench/run.sh.
# Exit status: 0, or 1 when a conversation or tool loop made more (or fewer)
# than one router call, or when a scenario could not run.
# shellcheck disable=SC2034,SC2154
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
ROUNDS=3       # latency: rounds of (1-hop, pinned, cached), alternated
EARLY_N=5      # early decision: samples of each reply
ROUTER_CHUNK_MS=30

# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
scenario_start routing "$@"

# ---------------------------------------------------------------- start everything
log "routing: starting the mocks and llmnet in each routing mode"
rr=$bench/mock-routing-rules.json
mock mockR --rules "$rr"
mockR_pid=$MOCK_PID mockR_url=$MOCK_URL
mock mockE --rules "$rr" --chunk-interval "$ROUTER_CHUNK_MS" # the slow-talking router
mockE_url=$MOCK_URL
for v in session turn off cache; do
  node "$bench/routing.mjs" compose "$v" "$tmp/seed-$v.json" >/dev/null || die "cannot write the $v composition"
done
gateway one "$bench/one-hop.json" "$mockR_url"
one_pid=$GW_PID one_url=$GW_URL
for v in session turn off cache; do
  gateway "$v" "$tmp/seed-$v.json" "$mockR_url"
  eval "${v}_pid=\$GW_PID ${v}_url=\$GW_URL"
done
gateway early "$tmp/seed-off.json" "$mockE_url"
early_pid=$GW_PID early_url=$GW_URL
put rt.router_chunk_ms "$ROUTER_CHUNK_MS"
put rt.rounds "$ROUNDS"

failed=0
# rt_node KEY MODE ARGS...: one routing.mjs scenario, its JSON line under KEY
rt_node() {
  local key=$1 out
  shift
  out=$(node "$bench/routing.mjs" "$@" 2>"$tmp/$key.err" | tail -n 1) || true
  if [ -z "$out" ] || printf '%s' "$out" | grep -q '^{"error"'; then
    log "routing: $key failed: ${out:-$(head -c 400 "$tmp/$key.err")}"
    failed=1
  fi
  put "$key" "${out:-{\"error\":\"no output\"\}}"
}

# ---------------------------------------------------------------- 1. one router call per conversation
log "routing: [1/4] a 5-turn conversation and a 10-step tool loop, sticky session"
rt_node rt.conv conv "$session_url" "$mockR_url"
# every scenario must have made exactly one router call
conv_calls=$(node -e '
  const j = JSON.parse(process.argv[1]);
  const k = ["conversation_header", "conversation_fingerprint", "tool_loop_header", "tool_loop_fingerprint"];
  console.log(k.map((n) => (j[n] ? j[n].router_calls : "missing")).join(" "));
' "$(sed -n 's/^rt.conv //p' "$R" | tail -n 1)" 2>/dev/null || echo missing)
for c in $conv_calls; do
  [ "$c" = 1 ] || conv_bad=1
done
if [ "${conv_bad:-0}" = 1 ]; then
  log "ERROR: in sticky session mode a conversation or tool loop made other than exactly 1 router call"
  log "       (the mock counted: conversation by x-session-id, by fingerprint, tool loop by x-session-id,"
  log "       by fingerprint: $conv_calls)"
  put rt.conv_failed "$conv_calls"
  failed=1
fi

# ---------------------------------------------------------------- 2. router calls per user request
# (before the latency runs: their request would be a cached decision here)
log "routing: [2/4] router calls per user request on a mixed workload, in each mode"
for v in session turn cache off; do
  eval "u=\$${v}_url"
  rt_node "rt.mixed.$v" mixed "$u" "$mockR_url"
done

# ---------------------------------------------------------------- 3. added time of a pinned / cached decision
log "routing: [3/4] a pinned and a cached decision against a 1-hop request (wrk -c1, $ROUNDS rounds)"
body='{"model":"llmnet","messages":[{"role":"user","content":"How do I reverse a linked list in python?"}]}'
sid="x-session-id: bench-pinned-$$"
secs=$(((S + 2) / 3))
[ "$secs" -ge 2 ] || secs=2
put rt.lat.seconds "$secs"
# warm-up: connections open, the session pinned, the decision cached; not measured
for u in "$one_url" "$session_url" "$cache_url" "$off_url"; do
  BENCH_HEADERS=$sid BENCH_BODY=$body wrk -t1 -c1 -d1s -s "$bench/post.lua" "$u/v1/chat/completions" >/dev/null 2>&1 || true
done
for r in $(seq 1 "$ROUNDS"); do
  WRK_SECONDS=$secs wrk_run "rt.lat.one.r$r" 1 "$one_url" "$one_pid" llmnet "$mockR_pid" "$mockR_url"
  WRK_SECONDS=$secs wrk_run "rt.lat.pin.r$r" 1 "$session_url" "$session_pid" llmnet "$mockR_pid" "$mockR_url" "$sid"
  WRK_SECONDS=$secs wrk_run "rt.lat.cache.r$r" 1 "$cache_url" "$cache_pid" llmnet "$mockR_pid" "$mockR_url"
done
# for reference: the same request with a router call every time
WRK_SECONDS=$secs wrk_run "rt.lat.router.r1" 1 "$off_url" "$off_pid" llmnet "$mockR_pid" "$mockR_url"
# llmnet's own time to decide (pin or cache read, or the router call): the
# mean of its llmnet_routing_decision_duration_seconds histogram, in µs
decision_us() { # URL DECIDED
  curl -s --max-time 5 "$1/metrics" | awk -v d="decided=\"$2\"" '
    index($0, "llmnet_routing_decision_duration_seconds_sum{") == 1 && index($0, d) { s += $NF }
    index($0, "llmnet_routing_decision_duration_seconds_count{") == 1 && index($0, d) { n += $NF }
    END { if (n > 0) printf "%.2f\n", s / n * 1e6 }'
}
put rt.lat.decision_us.pin "$(decision_us "$session_url" pin)"
put rt.lat.decision_us.cache "$(decision_us "$cache_url" cache)"
put rt.lat.decision_us.router "$(decision_us "$off_url" router)"
# how the measured requests were decided, from llmnet's own trace
for v in session cache off; do
  eval "u=\$${v}_url"
  d=$(curl -s --max-time 5 -X POST "$u/v1/chat/completions" -H 'Content-Type: application/json' -H "$sid" -d "$body" |
    node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{try{const j=JSON.parse(s);const e=j.llmnet||{};
      let d=e.decided;for(const h of e.hops||[])if(!d&&h.decided)d=h.decided;console.log(d||"none")}catch{console.log("error")}})')
  put "rt.lat.decided.$v" "$d"
done

# ---------------------------------------------------------------- 4. early decision
log "routing: [4/4] early decision: router reply at one word every $ROUTER_CHUNK_MS ms, name first vs name last"
rt_node rt.early early "$early_url" "$EARLY_N"

# ---------------------------------------------------------------- health
for n in one session turn off cache early; do
  eval "p=\$${n}_pid"
  if ! kill -0 "$p" 2>/dev/null; then
    put "rt.crash.$n" 1
    log "routing: llmnet ($n) is no longer running: $(tail -c 600 "$tmp/$n.log")"
    failed=1
  fi
done
put rt.failed "$failed"

if [ "$standalone" = 1 ]; then
  node "$bench/report.mjs" --routing "$R"
fi
[ "$failed" = 0 ] || { log "routing: FAILED (see above)"; exit 1; }
