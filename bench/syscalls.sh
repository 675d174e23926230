#!/usr/bin/env bash
# make bench: system calls per proxied request (issue 17: at most 8). A fresh
# llmnet 1-hop (bench/one-hop.json, its default workers) against a fresh
# `llmnet mock` (0 ms); after a warm-up, `strace -c -f` attached to every
# thread of the process counts the calls made while h2load --h1 sends a
# fixed number of requests (-c1, then -c16); each count is divided by the
# requests that succeeded. The mock is measured the same way (h2load straight
# to it), for scale. strace slows the traced process several times over, so
# this runs on its own processes, never during a CPU measurement.
#   bench/syscalls.sh [RESULTS]   bench/run.sh passes its results file; alone,
#                                 it prints the "key value" lines it measured
#   BENCH_SYSCALL_REQUESTS=N      requests per count (default 2000)
# Lines written: sc.{llmnet,mock}.c{1,16}.{requests,total,table}, the table a
# JSON object {"syscall": [calls, errors], ...}; sc.unavailable REASON when
# strace is missing or cannot attach (exit 0: a figure the bench reports as
# not measured).
# shellcheck disable=SC2034,SC2154,SC2153
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
N=${BENCH_SYSCALL_REQUESTS:-2000}
WARMUP=1000
scenario_start syscalls "$@"
command -v h2load >/dev/null 2>&1 || die "h2load is not installed (bench/run.sh installs it)"
if ! command -v strace >/dev/null 2>&1; then
  put sc.unavailable "strace_is_not_installed"
  log "syscalls: strace is not installed: not measured"
  exit 0
fi

mock mock0 --rules "$root/examples/mock-rules.json"
mock_pid=$MOCK_PID mock_url=$MOCK_URL
gateway one "$bench/one-hop.json" "$mock_url"
one_pid=$GW_PID one_url=$GW_URL
body='{"model":"llmnet","messages":[{"role":"user","content":"How do I reverse a linked list in python?"}]}'
printf '%s' "$body" >"$tmp/body.json"

load() { # URL CONC N OUT: h2load, prints the requests that succeeded
  h2load --h1 -c"$2" -n"$3" -d "$tmp/body.json" -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer mock-key' "$1/v1/chat/completions" >"$4" 2>&1 || true
  sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$4"
}
traced() { # PID: every thread has a tracer
  local s
  for s in /proc/"$1"/task/*/status; do
    [ "$(awk '/^TracerPid:/ {print $2}' "$s" 2>/dev/null)" != 0 ] || return 1
  done
}

# count WHO PID URL CONC
count() {
  local who=$1 pid=$2 url=$3 c=$4 key="sc.$1.c$4" spid ok n tids
  load "$url" "$c" "$WARMUP" "$tmp/$key.warmup" >/dev/null
  tids=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 -printf '-p %f ')
  # shellcheck disable=SC2086
  strace -f -c -o "$tmp/$key.strace" $tids 2>"$tmp/$key.strace.err" &
  spid=$!
  ok=0
  for _ in $(seq 1 100); do
    traced "$pid" && { ok=1; break; }
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.05
  done
  if [ "$ok" = 0 ]; then
    kill -INT "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    put sc.unavailable "strace_could_not_attach:_$(head -c 200 "$tmp/$key.strace.err" | tr ' \n' '__')"
    log "syscalls: strace could not attach to $who: $(head -c 200 "$tmp/$key.strace.err")"
    return 1
  fi
  n=$(load "$url" "$c" "$N" "$tmp/$key.h2load")
  kill -INT "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  put "$key.requests" "${n:-0}"
  # "% time seconds usecs/call calls [errors] syscall" rows, then "... total"
  put "$key.total" "$(awk '$NF == "total" {print $4}' "$tmp/$key.strace")"
  put "$key.table" "$(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" {
      printf "%s\"%s\":[%d,%d]", (k++ ? "," : "{"), $NF, $4, (NF == 6 ? $5 : 0)
    } END {print (k ? "}" : "{}")}' "$tmp/$key.strace")"
  log "  syscalls, $who -c$c: $(awk '$NF == "total" {print $4}' "$tmp/$key.strace") calls for ${n:-0} requests"
}

for c in 1 16; do
  count llmnet "$one_pid" "$one_url" "$c" || exit 0
  count mock "$mock_pid" "$mock_url" "$c" || exit 0
done
put sc.workers "$(sed -n 's/.*listening on .*, \([0-9]*\) workers).*/\1/p' "$tmp/one.log" | head -n 1)"
put sc.n "$N"
[ "$standalone" = 0 ] || grep '^sc\.' "$R"
