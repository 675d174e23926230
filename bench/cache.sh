#!/usr/bin/env bash
# make bench, cache (issue 13 "Response cache"): a response cache hit
# against a 1-hop request, in the same run, against `llmnet mock`
# (examples/mock-rules.json, latency 0).
#   1. latency: wrk -t1 -c1, ROUNDS rounds of (1-hop, hit) alternated, p50
#      and p99 of each; a hit is the same request (temperature 0) sent to
#      the 1-hop composition with "response-cache": true, after one miss;
#   2. CPU per request: wrk -t1 -c16, the same rounds, llmnet's CPU time
#      (bench/lib.sh cpu_ns) / the requests it served.
# The hit runs must make no upstream call: the script fails when the mock
# counted one.
#
#   bench/cache.sh              runs alone: prints the figures
#   bench/cache.sh RESULTS      (bench/run.sh) appends its "ca.*" figures to
#                               RESULTS, prints nothing else
#   BENCH_SECONDS (default 10): each wrk run is BENCH_SECONDS/5 s (at least
#   1), 4 runs a round. CACHE_ROUNDS (default 3). LLMNET_BIN, BENCH_KEEP=1 as
#   for run.sh.
# Exit status: 0, or 1 when a hit called upstream or a run failed.
# shellcheck disable=SC2034,SC2154
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
CONC=16
ROUNDS=${CACHE_ROUNDS:-3}

# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
scenario_start cache "$@"

# the 1-hop composition with the response cache on
cat >"$tmp/cached.json" <<'JSON'
{
  "models": {"mock": {"type": "external", "interface": "openai-api", "url": "$LLMNET_MOCK_URL", "api-key": "mock-key"}},
  "architecture": [
    {"name": "chat", "layer": 0, "model": "mock", "adapter": "openai-api", "output-to": ["output"]},
    {"name": "output", "adapter": "output"}
  ],
  "response-cache": {"ttl": 3600}
}
JSON

log "cache: starting the mock and llmnet (1-hop, and 1-hop with the response cache)"
mock mockC --rules "$root/examples/mock-rules.json"
mockC_pid=$MOCK_PID mockC_url=$MOCK_URL
gateway cone "$bench/one-hop.json" "$mockC_url"
cone_pid=$GW_PID cone_url=$GW_URL
gateway chit "$tmp/cached.json" "$mockC_url"
chit_pid=$GW_PID chit_url=$GW_URL

body='{"model":"llmnet","temperature":0,"messages":[{"role":"user","content":"How do I reverse a linked list in python?"}]}'
failed=0
# the miss that fills the cache, then a check that the next one is a hit
for i in 1 2; do
  hdr=$(curl -s -D - -o "$tmp/check.json" --max-time 10 -X POST "$chit_url/v1/chat/completions" \
    -H 'Content-Type: application/json' -d "$body" | tr -d '\r' | sed -n 's/^x-llmnet-cache: //Ip')
done
put ca.check "$hdr"
if [ "$hdr" != hit ]; then
  log "cache: the second request was not a hit (x-llmnet-cache: ${hdr:-none}): $(head -c 300 "$tmp/check.json")"
  failed=1
fi

secs=$(((S + 4) / 5))
[ "$secs" -ge 1 ] || secs=1
put ca.seconds "$secs"
put ca.rounds "$ROUNDS"
put ca.conc "$CONC"
# warm-up: connections open; not measured
for u in "$cone_url" "$chit_url"; do
  BENCH_BODY=$body wrk -t1 -c"$CONC" -d1s -s "$bench/post.lua" "$u/v1/chat/completions" >/dev/null 2>&1 || true
done
for r in $(seq 1 "$ROUNDS"); do
  log "cache: round $r of $ROUNDS"
  WRK_SECONDS=$secs wrk_run "ca.lat.one.r$r" 1 "$cone_url" "$cone_pid" llmnet "$mockC_pid" "$mockC_url"
  WRK_SECONDS=$secs wrk_run "ca.lat.hit.r$r" 1 "$chit_url" "$chit_pid" llmnet "$mockC_pid" "$mockC_url"
  WRK_SECONDS=$secs wrk_run "ca.cpu.one.r$r" "$CONC" "$cone_url" "$cone_pid" llmnet "$mockC_pid" "$mockC_url"
  WRK_SECONDS=$secs wrk_run "ca.cpu.hit.r$r" "$CONC" "$chit_url" "$chit_pid" llmnet "$mockC_pid" "$mockC_url"
done

# the medians over the rounds: latency p50/p99 (µs), CPU per request (µs),
# requests per second, upstream calls of the hit runs
summary=$(awk -v rounds="$ROUNDS" '
  function med(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { v[$1] = $2 }
  END {
    split("one hit", kinds, " ")
    for (k = 1; k <= 2; k++) {
      K = kinds[k]
      for (r = 1; r <= rounds; r++) {
        p50[r] = v["ca.lat." K ".r" r ".p50_us"]; p99[r] = v["ca.lat." K ".r" r ".p99_us"]
        served = v["ca.cpu." K ".r" r ".gw_served"]
        cpu[r] = served > 0 ? v["ca.cpu." K ".r" r ".gw_cpu_ns"] / served / 1000 : 0
        rps[r] = v["ca.cpu." K ".r" r ".requests"] / (v["ca.cpu." K ".r" r ".duration_us"] / 1e6)
        calls += K == "hit" ? v["ca.lat.hit.r" r ".mock_calls"] + v["ca.cpu.hit.r" r ".mock_calls"] : 0
      }
      printf "ca.%s.p50_us %.0f\nca.%s.p99_us %.0f\nca.%s.cpu_us_per_req %.1f\nca.%s.rps %.0f\n",
        K, med(p50, rounds), K, med(p99, rounds), K, med(cpu, rounds), K, med(rps, rounds)
    }
    printf "ca.hit.upstream_calls %d\n", calls
  }' "$R")
printf '%s\n' "$summary" >>"$R"
hit_calls=$(printf '%s\n' "$summary" | sed -n 's/^ca.hit.upstream_calls //p')
if [ "${hit_calls:-1}" != 0 ]; then
  log "cache: ERROR: the hit runs made $hit_calls upstream calls (a hit must make none)"
  failed=1
fi
for n in cone chit; do
  eval "p=\$${n}_pid"
  if ! kill -0 "$p" 2>/dev/null; then
    put "ca.crash.$n" 1
    log "cache: llmnet ($n) is no longer running: $(tail -c 600 "$tmp/$n.log")"
    failed=1
  fi
done
put ca.failed "$failed"

if [ "$standalone" = 1 ]; then
  printf 'Response cache hit against a 1-hop request (same run, medians of %s rounds):\n' "$ROUNDS"
  printf '%s\n' "$summary" | sed 's/^ca\./  /'
fi
[ "$failed" = 0 ] || { log "cache: FAILED (see above)"; exit 1; }
